"""``brainmark user create`` and ``brainmark token create``: users and API tokens from the shell.

The commands run in this process (click's runner) on the test database, except the ones
that check a fresh home, which run ``brainmark`` in a child process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from brainmark.cli import main

pytestmark = pytest.mark.db

PASSPHRASE = "correct horse battery staple"
BRAINMARK = Path(sys.executable).with_name("brainmark")


@pytest.fixture
def invoke(database, monkeypatch):
    """Runs ``brainmark ARGS`` in this process with ``input`` as its standard input."""
    # The commands set this when it is unset; keep that from outliving the test.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "brainmark.platform.settings")

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input)

    return run


def _users():
    from django.contrib.auth import get_user_model

    return get_user_model().objects


def test_user_create_reads_the_password_twice_from_stdin(invoke):
    result = invoke("user", "create", "ada@example.org", input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert "ada@example.org" in result.output
    user = _users().get(username="ada@example.org")
    assert user.email == "ada@example.org"
    assert user.is_active and not user.is_staff
    assert user.check_password(PASSPHRASE)
    assert PASSPHRASE not in result.output


def test_user_create_staff(invoke):
    result = invoke(
        "user", "create", "grace@example.org", "--staff", input=f"{PASSPHRASE}\n{PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    assert _users().get(username="grace@example.org").is_staff


@pytest.mark.parametrize(
    ("email", "password_lines", "message"),
    [
        ("ada@example.org", f"{PASSPHRASE}\n{PASSPHRASE}!\n", "The two passwords differ"),
        ("ada@example.org", "password\npassword\n", "This password is too common"),
        ("not-an-email", f"{PASSPHRASE}\n{PASSPHRASE}\n", "is not a valid e-mail address"),
        ("ada@example.org", f"{PASSPHRASE}\n", "give it twice, one line each"),
    ],
    ids=["passwords differ", "too common", "invalid e-mail", "one line only"],
)
def test_user_create_refusals_create_nothing(invoke, email, password_lines, message):
    result = invoke("user", "create", email, input=password_lines)
    assert result.exit_code == 1
    assert result.output.count("Error:") == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not _users().exists()


def test_user_create_refuses_an_existing_e_mail(invoke):
    _users().create_user("ada@example.org", "ada@example.org", "an older passphrase")
    result = invoke("user", "create", "ADA@example.org", input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 1
    assert "Error: A user with the e-mail address ADA@example.org already exists" in result.output
    assert _users().count() == 1
    assert _users().get().check_password("an older passphrase")


@pytest.fixture
def ada(invoke):
    return _users().create_user("ada@example.org", "ada@example.org", PASSPHRASE)


def test_token_create_prints_a_token_that_authenticates_and_stores_only_its_hash(invoke, ada):
    from django.db import connection

    from brainmark.platform.accounts.models import ApiToken, hash_token

    result = invoke("token", "create", "ada@example.org", "--name", "laptop")
    assert result.exit_code == 0, result.output
    clear_token = result.output.splitlines()[-1]
    assert clear_token.strip() == clear_token and " " not in clear_token

    authenticated = ApiToken.objects.authenticate(clear_token)
    assert authenticated is not None
    assert authenticated.user == ada and authenticated.name == "laptop"
    assert authenticated.token_hash == hash_token(clear_token)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert not any(clear_token in str(value) for row in rows for value in row)


def test_token_create_names_tokens_without_a_name_apart(invoke, ada):
    first = invoke("token", "create", "ada@example.org")
    second = invoke("token", "create", "ada@example.org")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert first.output.splitlines()[-1] != second.output.splitlines()[-1]
    assert sorted(ada.api_tokens.values_list("name", flat=True)) == ["cli", "cli-2"]


def test_token_create_refuses_a_name_in_use(invoke, ada):
    assert invoke("token", "create", "ada@example.org", "--name", "laptop").exit_code == 0
    again = invoke("token", "create", "ada@example.org", "--name", "laptop")
    assert again.exit_code == 1
    assert "already has an active token named 'laptop'" in again.output
    assert ada.api_tokens.count() == 1


def test_token_create_refuses_an_unknown_e_mail(invoke, ada):
    from brainmark.platform.accounts.models import ApiToken

    result = invoke("token", "create", "nobody@example.org")
    assert result.exit_code == 1
    assert "Error: No user has the e-mail address nobody@example.org" in result.output
    assert not ApiToken.objects.exists()


def test_token_create_refuses_an_inactive_user(invoke, ada):
    ada.is_active = False
    ada.save()
    result = invoke("token", "create", "ada@example.org")
    assert result.exit_code == 1
    assert "is not active" in result.output


def test_a_fresh_home_needs_migrate_first_then_both_commands_work(
    run_brainmark, sqlite_environment
):
    passwords = f"{PASSPHRASE}\n{PASSPHRASE}\n"

    def run_with_input(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BRAINMARK), *args], input=stdin, env=sqlite_environment,
            capture_output=True, text=True, timeout=300,
        )

    for command in (["user", "create", "ada@example.org"], ["token", "create", "ada@example.org"]):
        refused = run_with_input(*command, stdin=passwords)
        assert refused.returncode == 1
        assert "run 'brainmark migrate' first" in refused.stderr
        assert "Traceback" not in refused.stderr

    assert run_brainmark("migrate", env=sqlite_environment).returncode == 0
    created = run_with_input("user", "create", "ada@example.org", "--staff", stdin=passwords)
    assert created.returncode == 0, created.stderr
    issued = run_with_input("token", "create", "ada@example.org")
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.splitlines()[-1].startswith("bm_")
