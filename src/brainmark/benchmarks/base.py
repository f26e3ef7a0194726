"""BenchmarkBase: what every benchmark is (identifier, version, parent, bibtex, ceiling).

A benchmark compares a :class:`~brainmark.model_interface.BrainModel` with experimental data
and returns a ceiled :class:`~brainmark.metrics.Score`. Constructors store configuration
only; data and ceilings load on first use, so ``load_benchmark(name)`` is cheap. The ceiling
is computed once and cached on disk under ``<home>/cache/ceilings``, keyed by identifier,
version, a SHA1 of the data it was computed on and of the code computing it (the
benchmark's plugin and brainmark itself); Brain-Score keys on the identifier only, so a new
version could silently reuse an old ceiling. The cached file carries its own checksum and
is checked when read: a damaged file, or one holding no usable ceiling (NaN, 0), is
reported and recomputed. The file keeps the ceiling's interval and its per-resample values
(float64), which the ceiled score's interval divides by; the key names the resampling
(:data:`CEILING_CACHE_FORMAT`), so a file written before ceilings had resamples is never
read for one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainmark._files import (
    distrust_cache_file,
    read_checked_json,
    safe_file_name,
    write_checked_json,
)
from brainmark._provenance import code_key, library_sha1
from brainmark.data.hashing import assembly_sha1
from brainmark.data.packaging import validate_identifier
from brainmark.data.validation import format_ids
from brainmark.exceptions import (
    BenchmarkError,
    ModelError,
    UnknownPluginError,
    ValidationError,
)
from brainmark.registry import metric_registry
from brainmark.settings import get_settings

#: Part of the ceiling cache key: what a cached ceiling holds (2: its bootstrap resamples).
CEILING_CACHE_FORMAT = 2

#: Interval attrs a cached ceiling keeps beside its per-resample values.
_INTERVAL_ATTRS = ("interval", "interval_level", "interval_method", "resamples", "seed")

#: Stimuli wider than this many degrees of visual angle (the whole visual field) are a
#: mistake in units or a missing value, never an experiment.
MAX_VISUAL_DEGREES = 180


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
        (``Geirhos2021edge-top1``); checked by
        :func:`~brainmark.data.packaging.validate_identifier`.
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
        self._identifier = validate_identifier(identifier, "benchmark")
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
        """What the ceiling is computed from: identifier, version, data, code, resampling."""
        from brainmark.metrics.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED

        return {
            "identifier": self.identifier,
            "version": self.version,
            "data_sha1": self.data_sha1(),
            "benchmark_code": code_key(type(self)),
            "library_sha1": library_sha1(),
            "format": CEILING_CACHE_FORMAT,
            "resampling": [DEFAULT_RESAMPLES, DEFAULT_SEED],
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
                interval = _decode_interval(record["interval"])
                usable = record["key"] == key and np.isfinite(value) and value > 0
            except (KeyError, TypeError, ValueError, binascii.Error):
                usable = False
            if usable:
                ceiling = Score(value)
                ceiling.attrs["error"] = error
                ceiling.attrs.update(interval)
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
            path, {"key": key, "value": value, "error": None if np.isnan(error) else error,
                   "interval": _encode_interval(ceiling.attrs)}
        )
        return ceiling

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identifier} v{self.version} (parent {self.parent})>"


class AssemblyBenchmark(BenchmarkBase):
    """A benchmark on one assembly and the stimuli shown, compared by a metric and ceiled.

    ``assembly`` and ``stimulus_set`` may be the objects or callables returning them, and
    ``metric`` and ``ceiler`` the functions or registered names, so constructing the
    benchmark (``load_benchmark``) reads no data and imports no metric. The model is shown
    the stimuli of the stimulus set that the data has responses to (all of them, usually),
    in the stimulus set's order, at ``visual_degrees``; a data stimulus missing from the
    stimulus set is refused before any model runs, since no model could be shown it. The
    ceiling is ``ceiler(assembly)``.

    Parameters
    ----------
    identifier, version, parent, bibtex
        See :class:`BenchmarkBase`.
    assembly, stimulus_set
        The data and the stimuli, or callables returning them.
    visual_degrees
        Size of the stimuli in the experiment in degrees of visual angle, in (0, 180].
    metric, ceiler
        ``metric(model_output, assembly) -> Score`` and ``ceiler(assembly) -> Score``, or
        the names of registered metrics.

    Raises
    ------
    ValidationError
        At construction, for visual degrees or a metric of the wrong kind.
    UnknownPluginError
        At construction, for a metric name no plugin registers (with the closest names).
    """

    def __init__(
        self,
        identifier: str,
        *,
        version: int,
        assembly: Any,
        stimulus_set: Any,
        visual_degrees: float,
        metric: Callable[..., Any] | str,
        ceiler: Callable[[Any], Any] | str,
        parent: str,
        bibtex: str,
    ) -> None:
        super().__init__(
            identifier=identifier,
            version=version,
            ceiling_func=lambda: self.ceiler(self.assembly),
            parent=parent,
            bibtex=bibtex,
        )
        self._assembly_source = assembly
        self._stimulus_set_source = stimulus_set
        self.visual_degrees = validate_visual_degrees(visual_degrees, benchmark=identifier)
        self._metric = validate_metric(metric, benchmark=identifier, parameter="metric")
        self._ceiler = validate_metric(ceiler, benchmark=identifier, parameter="ceiler")

    @functools.cached_property
    def assembly(self) -> Any:
        """The data, loaded on first use."""
        return resolve(self._assembly_source)

    @functools.cached_property
    def metric(self) -> Callable[..., Any]:
        """The metric, loaded on first use when it was given by name."""
        from brainmark.metrics.resolve import resolve_metric

        return resolve_metric(self._metric)

    @functools.cached_property
    def ceiler(self) -> Callable[[Any], Any]:
        """The ceiling function, loaded on first use when it was given by name."""
        from brainmark.metrics.resolve import resolve_metric

        return resolve_metric(self._ceiler)

    @functools.cached_property
    def stimulus_set(self) -> Any:
        """The stimuli shown to the model: those of the stimulus set the data has."""
        stimuli = resolve(self._stimulus_set_source)
        data_ids = self.data_stimulus_ids()
        listed = stimuli["stimulus_id"].astype(str)
        missing = sorted(set(data_ids) - set(listed))
        if missing:
            raise ValidationError(
                f"Benchmark {self.identifier!r}: the data has responses to {len(missing)} "
                f"stimuli that are not in its stimulus set "
                f"{getattr(stimuli, 'identifier', None)!r}: stimulus_id {format_ids(missing)}. "
                f"A model can only be shown stimuli of the stimulus set: give the benchmark "
                f"the stimulus set the data was recorded with (packaging the data with "
                f"package_data_assembly_locally(..., stimulus_set=...) checks this), or drop "
                f"those presentations from the data."
            )
        shown = listed.isin(set(data_ids)).to_numpy()
        if shown.all():
            return stimuli
        return stimuli.subset(list(stimuli["stimulus_id"][shown]))

    def data_stimulus_ids(self) -> list[str]:
        """The stimulus ids the data has responses to, each once, as strings.

        The ``stimulus_id`` coordinate on ``presentation``; benchmarks whose data is laid
        out otherwise (RDMs) override this.
        """
        if "stimulus_id" not in self.assembly.coords:
            raise ValidationError(
                f"Benchmark {self.identifier!r}: its data has no 'stimulus_id' coordinate, so "
                f"the stimuli to show cannot be told. Coordinates: "
                f"{sorted(map(str, self.assembly.coords))}. Package the data with a "
                f"stimulus_id per presentation."
            )
        return list(pd.unique(np.asarray(self.assembly["stimulus_id"].values).astype(str)))

    def check_model_answered(self, model: Any, answers: Any, stimuli: Any) -> None:
        """Refuse a model's ``look_at`` output that does not cover exactly ``stimuli``.

        Raised as the model's fault (:class:`~brainmark.exceptions.ModelError`), naming the
        model, the benchmark and the stimulus ids, before a metric compares anything.
        """
        shown = pd.unique(stimuli["stimulus_id"].astype(str))
        answered = set(np.asarray(answers["stimulus_id"].values).astype(str))
        unanswered = [sid for sid in shown if sid not in answered]
        unshown = sorted(answered - set(shown))
        problems = []
        if unanswered:
            problems.append(
                f"it returned nothing for {len(unanswered)} of the {len(shown)} stimuli "
                f"shown: stimulus_id {format_ids(unanswered)}"
            )
        if unshown:
            problems.append(
                f"it returned {len(unshown)} stimulus ids it was not shown: "
                f"{format_ids(unshown)}"
            )
        if problems:
            raise ModelError(
                f"Model {_model_identifier(model)!r} on benchmark {self.identifier!r}: "
                f"{'; '.join(problems)}. A BrainModel's look_at must return one presentation "
                f"per stimulus given (per trial), labelled with the stimulus' stimulus_id; "
                f"fix the model."
            )

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


def validate_visual_degrees(value: Any, *, benchmark: str) -> Any:
    """Refuse anything but a number of degrees in (0, :data:`MAX_VISUAL_DEGREES`].

    Checked when a benchmark is built, so a string, None, NaN or a size in the wrong units
    is reported with the benchmark's name rather than deep inside stimulus placement.
    Returns ``value`` unchanged.
    """
    usable = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= MAX_VISUAL_DEGREES
    )
    if not usable:
        raise ValidationError(
            f"The 'visual_degrees' parameter of benchmark {benchmark!r} must be the size "
            f"of the stimuli in the experiment in degrees of visual angle, a number in "
            f"(0, {MAX_VISUAL_DEGREES}]. Got {value!r} instead. Take it from the paper's "
            f"methods (image width and viewing distance), e.g. visual_degrees=8."
        )
    return value


def validate_metric(value: Any, *, benchmark: str, parameter: str) -> Any:
    """Refuse anything but a metric (a callable) or the name of a registered metric.

    A name is only looked up in the plugin index here (nothing is imported, so building a
    benchmark stays cheap) and loaded on first use with
    :func:`~brainmark.metrics.resolve.resolve_metric`. An unknown name is refused with the
    registry's closest names. Returns ``value`` unchanged.
    """
    if isinstance(value, str):
        if value not in metric_registry:
            try:
                metric_registry.locate(value)
            except UnknownPluginError as error:
                raise UnknownPluginError(
                    f"The {parameter!r} parameter of benchmark {benchmark!r}: {error}"
                ) from None
        return value
    if not callable(value):
        raise ValidationError(
            f"The {parameter!r} parameter of benchmark {benchmark!r} must be a metric (e.g. "
            f"load_metric('pls')) or the name of a registered one (e.g. 'pls'). Got a "
            f"{type(value).__name__}: {value!r}. 'brainmark list metrics' shows the names."
        )
    return value


def _encode_interval(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """A ceiling's interval attrs as JSON, its resamples as float64 base64 (exact); None
    for a ceiling without an interval (a constant such as ``no_ceiling``)."""
    if "resample_values" not in attrs:
        return None
    values = np.asarray(attrs["resample_values"], dtype="<f8")
    content = {name: attrs[name] for name in _INTERVAL_ATTRS}
    content["interval"] = [None if np.isnan(x) else float(x) for x in content["interval"]]
    content["resample_values"] = base64.b64encode(values.tobytes()).decode("ascii")
    return content


def _decode_interval(content: dict[str, Any] | None) -> dict[str, Any]:
    """The attrs :func:`_encode_interval` stored (none for a ceiling without an interval)."""
    if content is None:
        return {}
    attrs = {name: content[name] for name in _INTERVAL_ATTRS}
    attrs["interval"] = [np.nan if x is None else float(x) for x in attrs["interval"]]
    values = base64.b64decode(content["resample_values"].encode("ascii"), validate=True)
    attrs["resample_values"] = np.frombuffer(values, dtype="<f8").copy()
    if len(attrs["resample_values"]) != int(attrs["resamples"]):
        raise ValueError("the ceiling's resample values do not match its resample count")
    return attrs


def _model_identifier(model: Any) -> str:
    identifier = getattr(model, "identifier", None)
    if callable(identifier):
        identifier = identifier()
    return str(identifier) if identifier is not None else type(model).__name__
