"""RSABenchmark: a model region's RDM against each subject's RDM of the same stimuli."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from brainmark.benchmarks.base import BenchmarkBase, assembly_sha1, placed_stimuli, resolve
from brainmark.benchmarks.neural import time_bin_slice


class RSABenchmark(BenchmarkBase):
    """Representational similarity of one model region with subjects' RDMs.

    The model records ``region`` while looking at the stimuli (placed at the
    experiment's ``visual_degrees``); its responses are compared with the data RDMs by
    ``metric`` (default ``load_metric('rdm')``: model RDM as 1 - Pearson r, compared with each
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
            identifier=identifier,
            version=version,
            ceiling_func=self._compute_ceiling,
            parent=parent,
            bibtex=bibtex,
        )
        self._rdms_source = rdms
        self._stimulus_set_source = stimulus_set
        self.region = region
        self.visual_degrees = visual_degrees
        self.number_of_trials = number_of_trials
        self.time_bins = [tuple(time_bin) for time_bin in time_bins]
        self._metric = metric
        self._ceiler = ceiler
        self._rdms: Any = None
        self._stimulus_set: Any = None

    @property
    def rdms(self) -> Any:
        """The subjects' RDMs, loaded on first use."""
        if self._rdms is None:
            self._rdms = resolve(self._rdms_source)
        return self._rdms

    @property
    def stimulus_set(self) -> Any:
        """The stimuli, loaded on first use, in the order of the RDM rows."""
        if self._stimulus_set is None:
            stimulus_set = resolve(self._stimulus_set_source)
            ids = [str(value) for value in self.rdms["stimulus_row"].values]
            self._stimulus_set = stimulus_set.subset(ids)
        return self._stimulus_set

    def data_sha1(self) -> str:
        return assembly_sha1(self.rdms)

    def _compute_ceiling(self) -> Any:
        ceiler = self._ceiler
        if ceiler is None:
            from brainmark import load_metric

            ceiler = load_metric("rdm_subject_ceiling")
        return ceiler(self.rdms)

    def raw_score(self, model: Any) -> Any:
        metric = self._metric
        if metric is None:
            from brainmark import load_metric

            metric = load_metric("rdm")
        model.start_recording(self.region, time_bins=self.time_bins)
        stimuli = placed_stimuli(self.stimulus_set, model, self.visual_degrees)
        responses = model.look_at(stimuli, number_of_trials=self.number_of_trials)
        return metric(time_bin_slice(responses, 0), self.rdms)
