"""``brainmark sync``: the plugins into the database, and optionally their scores.

The web process never imports a plugin or torch: the library work (loading benchmarks and
models, computing ceilings, scoring) runs in child processes
(:mod:`brainmark.platform.leaderboard.plugin_facts`, ``brainmark score --json``) that print
JSON; this module validates that JSON and writes rows. Re-running :func:`sync_plugins`
changes nothing: rows are looked up by identifier and version and written only when a value
differs, and a model gets a new version only when its plugin hash or visual degrees change.

What is stored about each plugin (all read by the child from what the plugin states; a key
the plugin does not state is absent, never guessed):

``BenchmarkVersion.metadata``::

    {
      "parent": "V1",                 # the tree node the plugin names
      "visual_degrees": 9.0,          # or null
      "description": "...",           # the plugin's description (its module docstring)
      "reference_url": "https://...", # the bibtex's url or DOI
      "metric": {"identifier": "rdm", "description": "one line"},
      "ceiler": {"identifier": "rdm_subject_ceiling", "description": "one line"},
      "data": {
        "identifiers": ["Coggan2024.V1"], "stimulus_set": "Coggan2024",
        "sha1": "<40 hex>", "stimuli": 24, "subjects": 9, "neuroids": 120,
        "presentations": 1600, "region": "V1", "species": "human",
        "recording": "fMRI", "task": "label", "license_text": "the README's words"
      }
    }

``BenchmarkVersion.license``: the licence identifiers (SPDX) the data's README names.

``Model.metadata``::

    {
      "description": "...", "architecture": "AlexNet", "parameter_count": 61100840,
      "layers": ["features.2", ...], "region_layer_map": {"V1": "features.2", ...},
      "behavioral_readout_layer": "classifier.5", "image_size": 224,
      "bibtex": "...", "reference_url": "https://...", "license_text": "..."
    }

``Model.license``: the licence identifiers the model plugin's README names for what it ships.
See :mod:`brainmark.platform.leaderboard.plugin_facts` for where each value comes from.

The child's JSON is cached in ``<home>/cache/plugin_facts/`` (checked JSON, one file per
key), keyed by everything it derives from (:func:`plugin_facts_key`: the library's code,
every plugin folder's content hash, the installed packages), which this process computes
without importing a plugin: a sync with nothing changed starts no child.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from brainmark._files import distrust_cache_file, read_checked_json, write_checked_json
from brainmark.benchmarks.tree import TREE, parent_node
from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    ModelVersion,
    Score,
)
from brainmark.settings import get_settings

#: How long the child reading every plugin may take (ceilings are computed there).
FACTS_TIMEOUT_S = 3600
#: How long one child scoring one pair may take.
SCORE_TIMEOUT_S = 6 * 3600


class SyncError(RuntimeError):
    """The child process reading the plugins failed, or printed something that is not facts."""


@dataclass
class SyncReport:
    """What a sync did: rows created or changed, and the plugins skipped with the reason."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, kind: str, created: bool) -> None:
        """Count one row of ``kind`` created (True) or changed (False)."""
        counts = self.created if created else self.updated
        counts[kind] = counts.get(kind, 0) + 1


@dataclass(frozen=True)
class ScoreOutcome:
    """One scored pair: the identifiers and the stored score (or the error text)."""

    model: str
    benchmark: str
    ceiled: float | None
    error_text: str


# ---------------------------------------------------------------------------------------
# Reading the plugins (child process) and checking what it printed


def read_plugin_facts(*, use_cache: bool = True) -> dict[str, Any]:
    """The checked facts of every plugin: reused from the facts cache when nothing they
    derive from changed (:func:`plugin_facts_key`), else read by the child and cached.

    ``use_cache`` False (``brainmark sync --no-cache``), or the setting ``reuse_cache``
    false, runs the child whatever is cached. Facts that name a problem are not cached: a
    plugin may fail for a passing reason (its data store unreachable), and a cached failure
    would hide it until its code changed.
    """
    reuse = use_cache and get_settings().reuse_cache
    key = plugin_facts_key()
    if reuse:
        cached = cached_plugin_facts(key)
        if cached is not None:
            return cached
    raw = run_plugin_facts_child()
    facts = validate_plugin_facts(raw)
    # A plugin edited while the child ran may have been read either way: cache only facts
    # whose inputs were the same before and after.
    if not facts["problems"] and plugin_facts_key() == key:
        store_plugin_facts(key, raw)
    return facts


def run_plugin_facts_child() -> Any:
    """Run the child that loads every plugin, and return the JSON it printed (unchecked)."""
    command = [sys.executable, "-m", "brainmark.platform.leaderboard.plugin_facts"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=FACTS_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise SyncError(
            f"Reading the plugins failed (exit status {result.returncode}):\n"
            f"{result.stderr.strip()[-4000:]}"
        )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise SyncError(f"Reading the plugins printed no JSON ({error}): "
                        f"{result.stdout[:500]!r}") from error


# ---------------------------------------------------------------------------------------
# The facts cache: keyed by everything the facts are derived from, checked when read

#: Bump when what the child prints changes meaning, so older cached facts are not reused.
FACTS_CACHE_FORMAT = 1
#: How many cached readings are kept (one per key: switching plugin paths back and forth).
FACTS_CACHE_KEEP = 8


def plugin_facts_key() -> dict[str, Any]:
    """What the child's facts are derived from, computed without importing any plugin.

    - the library's own code (:func:`~brainmark._provenance.library_sha1`): the child and
      the metrics and ceilers it runs;
    - every plugin folder of every plugin root (built-in, ``BRAINMARK_PLUGIN_PATH``, entry
      points) with its content hash (:func:`~brainmark._provenance.plugin_content_sha1`,
      which skips ``test.py``, as the facts do), data plugins included, so their data and
      READMEs are covered; a folder added or removed changes the list;
    - the name and version of every installed distribution (torch, torchvision, numpy and
      whatever a plugin imports), and Python's version.

    The other settings (device, workers, batch size, stores) change no fact: data fetched
    from a store is checked against the SHA1 its plugin names.
    """
    from brainmark._plugin_index import plugin_folders, plugin_roots
    from brainmark._provenance import library_sha1, plugin_content_sha1

    return {
        "format": FACTS_CACHE_FORMAT,
        "library_sha1": library_sha1(),
        "plugins": [
            [str(folder), plugin_content_sha1(folder)]
            for root in plugin_roots()
            for folder in plugin_folders(root)
        ],
        "packages": _installed_versions(),
        "python": sys.version,
    }


def _installed_versions() -> list[list[str]]:
    """[name, version] of every installed distribution, read from metadata (no import)."""
    versions: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:  # A distribution shadowed on sys.path is listed again: the first wins.
            versions.setdefault(name.lower().replace("_", "-"), distribution.version)
    return [[name, versions[name]] for name in sorted(versions)]


def plugin_facts_cache_path(key: Mapping[str, Any]) -> Path:
    """The cache file of the facts read under ``key``."""
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return get_settings().plugin_facts_dir / f"{digest}.json"


def cached_plugin_facts(key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checked facts cached under ``key``, or None (a damaged file warns and is None)."""
    path = plugin_facts_cache_path(key)
    record = read_checked_json(path, what="plugin facts")
    if record is None:
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        distrust_cache_file(path, "plugin facts", "it holds facts of other plugin code")
        return None
    try:
        facts = validate_plugin_facts(record.get("facts"))
    except SyncError as error:
        distrust_cache_file(path, "plugin facts", str(error))
        return None
    return facts


def store_plugin_facts(key: Mapping[str, Any], raw: Any) -> Path:
    """Cache the child's JSON under ``key`` (atomically, with its checksum); keep only the
    newest :data:`FACTS_CACHE_KEEP` files."""
    path = plugin_facts_cache_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checked_json(path, {"key": key, "facts": raw})
    older = sorted(
        (candidate for candidate in path.parent.glob("*.json") if candidate != path),
        key=lambda candidate: candidate.stat().st_mtime_ns, reverse=True,
    )
    for stale in older[FACTS_CACHE_KEEP - 1:]:
        stale.unlink(missing_ok=True)
    return path


def _number(value: Any, *, positive: bool, optional: bool) -> float | None:
    """A finite number (positive, or non-negative) or None where allowed; else ValueError."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{number} is not a {'positive' if positive else 'non-negative'} number")
    return number


def _text(value: Any, *, empty: bool = False) -> str:
    """A (non-empty) string a database stores: PostgreSQL refuses NUL characters."""
    if not isinstance(value, str) or (not empty and not value):
        raise ValueError(f"{value!r} is not a {'' if empty else 'non-empty '}string")
    if "\x00" in value:
        raise ValueError(f"{value[:40]!r}... holds a NUL character")
    return value


#: The longest licence text the columns hold (BenchmarkVersion.license, Model.license).
LICENSE_MAX_LENGTH = 100


def _count(value: Any, *, positive: bool = True) -> int:
    """A positive (or non-negative) integer; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise ValueError(f"{value!r} is not a {'positive' if positive else 'non-negative'} "
                         f"integer")
    return value


def _url(value: Any) -> str:
    """An http(s) address; else ValueError."""
    try:
        URLValidator(schemes=["http", "https"])(_text(value))
    except ValidationError as error:
        raise ValueError(f"{value!r} is not an http(s) address") from error
    return value


def _sha1(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 40 or not all(
        c in "0123456789abcdef" for c in value
    ):
        raise ValueError(f"{value!r} is not a SHA1 (40 lower-case hex digits)")
    return value


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{value!r} is not a non-empty list")
    return [_text(item) for item in value]


def _text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is not a mapping")
    return {_text(key): _text(item) for key, item in value.items()}


def _named_part(value: Any) -> dict[str, str]:
    """A metric or ceiler: ``{"identifier": str, "description": str (optional)}``."""
    return _fields(value, {"identifier": _text, "description": _text}, required=("identifier",))


#: Each key of the data description, and its check.
DATA_FIELDS: dict[str, Callable[[Any], Any]] = {
    "identifiers": _texts,
    "stimulus_set": _text,
    "sha1": _sha1,
    "stimuli": _count,
    "subjects": _count,
    "neuroids": _count,
    "presentations": _count,
    "region": _text,
    "species": _text,
    "recording": _text,
    "task": _text,
    "license_text": _text,
}
#: Each key of BenchmarkVersion.metadata the child may send, and its check.
BENCHMARK_METADATA_FIELDS: dict[str, Callable[[Any], Any]] = {
    "description": _text,
    "reference_url": _url,
    "metric": _named_part,
    "ceiler": _named_part,
    "data": lambda value: _fields(value, DATA_FIELDS),
}
#: Each key of Model.metadata the child may send, and its check.
MODEL_METADATA_FIELDS: dict[str, Callable[[Any], Any]] = {
    "description": _text,
    "architecture": _text,
    "parameter_count": lambda value: _count(value, positive=False),
    "layers": _texts,
    "region_layer_map": _text_map,
    "behavioral_readout_layer": _text,
    "image_size": _count,
    "bibtex": _text,
    "reference_url": _url,
    "license_text": _text,
}


def _fields(value: Any, checks: Mapping[str, Callable[[Any], Any]],
            required: Iterable[str] = ()) -> dict[str, Any]:
    """``value`` as a dict of known keys, each checked; ValueError naming the bad key."""
    if not isinstance(value, dict):
        raise ValueError(f"{str(value)[:80]!r} is not a mapping")
    unknown = sorted(set(value) - set(checks))
    if unknown:
        raise ValueError(f"unknown keys {unknown} (known: {sorted(checks)})")
    missing = [key for key in required if key not in value]
    if missing:
        raise ValueError(f"missing keys {missing}")
    checked = {}
    for key, item in value.items():
        try:
            checked[key] = checks[key](item)
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from error
    return checked


def _license(value: Any) -> str:
    text = _text(value, empty=True)
    if len(text) > LICENSE_MAX_LENGTH:
        raise ValueError(f"license {text[:40]!r}... is longer than {LICENSE_MAX_LENGTH} "
                         f"characters")
    return text


def _metadata(entry: Mapping[str, Any], checks: Mapping[str, Callable[[Any], Any]]) -> dict:
    try:
        return _fields(entry.get("metadata", {}), checks)
    except ValueError as error:
        raise ValueError(f"metadata: {error}") from error


def _checked_benchmark(entry: Mapping[str, Any]) -> dict[str, Any]:
    version = entry["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version {version!r} is not a non-negative integer")
    return {
        "identifier": _text(entry["identifier"]),
        "version": version,
        "parent": _text(entry["parent"]),
        "node": parent_node(_text(entry["parent"])),
        "bibtex": _text(entry["bibtex"], empty=True),
        "ceiling": _number(entry["ceiling"], positive=True, optional=False),
        "ceiling_error": _number(entry["ceiling_error"], positive=False, optional=True),
        "visual_degrees": _number(entry["visual_degrees"], positive=True, optional=True),
        "license": _license(entry.get("license", "")),
        "metadata": _metadata(entry, BENCHMARK_METADATA_FIELDS),
    }


def _checked_model(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "identifier": _text(entry["identifier"]),
        "visual_degrees": _number(entry["visual_degrees"], positive=True, optional=False),
        "plugin_sha1": _text(entry["plugin_sha1"]),
        "license": _license(entry.get("license", "")),
        "metadata": _metadata(entry, MODEL_METADATA_FIELDS),
    }


def validate_plugin_facts(facts: Any) -> dict[str, Any]:
    """Check the child's JSON entry by entry; a bad entry becomes a problem, not a row."""
    if not isinstance(facts, dict) or not all(
        isinstance(facts.get(key), list) for key in ("benchmarks", "models", "problems")
    ):
        raise SyncError(f"Reading the plugins printed no facts: {str(facts)[:500]}")
    checked: dict[str, Any] = {"benchmarks": [], "models": [], "problems": []}
    for problem in facts["problems"]:
        checked["problems"].append(
            f"{problem.get('kind')} {problem.get('identifier')}: {problem.get('error')}"
            if isinstance(problem, dict) else str(problem)
        )
    for kind, check in (("benchmarks", _checked_benchmark), ("models", _checked_model)):
        for entry in facts[kind]:
            try:
                checked[kind].append(check(entry))
            except Exception as error:  # One bad entry is skipped and reported.
                name = entry.get("identifier") if isinstance(entry, dict) else entry
                checked["problems"].append(f"{kind[:-1]} {name}: invalid facts ({error})")
    return checked


# ---------------------------------------------------------------------------------------
# Writing rows


def _save_changes(row: Any, values: Mapping[str, Any]) -> bool:
    """Set ``values`` on ``row`` and save it only when one differs; True when saved."""
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        row.save(update_fields=changed)
    return bool(changed)


def _put(kind: type, report: SyncReport, lookup: Mapping[str, Any],
         values: Mapping[str, Any], initial: Mapping[str, Any] | None = None) -> Any:
    """The row matching ``lookup``, created with ``values`` (and ``initial``) or brought up
    to date with ``values``. ``initial`` holds what people may change afterwards (whether
    a model or benchmark version is public), which a later sync must leave as they set it.
    """
    row, created = kind.objects.get_or_create(
        **lookup, defaults={**(initial or {}), **values}
    )
    if created:
        report.count(kind.__name__, created=True)
    elif _save_changes(row, values):
        report.count(kind.__name__, created=False)
    return row


def write_plugin_facts(facts: Mapping[str, Any]) -> SyncReport:
    """Write the checked facts as rows in one transaction: tree nodes, benchmarks, models."""
    report = SyncReport(problems=list(facts["problems"]))
    with transaction.atomic():
        nodes: dict[str, BenchmarkType] = {}
        for order, (node, parent) in enumerate(TREE.items()):  # parents come first in TREE
            nodes[node] = _put(
                BenchmarkType, report, {"identifier": node},
                {"parent": nodes[parent] if parent else None, "order": order},
            )
        for order, benchmark in enumerate(facts["benchmarks"]):
            benchmark_type = _put(
                BenchmarkType, report, {"identifier": benchmark["identifier"]},
                {"parent": nodes[benchmark["node"]], "order": order},
            )
            _put(
                BenchmarkVersion, report,
                {"benchmark_type": benchmark_type, "version": benchmark["version"]},
                {
                    "ceiling": benchmark["ceiling"],
                    "ceiling_error": benchmark["ceiling_error"],
                    "bibtex": benchmark["bibtex"],
                    "metadata": {
                        "parent": benchmark["parent"],
                        "visual_degrees": benchmark["visual_degrees"],
                        **benchmark["metadata"],
                    },
                    "license": benchmark["license"],
                },
                initial={"public": True},
            )
        for entry in facts["models"]:
            model = _put(
                Model, report, {"identifier": entry["identifier"]},
                {"metadata": entry["metadata"], "license": entry["license"]},
                initial={"public": True},
            )
            latest = model.versions.order_by("-version").first()
            if latest is None or (latest.plugin_sha1, latest.visual_degrees) != (
                entry["plugin_sha1"], entry["visual_degrees"]
            ):
                ModelVersion.objects.create(
                    model=model,
                    version=1 if latest is None else latest.version + 1,
                    plugin_sha1=entry["plugin_sha1"],
                    visual_degrees=entry["visual_degrees"],
                )
                report.count("ModelVersion", created=True)
    return report


# ---------------------------------------------------------------------------------------
# Scoring unscored pairs (one child process each)


def unscored_pairs(
    models: Iterable[str] = (), benchmarks: Iterable[str] = ()
) -> list[tuple[ModelVersion, BenchmarkVersion]]:
    """The latest model version x latest benchmark version pairs with no Score row.

    ``models`` / ``benchmarks`` restrict to those identifiers when not empty.
    """
    model_names, benchmark_names = set(models), set(benchmarks)
    model_versions = [
        model.versions.order_by("-version").first()
        for model in Model.objects.all()
        if not model_names or model.identifier in model_names
    ]
    benchmark_versions = [
        benchmark.versions.order_by("-version").first()
        for benchmark in BenchmarkType.objects.filter(versions__isnull=False).distinct()
        if not benchmark_names or benchmark.identifier in benchmark_names
    ]
    scored = set(Score.objects.values_list("model_version_id", "benchmark_version_id"))
    return [
        (model_version, benchmark_version)
        for model_version in model_versions if model_version is not None
        for benchmark_version in benchmark_versions if benchmark_version is not None
        if (model_version.pk, benchmark_version.pk) not in scored
    ]


def unknown_identifiers(models: Iterable[str], benchmarks: Iterable[str]) -> list[str]:
    """The given model and benchmark identifiers that have no row (e.g. misspelt)."""
    known_models = set(Model.objects.values_list("identifier", flat=True))
    known_benchmarks = set(
        BenchmarkType.objects.filter(versions__isnull=False).values_list("identifier", flat=True)
    )
    return [f"model {name}" for name in models if name not in known_models] + [
        f"benchmark {name}" for name in benchmarks if name not in known_benchmarks
    ]


def score_in_child(model: str, benchmark: str) -> dict[str, Any]:
    """Score one pair with ``brainmark score MODEL BENCHMARK --json`` in a child process.

    Returns the Score row's values: the record's numbers, or the error text on failure.
    """
    from brainmark.scoring import ScoreRecord

    start = timezone.now()
    command = [sys.executable, "-m", "brainmark.cli", "score", model, benchmark, "--json"]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SCORE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return failed_score_values(start, f"Scoring took longer than {SCORE_TIMEOUT_S} s.")
    if result.returncode != 0:
        return failed_score_values(start, result.stderr.strip()[-4000:] or
                             f"brainmark score exited with status {result.returncode}")
    try:
        record = ScoreRecord.from_json(result.stdout)
    except (ValueError, TypeError) as error:
        return failed_score_values(start, f"brainmark score printed no score record: {error}")
    return score_row_values(record, start)


def score_row_values(record: Any, start: datetime) -> dict[str, Any]:
    """A Score row's values from a library ``ScoreRecord`` computed since ``start``."""
    return {
        "raw": record.raw,
        "ceiled": record.score,
        "error": record.error,
        "ceiling": record.ceiling,
        "layer_commitment": dict(record.layer_commitment),
        "comment": "",
        "record": record.to_dict(),
        "start": start,
        "end": max(timezone.now(), start),
    }


def failed_score_values(start: datetime, text: str) -> dict[str, Any]:
    """A Score row's values for a pair that could not be scored, and why."""
    return {"comment": text, "start": start, "end": max(timezone.now(), start)}


def score_unscored(
    models: Iterable[str] = (),
    benchmarks: Iterable[str] = (),
    *,
    score: Callable[[str, str], dict[str, Any]] = score_in_child,
    progress: bool = True,
) -> list[ScoreOutcome]:
    """Score every unscored pair (restricted to ``models`` / ``benchmarks`` when given).

    Each pair runs in its own child process; a failure is stored as a Score row holding the
    error text, so the site shows why there is no number. A tqdm bar shows progress.
    """
    from tqdm import tqdm

    outcomes: list[ScoreOutcome] = []
    pairs = unscored_pairs(models, benchmarks)
    for model_version, benchmark_version in tqdm(
        pairs, desc="Scoring", unit="pair", disable=not progress or not pairs
    ):
        model = model_version.model.identifier
        benchmark = benchmark_version.benchmark_type.identifier
        values = score(model, benchmark)
        with transaction.atomic():
            Score.objects.update_or_create(
                model_version=model_version, benchmark_version=benchmark_version,
                defaults=values,
            )
        outcomes.append(ScoreOutcome(model, benchmark, values.get("ceiled"),
                                     values.get("comment", "")))
    return outcomes


def sync_plugins(*, use_cache: bool = True) -> SyncReport:
    """Read every plugin in a child process (or reuse the facts cached from the same plugin
    code, :func:`read_plugin_facts`) and write the rows (see the module docstring)."""
    return write_plugin_facts(read_plugin_facts(use_cache=use_cache))
