"""Accounts for admins and scripts: ``brainmark user create`` and ``brainmark token create``.

Django is imported only when one of these commands runs (as in
:mod:`brainmark.cli.platform`), so ``import brainmark.cli`` stays free of it. Both need
the tables ``brainmark migrate`` creates and say so when they are missing.
"""

from __future__ import annotations

import sys

import click

from brainmark.exceptions import BrainmarkError


class PasswordInputError(BrainmarkError, ValueError):
    """The password could not be read (standard input ended before two lines)."""


def _set_up_django() -> None:
    """Set Django up on the platform's settings, as ``brainmark migrate`` does, and check
    that the database has been migrated."""
    import os

    from brainmark.cli.platform import DEFAULT_SETTINGS_MODULE
    from brainmark.settings import check_home_writable

    check_home_writable()
    # As for brainmark manage: a settings module set by the operator wins.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    import django

    django.setup()
    from brainmark.platform.accounts.services import require_migrated_database

    require_migrated_database()


def _read_password_twice() -> tuple[str, str]:
    """The password and its repetition: prompted (hidden) on a terminal, else two stdin lines."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, prompt_suffix=": ")
        again = click.prompt("Password (again)", hide_input=True, prompt_suffix=": ")
        return password, again
    lines = []
    for _ in range(2):
        line = sys.stdin.readline()
        if not line:
            raise PasswordInputError(
                "Standard input is not a terminal, so the password is read from it: give it "
                "twice, one line each (e.g. printf '%s\\n%s\\n' \"$PW\" \"$PW\" | brainmark "
                "user create EMAIL)."
            )
        lines.append(line.removesuffix("\n").removesuffix("\r"))
    return lines[0], lines[1]


@click.group()
def user() -> None:
    """Manage the platform's users (brainmark migrate must have run)."""


@user.command("create")
@click.argument("email")
@click.option("--staff", is_flag=True, help="Make the user staff (may use the admin).")
def create_user_command(email: str, staff: bool) -> None:
    """Create an active user whose username is EMAIL.

    The password is prompted twice on a terminal; otherwise it is read from standard input,
    twice, one line each. Django's password rules apply.
    """
    _set_up_django()
    from brainmark.platform.accounts.services import check_new_user_email, create_user

    check_new_user_email(email)
    password, again = _read_password_twice()
    created = create_user(email, password, again, staff=staff)
    kind = "staff user" if created.is_staff else "user"
    click.echo(f"Created the {kind} {created.get_username()}.")


@click.group()
def token() -> None:
    """Manage API tokens (brainmark migrate must have run)."""


@token.command("create")
@click.argument("email")
@click.option(
    "--name",
    default=None,
    help="What the token is for, e.g. 'laptop' (default: cli, cli-2, ... whichever is free).",
)
def create_token_command(email: str, name: str | None) -> None:
    """Create an API token for the active user EMAIL and print it on the last line.

    The token is shown this once: only its hash is stored.
    """
    _set_up_django()
    from brainmark.platform.accounts.services import create_api_token

    api_token, clear_token = create_api_token(email, name)
    click.echo(
        f"API token '{api_token.name}' for {api_token.user.get_username()} (shown once, "
        f"only its hash is stored):"
    )
    click.echo(clear_token)


COMMANDS = [user, token]
