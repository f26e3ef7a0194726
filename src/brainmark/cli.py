"""The ``brainmark`` command line: one click group, one command per task."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="brainmark")
def main() -> None:
    """brainmark: measure how brain-like computer vision models are.

    Everything brainmark writes goes under BRAINMARK_HOME (default ~/.brainmark).
    """


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
