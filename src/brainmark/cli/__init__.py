"""The ``brainmark`` command line: one click group, one command per task."""

from __future__ import annotations

from typing import Any

import click

from brainmark.exceptions import BrainmarkError, SettingsError


class BrainmarkGroup(click.Group):
    """A click group that reports brainmark's expected errors as ``Error: <message>``.

    An expected error (any :class:`~brainmark.exceptions.BrainmarkError`) says what is
    wrong and what to do, so a traceback would only bury it; ``--debug`` or the setting
    ``debug`` lets the traceback through. Any other exception is a bug and keeps its
    traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrainmarkError as error:
            if _show_tracebacks(ctx):
                raise
            raise click.ClickException(str(error)) from error


def _show_tracebacks(ctx: click.Context) -> bool:
    """``--debug``, else the setting; the flag comes first since the settings may be invalid."""
    from brainmark.settings import get_settings

    if ctx.params.get("debug"):
        return True
    try:
        return get_settings().debug
    except SettingsError:
        return False


@click.group(cls=BrainmarkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="brainmark")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback of expected errors too (or set BRAINMARK_DEBUG=1).",
)
def main(debug: bool) -> None:
    """brainmark: measure how brain-like computer vision models are.

    Everything brainmark writes goes under BRAINMARK_HOME (default ~/.brainmark).
    """
    # --debug is read by BrainmarkGroup.invoke, which wraps every command.


@main.command()
@click.option(
    "--store",
    "store_location",
    metavar="LOCATION",
    default=None,
    help="Object store to use: file:///path, s3://bucket/prefix or bucket/prefix. "
    "Default: the 'store' setting (a folder under BRAINMARK_HOME).",
)
def demo(store_location: str | None) -> None:
    """Package, store and reload real data end to end, and print a summary.

    Takes the Kriegeskorte 2008 stimulus set and monkey IT RDM shipped with brainmark,
    packages them (CSV + ZIP + netCDF with SHA1s), uploads each file twice to the object
    store (two versions), loads the first versions back with checksum verification and
    checks that nothing changed.
    """
    from brainmark._demo import run_demo

    run_demo(store_location, echo=click.echo)


# Scoring and the plugin workflow: score, table, list, new, test (see brainmark._commands).
from brainmark._commands import COMMANDS as _SCORING_COMMANDS  # noqa: E402

for _command in _SCORING_COMMANDS:
    main.add_command(_command)
