"""Scoring with a reproducibility record: the one call the CLI, the workers and the site use.

:func:`score_model` scores a registered model on a registered benchmark and returns a
:class:`ScoreRecord`: the number and everything it was computed with (versions, the
content hash of every plugin folder the run used, the data's SHA1s, the seeds). The same
record is what ``brainmark score --json`` prints and what the platform stores.

A result is cached under ``<home>/results`` keyed by the model, the benchmark identifier
and version, the brainmark version, the SHA1 of brainmark's own code and the content
hashes of the model and benchmark plugin folders, so changing any of them recomputes it.
A cached record is reused only while every plugin folder it lists still has its recorded
hash; the file carries its own checksum, checked when read: a damaged or emptied record is
reported and recomputed.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from brainmark._files import (
    distrust_cache_file,
    read_checked_json,
    safe_file_name,
    write_checked_json,
)
from brainmark._provenance import library_sha1, plugin_content_sha1
from brainmark._version import __version__
from brainmark.registry import (
    PLUGIN_TYPES,
    benchmark_registry,
    model_registry,
    plugin_roots,
    record_plugin_usage,
)
from brainmark.settings import check_home_writable, get_settings, override_settings


@dataclasses.dataclass(frozen=True)
class ScoreRecord:
    """One score and everything it was computed with.

    ``score`` is the ceiled value (``raw / ceiling``), ``None`` when not a number. Plugin
    folders are named ``<type>/<folder>`` relative to their plugin root, so a record says
    nothing about the machine it was computed on. ``to_json`` / ``from_json`` round-trip;
    ``score`` stays a plain number at the top level of the JSON.

    The bootstrap interval (``docs/scores.md``, "Intervals"): ``interval`` is ``[lower,
    upper]`` of the ceiled score at ``interval_level``, ``raw_interval`` and
    ``ceiling_interval`` those of the raw score and the ceiling (None for a constant
    ceiling), from ``resamples`` resamples drawn with ``seed`` as ``interval_method`` says;
    an end is None when not a number. ``resample_values`` keeps the per-resample values
    (``{"ceiled", "raw", "ceiling"}``, each the text of
    :func:`~brainmark.metrics.intervals.encode_resamples`, ``"ceiling"`` None for a
    constant ceiling), what a paired comparison of two models needs
    (:func:`brainmark.comparison.compare_models`). Records stored before intervals existed
    load with these fields None.

    ``packages`` holds the versions of the numerical packages a number depends on
    (:data:`RECORDED_PACKAGES`) and ``device`` the torch device models ran on (``cpu``,
    ``cuda``; None when no model ran torch): with the versions above, the manifest
    ``brainmark reproduce`` compares. Older records load with both None.
    """

    model: str
    benchmark: str
    benchmark_version: int
    parent: str
    score: float | None
    raw: float | None
    ceiling: float | None
    error: float | None
    layer_commitment: Mapping[str, str]
    brainmark_version: str
    library_sha1: str
    python: str
    torch: str | None
    plugins: Mapping[str, str]
    data_sha1s: Mapping[str, str]
    seeds: Mapping[str, int]
    wall_time_s: float
    created: str
    cached: bool = False
    interval: list[float | None] | None = None
    interval_level: float | None = None
    interval_method: str | None = None
    resamples: int | None = None
    seed: int | None = None
    raw_interval: list[float | None] | None = None
    ceiling_interval: list[float | None] | None = None
    resample_values: Mapping[str, str | None] | None = None
    packages: Mapping[str, str] | None = None
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON types (mappings copied to dicts)."""
        return {
            field.name: dict(value) if isinstance(value, Mapping) else value
            for field in dataclasses.fields(self)
            for value in [getattr(self, field.name)]
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, content: Mapping[str, Any]) -> ScoreRecord:
        """A record from :meth:`to_dict` output; unknown or missing fields are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        required = {field.name for field in dataclasses.fields(cls)
                    if field.default is dataclasses.MISSING}
        unknown, missing = sorted(set(content) - names), sorted(required - set(content))
        if unknown or missing:
            raise ValueError(
                f"Not a score record: unknown fields {unknown}, missing fields {missing}."
            )
        return cls(**content)

    @classmethod
    def from_json(cls, text: str) -> ScoreRecord:
        return cls.from_dict(json.loads(text))


def layer_commitment(model: Any, benchmark: Any) -> dict[str, str]:
    """The layers the model used on this benchmark: its region's layer, or its readout layer.

    Only the region the benchmark recorded is asked for, so a model that selects layers
    on demand is not made to select the others.
    """
    commitment: dict[str, str] = {}
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


def score_model(
    model_identifier: str, benchmark_identifier: str, *, use_cache: bool = True
) -> ScoreRecord:
    """Score a registered model on a registered benchmark.

    Parameters
    ----------
    model_identifier, benchmark_identifier
        Registered names (``brainmark list models|benchmarks``).
    use_cache
        Reuse a cached record. False reuses nothing: activations, placed images, ceilings
        and layer maps are recomputed too (and replace their cache entries).

    Returns
    -------
    ScoreRecord
        ``cached`` says whether it came from the result cache.
    """
    if not use_cache:
        with override_settings(reuse_cache=False):
            return score_model(model_identifier, benchmark_identifier)
    # Settings that would fail late (an unwritable home, a missing GPU) fail now; torch is
    # imported for that only when a GPU is asked for, so a cached answer stays fast.
    check_home_writable()
    if get_settings().device.startswith("cuda"):
        from brainmark.models.activations import resolve_device

        resolve_device()
    benchmark = benchmark_registry.load(benchmark_identifier)
    model_folder = model_registry.locate(model_identifier).folder
    benchmark_folder = benchmark_registry.locate(benchmark_identifier).folder
    hashes = {
        _plugin_name(model_folder): plugin_content_sha1(model_folder),
        _plugin_name(benchmark_folder): plugin_content_sha1(benchmark_folder),
    }
    key = hashlib.sha1(
        json.dumps(
            [__version__, library_sha1(), model_identifier, benchmark_identifier,
             benchmark.version, sorted(hashes.items())]
        ).encode()
    ).hexdigest()[:16]
    path = _result_path(model_identifier, benchmark_identifier, benchmark.version, key)
    if get_settings().reuse_cache:
        cached = _read_valid_record(path, model_identifier, benchmark_identifier,
                                    benchmark.version)
        if cached is not None:
            return dataclasses.replace(cached, cached=True)

    start = time.perf_counter()
    with record_plugin_usage() as used_folders:
        model = model_registry.load(model_identifier)
        score = benchmark(model)
    wall = time.perf_counter() - start
    used_folders |= {model_folder, benchmark_folder}
    record = ScoreRecord(
        model=model_identifier,
        benchmark=benchmark_identifier,
        benchmark_version=benchmark.version,
        parent=benchmark.parent,
        score=finite_or_none(score),
        raw=finite_or_none(score.attrs.get("raw")),
        ceiling=finite_or_none(score.attrs.get("ceiling", benchmark.ceiling)),
        error=finite_or_none(score.attrs.get("error")),
        layer_commitment=layer_commitment(model, benchmark),
        brainmark_version=__version__,
        library_sha1=library_sha1(),
        python=platform.python_version(),
        torch=getattr(sys.modules.get("torch"), "__version__", None),
        plugins=dict(sorted(
            (_plugin_name(folder), plugin_content_sha1(folder)) for folder in used_folders
        )),
        data_sha1s=_data_sha1s(benchmark),
        seeds=_seeds(benchmark),
        wall_time_s=round(wall, 3),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **interval_fields(score, score.attrs.get("ceiling", benchmark.ceiling)),
        packages=package_versions(),
        device=_device_used(),
    )
    write_checked_json(path, record.to_dict())
    return record


#: Distributions whose versions go into every record (what the numbers are computed with).
RECORDED_PACKAGES = ("numpy", "scipy", "scikit-learn", "xarray", "pandas", "torchvision",
                     "pillow")


def package_versions() -> dict[str, str]:
    """The installed version of each of :data:`RECORDED_PACKAGES` that is installed."""
    from importlib import metadata

    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _device_used() -> str | None:
    """The torch device the device setting resolves to, when torch was used at all."""
    if "torch" not in sys.modules:
        return None
    from brainmark.models.activations import resolve_device

    return str(resolve_device())


def interval_fields(score: Any, ceiling: Any) -> dict[str, Any]:
    """The record's interval fields from a ceiled score's attrs (all None without one)."""
    from brainmark.metrics.intervals import encode_resamples

    if "resample_values" not in score.attrs:
        return {}
    raw = score.attrs.get("raw")
    raw_attrs = getattr(raw, "attrs", {})
    ceiling_attrs = getattr(ceiling, "attrs", {})

    def bounds(attrs: Mapping[str, Any]) -> list[float | None] | None:
        interval = attrs.get("interval")
        return None if interval is None else [finite_or_none(end) for end in interval]

    def encoded(attrs: Mapping[str, Any]) -> str | None:
        values = attrs.get("resample_values")
        return None if values is None else encode_resamples(values)

    return {
        "interval": bounds(score.attrs),
        "interval_level": float(score.attrs["interval_level"]),
        "interval_method": str(score.attrs["interval_method"]),
        "resamples": int(score.attrs["resamples"]),
        "seed": int(score.attrs["seed"]),
        "raw_interval": bounds(raw_attrs),
        "ceiling_interval": bounds(ceiling_attrs),
        "resample_values": {"ceiled": encoded(score.attrs), "raw": encoded(raw_attrs),
                            "ceiling": encoded(ceiling_attrs)},
    }


def _plugin_name(folder: Path) -> str:
    """``<type>/<folder>``: a plugin folder relative to its root."""
    return f"{folder.parent.name}/{folder.name}"


def _plugin_folder(name: str) -> Path | None:
    """The folder a ``<type>/<folder>`` name resolves to now: the first root holding it."""
    plugin_type, _, folder = name.partition("/")
    if plugin_type not in PLUGIN_TYPES or not folder or "/" in folder or folder.startswith("."):
        return None
    for root in plugin_roots():
        if (root / plugin_type / folder / "__init__.py").is_file():
            return root / plugin_type / folder
    return None


def _result_path(model: str, benchmark: str, version: int, key: str) -> Path:
    return (
        get_settings().results_dir / safe_file_name(model) / safe_file_name(benchmark)
        / f"v{version}-{key}.json"
    )


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or None (NaN, infinite, missing or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _data_sha1s(benchmark: Any) -> dict[str, str]:
    """SHA1s of the data the benchmark compared with: its assembly and its stimuli."""
    from brainmark.data.hashing import stimulus_set_sha1

    sha1s = {"data": str(benchmark.data_sha1())}
    stimulus_set = getattr(benchmark, "stimulus_set", None)
    if stimulus_set is not None:
        sha1s["stimuli"] = stimulus_set_sha1(stimulus_set).removeprefix("files:")
    return sha1s


def _seeds(benchmark: Any) -> dict[str, int]:
    """The seed of every seeded part of the benchmark (metric splits, ceiling halves).

    The bootstrap's seed is the record's own ``seed`` field.
    """
    seeds = {}
    for name, part in sorted(vars(benchmark).items()):
        if hasattr(part, "attrs"):  # a Score (the ceiling): its bootstrap seed is `seed`
            continue
        seed = getattr(part, "seed", None)
        if isinstance(seed, int) and not isinstance(seed, bool):
            seeds[name.lstrip("_")] = seed
    return seeds


def _read_valid_record(
    path: Path, model: str, benchmark: str, version: int
) -> ScoreRecord | None:
    """A cached record of this pair whose every plugin folder still has its recorded hash.

    A file that fails its checksum, or does not hold a record of this model, benchmark and
    version, is reported as damaged; a record whose plugins changed since is just outdated.
    """
    content = read_checked_json(path, what="score record")
    if content is None:
        return None
    try:
        record = ScoreRecord.from_dict(content)
    except (TypeError, ValueError):
        record = None
    if record is None or (record.model, record.benchmark, record.benchmark_version) != (
        model, benchmark, version
    ):
        distrust_cache_file(path, "score record", f"it holds no record of {model} on "
                            f"{benchmark} v{version}")
        return None
    for name, sha1 in record.plugins.items():
        folder = _plugin_folder(name)
        if folder is None or plugin_content_sha1(folder) != sha1:
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

    Returns ``{"results": [record dict or {"model", "benchmark", "score": None,
    "error_message"}], "nodes": {model: {node: score}}, "parents", "wall_time_s"}``; nodes
    aggregate the leaf scores with the benchmark tree (missing or errored scores count 0).
    """
    from brainmark.benchmarks.tree import aggregate_table

    start = time.perf_counter()
    results: list[dict[str, Any]] = []
    parents = {}
    unloadable = {}
    for benchmark in benchmarks:
        try:
            parents[benchmark] = benchmark_registry.load(benchmark).parent
        except Exception as error:  # A benchmark that cannot load fails its pairs only.
            unloadable[benchmark] = f"{type(error).__name__}: {error}"
    for model in models:
        for benchmark in benchmarks:
            message = unloadable.get(benchmark)
            if message is None:
                try:
                    results.append(score_model(model, benchmark, use_cache=use_cache).to_dict())
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
    leaves = {model: dict.fromkeys(parents) for model in models}
    for result in results:
        if result["benchmark"] in parents:
            leaves[result["model"]][result["benchmark"]] = result.get("score")
    return {
        "results": results,
        "nodes": aggregate_table(leaves, parents),
        "parents": parents,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
