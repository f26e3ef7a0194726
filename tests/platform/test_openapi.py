"""The API's OpenAPI description (``/api/openapi.json``) is valid, and schemathesis finds no
server error and no response outside the description in any operation it describes.

The operations are whatever the description holds when the test runs (every app's router
adds its own): schemathesis loads it from the WSGI application and generates requests for
each, a bounded number per operation, sent in-process to Django's WSGI handler against a
database holding a few rows (a public model with a score, another user's private model, a
benchmark, a submission with a job), so the operations find data. Each generated request
is sent with the API token of a user and once more without it, so the authenticated and
the anonymous answers are both checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Requests generated per operation: keeps the whole run within about a minute.
EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def live_rows(database) -> Iterator[dict]:
    """A few rows for the API to answer with, and the API token of their owner.

    Django's WSGI handler closes the database connection at the start and end of every
    request when it is not in autocommit mode, which would end this test's transaction;
    the signals doing that are held off while the test sends requests, as Django's own
    test client does.
    """
    from django.contrib.auth import get_user_model
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import override_settings
    from django.utils import timezone

    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )
    from brainmark.platform.submissions.models import Job, Submission

    users = get_user_model().objects
    owner = users.create_user(username="owner@example.org", email="owner@example.org")
    other = users.create_user(username="other@example.org", email="other@example.org")
    _, token = ApiToken.objects.create_token(owner, "schemathesis")

    neural = BenchmarkType.objects.create(identifier="neural_vision", order=0)
    region = BenchmarkType.objects.create(identifier="V1", parent=neural, order=0)
    benchmark_type = BenchmarkType.objects.create(identifier="Coggan2024.V1-rdm", parent=region)
    benchmark = BenchmarkVersion.objects.create(
        benchmark_type=benchmark_type, version=1, ceiling=0.4, ceiling_error=0.04,
        bibtex="@article{a, title={A}}", public=True, license="MIT",
        metadata={"parent": "V1", "data": {"stimuli": 24, "subjects": 9}},
    )
    public = Model.objects.create(identifier="pixels", public=True, license="MIT",
                                  metadata={"architecture": "Pixels", "parameter_count": 0})
    private = Model.objects.create(identifier="secret-net", owner=other, public=False)
    submission = Submission.objects.create(user=owner, kind="model", status="scoring",
                                           log="validating\ntesting\n")
    mine = Model.objects.create(identifier="owners-net", owner=owner, public=True)
    versions = [
        ModelVersion.objects.create(model=model, version=1, plugin_sha1="a" * 40,
                                    visual_degrees=8, submission=from_submission)
        for model, from_submission in ((public, None), (private, None), (mine, submission))
    ]
    now = timezone.now()
    for version, ceiled in zip(versions, (0.25, 0.5, 0.3), strict=True):
        Score.objects.create(
            model_version=version, benchmark_version=benchmark, raw=ceiled * 0.4,
            ceiled=ceiled, error=0.01, ceiling=0.4, layer_commitment={"V1": "pixels"},
            start=now - timedelta(minutes=1), end=now,
        )
    Job.objects.create(submission=submission, model_version=versions[2],
                       benchmark_version=benchmark, status="running", attempts=1,
                       lease_expires=now + timedelta(minutes=5))

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            DEBUG_PROPAGATE_EXCEPTIONS=False,
        ):
            yield {"token": token}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(live_rows):
    """The OpenAPI description, loaded from the WSGI application as it answers now."""
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


def test_the_openapi_description_is_served_and_valid(live_rows):
    from django.test import Client
    from openapi_spec_validator import validate

    response = Client(HTTP_HOST="localhost").get("/api/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    description = json.loads(response.content)
    validate(description)  # raises, naming the place, when the description is not valid
    assert description["openapi"].startswith("3.")
    paths = description["paths"]
    assert "/api/submissions/" in paths and "/api/submissions/{submission_id}" in paths
    # Every operation says what it answers; schemathesis checks the answers below.
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method.upper()} {path} documents no answer"


def _known_path_parameters(description: dict, operation) -> list[dict]:
    """Path parameters naming rows that exist (models, benchmarks, ids of the live rows),
    so that generated requests also reach the operations' answers with data, not only
    their 404s. Values are chosen by the parameter's type, whatever its name."""
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.submissions.models import Job, Submission

    texts = ["pixels", "owners-net", "secret-net", "Coggan2024.V1-rdm", "V1", "neural_vision"]
    numbers = sorted({1, *Submission.objects.values_list("pk", flat=True),
                      *Score.objects.values_list("pk", flat=True),
                      *Job.objects.values_list("pk", flat=True)})
    definition = description["paths"][operation.path][operation.method.lower()]
    parameters = [p for p in definition.get("parameters", []) if p.get("in") == "path"]
    if not parameters:
        return []
    pools = {
        p["name"]: numbers if p.get("schema", {}).get("type") == "integer" else texts
        for p in parameters
    }
    return [
        {name: pool[index % len(pool)] for name, pool in pools.items()}
        for index in range(max(len(pool) for pool in pools.values()))
    ]


def test_no_operation_answers_with_a_server_error_or_outside_its_description(
    api_schema, live_rows
):
    from hypothesis import given
    from hypothesis import strategies as st

    description = api_schema.raw_schema
    authorized = {"Authorization": f"Bearer {live_rows['token']}"}
    failures: dict[str, str] = {}
    operations = []
    for result in api_schema.get_all_operations():
        operation = result.ok()  # raises on an operation the description cannot define
        operations.append(operation.label)
        known = _known_path_parameters(description, operation)
        # Valid requests, requests naming live rows, and invalid ones (which must be
        # refused with an answer the description documents, never a 5xx).
        strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
        if known:
            strategies.append(st.sampled_from(known).flatmap(
                lambda parameters, operation=operation: operation.as_strategy(
                    path_parameters=parameters
                )
            ))
        strategy = st.one_of(strategies)

        @given(case=strategy)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(headers=authorized, checks=CHECKS)
            if "authorization" not in {name.lower() for name in case.headers or {}}:
                case.call_and_validate(checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # Every operation is tried.
            failures[operation.label] = str(error)

    assert operations, "the description has no operation"
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
