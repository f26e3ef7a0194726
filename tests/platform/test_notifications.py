"""The submission e-mails: each lands in the outbox, to the submitter, with absolute links,
the numbers of the rows made here, escaped HTML, and nothing the recipient may not see."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

pytestmark = pytest.mark.db

SITE_URL = "https://brainmark.example.org"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(autouse=True)
def mail_settings(database):
    """Django's in-memory outbox and a site address, emptied for each test."""
    from django.core import mail
    from django.test import override_settings

    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SITE_URL=SITE_URL + "/",
        DEFAULT_FROM_EMAIL="brainmark <noreply@brainmark.example.org>",
    ):
        mail.outbox = []
        yield


def _user(email_address: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username=email_address, email=email_address, password="not used here"
    )


@pytest.fixture
def world() -> dict:
    """Alice's model submission and model, Bob's public and private models, a public
    benchmark with two versions and Bob's private benchmark; scores of all of them."""
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )
    from brainmark.platform.submissions.models import Submission

    alice, bob = _user("alice@example.org"), _user("bob@example.org")
    submission = Submission.objects.create(user=alice, kind="model", status="scoring")

    def version(identifier: str, owner, *, public: bool) -> ModelVersion:
        model = Model.objects.create(identifier=identifier, owner=owner, public=public)
        return ModelVersion.objects.create(model=model, version=1, plugin_sha1="0" * 40,
                                           visual_degrees=8, submission=None)

    alices = version("alice-net", alice, public=False)
    bobs_public = version("bob-net", bob, public=True)
    bobs_private = version("bob-secret", bob, public=False)
    bench = BenchmarkType.objects.create(identifier="Bench2024.IT-rdm")
    bench_v1 = BenchmarkVersion.objects.create(benchmark_type=bench, version=1, public=True)
    bench_v2 = BenchmarkVersion.objects.create(benchmark_type=bench, version=2, public=True)
    hidden = BenchmarkType.objects.create(identifier="Hidden2025.V4-pls", owner=bob)
    hidden_v1 = BenchmarkVersion.objects.create(benchmark_type=hidden, version=1, public=False)

    def score(model_version, benchmark_version, ceiled, comment="") -> Score:
        return Score.objects.create(model_version=model_version,
                                    benchmark_version=benchmark_version, ceiled=ceiled,
                                    raw=None if ceiled is None else ceiled * 0.8,
                                    comment=comment)

    return {
        "alice": alice, "bob": bob, "submission": submission, "alices": alices,
        "scored": score(alices, bench_v1, 0.512345),
        "failed": score(alices, bench_v2, None,
                        "\nRuntimeError: CUDA out of memory\nTraceback (most recent call last):"),
        "on_hidden": score(alices, hidden_v1, 0.9),
        "bobs_public": score(bobs_public, bench_v1, 0.4006),
        "bobs_private": score(bobs_private, bench_v1, 0.7),
    }


def _sent():
    """The one mail sent: its recipients, subject, plain text and HTML."""
    from django.core import mail

    [message] = mail.outbox
    [(html, mimetype)] = [(a[0], a[1]) for a in message.alternatives]
    assert mimetype == "text/html"
    assert message.subject.startswith("[brainmark] ")
    return message.to, message.subject, message.body, html


def _submission_link(submission) -> str:
    return f"{SITE_URL}/submissions/{submission.pk}/"


def test_tests_failed_shows_the_log_verbatim_and_escaped_in_html(world):
    from brainmark.platform.submissions.notifications import tests_failed

    submission = world["submission"]
    log = f"test.py::test_loads FAILED\n{SCRIPT}\nAssertionError: 1 != 2"
    assert tests_failed(submission, log) == 1
    to, subject, text, html = _sent()
    assert to == ["alice@example.org"]
    assert subject == f"[brainmark] Submission #{submission.pk}: the plugin tests failed"
    assert log in text and _submission_link(submission) in text
    assert SCRIPT not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert f'href="{_submission_link(submission)}"' in html


def test_a_long_log_is_cut_to_its_last_8_kb(world):
    from brainmark.platform.submissions.notifications import MAX_TEXT_BYTES, tests_failed

    lines = [f"line {n:05d} of the log" for n in range(2000)]
    log = "\n".join([*lines, "E   ValueError: the last line"])
    tests_failed(world["submission"], log)
    _, _, text, html = _sent()
    kept = log.encode()[-MAX_TEXT_BYTES:].decode()
    assert kept in text and "E   ValueError: the last line" in html
    assert lines[0] not in text
    assert f"{len(log.encode()) - MAX_TEXT_BYTES} earlier bytes left out" in text


def test_submission_rejected_lists_every_problem(world):
    from brainmark.platform.submissions.notifications import submission_rejected

    submission = world["submission"]
    submission.problems = [
        {"file": "models/net/metadata.yml", "rule": "metadata",
         "message": "the field 'license' is missing (required: license)."},
        {"file": "models/net/requirements.txt line 2", "rule": "requirements",
         "message": f"'{SCRIPT}' is not a valid requirement."},
    ]
    submission.save()
    assert submission_rejected(submission) == 1
    to, subject, text, html = _sent()
    assert to == ["alice@example.org"]
    assert subject == f"[brainmark] Submission #{submission.pk} was rejected"
    assert "2 problems to fix" in text
    for problem in submission.problems:
        assert f"- {problem['file']} [{problem['rule']}]: {problem['message']}" in text
    assert SCRIPT not in html and "&lt;script&gt;" in html
    assert _submission_link(submission) in text and _submission_link(submission) in html


def test_submission_failed_says_why(world):
    from brainmark.platform.submissions.notifications import submission_failed

    submission = world["submission"]
    reason = "Merging into the plugin store failed: models/net is already taken."
    assert submission_failed(submission, reason) == 1
    _, subject, text, html = _sent()
    assert subject == f"[brainmark] Submission #{submission.pk} failed"
    assert reason in text and reason in html and _submission_link(submission) in text


def test_scoring_finished_tabulates_the_scores_the_user_may_see(world):
    from brainmark.platform.submissions.notifications import scoring_finished

    submission = world["submission"]
    scores = [world[name] for name in
              ("failed", "bobs_private", "scored", "on_hidden", "bobs_public")]
    assert scoring_finished(submission, scores) == 1
    to, subject, text, html = _sent()
    assert to == ["alice@example.org"]
    assert subject == f"[brainmark] Submission #{submission.pk}: scoring finished"

    scored, failed, bobs = world["scored"], world["failed"], world["bobs_public"]
    value = f"{scored.ceiled:.3f}"
    assert value == "0.512"  # the ceiled score, 3 decimals
    reason = "failed: RuntimeError: CUDA out of memory"  # the comment's first line
    table = text.split("\n\n")[2].splitlines()
    assert [line.split() for line in table] == [
        ["Model", "Benchmark", "Score"],
        ["alice-net", "v1", "Bench2024.IT-rdm", "v1", value],
        ["alice-net", "v1", "Bench2024.IT-rdm", "v2", *reason.split()],
        ["bob-net", "v1", "Bench2024.IT-rdm", "v1", f"{bobs.ceiled:.3f}"],
    ]
    assert failed.comment.splitlines()[2] not in text  # only the first line of the reason
    assert "2 scores computed, 1 pair failed" in text
    for part in (text, html):
        # Bob's private model and Bob's private benchmark are not Alice's to see.
        assert "bob-secret" not in part and "Hidden2025" not in part
        assert f"{SITE_URL}/models/alice-net/" in part and f"{SITE_URL}/models/bob-net/" in part
        assert _submission_link(submission) in part
    assert f'<a href="{SITE_URL}/models/alice-net/">alice-net</a> v1' in html
    assert f"{value}</td>" in html and f"{reason}</td>" in html


def test_model_rescored_goes_to_the_owner_only(world):
    from brainmark.platform.submissions.notifications import model_rescored

    alice, alices = world["alice"], world["alices"]
    assert model_rescored(alice, alices, [world["scored"], world["failed"]]) == 1
    to, subject, text, html = _sent()
    assert to == ["alice@example.org"]
    assert subject == "[brainmark] New scores for your model alice-net"
    assert f"{world['scored'].ceiled:.3f}" in text and "1 score computed, 1 pair failed" in text
    assert f"{SITE_URL}/models/alice-net/" in text and f"{SITE_URL}/models/alice-net/" in html

    with pytest.raises(ValueError, match=re.escape("alice-net is not bob@example.org's model")):
        model_rescored(world["bob"], alices, [world["scored"]])
    with pytest.raises(ValueError, match=re.escape(f"score(s) [{world['bobs_public'].pk}]")):
        model_rescored(alice, alices, [world["scored"], world["bobs_public"]])


def test_no_mail_without_an_address(world):
    from django.core import mail

    from brainmark.platform.submissions.notifications import submission_failed

    alice = world["alice"]
    alice.email = ""
    alice.save()
    assert submission_failed(world["submission"], "merge failed") == 0
    assert mail.outbox == []


def test_the_mail_lands_in_the_platforms_file_outbox(world, tmp_path):
    from django.test import override_settings

    from brainmark.platform.submissions.notifications import tests_failed

    outbox = tmp_path / "outbox"
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                           EMAIL_FILE_PATH=str(outbox)):
        tests_failed(world["submission"], f"FAILED\n{SCRIPT}")
    [written] = list(outbox.iterdir())
    # The file backend writes the message, then a line of dashes.
    message = email.message_from_bytes(written.read_bytes().rsplit(b"\n" + b"-" * 79, 1)[0],
                                       policy=email.policy.default)
    assert message["To"] == "alice@example.org"
    assert message["Subject"].startswith("[brainmark] Submission #")
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert SCRIPT in plain and SCRIPT not in html and "&lt;script&gt;" in html
    assert _submission_link(world["submission"]) in plain
