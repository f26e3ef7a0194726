"""The platform's tables and the rules the database itself enforces.

Run on SQLite in ``make test`` and again on PostgreSQL by ``.ci/run`` (marker ``db``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def user(database):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", "ada@example.org", "a long passphrase")


@pytest.fixture
def model_version(database):
    from brainmark.platform.leaderboard.models import Model, ModelVersion

    model = Model.objects.create(identifier="alexnet", public=True, metadata={"layers": 8})
    return ModelVersion.objects.create(
        model=model, version=1, plugin_sha1="a" * 40, visual_degrees=8.0
    )


@pytest.fixture
def benchmark_version(database):
    from brainmark.platform.leaderboard.models import BenchmarkType, BenchmarkVersion

    root = BenchmarkType.objects.create(identifier="average_vision")
    neural = BenchmarkType.objects.create(identifier="neural_vision", parent=root)
    it = BenchmarkType.objects.create(identifier="IT", parent=neural)
    leaf = BenchmarkType.objects.create(identifier="Kriegeskorte2008.IT-rdm", parent=it)
    return BenchmarkVersion.objects.create(
        benchmark_type=leaf, version=1, ceiling=0.8, ceiling_error=0.02, public=True
    )


def test_the_tests_run_on_the_configured_database(database):
    from django.db import connection

    from brainmark.settings import get_settings

    postgresql = get_settings().database_url.startswith(("postgres://", "postgresql://"))
    assert connection.vendor == ("postgresql" if postgresql else "sqlite")


def _violates_constraint(create) -> bool:
    """True when ``create()`` is refused by the database (the test's transaction survives)."""
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def test_token_is_stored_only_as_its_hash_and_checks_back(user):
    from brainmark.platform.accounts.models import ApiToken

    token, clear = ApiToken.objects.create_token(user, "laptop")
    assert clear.startswith("bm_") and len(clear) > 40
    stored = ApiToken.objects.values().get(pk=token.pk)
    assert stored["token_hash"] == hashlib.sha256(clear.encode()).hexdigest()
    assert not any(clear in str(value) for value in stored.values())
    assert stored["last_used"] is None

    found = ApiToken.objects.authenticate(clear)
    assert found == token and found.user == user
    assert ApiToken.objects.get(pk=token.pk).last_used is not None
    assert ApiToken.objects.authenticate(clear + "x") is None
    assert ApiToken.objects.authenticate("") is None

    token.revoke()
    assert ApiToken.objects.authenticate(clear) is None


def test_token_of_an_inactive_user_checks_back_as_nothing(user):
    from brainmark.platform.accounts.models import ApiToken

    _, clear = ApiToken.objects.create_token(user, "ci")
    user.is_active = False
    user.save()
    assert ApiToken.objects.authenticate(clear) is None


def test_token_names_are_unique_per_user_among_active_tokens(user):
    from brainmark.platform.accounts.models import ApiToken

    first, _ = ApiToken.objects.create_token(user, "laptop")
    assert _violates_constraint(lambda: ApiToken.objects.create_token(user, "laptop"))
    first.revoke()
    ApiToken.objects.create_token(user, "laptop")  # A revoked token frees its name.


def test_score_is_unique_per_model_version_and_benchmark_version(
    model_version, benchmark_version
):
    from django.db import IntegrityError, transaction

    from brainmark.platform.leaderboard.models import Score

    Score.objects.create(
        model_version=model_version, benchmark_version=benchmark_version,
        raw=0.4, ceiled=0.5, error=0.01, ceiling=0.8, layer_commitment={"IT": "features.12"},
        record={"model": "alexnet", "benchmark": "Kriegeskorte2008.IT-rdm"},
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Score.objects.create(
            model_version=model_version, benchmark_version=benchmark_version, ceiled=0.6
        )
    stored = Score.objects.get()
    assert stored.layer_commitment == {"IT": "features.12"}
    assert stored.record["benchmark"] == "Kriegeskorte2008.IT-rdm"
    assert benchmark_version.benchmark_type.parent.parent.identifier == "neural_vision"


def test_scores_of_a_new_model_version_are_kept_beside_the_old_ones(
    model_version, benchmark_version
):
    from brainmark.platform.leaderboard.models import ModelVersion, Score

    newer = ModelVersion.objects.create(
        model=model_version.model, version=2, plugin_sha1="b" * 40, visual_degrees=8.0
    )
    for version, value in ((model_version, 0.5), (newer, 0.55)):
        Score.objects.create(model_version=version, benchmark_version=benchmark_version,
                             ceiled=value)
    assert list(
        Score.objects.filter(model_version__model__identifier="alexnet")
        .order_by("model_version__version").values_list("ceiled", flat=True)
    ) == [0.5, 0.55]
    assert _violates_constraint(lambda: ModelVersion.objects.create(
        model=model_version.model, version=2, plugin_sha1="c" * 40, visual_degrees=8.0
    ))


def test_the_database_refuses_impossible_values(user, model_version, benchmark_version):
    from django.utils import timezone

    from brainmark.platform.leaderboard.models import BenchmarkVersion, ModelVersion, Score
    from brainmark.platform.submissions.models import Job
    from brainmark.platform.uploads.models import DataPackage

    now = timezone.now()
    kind = benchmark_version.benchmark_type
    model = model_version.model
    refused = {
        "negative attempts": lambda: Job.objects.create(
            model_version=model_version, benchmark_version=benchmark_version, attempts=-1
        ),
        "negative size": lambda: DataPackage.objects.create(
            owner=user, identifier="x", key="x.nc", sha1="0" * 40, version_id="v1", size=-1
        ),
        "running without lease": lambda: Job.objects.create(
            model_version=model_version, benchmark_version=benchmark_version, status="running"
        ),
        "unknown job status": lambda: Job.objects.create(
            model_version=model_version, benchmark_version=benchmark_version, status="lost"
        ),
        "zero ceiling": lambda: BenchmarkVersion.objects.create(
            benchmark_type=kind, version=7, ceiling=0.0
        ),
        "zero visual degrees": lambda: ModelVersion.objects.create(
            model=model, version=9, plugin_sha1="d" * 40, visual_degrees=0
        ),
        "negative error": lambda: Score.objects.create(
            model_version=model_version, benchmark_version=benchmark_version, error=-0.1
        ),
        "ends before it starts": lambda: Score.objects.create(
            model_version=model_version, benchmark_version=benchmark_version,
            start=now, end=now - timedelta(seconds=1),
        ),
    }
    accepted = [name for name, create in refused.items() if not _violates_constraint(create)]
    assert accepted == []


def test_one_live_job_per_pair_but_finished_jobs_stay_in_the_history(
    user, model_version, benchmark_version
):
    from django.utils import timezone

    from brainmark.platform.submissions.models import Job, Submission

    submission = Submission.objects.create(user=user, kind=Submission.Kind.MODEL)
    assert submission.status == Submission.Status.RECEIVED
    pair = {"model_version": model_version, "benchmark_version": benchmark_version}
    first = Job.objects.create(submission=submission, **pair)
    assert _violates_constraint(lambda: Job.objects.create(**pair))
    first.status = Job.Status.RUNNING
    first.attempts = 1
    first.lease_expires = timezone.now() + timedelta(minutes=5)
    first.save()
    assert _violates_constraint(lambda: Job.objects.create(**pair))
    first.status = Job.Status.FAILED
    first.save()
    retry = Job.objects.create(submission=submission, **pair)
    assert list(submission.jobs.order_by("pk")) == [first, retry]


def test_a_stored_version_of_a_data_file_is_recorded_once(user):
    from django.core.exceptions import ValidationError

    from brainmark.platform.uploads.models import DataPackage

    fields = {"owner": user, "identifier": "Kriegeskorte2008.IT", "key": "rdm.nc",
              "sha1": "0123456789abcdef0123456789abcdef01234567", "size": 1024}
    DataPackage.objects.create(version_id="v1", **fields)
    DataPackage.objects.create(version_id="v2", **fields)
    assert _violates_constraint(lambda: DataPackage.objects.create(version_id="v1", **fields))
    with pytest.raises(ValidationError, match="40 lower-case hex digits"):
        DataPackage(version_id="v3", **{**fields, "sha1": "not-a-sha1"}).full_clean()


def test_a_benchmark_type_cannot_become_its_own_ancestor(benchmark_version):
    from django.core.exceptions import ValidationError

    from brainmark.platform.leaderboard.models import BenchmarkType

    root = BenchmarkType.objects.get(identifier="average_vision")
    leaf = benchmark_version.benchmark_type
    root.parent = leaf
    with pytest.raises(ValidationError, match="must form a tree"):
        root.full_clean()
    leaf.parent = leaf
    with pytest.raises(ValidationError, match="must form a tree"):
        leaf.full_clean()
    BenchmarkType.objects.get(identifier="IT").full_clean()  # A proper tree passes.


def test_every_table_has_working_admin_pages(user, model_version, benchmark_version):
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.submissions.models import Job, Submission
    from brainmark.platform.uploads.models import DataPackage

    ApiToken.objects.create_token(user, "laptop")
    Score.objects.create(model_version=model_version, benchmark_version=benchmark_version)
    submission = Submission.objects.create(user=user, kind="model")
    Job.objects.create(
        submission=submission, model_version=model_version, benchmark_version=benchmark_version
    )
    DataPackage.objects.create(owner=user, identifier="x", key="x.nc", sha1="0" * 40,
                               version_id="v1", size=3)
    staff = get_user_model().objects.create_superuser("root", "root@example.org", "pw-x9!long")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    from django.apps import apps

    platform_models = [m for m in admin.site._registry if m.__module__.startswith("brainmark.")]
    # Every table but the leaderboard's derived board cache, which is recomputed from the
    # others and never edited by hand.
    tables = {m.__name__ for m in apps.get_models() if m.__module__.startswith("brainmark.")}
    assert {m.__name__ for m in platform_models} == tables - {"BoardKey", "BoardSnapshot"}
    for model in platform_models:
        meta = model._meta
        for obj in model.objects.all()[:1]:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert client.get(change).status_code == 200, change
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = client.get(changelist, {"q": "a"})
        assert response.status_code == 200, changelist
