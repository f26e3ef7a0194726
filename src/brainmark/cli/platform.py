"""The platform's commands: ``migrate``, ``sync`` and ``manage`` (Django's own commands).

Django is imported only when one of these commands runs, so ``import brainmark.cli`` and
every other command stay free of it.
"""

from __future__ import annotations

import click

# The settings module used unless DJANGO_SETTINGS_MODULE names another (e.g. the
# production profile, brainmark.platform.settings_production).
DEFAULT_SETTINGS_MODULE = "brainmark.platform.settings"


def setup_django() -> None:
    """Set Django up for the platform, after checking the home is writable."""
    import os

    from brainmark.settings import check_home_writable

    check_home_writable()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    import django

    django.setup()


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


@click.command()
@click.option("--score", "score_pairs", is_flag=True,
              help="Then score every model x benchmark pair that has no score yet.")
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help="With --score: score only this model (repeatable).")
@click.option("--benchmark", "benchmarks", multiple=True, metavar="BENCHMARK",
              help="With --score: score only on this benchmark (repeatable).")
def sync(score_pairs: bool, models: tuple[str, ...], benchmarks: tuple[str, ...]) -> None:
    """Bring the plugins' models and benchmarks into the platform's database.

    The plugins are loaded in a child process (ceilings computed there), so this process
    imports no plugin or torch. A benchmark or model that fails to load is reported and
    skipped. Running it again changes nothing. With --score, every unscored pair is then
    scored, each in its own child process ('brainmark score --json'); a failure is stored
    with its error text. Run 'brainmark migrate' first.
    """
    if (models or benchmarks) and not score_pairs:
        raise click.UsageError("--model and --benchmark choose what --score scores; add --score.")
    setup_django()
    from brainmark.platform.leaderboard.sync import (
        score_unscored,
        sync_plugins,
        unknown_identifiers,
    )

    report = sync_plugins()
    for problem in report.problems:
        click.echo(f"Skipped {problem}", err=True)
    changes = {**{f"{k} created": v for k, v in report.created.items()},
               **{f"{k} updated": v for k, v in report.updated.items()}}
    summary = ", ".join(f"{count} {what}" for what, count in sorted(changes.items()))
    click.echo(f"Synced: {summary or 'nothing changed'}.")
    if score_pairs:
        unknown = unknown_identifiers(models, benchmarks)
        if unknown:
            raise click.UsageError(f"Not in the database after the sync: {', '.join(unknown)}.")
        outcomes = score_unscored(models, benchmarks)
        failed = [outcome for outcome in outcomes if outcome.error_text]
        for outcome in failed:
            reason = outcome.error_text.strip().splitlines()[-1:] or [""]
            click.echo(f"Failed {outcome.model} on {outcome.benchmark}: {reason[0]}", err=True)
        click.echo(f"Scored {len(outcomes) - len(failed)} pairs, {len(failed)} failed.")


COMMANDS = [migrate, sync, manage]
