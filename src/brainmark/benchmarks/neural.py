"""NeuralBenchmark: record a model region over time bins and compare with neural responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainmark.benchmarks.base import AssemblyBenchmark, placed_stimuli
from brainmark.data.assemblies import average_repetitions, walk_coords
from brainmark.exceptions import ValidationError


class NeuralBenchmark(AssemblyBenchmark):
    """Compare a model's recordings of one region with neural responses to the same stimuli.

    The stimuli the data has responses to are placed at the experiment's ``visual_degrees``
    for the model, the model records ``region`` over ``time_bins`` while looking at them
    ``number_of_trials`` times, and ``metric(model_responses, data)`` compares the
    recording with the repetition-averaged data (NaN-padded trials ignored). Time bins are
    the metric's to handle: the regression metrics score each bin against the data's bin
    of the same position (or against the data's only bin) and average over bins; metrics
    that compare one bin refuse several. The ceiling is ``ceiler(data)`` on the data with
    its repetitions (internal consistency by default).

    Parameters
    ----------
    identifier, version, parent, bibtex
        See :class:`~brainmark.benchmarks.base.BenchmarkBase`.
    assembly
        The :class:`~brainmark.data.NeuroidAssembly` (presentation x neuroid [x time_bin],
        one presentation per trial with ``stimulus_id`` and ``repetition`` on presentation,
        NaN for trials not recorded), or a callable returning it.
    stimulus_set
        The :class:`~brainmark.data.StimulusSet` shown, or a callable returning it.
    region
        Region the model records (``V1``, ``V2``, ``V4``, ``IT``).
    visual_degrees
        Size of the stimuli in the experiment, in degrees of visual angle, in (0, 180].
    number_of_trials
        How often the model sees each stimulus (matters for stochastic models).
    time_bins
        ``(start, end)`` in ms of each bin the model records.
    metric
        ``metric(source, target) -> Score`` (e.g. ``load_metric('pls')``) or the name of a
        registered metric (``'pls'``), loaded on first use.
    ceiler
        ``ceiler(assembly) -> Score`` or a registered name; default
        ``'internal_consistency'``.

    Raises
    ------
    ValidationError
        At construction, for an identifier not of the documented form, visual degrees that
        are not a number in (0, 180], or a metric that is neither a callable nor a name.
    UnknownPluginError
        At construction, for a metric name no plugin registers (with the closest names).
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
        metric: Callable[[Any, Any], Any] | str | None = None,
        number_of_trials: int = 1,
        time_bins: Sequence[tuple[int, int]] = ((70, 170),),
        ceiler: Callable[[Any], Any] | str | None = None,
    ) -> None:
        if metric is None and self.default_metric is None:
            raise ValidationError(
                f"{type(self).__name__} {identifier!r} needs a metric: a registered name "
                f"such as metric='pls' or a metric such as load_metric('pls')."
            )
        super().__init__(
            identifier,
            version=version,
            assembly=assembly,
            stimulus_set=stimulus_set,
            visual_degrees=visual_degrees,
            metric=self.default_metric if metric is None else metric,
            ceiler=self.default_ceiler if ceiler is None else ceiler,
            parent=parent,
            bibtex=bibtex,
        )
        self.region = region
        self.number_of_trials = number_of_trials
        self.time_bins = [tuple(time_bin) for time_bin in time_bins]

    def record(self, model: Any) -> Any:
        """The model's responses of :attr:`region` to the placed stimuli, over the time bins.

        Refused as the model's fault when the responses do not cover exactly the stimuli
        shown (see :meth:`~brainmark.benchmarks.base.AssemblyBenchmark.check_model_answered`).
        """
        stimuli = self.stimulus_set  # refuses data stimuli missing from it before the model runs
        model.start_recording(self.region, time_bins=self.time_bins)
        responses = model.look_at(
            placed_stimuli(stimuli, model, self.visual_degrees),
            number_of_trials=self.number_of_trials,
        )
        self.check_model_answered(model, responses, stimuli)
        return responses

    def raw_score(self, model: Any) -> Any:
        responses = self.record(model)
        return self.metric(responses, self.averaged_data())

    def averaged_data(self) -> Any:
        """The data with one presentation per stimulus (NaN-padded trials ignored).

        Data without a ``presentation`` dim (RDMs) or with one presentation per stimulus
        is returned as it is.
        """
        target = self.assembly
        if "stimulus_id" not in walk_coords(target, "presentation"):
            return target
        ids = np.asarray(target["stimulus_id"].values)
        return target if pd.Index(ids).is_unique else average_repetitions(target)
