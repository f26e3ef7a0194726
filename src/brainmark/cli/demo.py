"""``brainmark demo``: what ``make run`` runs (see :mod:`brainmark._demo`)."""

from __future__ import annotations

import click


@click.command()
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


COMMANDS = [demo]
