"""Reproducing a score: run it again from its record and say exactly what differs.

A :class:`~brainmark.scoring.ScoreRecord` is the score's manifest: the brainmark version and
code hash, the Python and torch versions, the content hash of every plugin folder the run
used, the SHA1s of the data, the seeds, the layer commitment (and, where the library
records them, the interval's resamples and seed); on the platform, the plugin store commit
the job scored at completes it (``GET /api/scores/{id}``). :func:`reproduce_record` finds the
plugin folders the record names, scores the pair again with nothing taken from any cache,
and compares the two records field by field (:func:`record_differences`): numbers to the
last bit, versions and hashes as text. When and how fast the run was (``created``,
``wall_time_s``, ``cached``) is no difference. A plugin listed by one record only is
reported apart (kind ``"unlisted"``), and does not make the runs differ: a run that takes a
part from a cache (a ceiling) does not look its plugin up, so whether e.g. the ceiling's
metric plugin is listed depends on the cache, not on what was computed; a changed plugin
still shows in the hashes of the plugins that use it, and in the values.

Plugins are searched in the plugin roots in force (built-in, ``BRAINMARK_PLUGIN_PATH``,
entry points), or in the roots given, e.g. the platform's plugin store at the commit a job
scored (``brainmark reproduce`` finds those). A plugin whose folder is there but whose
content hash differs is used all the same, and the hash is reported as a difference; a
plugin with no folder at all cannot be run (:class:`ReproduceError`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from brainmark._plugin_index import BUILTIN_ROOT
from brainmark._provenance import plugin_content_sha1
from brainmark.exceptions import BrainmarkError
from brainmark.scoring import ScoreRecord, _plugin_folder, score_model
from brainmark.settings import override_settings

#: Fields that say when and how fast a record was made, not what it holds.
NOT_COMPARED = frozenset({"created", "wall_time_s", "cached"})

#: The kind of difference each record field makes (fields not named are "other").
FIELD_KINDS = {
    "score": "value", "raw": "value", "ceiling": "value", "error": "value",
    "interval": "value", "raw_interval": "value", "ceiling_interval": "value",
    "resample_values": "value",
    "model": "pair", "benchmark": "pair", "benchmark_version": "version", "parent": "pair",
    "brainmark_version": "version", "python": "version", "torch": "version",
    "packages": "version", "device": "device",
    "library_sha1": "hash", "plugins": "hash", "data_sha1s": "data",
    "seeds": "seed", "seed": "seed", "resamples": "seed",
    "interval_level": "setting", "interval_method": "setting",
    "layer_commitment": "layer",
}


class ReproduceError(BrainmarkError):
    """A score cannot be run again (a plugin it used is nowhere to be found, a bad record)."""


@dataclasses.dataclass(frozen=True)
class Difference:
    """One field (or one entry of a mapping field) that differs between two records.

    ``field`` is the record field, with the entry's key after a dot for mappings
    (``plugins.models/pixels``); ``kind`` is one of :data:`FIELD_KINDS`' values or
    ``"other"``; ``missing`` marks a value absent on one side.
    """

    field: str
    kind: str
    recorded: Any
    reproduced: Any

    def describe(self) -> str:
        """One line: what differs, the recorded value and the new one (numbers exactly;
        per-resample values by how many differ and by how much at most)."""
        if (self.field.startswith("resample_values.") and isinstance(self.recorded, str)
                and isinstance(self.reproduced, str)):
            how = _resamples_differ(self.recorded, self.reproduced)
            return f"{self.field} ({self.kind}): {how}"
        line = (f"{self.field} ({self.kind}): recorded {_shown(self.recorded)}, "
                f"now {_shown(self.reproduced)}")
        if _is_number(self.recorded) and _is_number(self.reproduced):
            line += f" (difference {self.reproduced - self.recorded:+.6g})"
        return line

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _resamples_differ(recorded: str, reproduced: str) -> str:
    """How two encoded series of per-resample values differ."""
    import numpy as np

    from brainmark.metrics.intervals import decode_resamples

    try:
        old, new = decode_resamples(recorded), decode_resamples(reproduced)
    except BrainmarkError as error:
        return f"cannot be compared ({error})"
    if old.shape != new.shape:
        return f"recorded {old.size} resample values, now {new.size}"
    differ = ~((old == new) | (np.isnan(old) & np.isnan(new)))
    largest = float(np.nanmax(np.abs(new - old)[differ])) if differ.any() else 0.0
    return (f"{int(differ.sum())} of {old.size} resample values differ, the largest by "
            f"{largest:.6g}")


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if len(text) <= 80 else f"{text[:40]}... ({len(text)} characters)"


def record_differences(recorded: ScoreRecord, reproduced: ScoreRecord) -> list[Difference]:
    """Every field of the two records that differs, in field order (mapping fields entry by
    entry), leaving out :data:`NOT_COMPARED`. Numbers are compared exactly: 0.1 and
    0.1000000000000001 differ."""
    old, new = recorded.to_dict(), reproduced.to_dict()
    differences = []
    for name in old | new:
        if name in NOT_COMPARED:
            continue
        kind = FIELD_KINDS.get(name, "other")
        before, after = old.get(name), new.get(name)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            differences.extend(
                Difference(f"{name}.{key}",
                           "unlisted" if name == "plugins" and (key not in before
                                                                or key not in after) else kind,
                           before.get(key), after.get(key))
                for key in sorted(set(before) | set(after), key=str)
                if not _same(before.get(key), after.get(key))
            )
        elif not _same(before, after):
            differences.append(Difference(name, kind, before, after))
    return differences


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and 1 equal to 1.0 (JSON may write either)."""
    if _is_number(a) and _is_number(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str | bytes):
        return (not isinstance(b, str | bytes) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    return a == b


@dataclasses.dataclass(frozen=True)
class PluginMatch:
    """Where a plugin the record names was found, and whether its content is the recorded one."""

    name: str
    """``<type>/<folder>``, as the record names it."""
    recorded_sha1: str
    folder: Path | None
    """The folder the run uses: the first plugin root holding it; None when none does."""
    sha1: str | None
    """Its content hash now (None without a folder)."""

    @property
    def same(self) -> bool:
        return self.sha1 == self.recorded_sha1

    def describe(self) -> str:
        if self.folder is None:
            return f"{self.name}: not found in any plugin root"
        where = "built-in" if self.folder.parent.parent == BUILTIN_ROOT else str(self.folder)
        state = "recorded content" if self.same else (
            f"content differs (recorded {self.recorded_sha1}, now {self.sha1})")
        return f"{self.name}: {where}, {state}"


def match_plugins(plugins: Mapping[str, str], roots: Iterable[Path] | None = None
                  ) -> list[PluginMatch]:
    """Where each ``<type>/<folder>`` of ``plugins`` (name -> recorded content hash) is now:
    in the plugin roots in force, or with ``roots`` the built-in plugins and those roots."""
    def find() -> list[PluginMatch]:
        matches = []
        for name, sha1 in sorted(plugins.items()):
            folder = _plugin_folder(name)
            matches.append(PluginMatch(name, sha1, folder,
                                       None if folder is None else plugin_content_sha1(folder)))
        return matches

    if roots is None:
        return find()
    with override_settings(plugin_path=tuple(roots)):
        return find()


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A score run again: both records, where its plugins were found, what differs."""

    recorded: ScoreRecord
    reproduced: ScoreRecord
    plugins: list[PluginMatch]
    differences: list[Difference]

    @property
    def identical(self) -> bool:
        """No difference but plugins listed by one record only (see the module docstring)."""
        return all(difference.kind == "unlisted" for difference in self.differences)


def reproduce_record(recorded: ScoreRecord, *, roots: Sequence[Path] | None = None
                     ) -> Reproduction:
    """Score ``recorded``'s model on its benchmark again, reusing no cache, and compare.

    ``roots``: the plugin roots searched after the built-in plugins (default: the plugin
    path in force). Every plugin folder the record lists must be found there (its content
    may differ: that is reported); otherwise :class:`ReproduceError` names the missing ones.
    """
    plugins = match_plugins(recorded.plugins, roots)
    missing = [match.name for match in plugins if match.folder is None]
    if missing:
        raise ReproduceError(
            f"{recorded.model} on {recorded.benchmark} used plugin folder(s) "
            f"{', '.join(missing)}, which no plugin root holds. Put them on the plugin path "
            f"(BRAINMARK_PLUGIN_PATH), or give the platform's plugin store "
            f"(--plugin-store) that holds the recorded versions."
        )
    if roots is None:
        reproduced = score_model(recorded.model, recorded.benchmark, use_cache=False)
    else:
        with override_settings(plugin_path=tuple(roots)):
            reproduced = score_model(recorded.model, recorded.benchmark, use_cache=False)
    return Reproduction(recorded, reproduced, plugins,
                        record_differences(recorded, reproduced))
