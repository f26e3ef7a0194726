"""Submitting a zip of plugins: quota, durable storage, validation, identifier ownership.

Every test posts a real zip (built from the scaffold ``brainmark new model`` writes, plus a
metadata.yml) through Django's test client to ``POST /api/submissions/``, into a real
LocalStore named by brainmark's ``store`` setting, and checks the stored bytes against
hashlib on the original zip.
"""

# The fixtures imported from submission_zips are the tests' parameters, which pyflakes reads
# as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import zipfile
from datetime import timedelta

import pytest
from tests.platform.submission_zips import (  # noqa: F401 (fixtures)
    api,
    benchmark_zip,
    home,
    make_user,
    model_zip,
    store_root,
    stored_files,
    submit,
    test_client_host,
    user,
)

pytestmark = pytest.mark.db


# --- tests ----------------------------------------------------------------------------------


def test_a_good_model_zip_is_stored_then_validated(api, user, home, store_root, tmp_path):
    from django.test import override_settings

    from brainmark.data.store import open_store
    from brainmark.platform.submissions.models import Submission

    path = model_zip(tmp_path, "intake-good-net")
    streamed = tmp_path / "upload-tmp"
    streamed.mkdir()
    with override_settings(FILE_UPLOAD_TEMP_DIR=str(streamed)):
        response = submit(api, path, private="true")
    assert list(streamed.iterdir()) == []  # The streamed copy is gone with the request.

    assert response.status_code == 201, response.content
    body = response.json()
    row = Submission.objects.get(pk=body["id"])
    assert (body["status"], row.status) == ("validated", "validated")
    assert row.kind == "model" and body["kind"] == "model"
    assert row.private is True and body["private"] is True
    assert body["problems"] == [] and row.problems == []
    assert body["url"] == f"/submissions/{row.pk}/"
    assert body["submissions_left"] == 4  # The default 5 a day, one used.
    assert row.user == user
    expected = hashlib.sha1(path.read_bytes()).hexdigest()
    assert row.archive_sha1 == expected == body["archive_sha1"]
    assert row.archive_size == path.stat().st_size == body["archive_size"]
    assert row.archive_key.startswith(f"submissions/{user.pk}/")
    assert row.archive_key.endswith(".zip")
    # The stored object is the zip, byte for byte, at the recorded version.
    store = open_store(store_root.as_uri())
    assert store.versions(row.archive_key) == [row.archive_version_id]
    fetched = store.download(row.archive_key, tmp_path / "fetched.zip",
                             version_id=row.archive_version_id)
    assert hashlib.sha1(fetched.read_bytes()).hexdigest() == expected
    # The work folder is gone again.
    assert not (home / "platform" / "work" / f"submission-{row.pk}").exists()
    assert "intake-good-net" in row.log
    # The owner sees it at once through the API.
    assert api.get(f"/api/submissions/{row.pk}").json()["status"] == "validated"


def test_a_zip_with_a_dotdot_entry_is_rejected_naming_the_rule(api, home, store_root,
                                                                tmp_path, caplog):
    from brainmark.platform.submissions.models import Submission

    path = model_zip(tmp_path, extra={"models/../../escape.txt": "out"})
    with caplog.at_level("INFO", logger="brainmark.platform.submissions.intake"):
        response = submit(api, path)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "rejected"
    row = Submission.objects.get(pk=body["id"])
    assert row.status == "rejected"
    assert len(row.problems) == 1
    assert row.problems[0]["file"] == "models/../../escape.txt"
    assert ".." in row.problems[0]["message"]
    assert body["problems"] == row.problems
    assert row.problems[0]["rule"] in caplog.text
    # The archive is still stored (durable before validation), nothing extracted is left.
    assert len(stored_files(store_root)) == 1
    work = home / "platform" / "work"
    assert [p.name for p in work.iterdir()] == []
    assert not (tmp_path / "escape.txt").exists()
    assert not (home / "escape.txt").exists()


def test_a_built_in_model_identifier_is_refused(api, home, tmp_path):
    from brainmark.platform.leaderboard.models import Model

    Model.objects.create(identifier="pixels", owner=None, public=True)
    path = model_zip(tmp_path, as_identifier="pixels")
    response = submit(api, path)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "rejected"
    [problem] = body["problems"]
    assert problem["rule"] == "identifier ownership"
    assert problem["message"] == (
        "pixels belongs to the platform (built in); choose another name.")
    assert problem["file"].endswith("__init__.py")


def test_another_users_model_is_refused_and_ones_own_is_accepted(api, user, make_user,
                                                                  home, tmp_path):
    from brainmark.platform.leaderboard.models import Model

    Model.objects.create(identifier="intake-theirs", owner=make_user())
    Model.objects.create(identifier="intake-mine", owner=user)

    theirs = submit(api, model_zip(tmp_path, "intake-theirs")).json()
    assert theirs["status"] == "rejected"
    assert "intake-theirs belongs to another user" in theirs["problems"][0]["message"]

    mine = submit(api, model_zip(tmp_path, "intake-mine"))
    assert mine.status_code == 201
    assert mine.json()["status"] == "validated"


def test_a_benchmark_identifier_of_another_is_refused_ones_own_and_a_new_one_validated(
        api, user, make_user, home, tmp_path):
    from brainmark.platform.leaderboard.models import BenchmarkType

    BenchmarkType.objects.create(identifier="Intake2026.IT-pls")  # built in: no owner
    BenchmarkType.objects.create(identifier="Intake2025.IT-pls", owner=make_user())
    BenchmarkType.objects.create(identifier="Intake2024.IT-pls", owner=user)
    for identifier, owner in (("Intake2026.IT-pls", "the platform (built in)"),
                              ("Intake2025.IT-pls", "another user")):
        known = submit(api, benchmark_zip(tmp_path, identifier)).json()
        assert known["status"] == "rejected"
        [problem] = known["problems"]
        assert problem["rule"] == "identifier ownership"
        assert problem["file"] == (
            f"benchmarks/{identifier.lower().replace('.', '_').replace('-', '_')}/__init__.py")
        assert problem["message"] == f"{identifier} belongs to {owner}; choose another name."

    for identifier in ("Intake2024.IT-pls", "Intake2027.IT-pls"):
        accepted = submit(api, benchmark_zip(tmp_path, identifier)).json()
        assert (accepted["status"], accepted["kind"]) == ("validated", "benchmark")
        assert accepted_identifiers(accepted["id"]) == [["benchmark_registry", identifier]]


def accepted_identifiers(submission_id: int) -> list[list[str]]:
    from brainmark.platform.submissions.models import Submission

    return Submission.objects.get(pk=submission_id).identifiers


def test_the_sixth_accepted_submission_in_a_day_is_refused(api, user, home, store_root,
                                                           tmp_path):
    from django.test import override_settings

    from brainmark.platform.submissions.models import Submission

    with override_settings(BRAINMARK_SUBMISSIONS_PER_DAY=5):
        # A rejected one first: it does not count.
        bad = submit(api, model_zip(tmp_path, extra={"models/../x.txt": "x"}))
        assert bad.json()["status"] == "rejected"
        for _ in range(5):
            response = submit(api, model_zip(tmp_path))
            assert response.status_code == 201
            assert response.json()["status"] == "validated"
        stored = len(stored_files(store_root))
        assert stored == 6

        refused = submit(api, model_zip(tmp_path))
        assert refused.status_code == 429
        detail = refused.json()["detail"]
        assert "0 are left" in detail and "frees up at" in detail
        oldest_counted = (Submission.objects.filter(user=user, status="validated")
                          .order_by("created").first())
        frees = (oldest_counted.created + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
        assert frees in detail
        assert len(stored_files(store_root)) == stored  # Nothing stored.
        assert Submission.objects.filter(user=user).count() == 6

        # A submission cancelled by staff no longer counts: one place frees up.
        from brainmark.platform.submissions.staff import cancel_submission

        cancel_submission(oldest_counted.pk, by="staff@example.org")
        assert submit(api, model_zip(tmp_path)).json()["status"] == "validated"
        assert submit(api, model_zip(tmp_path)).status_code == 429

        # Staff are exempt.
        user.is_staff = True
        user.save()
        assert submit(api, model_zip(tmp_path)).status_code == 201


def test_an_archive_over_the_size_limit_is_refused_with_413(api, user, home, store_root,
                                                            tmp_path):
    from brainmark.pipeline.archive import ArchiveLimits
    from brainmark.platform.submissions.models import Submission

    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        # Random-looking bytes (a hash chain) so the zip is as large as its content.
        block = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(40_000))
        for number in range(ArchiveLimits().max_archive_bytes // len(block) + 1):
            archive.writestr(f"models/big/blob{number}.bin", block)
    response = submit(api, path)
    assert response.status_code == 413
    assert "over the limit" in response.json()["detail"]
    assert Submission.objects.filter(user=user).count() == 0
    assert stored_files(store_root) == []


def test_a_file_that_is_no_zip_is_rejected_naming_the_sent_file(api, home, tmp_path):
    path = tmp_path / "notes.zip"
    path.write_bytes(b"this is plain text, not a zip archive\n" * 10)
    response = submit(api, path)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "rejected"
    assert [(p["file"], p["rule"]) for p in body["problems"]] == [("notes.zip", "zip format")]


def test_no_token_is_401(home, tmp_path):
    from django.test import Client

    from brainmark.platform.submissions.models import Submission

    response = submit(Client(), model_zip(tmp_path))
    assert response.status_code == 401
    assert Submission.objects.count() == 0


def test_a_bad_private_field_is_400(api, home, tmp_path):
    response = submit(api, model_zip(tmp_path), private="perhaps")
    assert response.status_code == 400
    assert "'private'" in response.json()["detail"]


def test_receive_submission_takes_chunks(user, home, store_root, tmp_path):
    from brainmark.platform.submissions.intake import receive_submission

    data = model_zip(tmp_path).read_bytes()
    chunks = (data[i:i + 1000] for i in range(0, len(data), 1000))
    submission = receive_submission(user, chunks, private=False)
    assert submission.status == "validated"
    assert submission.archive_sha1 == hashlib.sha1(data).hexdigest()
    assert submission.archive_size == len(data)


def test_an_intake_a_dead_web_worker_left_is_validated_by_a_dispatcher(user, home, store_root,
                                                                        tmp_path):
    """A web worker that dies after storing the zip and its row leaves the submission
    ``received``: after the grace period a dispatcher validates the stored archive, so it
    ends validated or rejected as at intake (failed when the archive is not the one
    stored), never stuck."""
    from django.utils import timezone
    from tests.platform.submission_zips import write_zip

    from brainmark.platform.submissions import intake, processing

    good, bad, lost = (model_zip(tmp_path), write_zip(tmp_path / "bad.zip", [("../x.py", "")]),
                       model_zip(tmp_path))
    rows = {name: intake._store(user, path, path.stat().st_size, private=False)
            for name, path in (("good", good), ("bad", bad), ("lost", lost))}
    # An archive that is no longer what was stored (its recorded SHA1 differs).
    type(rows["lost"]).objects.filter(pk=rows["lost"].pk).update(archive_sha1="0" * 40)
    now = timezone.now()

    assert processing.resume_abandoned_intake(now) == 0  # within the grace period
    assert processing.resume_abandoned_intake(now + processing.INTAKE_GRACE + timedelta(
        seconds=1)) == 3
    for name, status in (("good", "validated"), ("bad", "rejected"), ("lost", "failed")):
        rows[name].refresh_from_db()
        assert rows[name].status == status, rows[name].log
        assert "the dispatcher validates the stored archive again" in rows[name].log
    assert rows["good"].identifiers
    assert any(problem["file"] == "../x.py" for problem in rows["bad"].problems)
    assert rows["lost"].archive_key in rows["lost"].log
    # Taken once: a second look finds nothing left.
    assert processing.resume_abandoned_intake(now + 2 * processing.INTAKE_GRACE) == 0
