"""BenchmarkBase: what every benchmark is (identifier, version, parent, bibtex, ceiling).

A benchmark compares a :class:`~brainmark.model_interface.BrainModel` with experimental data
and returns a ceiled :class:`~brainmark.metrics.Score`. Constructors store configuration
only; data and ceilings load on first use, so ``load_benchmark(name)`` is cheap. The ceiling
is computed once and cached on disk under ``<home>/cache/ceilings``, keyed by identifier,
version, a SHA1 of the data it was computed on and of the code computing it (the
benchmark's plugin and brainmark itself); Brain-Score keys on the identifier only, so a new
version could silently reuse an old ceiling. The cached file carries its own checksum and
is checked when read: a damaged file, or one holding no usable ceiling (NaN, 0), is
reported and recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainmark._files import (
    distrust_cache_file,
    read_checked_json,
    safe_file_name,
    write_checked_json,
)
from brainmark._provenance import code_key, library_sha1
from brainmark.data.hashing import assembly_sha1
from brainmark.exceptions import BenchmarkError, ValidationError
from brainmark.settings import get_settings

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*[0-9]{4}[A-Za-z0-9_]*([.-][A-Za-z0-9_.-]+)+$")


def resolve(value: Any) -> Any:
    """``value()`` for a loader callable, ``value`` itself for data passed directly.

    Benchmark helpers accept either, so plugins can pass ``lambda: load_dataset(...)`` and
    keep construction cheap while tests can pass small in-memory assemblies.
    """
    return value() if callable(value) and not isinstance(value, xr.DataArray) else value


class BenchmarkBase:
    """A benchmark: scores a model against data and ceils the result.

    Subclasses implement :meth:`raw_score` (the metric's value before ceiling) and
    :meth:`data_sha1`; calling the benchmark ceils the raw score with :attr:`ceiling` and
    records provenance in the score's ``attrs``.

    Parameters
    ----------
    identifier
        ``AuthorYear.region-metric`` for neural benchmarks (``Kriegeskorte2008.IT-rdm``),
        ``AuthorYearsuffix-metric`` for behavioral and engineering ones
        (``Geirhos2021edge-top1``).
    version
        Integer >= 1; bump it whenever the data, the metric or the procedure changes, so
        cached ceilings and scores of the old version are not reused.
    ceiling_func
        Called without arguments to compute the ceiling :class:`~brainmark.metrics.Score`
        (e.g. ``lambda: internal_consistency(assembly)``).
    parent
        Node of the benchmark tree this benchmark hangs under (``V1``, ``V2``, ``V4``,
        ``IT``, ``behavior``, ``engineering``); see :mod:`brainmark.benchmarks.tree`.
    bibtex
        Citation of the data (and paper) the benchmark is built on.
    """

    def __init__(
        self,
        identifier: str,
        version: int,
        ceiling_func: Callable[[], Any],
        parent: str,
        bibtex: str,
    ) -> None:
        self._identifier = identifier
        self._version = version
        self._ceiling_func = ceiling_func
        self._parent = parent
        self._bibtex = bibtex
        self._ceiling: Any = None

    @property
    def identifier(self) -> str:
        return self._identifier

    @property
    def version(self) -> int:
        return self._version

    @property
    def parent(self) -> str:
        return self._parent

    @property
    def bibtex(self) -> str:
        return self._bibtex

    def raw_score(self, model: Any) -> Any:
        """The metric's unceiled :class:`~brainmark.metrics.Score` of ``model``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement raw_score(model) returning the unceiled "
            f"Score of the model on benchmark {self.identifier!r}."
        )

    def data_sha1(self) -> str:
        """SHA1 of the data the ceiling is computed on (part of the ceiling cache key).

        The default hashes nothing data-specific; subclasses that hold data override it,
        which :class:`NeuralBenchmark` and its siblings do with
        :func:`~brainmark.data.assembly_sha1`.
        """
        return hashlib.sha1(b"no-data").hexdigest()

    def __call__(self, model: Any) -> Any:
        """Score ``model``: raw metric value ceiled, with raw, ceiling, error and ids in attrs."""
        from brainmark.metrics import ceil_score

        raw = self.raw_score(model)
        ceiled = ceil_score(raw, self.ceiling)
        ceiled.attrs["raw"] = raw
        ceiled.attrs["ceiling"] = self.ceiling
        if "error" not in ceiled.attrs:
            ceiled.attrs["error"] = raw.attrs.get("error", np.nan)
        ceiled.attrs["model_identifier"] = _model_identifier(model)
        ceiled.attrs["benchmark_identifier"] = self.identifier
        ceiled.attrs["benchmark_version"] = self.version
        return ceiled

    @property
    def ceiling(self) -> Any:
        """The ceiling :class:`~brainmark.metrics.Score`, computed once and cached on disk."""
        if self._ceiling is None:
            self._ceiling = self._cached_ceiling()
        return self._ceiling

    def ceiling_key(self) -> dict[str, Any]:
        """What the ceiling is computed from: identifier, version, data and code."""
        return {
            "identifier": self.identifier,
            "version": self.version,
            "data_sha1": self.data_sha1(),
            "benchmark_code": code_key(type(self)),
            "library_sha1": library_sha1(),
        }

    def ceiling_cache_path(self) -> Path:
        """Where the ceiling of this identifier, version, data and code is cached."""
        digest = hashlib.sha1(json.dumps(self.ceiling_key(), sort_keys=True).encode())
        name = f"v{self.version}-{digest.hexdigest()}.json"
        return get_settings().ceilings_dir / safe_file_name(self.identifier) / name

    def _cached_ceiling(self) -> Any:
        from brainmark.metrics import Score

        path = self.ceiling_cache_path()
        key = self.ceiling_key()
        record = read_checked_json(path, what="ceiling") if get_settings().reuse_cache else None
        if record is not None:
            try:
                value = float(record["value"])
                error = np.nan if record["error"] is None else float(record["error"])
                usable = record["key"] == key and np.isfinite(value) and value > 0
            except (KeyError, TypeError, ValueError):
                usable = False
            if usable:
                ceiling = Score(value)
                ceiling.attrs["error"] = error
                return ceiling
            distrust_cache_file(path, "ceiling", f"it holds no usable ceiling for {key}")
        ceiling = self._ceiling_func()
        value = float(ceiling)
        if not (np.isfinite(value) and value > 0):
            raise BenchmarkError(
                f"Benchmark {self.identifier!r} version {self.version} computed a ceiling of "
                f"{value} from its data; a score cannot be ceiled by it. Check the data for "
                f"NaN, constant or unreliable responses."
            )
        error = float(np.asarray(ceiling.attrs.get("error", np.nan)))
        write_checked_json(
            path, {"key": key, "value": value, "error": None if np.isnan(error) else error}
        )
        return ceiling

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identifier} v{self.version} (parent {self.parent})>"


class AssemblyBenchmark(BenchmarkBase):
    """A benchmark on one assembly and the stimuli shown, both loaded on first use.

    ``assembly`` and ``stimulus_set`` may be the objects or callables returning them, so
    constructing the benchmark (``load_benchmark``) reads no data.
    """

    def __init__(
        self,
        identifier: str,
        *,
        version: int,
        assembly: Any,
        stimulus_set: Any,
        ceiling_func: Callable[[], Any],
        parent: str,
        bibtex: str,
    ) -> None:
        super().__init__(
            identifier=identifier,
            version=version,
            ceiling_func=ceiling_func,
            parent=parent,
            bibtex=bibtex,
        )
        self._assembly_source = assembly
        self._stimulus_set_source = stimulus_set

    @functools.cached_property
    def assembly(self) -> Any:
        """The data, loaded on first use."""
        return resolve(self._assembly_source)

    @functools.cached_property
    def stimulus_set(self) -> Any:
        """The stimuli, loaded on first use."""
        return resolve(self._stimulus_set_source)

    def data_sha1(self) -> str:
        return assembly_sha1(self.assembly)


def placed_stimuli(stimulus_set: Any, model: Any, visual_degrees: float) -> Any:
    """The stimuli as ``model`` sees them when shown at ``visual_degrees`` in the experiment.

    Every benchmark helper shows its stimuli through this, so a model with a wider field
    of view sees them smaller, as the subjects would have.
    """
    from brainmark.models import place_on_screen

    return place_on_screen(
        stimulus_set,
        target_visual_degrees=model.visual_degrees(),
        source_visual_degrees=visual_degrees,
    )


def no_ceiling() -> Any:
    """A ceiling of 1 (error 0): for data whose reliability cannot be estimated (a single
    pooled RDM) and for engineering benchmarks measured against ground truth."""
    from brainmark.metrics import Score

    ceiling = Score(1.0)
    ceiling.attrs["error"] = 0.0
    return ceiling


def _model_identifier(model: Any) -> str:
    identifier = getattr(model, "identifier", None)
    if callable(identifier):
        identifier = identifier()
    return str(identifier) if identifier is not None else type(model).__name__


def validate_identifier(identifier: str) -> None:
    """Refuse identifiers not of the form ``AuthorYear.region-metric`` / ``AuthorYear-metric``."""
    if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
        raise ValidationError(
            f"Benchmark identifier {identifier!r} is not of the form 'AuthorYear.region-metric' "
            f"(e.g. 'Kriegeskorte2008.IT-rdm') or 'AuthorYear-metric' for behavior (e.g. "
            f"'Geirhos2021edge-error_consistency'). Rename the benchmark."
        )
