"""Local scoring with a reproducibility record: what ``brainmark score`` and the table run.

A result is cached under ``<home>/results`` keyed by the model, the benchmark identifier
and version, the brainmark version, the SHA1 of brainmark's own code and the content
hashes of the model and benchmark plugin folders, so changing any of them recomputes it.
Each record lists the content hash of every plugin folder the run imported (data and
metric plugins included) and a cached result is reused only while those hashes still
match. The file carries its own checksum, checked when read: a damaged or emptied record is
reported and recomputed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from brainmark._files import (
    distrust_cache_file,
    read_checked_json,
    safe_file_name,
    write_checked_json,
)
from brainmark._provenance import library_sha1, plugin_content_sha1
from brainmark.settings import check_home_writable, get_settings, override_settings

# A cached record missing any of these is damaged, not merely outdated.
_RECORD_FIELDS = ("model", "benchmark", "benchmark_version", "score", "plugins", "plugin_folders")


def _plugin_key(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


def layer_commitment(model: Any, benchmark: Any) -> dict[str, Any]:
    """The layers the model used on this benchmark: its region's layer, or its readout layer.

    Only the region the benchmark recorded is asked for, so a model that selects layers
    on demand is not made to select the others.
    """
    commitment: dict[str, Any] = {}
    region = getattr(benchmark, "region", None)
    layer_for = getattr(model, "layer_for", None)
    if region is not None and callable(layer_for):
        try:
            commitment[str(region)] = str(layer_for(region))
        except Exception as error:  # A record must not fail for a missing mapping.
            commitment[str(region)] = f"unknown ({type(error).__name__})"
    readout = getattr(model, "behavioral_readout_layer", None)
    if region is None and readout is None:
        layers = getattr(model, "layers", None)
        readout = layers[-1] if isinstance(layers, list) and layers else None
    if region is None and readout is not None:
        commitment["behavior"] = str(readout)
    return commitment


def _result_path(model: str, benchmark: str, version: int, key: str) -> Path:
    return (
        get_settings().results_dir / safe_file_name(model) / safe_file_name(benchmark)
        / f"v{version}-{key}.json"
    )


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _error_of(score: Any) -> float:
    error = score.attrs.get("error", math.nan)
    try:
        return float(error)
    except (TypeError, ValueError):
        return math.nan


def score_model(
    model_identifier: str, benchmark_identifier: str, *, use_cache: bool = True
) -> dict[str, Any]:
    """Score a registered model on a registered benchmark; returns the result record.

    The record (JSON-serialisable) holds ``score`` (ceiled), ``raw``, ``ceiling``,
    ``error``, ``layer_commitment``, ``parent``, the versions and plugin hashes used, the
    wall time, and ``cached`` (whether it came from the cache). ``use_cache=False`` reuses
    nothing: activations, placed images, ceilings and layer maps are recomputed too (and
    replace their cache entries).
    """
    if not use_cache:
        with override_settings(reuse_cache=False):
            return score_model(model_identifier, benchmark_identifier)
    import brainmark
    from brainmark.registry import benchmark_registry, model_registry, record_plugin_usage

    # Settings that would fail late (an unwritable home, a missing GPU) fail now; torch is
    # imported for that only when a GPU is asked for, so a cached answer stays fast.
    check_home_writable()
    if get_settings().device.startswith("cuda"):
        from brainmark.models.activations import resolve_device

        resolve_device()
    benchmark = brainmark.load_benchmark(benchmark_identifier)
    model_folder = model_registry.locate(model_identifier).folder
    benchmark_folder = benchmark_registry.locate(benchmark_identifier).folder
    hashes = {
        _plugin_key(model_folder): plugin_content_sha1(model_folder),
        _plugin_key(benchmark_folder): plugin_content_sha1(benchmark_folder),
    }
    key = hashlib.sha1(
        json.dumps(
            [brainmark.__version__, library_sha1(), model_identifier, benchmark_identifier,
             benchmark.version, sorted(hashes.items())]
        ).encode()
    ).hexdigest()[:16]
    path = _result_path(model_identifier, benchmark_identifier, benchmark.version, key)
    if get_settings().reuse_cache:
        cached = _read_valid_record(path, model_identifier, benchmark_identifier,
                                    benchmark.version)
        if cached is not None:
            cached["cached"] = True
            return cached

    start = time.perf_counter()
    with record_plugin_usage() as used_folders:
        model = brainmark.load_model(model_identifier)
        score = benchmark(model)
    wall = time.perf_counter() - start
    used_folders |= {model_folder, benchmark_folder}
    plugins = {_plugin_key(folder): plugin_content_sha1(folder) for folder in used_folders}
    record = {
        "model": model_identifier,
        "benchmark": benchmark_identifier,
        "benchmark_version": benchmark.version,
        "parent": benchmark.parent,
        "score": _float(score),
        "raw": _float(score.attrs.get("raw", math.nan)),
        "ceiling": _float(score.attrs.get("ceiling", benchmark.ceiling)),
        "error": _error_of(score),
        "layer_commitment": layer_commitment(model, benchmark),
        "brainmark_version": brainmark.__version__,
        "library_sha1": library_sha1(),
        "plugins": dict(sorted(plugins.items())),
        "plugin_folders": {_plugin_key(folder): str(folder) for folder in used_folders},
        "python": platform.python_version(),
        "torch": _torch_version(),
        "wall_time_s": round(wall, 3),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    write_checked_json(path, _finite(record))
    record["cached"] = False
    return record


def _torch_version() -> str | None:
    torch = sys.modules.get("torch")
    return getattr(torch, "__version__", None)


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """NaN -> None, so the file is strict JSON."""
    return {
        key: (None if isinstance(value, float) and math.isnan(value) else value)
        for key, value in record.items()
    }


def _read_valid_record(
    path: Path, model: str, benchmark: str, version: int
) -> dict[str, Any] | None:
    """A cached record of this pair whose every recorded plugin folder still has its hash.

    A file that fails its checksum, or does not hold a record of this model, benchmark and
    version, is reported as damaged; a record whose plugins changed since is just outdated.
    """
    record = read_checked_json(path, what="score record")
    if record is None:
        return None
    if (
        not isinstance(record, dict)
        or any(field not in record for field in _RECORD_FIELDS)
        or (record["model"], record["benchmark"], record["benchmark_version"])
        != (model, benchmark, version)
    ):
        distrust_cache_file(path, "score record", f"it holds no record of {model} on "
                            f"{benchmark} v{version}")
        return None
    folders = record["plugin_folders"]
    for name, sha1 in record["plugins"].items():
        folder = folders.get(name)
        if folder is None or not Path(folder).is_dir() or plugin_content_sha1(Path(folder)) != sha1:
            return None
    return record


def score_table(
    models: Sequence[str],
    benchmarks: Sequence[str],
    *,
    use_cache: bool = True,
    progress: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Score every model on every benchmark; errors are recorded, not raised.

    ``progress(model, benchmark)`` is called after each pair.

    Returns ``{"results": [record or {"model", "benchmark", "error_message"}], "nodes":
    {model: {node: score}}, "wall_time_s": ...}``; nodes aggregate the leaf scores with the
    benchmark tree (missing or errored scores count 0).
    """
    import pandas as pd

    import brainmark
    from brainmark.benchmarks.tree import aggregate_table

    start = time.perf_counter()
    results = []
    parents = {}
    unloadable = {}
    for benchmark in benchmarks:
        try:
            parents[benchmark] = brainmark.load_benchmark(benchmark).parent
        except Exception as error:  # A benchmark that cannot load fails its pairs only.
            unloadable[benchmark] = f"{type(error).__name__}: {error}"
    for model in models:
        for benchmark in benchmarks:
            try:
                if benchmark in unloadable:
                    message = unloadable[benchmark]
                else:
                    results.append(score_model(model, benchmark, use_cache=use_cache))
                    message = None
            except Exception as error:  # One failing pair must not stop the table.
                message = f"{type(error).__name__}: {error}"
            if message is not None:
                results.append(
                    {"model": model, "benchmark": benchmark, "score": None,
                     "error_message": message}
                )
            if progress is not None:
                progress(model, benchmark)
    # Benchmarks that could not load have no place in the tree: their pairs are errors only.
    table = pd.DataFrame(
        [[None] * len(parents) for _ in models], index=list(models), columns=list(parents)
    )
    for result in results:
        if result["benchmark"] in parents:
            table.loc[result["model"], result["benchmark"]] = result.get("score")
    nodes = aggregate_table(table, parents)
    return {
        "results": results,
        "nodes": {
            model: {node: (None if pd.isna(v) else float(v)) for node, v in row.items()}
            for model, row in nodes.iterrows()
        },
        "parents": parents,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
