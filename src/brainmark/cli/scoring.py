"""``brainmark score`` and ``brainmark table``: thin wrappers over :mod:`brainmark.scoring`."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(interval: list[float | None] | None, level: float | None, digits: int = 3) -> str:
    """`` [lower, upper] 95% CI`` of an interval, or nothing when there is none."""
    if not interval or level is None:
        return ""
    lower, upper = (_fmt(end, digits) for end in interval)
    return f" [{lower}, {upper}] {100 * level:g}% CI"


def _threads_option(function: Any) -> Any:
    return click.option(
        "--threads", type=click.IntRange(min=1), default=None,
        help="Torch CPU threads (default: torch's choice).",
    )(function)


@click.command()
@click.argument("model")
@click.argument("benchmark")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON.")
@click.option("--no-cache", is_flag=True, help="Recompute even if a cached result exists.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the record's JSON to this file (written whole or not at all).")
@_threads_option
def score(model: str, benchmark: str, as_json: bool, no_cache: bool, output: Path | None,
          threads: int | None) -> None:
    """Score MODEL on BENCHMARK; prints the ceiled score, raw, ceiling, error and layers.

    The result is cached under the brainmark home, keyed by model, benchmark version,
    brainmark version and the content hashes of the plugins used, and records them all so
    the number can be reproduced. With --json, stdout holds the record's JSON alone
    (progress goes to stderr).
    """
    from brainmark.scoring import score_model
    from brainmark.settings import check_home_writable

    check_home_writable()
    _set_threads(threads)
    if not as_json:
        click.echo(f"Scoring {model} on {benchmark} ...", err=True)
    record = score_model(model, benchmark, use_cache=not no_cache)
    if output is not None:
        from brainmark._files import atomic_path

        with atomic_path(output) as temporary:
            temporary.write_text(record.to_json())
    if as_json:
        click.echo(record.to_json())
        return
    click.echo(
        f"{record.benchmark} (v{record.benchmark_version}, parent {record.parent}) "
        f"x {record.model}"
    )
    ci = _ci(record.interval, record.interval_level)
    click.echo(f"  score    {_fmt(record.score)}{ci}  (raw / ceiling, ceiled)")
    click.echo(f"  raw      {_fmt(record.raw)}{_ci(record.raw_interval, record.interval_level)}")
    click.echo(f"  ceiling  {_fmt(record.ceiling)}"
               f"{_ci(record.ceiling_interval, record.interval_level)}")
    click.echo(f"  error    {_fmt(record.error)}")
    layers = ", ".join(f"{region}: {layer}" for region, layer in record.layer_commitment.items())
    click.echo(f"  layers   {layers or '-'}")
    if record.interval_method:
        click.echo(f"  interval {record.interval_method}; {record.resamples} resamples, "
                   f"seed {record.seed}")
    origin = "cached result" if record.cached else f"computed in {record.wall_time_s} s"
    click.echo(f"  brainmark {record.brainmark_version}; {origin}")


@click.command()
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--benchmark", "benchmarks", multiple=True, help="Only this benchmark (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the table and records as JSON.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON to this file.")
@click.option("--no-cache", is_flag=True, help="Recompute even cached results.")
@_threads_option
def table(
    models: tuple[str, ...],
    benchmarks: tuple[str, ...],
    as_json: bool,
    output: Path | None,
    no_cache: bool,
    threads: int | None,
) -> None:
    """Score every model on every benchmark (default: all registered) and print the table.

    Rows are benchmarks then tree nodes (a node is the mean of its children, a missing or
    failed score counting 0); columns are models. A failing pair shows X and its error is
    listed below the table; it does not stop the run, but the exit status is 1.
    """
    from tqdm import tqdm

    from brainmark.registry import benchmark_registry, model_registry
    from brainmark.scoring import score_table
    from brainmark.settings import check_home_writable

    check_home_writable()
    _set_threads(threads)
    models = models or tuple(model_registry)
    benchmarks = benchmarks or tuple(benchmark_registry)
    with tqdm(total=len(models) * len(benchmarks), desc="model x benchmark", unit="pair",
              file=sys.stderr) as bar:

        def progress(model: str, benchmark: str) -> None:
            bar.set_postfix_str(f"{model} on {benchmark}", refresh=False)
            bar.update(1)

        result = score_table(models, benchmarks, use_cache=not no_cache, progress=progress)
    text = json.dumps(result, indent=2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    if as_json:
        click.echo(text)
    else:
        click.echo(format_table(result, models, benchmarks))
    failed = [record for record in result["results"] if "error_message" in record]
    if failed:
        # Scripts and CI must not take a partial table for a complete one.
        where = "see error_message in the results" if as_json else (
            "their errors are listed below the table"
        )
        raise click.ClickException(
            f"{len(failed)} of {len(result['results'])} model x benchmark pairs failed; "
            f"{where}."
        )


def format_table(
    result: dict[str, Any], models: tuple[str, ...], benchmarks: tuple[str, ...]
) -> str:
    """A plain-text table: benchmarks and nodes as rows, models as columns."""
    scores = {(r["model"], r["benchmark"]): r for r in result["results"]}
    rows: list[list[str]] = []
    for benchmark in benchmarks:
        cells = []
        for model in models:
            record = scores.get((model, benchmark), {})
            cells.append("X" if "error_message" in record else _fmt(record.get("score")))
        rows.append([benchmark, result["parents"].get(benchmark, ""), *cells])
    nodes = sorted({node for row in result["nodes"].values() for node in row},
                   key=list(_tree_order()).index)
    for node in nodes:
        rows.append([node, "(node)", *(_fmt(result["nodes"][m].get(node)) for m in models)])
    header = ["benchmark", "parent", *models]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    errors = [r for r in result["results"] if "error_message" in r]
    for record in errors:
        lines.append(f"X {record['model']} on {record['benchmark']}: {record['error_message']}")
    lines.append(f"wall time: {result['wall_time_s']} s")
    return "\n".join(lines)


def _tree_order() -> list[str]:
    from brainmark.benchmarks.tree import TREE

    return ["V1", "V2", "V4", "IT", "neural_vision", "behavior_vision", "average_vision",
            "engineering_vision", *TREE]


@click.command()
@click.argument("model_a")
@click.argument("model_b")
@click.argument("benchmarks", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--no-cache", is_flag=True, help="Recompute even cached results.")
@_threads_option
def compare(model_a: str, model_b: str, benchmarks: tuple[str, ...], as_json: bool,
            no_cache: bool, threads: int | None) -> None:
    """Compare MODEL_A with MODEL_B on BENCHMARKS (default: all) and on every tree node.

    A paired bootstrap: both models' scores are resampled on the same stimuli (and
    subjects), so the interval of A - B says whether the difference is real (it excludes
    0) or the two are tied there. Cached score records are reused.
    """
    from brainmark.comparison import compare_models
    from brainmark.settings import check_home_writable

    check_home_writable()
    _set_threads(threads)
    if not as_json:
        click.echo(f"Comparing {model_a} (A) with {model_b} (B) ...", err=True)
    result = compare_models(model_a, model_b, benchmarks or None, use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_comparison(result))


def format_comparison(result: dict[str, Any]) -> str:
    """A plain-text table of a :func:`~brainmark.comparison.compare_models` result."""
    level = f"{100 * result['level']:g}% CI"
    header = ["", "A", "B", "A - B", level, ""]
    rows = []
    for kind, group in (("", result["benchmarks"]), (" (node)", result["nodes"])):
        for row in group:
            if "message" in row:
                rows.append([row["name"] + kind, "-", "-", "-", "-", row["message"]])
                continue
            lower, upper = (_fmt(end, 3) for end in row["interval"])
            verdict = {"a better": "A better", "b better": "B better"}.get(row["verdict"], "tied")
            rows.append([row["name"] + kind, _fmt(row["a"], 3), _fmt(row["b"], 3),
                         f"{row['difference']:+.3f}", f"[{lower}, {upper}]", verdict])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"A = {result['model_a']}, B = {result['model_b']}; paired bootstrap, "
             f"tied when the interval of A - B includes 0"]
    lines += ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip() for row in [header, *rows]]
    return "\n".join(lines)


COMMANDS = [score, table, compare]
