"""RSABenchmark: a model region's RDM against each subject's RDM of the same stimuli."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainmark.benchmarks.neural import NeuralBenchmark
from brainmark.exceptions import ValidationError


class RSABenchmark(NeuralBenchmark):
    """Representational similarity of one model region with subjects' RDMs.

    A :class:`~brainmark.benchmarks.neural.NeuralBenchmark` whose data are RDMs: the model
    records ``region`` in one time bin while looking at the stimuli of the RDMs (placed at
    the experiment's ``visual_degrees``); its responses are compared with the data RDMs by
    ``metric`` (default ``'rdm'``: model RDM as 1 - Pearson r, compared with each subject's
    RDM, mean over subjects, per-subject values kept in ``raw``). The ceiling is
    ``ceiler(rdms)``, by default how well each subject's RDM is predicted by the others'
    (``'rdm_subject_ceiling'``).

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
    region, visual_degrees, number_of_trials
        As in :class:`~brainmark.benchmarks.neural.NeuralBenchmark`.
    time_bins
        The one ``(start, end)`` bin in ms the model records: RDM data has no time, so
        several bins are refused.
    metric
        ``metric(model_responses, rdms) -> Score`` or a registered name.
    ceiler
        ``ceiler(rdms) -> Score`` or a registered name.
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
        metric: Callable[[Any, Any], Any] | str | None = None,
        ceiler: Callable[[Any], Any] | str | None = None,
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
        if len(self.time_bins) != 1:
            raise ValidationError(
                f"RSABenchmark {identifier!r} compares RDMs, which have no time: give one "
                f"time bin (the window the RDMs were computed in), e.g. time_bins=[(70, "
                f"170)]. Got {len(self.time_bins)}: {self.time_bins}."
            )

    @property
    def rdms(self) -> Any:
        """The subjects' RDMs, loaded on first use."""
        return self.assembly

    def data_stimulus_ids(self) -> list[str]:
        """The stimulus ids of the RDMs' rows and columns, each once, as strings."""
        dims = ("stimulus_row", "stimulus_column")
        if not all(dim in self.rdms.dims for dim in dims):
            raise ValidationError(
                f"RSABenchmark {self.identifier!r} compares RDMs: its data needs dims "
                f"{dims} (and optionally 'subject'), labelled with stimulus ids. Got dims "
                f"{tuple(self.rdms.dims)}. For responses use a NeuralBenchmark."
            )
        ids = [np.asarray(self.rdms[dim].values).astype(str)
               for dim in dims]
        return list(pd.unique(np.concatenate(ids)))
