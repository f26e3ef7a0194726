"""The platform's commands: ``migrate`` and ``manage`` (Django's own commands).

Django is imported only when one of these commands runs, so ``import brainmark.cli`` and
every other command stay free of it.
"""

from __future__ import annotations

import click

# The settings module used unless DJANGO_SETTINGS_MODULE names another (e.g. the
# production profile, brainmark.platform.settings_production).
DEFAULT_SETTINGS_MODULE = "brainmark.platform.settings"


def run_django_command(*args: str) -> None:
    """Run one of Django's management commands (``migrate``, ``check``, ...) on the platform.

    The database, home and secret key come from brainmark's settings; the home is checked
    to be writable first, so a bad ``BRAINMARK_HOME`` is one clear error.
    """
    import os

    from brainmark.settings import check_home_writable

    check_home_writable()
    # Django's own convention (its manage.py does the same): a module set by the operator
    # wins. The variable is written, never read, here; Django reads it.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["brainmark manage", *args])


@click.command()
def migrate() -> None:
    """Create or update the platform's database tables.

    Applies every migration to the configured database: the SQLite file under
    BRAINMARK_HOME, or PostgreSQL when DATABASE_URL (or BRAINMARK_DATABASE_URL) is set.
    Running it again changes nothing.
    """
    run_django_command("migrate", "--no-input")


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run Django's own management commands on the platform (brainmark manage help).

    Arguments go to Django unchanged, e.g. 'brainmark manage createsuperuser' or
    'brainmark manage check --deploy'.
    """
    run_django_command(*(args or ("help",)))


COMMANDS = [migrate, manage]
