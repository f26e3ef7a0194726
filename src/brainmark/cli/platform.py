"""The platform's commands: ``migrate``, ``sync``, ``manage`` (Django's own commands),
``serve``, ``backup`` and ``restore``.

Django is imported only when one of these commands runs, so ``import brainmark.cli`` and
every other command stay free of it.
"""

from __future__ import annotations

from pathlib import Path

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
@click.option("--no-cache", is_flag=True,
              help="Read the plugins again even if their facts are cached for the same code.")
def sync(score_pairs: bool, models: tuple[str, ...], benchmarks: tuple[str, ...],
         no_cache: bool) -> None:
    """Bring the plugins' models and benchmarks into the platform's database.

    The plugins are loaded in a child process (ceilings computed there), so this process
    imports no plugin or torch. What they state is cached, keyed by the plugins' and the
    library's code and the installed packages: a sync with none of them changed reuses it
    (--no-cache reads them again). A benchmark or model that fails to load is reported and
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

    report = sync_plugins(use_cache=not no_cache)
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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Others reach the site only through a TLS proxy "
                   "(docs/deploy.md); add its name to BRAINMARK_ALLOWED_HOSTS.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (the printed address says which).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker process.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the site with gunicorn until stopped (Ctrl-C), and nothing else.

    Prints the site's address (http://127.0.0.1:8000) on stdout once it answers; the
    access log goes to stderr. It neither migrates nor scores: run 'brainmark migrate' and
    'brainmark sync --score' first ('make run' does all three).
    """
    setup_django()
    from brainmark.platform.accounts.services import require_migrated_database
    from brainmark.platform.server import serve_site

    require_migrated_database()

    def announce(address: str) -> None:
        click.echo(address)
        click.echo("Serving the site; stop it with Ctrl-C.", err=True)

    serve_site(host, port, workers=workers, threads=threads, on_ready=announce)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def backup(path: Path) -> None:
    """Write a consistent snapshot of the platform into PATH, a new folder.

    The folder holds the database (SQLite's online backup, or pg_dump's custom format on
    PostgreSQL), the plugin store, the object store's index (and the store itself when it
    is the folder under BRAINMARK_HOME) and manifest.json with each file's SHA1. Safe while
    the site runs. Bring it back with 'brainmark restore PATH'.
    """
    setup_django()
    from brainmark.platform.accounts.services import require_migrated_database
    from brainmark.platform.backup import create_backup

    require_migrated_database()
    manifest = create_backup(path)
    click.echo(f"Backed up {manifest.summary()} into {path}.")


@click.command()
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option("--yes", is_flag=True, help="Replace a database that holds tables without asking.")
def restore(path: Path, yes: bool) -> None:
    """Bring back a backup written by 'brainmark backup PATH'.

    Every file's SHA1 is checked against the manifest before anything is touched; a
    backup of another database vendor (SQLite vs PostgreSQL) is refused. Replacing a
    database that already holds tables asks first (--yes: don't ask). Data packages the
    backup lists but the object store no longer holds are reported.
    """
    import sys

    setup_django()
    from brainmark.platform.backup import restore_backup

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise click.ClickException(f"{question} Add --yes to confirm (no terminal "
                                       f"to ask); nothing was changed.")
        return click.confirm(question, default=False)

    report = restore_backup(path, confirm=confirm)
    for problem in report.missing:
        click.echo(f"Missing from the object store: {problem}", err=True)
    click.echo(f"Restored {report.summary()} from {path}.")


@click.command()
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
              help="Where jobs run (default: the setting dispatcher_executor, 'local').")
@click.option("--slots", type=click.IntRange(min=1), default=None,
              help="Jobs run at once (default: the setting dispatcher_slots locally, every "
              "worker thread on Dask).")
@click.option("--stage-slots", type=click.IntRange(min=1), default=None,
              help="Submission stages (sandboxed tests, merge, reading facts) run at once "
              "(default: the setting dispatcher_stage_slots).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="The Dask scheduler, e.g. tcp://10.0.0.5:8786 (setting dask_scheduler).")
@click.option("--name", default=None, help="This dispatcher's name on job rows (default: "
              "dispatcher@HOST); a restarted dispatcher of the same name resumes its jobs.")
@click.option("--until-idle", is_flag=True,
              help="Stop once no submission or job is left to run (scripts, tests).")
@click.option("--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="Seconds between looks at the queue when idle.")
def dispatcher(executor: str | None, slots: int | None, stage_slots: int | None,
               scheduler: str | None, name: str | None, until_idle: bool, poll: float) -> None:
    """Run submissions through their tests, merge and scoring, on an executor.

    Claims queued jobs atomically, so several dispatchers may run at once (on one
    database). Stop it with Ctrl-C or SIGTERM; jobs it held are retried when it (or
    another) starts again.
    """
    import signal
    import threading

    from brainmark.settings import get_settings

    setup_django()
    from brainmark.platform.submissions.dispatcher import Dispatcher, make_executor

    settings = get_settings()
    engine = make_executor(executor or settings.dispatcher_executor,
                           slots=slots,
                           scheduler=scheduler or settings.dask_scheduler)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    loop = Dispatcher(engine, name=name, stage_slots=stage_slots)
    click.echo(f"{loop.worker} running jobs on {engine.name} (Ctrl-C stops).", err=True)
    try:
        loop.run(stop=stop, until_idle=until_idle, poll_seconds=poll)
    finally:
        loop.close()


COMMANDS = [migrate, sync, manage, serve, backup, restore, dispatcher]
