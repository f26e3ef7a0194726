"""NeuralBenchmark: record a model region over time bins and compare with neural responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainmark.benchmarks.base import AssemblyBenchmark, placed_stimuli
from brainmark.data.assemblies import average_repetitions, walk_coords


class NeuralBenchmark(AssemblyBenchmark):
    """Compare a model's recordings of one region with neural responses to the same stimuli.

    The stimuli are placed at the experiment's ``visual_degrees`` for the model, the model
    records ``region`` over ``time_bins`` while looking at them ``number_of_trials`` times,
    and ``metric(model_responses, data)`` is computed per time bin on the
    repetition-averaged data (the mean over bins is the raw score). The ceiling is
    ``ceiler(data)`` on the data with its repetitions (internal consistency by default).

    Parameters
    ----------
    identifier, version, parent, bibtex
        See :class:`~brainmark.benchmarks.base.BenchmarkBase`.
    assembly
        The :class:`~brainmark.data.NeuroidAssembly` (presentation x neuroid [x time_bin],
        ``stimulus_id`` and ``repetition`` on presentation), or a callable returning it.
    stimulus_set
        The :class:`~brainmark.data.StimulusSet` shown, or a callable returning it.
    region
        Region the model records (``V1``, ``V2``, ``V4``, ``IT``).
    visual_degrees
        Size of the stimuli in the experiment, in degrees of visual angle.
    number_of_trials
        How often the model sees each stimulus (matters for stochastic models).
    time_bins
        ``(start, end)`` in ms of each bin the model records.
    metric
        ``metric(source, target) -> Score``, e.g. ``load_metric('pls')``.
    ceiler
        ``ceiler(assembly) -> Score``; default ``load_metric('internal_consistency')``.
    """

    #: Registered metric names used when ``metric`` / ``ceiler`` are not given.
    default_metric: str | None = None
    default_ceiler = "internal_consistency"

    def __init__(
        self,
        identifier: str,
        *,
        version: int,
        assembly: Any,
        stimulus_set: Any,
        region: str,
        visual_degrees: float,
        parent: str,
        bibtex: str,
        metric: Callable[[Any, Any], Any] | None = None,
        number_of_trials: int = 1,
        time_bins: Sequence[tuple[int, int]] = ((70, 170),),
        ceiler: Callable[[Any], Any] | None = None,
    ) -> None:
        if metric is None and self.default_metric is None:
            raise TypeError(f"{type(self).__name__} needs a metric, e.g. load_metric('pls').")
        super().__init__(
            identifier,
            version=version,
            assembly=assembly,
            stimulus_set=stimulus_set,
            ceiling_func=lambda: self._resolved(self._ceiler, self.default_ceiler)(self.assembly),
            parent=parent,
            bibtex=bibtex,
        )
        self.region = region
        self.visual_degrees = visual_degrees
        self.number_of_trials = number_of_trials
        self.time_bins = [tuple(time_bin) for time_bin in time_bins]
        self._metric = metric
        self._ceiler = ceiler

    @staticmethod
    def _resolved(function: Callable | None, default: str | None) -> Callable:
        """The given metric, or the registered one named ``default`` (imported on use)."""
        if function is not None:
            return function
        from brainmark import load_metric

        return load_metric(default)

    def record(self, model: Any) -> Any:
        """The model's responses of :attr:`region` to the placed stimuli, over the time bins."""
        model.start_recording(self.region, time_bins=self.time_bins)
        stimuli = placed_stimuli(self.stimulus_set, model, self.visual_degrees)
        return model.look_at(stimuli, number_of_trials=self.number_of_trials)

    def raw_score(self, model: Any) -> Any:
        responses = self.record(model)
        metric = self._resolved(self._metric, self.default_metric)
        target = self.assembly
        if "repetition" in walk_coords(target, "presentation"):
            target = average_repetitions(target)
        scores = [
            metric(time_bin_slice(responses, i), time_bin_slice(target, i))
            for i in range(len(self.time_bins))
        ]
        if len(scores) == 1:
            return scores[0]
        from brainmark.metrics import Score

        raw = Score(float(np.mean([float(score) for score in scores])))
        raw.attrs["raw"] = scores
        raw.attrs["error"] = float(np.mean([float(s.attrs.get("error", np.nan)) for s in scores]))
        return raw


def time_bin_slice(assembly: xr.DataArray, position: int) -> xr.DataArray:
    """The assembly at one time bin without the ``time_bin`` dim; as is if it has none."""
    if "time_bin" not in assembly.dims:
        return assembly
    position = min(position, assembly.sizes["time_bin"] - 1)
    names = [*walk_coords(assembly, "time_bin"), "time_bin"]
    result = assembly.isel(time_bin=position)
    return result.drop_vars([name for name in names if name in result.coords])
