"""RSABenchmark: a model region's RDM against each subject's RDM of the same stimuli."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from brainmark.benchmarks.base import resolve
from brainmark.benchmarks.neural import NeuralBenchmark, time_bin_slice


class RSABenchmark(NeuralBenchmark):
    """Representational similarity of one model region with subjects' RDMs.

    A :class:`~brainmark.benchmarks.neural.NeuralBenchmark` whose data are RDMs: the model
    records ``region`` while looking at the stimuli (placed at the experiment's
    ``visual_degrees``); its responses are compared with the data RDMs by ``metric``
    (default ``load_metric('rdm')``: model RDM as 1 - Pearson r, compared with each
    subject's RDM, mean over subjects, per-subject values kept in ``raw``). The ceiling is
    ``ceiler(rdms)``, by default how well each subject's RDM is predicted by the others'
    (``load_metric('rdm_subject_ceiling')``).

    Parameters
    ----------
    identifier, version, parent, bibtex
        See :class:`~brainmark.benchmarks.base.BenchmarkBase`.
    rdms
        A :class:`~brainmark.data.PropertyAssembly` with dims ``(subject, stimulus_row,
        stimulus_column)`` (or without ``subject`` for one pooled RDM), values
        dissimilarities; or a callable returning it.
    stimulus_set
        The :class:`~brainmark.data.StimulusSet` with every stimulus of the RDMs, or a
        callable returning it.
    region, visual_degrees, number_of_trials, time_bins
        As in :class:`~brainmark.benchmarks.neural.NeuralBenchmark`; with several time
        bins the raw score is computed on the first one only (RDM data has no time).
    metric
        ``metric(model_responses, rdms) -> Score``.
    ceiler
        ``ceiler(rdms) -> Score``.
    """

    default_metric = "rdm"
    default_ceiler = "rdm_subject_ceiling"

    def __init__(
        self,
        identifier: str,
        *,
        version: int,
        rdms: Any,
        stimulus_set: Any,
        region: str,
        visual_degrees: float,
        parent: str,
        bibtex: str,
        number_of_trials: int = 1,
        time_bins: Sequence[tuple[int, int]] = ((70, 170),),
        metric: Callable[[Any, Any], Any] | None = None,
        ceiler: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(
            identifier,
            version=version,
            assembly=rdms,
            stimulus_set=stimulus_set,
            region=region,
            visual_degrees=visual_degrees,
            parent=parent,
            bibtex=bibtex,
            metric=metric,
            number_of_trials=number_of_trials,
            time_bins=time_bins,
            ceiler=ceiler,
        )

    @property
    def rdms(self) -> Any:
        """The subjects' RDMs, loaded on first use."""
        return self.assembly

    @functools.cached_property
    def stimulus_set(self) -> Any:
        """The stimuli, loaded on first use, in the order of the RDM rows."""
        ids = [str(value) for value in self.rdms["stimulus_row"].values]
        return resolve(self._stimulus_set_source).subset(ids)

    def raw_score(self, model: Any) -> Any:
        metric = self._resolved(self._metric, self.default_metric)
        return metric(time_bin_slice(self.record(model), 0), self.rdms)
