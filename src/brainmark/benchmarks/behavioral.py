"""BehavioralBenchmark: a model performs the subjects' task; its choices meet theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import xarray as xr

from brainmark.benchmarks.base import AssemblyBenchmark, placed_stimuli, resolve
from brainmark.exceptions import ValidationError


class BehavioralBenchmark(AssemblyBenchmark):
    """The model does ``task`` on the stimuli; ``metric`` compares its choices with subjects'.

    The model is given the task with ``fitting_stimuli`` (a StimulusSet with an
    ``image_label`` column, placed like the test stimuli, to fit a readout; or a list of
    label names the model maps its own classes to), then looks at the stimuli placed at
    the experiment's ``visual_degrees``. Fitting and test stimuli must not overlap, so no
    test image is seen while fitting: this is checked before the model runs.

    When the fitting images show the same objects as the test images in another rendering
    (the silhouette and the line drawing of one photo), name the column identifying the
    object in ``cross_fit_by``: the objects of each label are split into two halves, and
    the readout fitted on one half's fitting images answers for the other half's test
    images, so no object is both fitted and tested.

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
        Size of the stimuli in degrees, in (0, 180]; how often the model sees each stimulus.
    metric
        ``metric(model_choices, assembly) -> Score`` (accuracy, error consistency, ...) or
        the name of a registered metric (``'error_consistency'``), loaded on first use.
    ceiler
        ``ceiler(assembly) -> Score`` or a registered name (a subject-to-subject ceiling
        such as ``'error_consistency_ceiling'``; ``lambda _: no_ceiling()`` with
        :func:`~brainmark.metrics.ceiling.no_ceiling` for ground-truth measures).
    cross_fit_by
        Column of both stimulus sets naming the object each image shows; see above.
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
        metric: Callable[[Any, Any], Any] | str,
        ceiler: Callable[[Any], Any] | str,
        parent: str,
        bibtex: str,
        number_of_trials: int = 1,
        cross_fit_by: str | None = None,
    ) -> None:
        super().__init__(
            identifier,
            version=version,
            assembly=assembly,
            stimulus_set=stimulus_set,
            visual_degrees=visual_degrees,
            metric=metric,
            ceiler=ceiler,
            parent=parent,
            bibtex=bibtex,
        )
        self.task = task
        self._fitting_source = fitting_stimuli
        self.number_of_trials = number_of_trials
        self.cross_fit_by = cross_fit_by

    def fitting_stimuli(self, model: Any) -> Any:
        """The fitting stimuli as the model sees them (label lists pass through)."""
        fitting = resolve(self._fitting_source)
        if not isinstance(fitting, pd.DataFrame):
            return fitting
        overlap = sorted(set(fitting["stimulus_id"]) & set(self.stimulus_set["stimulus_id"]))
        if overlap:
            raise ValidationError(
                f"Benchmark {self.identifier!r}: {len(overlap)} fitting stimuli are also test "
                f"stimuli: {overlap[:10]}. Fit the readout on images the model is not tested on."
            )
        return placed_stimuli(fitting, model, self.visual_degrees)

    def raw_score(self, model: Any) -> Any:
        fitting = self.fitting_stimuli(model)
        stimuli = placed_stimuli(self.stimulus_set, model, self.visual_degrees)
        if self.cross_fit_by is None:
            model.start_task(self.task, fitting)
            choices = model.look_at(stimuli, number_of_trials=self.number_of_trials)
        else:
            halves = []
            for fitted, tested in self._object_halves(fitting, stimuli):
                model.start_task(self.task, fitted)
                halves.append(model.look_at(tested, number_of_trials=self.number_of_trials))
            choices = type(halves[0])(xr.concat(halves, dim="presentation"))
        self.check_model_answered(model, choices, stimuli)
        return self.metric(choices, self.assembly)

    def _object_halves(self, fitting: Any, stimuli: Any) -> list[tuple[Any, Any]]:
        """(fitting images of one half of the objects, test images of the other half) x 2.

        Objects are split per label (sorted by name, alternating), so both halves hold
        every label and the readout always knows all of them.
        """
        column = self.cross_fit_by
        for name, frame in (("fitting", fitting), ("test", stimuli)):
            if not isinstance(frame, pd.DataFrame) or column not in frame.columns:
                raise ValidationError(
                    f"Benchmark {self.identifier!r} cross-fits by {column!r}, but its "
                    f"{name} stimuli have no such column."
                )
        label_of = fitting.drop_duplicates(column).set_index(column)["image_label"]
        objects = pd.DataFrame({column: sorted(set(fitting[column]) | set(stimuli[column]))})
        objects["label"] = objects[column].map(label_of).fillna("").astype(str)
        half_of = dict(zip(objects[column], objects.groupby("label").cumcount() % 2,
                           strict=True))
        pairs = []
        for half in (0, 1):
            fitted = fitting["stimulus_id"][fitting[column].map(half_of) != half]
            tested = stimuli["stimulus_id"][stimuli[column].map(half_of) == half]
            pairs.append((fitting.subset(list(fitted)), stimuli.subset(list(tested))))
        return pairs
