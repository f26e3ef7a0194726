"""The ``brainmark`` command line: one click group; commands live in one module per job.

:mod:`~brainmark.cli.scoring` (score, table, compare), :mod:`~brainmark.cli.plugins` (list, new,
test), :mod:`~brainmark.cli.data` (package, upload), :mod:`~brainmark.cli.demo` (demo),
:mod:`~brainmark.cli.reproduce` (reproduce).
Each command parses arguments, calls the library and prints; expected errors become one
``Error:`` line (:class:`BrainmarkGroup`).
"""

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


# Each module holds the commands of one job; the platform adds its own (serve, submit, ...).
from brainmark.cli import (  # noqa: E402
    accounts,
    data,
    demo,
    jobs,
    platform,
    plugins,
    reproduce,
    scoring,
    submit,
)

for _module in (scoring, plugins, data, demo, platform, accounts, submit, jobs, reproduce):
    for _command in _module.COMMANDS:
        main.add_command(_command)
