"""``brainmark list``, ``new`` and ``test``: the plugin workflow of a contributor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_LIST_KINDS = {
    "models": ("model_registry",),
    "benchmarks": ("benchmark_registry",),
    "metrics": ("metric_registry",),
    "data": ("data_registry", "stimulus_set_registry"),
}


@click.command(name="list")
@click.argument("kind", type=click.Choice(sorted(_LIST_KINDS)))
def list_(kind: str) -> None:
    """List the registered models, benchmarks, metrics or data (datasets and stimulus sets).

    Plugin folders of that kind that cannot be indexed, and plugin path entries that hold
    no plugins, are reported on stderr after the list; the rest is still listed.
    """
    from brainmark.registry import REGISTRIES, plugin_index

    for registry_name in _LIST_KINDS[kind]:
        registry = REGISTRIES[registry_name]
        if len(_LIST_KINDS[kind]) > 1:
            click.echo(f"# {registry.kind}s")
        for identifier in registry:
            click.echo(identifier)
    index = plugin_index()
    unreadable = sorted(
        (folder, error) for folder, error in index.errors.items() if folder.parent.name == kind
    )
    if unreadable:
        click.echo(
            f"# {kind} plugin folders that cannot be indexed; what they register is not "
            f"listed above:",
            err=True,
        )
        for folder, error in unreadable:
            click.echo(f"{folder}\n    {error}", err=True)
    problems = index.plugin_path_problems()
    if problems:
        click.echo("# BRAINMARK_PLUGIN_PATH entries holding no plugins:", err=True)
        for problem in problems:
            click.echo(problem, err=True)


@click.group()
def new() -> None:
    """Scaffold a plugin folder that passes its own tests before you edit it."""


@new.command(name="benchmark")
@click.argument("identifier")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--kind",
    type=click.Choice(["neural", "rsa", "behavioral"]),
    help="neural: trial-level responses (NeuralBenchmark); rsa: RDMs (RSABenchmark); "
    "behavioral: choices (BehavioralBenchmark). Default: guessed from the metric in "
    "IDENTIFIER (-pls, -ridge, -cka: neural; -rdm: rsa; -top1, -error_consistency, -i2n: "
    "behavioral).",
)
def new_benchmark(identifier: str, destination: Path, kind: str | None) -> None:
    """Create DESTINATION/benchmarks/<folder>/ for benchmark IDENTIFIER (e.g. Smith2024.IT-pls).

    DESTINATION is a plugin root (default: the current folder). The benchmark runs on
    stand-in data until you point it at yours.
    """
    from brainmark._scaffold import new_benchmark as scaffold

    _report_scaffold(scaffold(identifier, destination, kind=kind))


@new.command(name="model")
@click.argument("identifier")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path), default=".")
def new_model(identifier: str, destination: Path) -> None:
    """Create DESTINATION/models/<folder>/ for model IDENTIFIER (e.g. my-net).

    DESTINATION is a plugin root (default: the current folder).
    """
    from brainmark._scaffold import new_model as scaffold

    _report_scaffold(scaffold(identifier, destination))


@new.command(name="data")
@click.argument("name")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path), default=".")
def new_data(name: str, destination: Path) -> None:
    """Create DESTINATION/data/<folder>/: stimulus set NAME and dataset NAME.IT (e.g. Smith2024).

    DESTINATION is a plugin root (default: the current folder). The folder's
    package_data.py packages a stand-in experiment until you make it read your raw data.
    """
    from brainmark._scaffold import new_data as scaffold

    _report_scaffold(scaffold(name, destination))


def _report_scaffold(scaffold: Any) -> None:
    for note in scaffold.notes:
        click.echo(note)
    for path in scaffold.paths:
        click.echo(f"created {path}")
    click.echo(f"Next: edit the files, then run: brainmark test {scaffold.folder}")


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def test(path: Path) -> None:
    """Run the generic checks and then PATH/test.py of the plugin folder PATH.

    Runs in a fresh process with the plugin's root on BRAINMARK_PLUGIN_PATH, the way the
    submission pipeline runs it.
    """
    from brainmark.plugin_testing import run_plugin_tests

    result = run_plugin_tests(path)
    if not result.passed:
        raise click.exceptions.Exit(result.returncode)
    click.echo(f"Plugin {path} passed.")


COMMANDS = [list_, new, test]
