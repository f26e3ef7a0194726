"""BehavioralBenchmark: a model performs the subjects' task; its choices meet theirs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

from brainmark.benchmarks.base import BenchmarkBase, assembly_sha1, placed_stimuli, resolve


class BehavioralBenchmark(BenchmarkBase):
    """The model does ``task`` on the stimuli; ``metric`` compares its choices with subjects'.

    The model is given the task with ``fitting_stimuli`` (a StimulusSet with an
    ``image_label`` column, placed like the test stimuli, to fit a readout; or a list of
    label names the model maps its own classes to), then looks at the stimuli placed at
    the experiment's ``visual_degrees``. Fitting and test stimuli must not overlap, so no
    test image is seen while fitting: this is checked before the model runs.

    Parameters
    ----------
    identifier, version, parent, bibtex
        See :class:`~brainmark.benchmarks.base.BenchmarkBase`.
    assembly
        The subjects' :class:`~brainmark.data.BehavioralAssembly` (presentation; coords
        ``stimulus_id``, ``subject``, ``truth``), or a callable returning it.
    stimulus_set
        The test :class:`~brainmark.data.StimulusSet`, or a callable returning it.
    task
        A :class:`~brainmark.model_interface.Task` (e.g. ``Task.label``).
    fitting_stimuli
        StimulusSet (or callable returning it) or list of label names; see above.
    visual_degrees, number_of_trials
        Size of the stimuli in degrees; how often the model sees each stimulus.
    metric
        ``metric(model_choices, assembly) -> Score`` (accuracy, error consistency, ...).
    ceiler
        ``ceiler(assembly) -> Score`` (a subject-to-subject ceiling, or
        :func:`~brainmark.benchmarks.base.no_ceiling` for ground-truth measures).
    """

    def __init__(
        self,
        identifier: str,
        *,
        version: int,
        assembly: Any,
        stimulus_set: Any,
        task: Any,
        fitting_stimuli: Any,
        visual_degrees: float,
        metric: Callable[[Any, Any], Any],
        ceiler: Callable[[Any], Any],
        parent: str,
        bibtex: str,
        number_of_trials: int = 1,
    ) -> None:
        super().__init__(
            identifier=identifier,
            version=version,
            ceiling_func=lambda: ceiler(self.assembly),
            parent=parent,
            bibtex=bibtex,
        )
        self._assembly_source = assembly
        self._stimulus_set_source = stimulus_set
        self.task = task
        self._fitting_source = fitting_stimuli
        self.visual_degrees = visual_degrees
        self.number_of_trials = number_of_trials
        self._metric = metric

    @functools.cached_property
    def assembly(self) -> Any:
        """The subjects' responses, loaded on first use."""
        return resolve(self._assembly_source)

    @functools.cached_property
    def stimulus_set(self) -> Any:
        """The test stimuli, loaded on first use."""
        return resolve(self._stimulus_set_source)

    def data_sha1(self) -> str:
        return assembly_sha1(self.assembly)

    def fitting_stimuli(self, model: Any) -> Any:
        """The fitting stimuli as the model sees them (label lists pass through)."""
        fitting = resolve(self._fitting_source)
        if not isinstance(fitting, pd.DataFrame):
            return fitting
        overlap = sorted(set(fitting["stimulus_id"]) & set(self.stimulus_set["stimulus_id"]))
        if overlap:
            from brainmark.exceptions import ValidationError

            raise ValidationError(
                f"Benchmark {self.identifier!r}: {len(overlap)} fitting stimuli are also test "
                f"stimuli: {overlap[:10]}. Fit the readout on images the model is not tested on."
            )
        return placed_stimuli(fitting, model, self.visual_degrees)

    def raw_score(self, model: Any) -> Any:
        model.start_task(self.task, self.fitting_stimuli(model))
        stimuli = placed_stimuli(self.stimulus_set, model, self.visual_degrees)
        choices = model.look_at(stimuli, number_of_trials=self.number_of_trials)
        return self._metric(choices, self.assembly)
