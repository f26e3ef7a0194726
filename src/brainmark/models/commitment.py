"""ModelCommitment: a network committed to brain regions and behavioral readouts.

A network becomes a :class:`~brainmark.model_interface.BrainModel` by committing to

- a field of view in degrees (8 by default, as on Brain-Score);
- one layer per region: read from a map (a dict or the plugin's JSON file) or chosen by
  layer selection (:mod:`brainmark.models.layer_selection`), which scores every candidate
  layer with a benchmark for that region, keeps the best and stores the map and how it
  was chosen as JSON;
- behavioral readouts on a readout layer (:mod:`brainmark.models.readouts`): ``label``
  (the network's own classes mapped to the requested labels, or a readout fitted on
  labelled fitting stimuli), ``probabilities`` (standardized features + multinomial
  logistic regression) and ``odd_one_out`` (the image least correlated with the other two).

The networks are static: every requested time bin gets the same activations, and a
stimulus shown several times gives the same response, so it is returned once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainmark.data.assemblies import BehavioralAssembly, NeuroidAssembly, coords_frame
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import BrainModel, RecordingTarget, Task
from brainmark.models.activations import ActivationsModel
from brainmark.models.layer_selection import (
    Scorer,
    mapped_layers,
    region_name,
    remembered_selection,
)
from brainmark.models.readouts import ClassLabels, Features, FittedReadout, OddOneOut

Readout = Callable[[StimulusSet], BehavioralAssembly]


class ModelCommitment(BrainModel):
    """A BrainModel built from an :class:`~brainmark.models.ActivationsModel`.

    Parameters
    ----------
    identifier
        The model's registered name.
    activations_model
        The network wrapper whose layers are committed.
    layers
        Candidate layers for regions (and for layer selection).
    region_layer_map
        ``region -> layer`` as a dict or the path of a JSON file (either that mapping or
        the record :func:`~brainmark.models.select_layers` writes). If None or missing a
        region, the layer is chosen by :func:`~brainmark.models.select_layers` with
        ``layer_scorers[region]``.
    visual_degrees
        Field of view in degrees of visual angle.
    behavioral_readout_layer
        Layer whose features feed the fitted readouts and odd-one-out; default the last of
        ``layers``.
    logits_layer, class_names, label_synonyms
        For ``Task.label`` with a list of labels: the layer holding the network's class
        scores, the name of each of its units, and optional ``class name -> label``
        renamings (e.g. ``{'automobile': 'car'}``).
    layer_scorers
        ``region -> scorer(model) -> score`` for regions without a mapped layer, e.g. a
        benchmark on public data for that region.
    """

    def __init__(
        self,
        identifier: str,
        activations_model: ActivationsModel,
        layers: Sequence[str],
        region_layer_map: Mapping[str, str] | str | Path | None = None,
        visual_degrees: float = 8,
        behavioral_readout_layer: str | None = None,
        *,
        logits_layer: str | None = None,
        class_names: Sequence[str] | None = None,
        label_synonyms: Mapping[str, str] | None = None,
        layer_scorers: Mapping[str, Scorer] | None = None,
    ) -> None:
        self._identifier = identifier
        self.activations_model = activations_model
        self.layers = list(layers)
        self.region_layer_map = region_layer_map
        self._visual_degrees = visual_degrees
        self.behavioral_readout_layer = behavioral_readout_layer
        self.logits_layer = logits_layer
        self.class_names = class_names
        self.label_synonyms = label_synonyms
        self.layer_scorers = layer_scorers
        self._recording: tuple[str, list[tuple[int, int]]] | None = None
        self._readout: Readout | None = None
        self._selected: dict[str, str] = {}

    @property
    def identifier(self) -> str:
        return self._identifier

    def visual_degrees(self) -> float:
        return float(self._visual_degrees)

    def __repr__(self) -> str:
        return f"<ModelCommitment {self.identifier} ({self.activations_model!r})>"

    # --- recording ------------------------------------------------------------------

    def start_recording(
        self, recording_target: RecordingTarget | str, time_bins: Sequence[tuple[int, int]]
    ) -> None:
        region = region_name(recording_target)
        bins = [tuple(int(t) for t in time_bin) for time_bin in time_bins]
        if not bins or any(len(b) != 2 or b[0] >= b[1] for b in bins):
            raise ValidationError(
                f"time_bins must be a non-empty list of (start, end) ms with start < end. "
                f"Got {list(time_bins)!r}."
            )
        self.layer_for(region)  # fail now, not after the benchmark prepared its stimuli
        self._recording = (region, bins)  # type: ignore[assignment]
        self._readout = None

    def layer_for(self, region: RecordingTarget | str) -> str:
        """The layer committed to ``region``, choosing it by layer selection if needed."""
        region = region_name(region)
        mapping = mapped_layers(self)
        if region in mapping:
            return mapping[region]
        if region in self._selected:
            return self._selected[region]
        if not self.layer_scorers or region not in self.layer_scorers:
            raise ModelError(
                f"Model {self.identifier!r} commits no layer to region {region!r} (mapped: "
                f"{sorted(mapping)}). Add it to the region_layer_map or give a layer scorer "
                f"for it (layer_scorers={{{region!r}: benchmark}})."
            )
        self._selected[region] = remembered_selection(self, region)
        return self._selected[region]

    def _record(self, stimuli: StimulusSet) -> NeuroidAssembly:
        region, bins = self._recording  # type: ignore[misc]
        layer = self.layer_for(region)
        activations = self.activations_model(stimuli, [layer])
        neuroids = coords_frame(activations, "neuroid")
        neuroids["region"] = region
        values = np.repeat(np.asarray(activations.values)[:, :, None], len(bins), axis=2)
        return NeuroidAssembly(
            values,
            dims=("presentation", "neuroid", "time_bin"),
            coords={
                **{
                    c: ("presentation", v.to_numpy())
                    for c, v in coords_frame(activations, "presentation").items()
                },
                **{c: ("neuroid", v.to_numpy()) for c, v in neuroids.items()},
                "time_bin_start": ("time_bin", np.array([b[0] for b in bins])),
                "time_bin_end": ("time_bin", np.array([b[1] for b in bins])),
            },
            attrs=dict(activations.attrs),
        )

    # --- tasks ------------------------------------------------------------------------

    def start_task(self, task: Task | str, fitting_stimuli: Any = None) -> None:
        try:
            task = Task(task)
        except ValueError:
            raise ModelError(
                f"Model {self.identifier!r} got unknown task {task!r}; tasks: "
                f"{[t.value for t in Task]}."
            ) from None
        self._recording = None
        self._readout = None  # a task that fails to start leaves none started
        self._readout = self._readout_for(task, fitting_stimuli)

    def _readout_for(self, task: Task, fitting_stimuli: Any) -> Readout | None:
        """The readout answering ``task``; None for a passive task."""
        readout_layer = self.behavioral_readout_layer or self.layers[-1]
        if task is Task.odd_one_out:
            return OddOneOut(self._activations_of(readout_layer))
        if task is Task.label and fitting_stimuli is not None and not isinstance(
            fitting_stimuli, pd.DataFrame
        ):
            return self._class_labels(list(fitting_stimuli))
        if task in (Task.label, Task.probabilities):
            return FittedReadout(task, fitting_stimuli, self._activations_of(readout_layer))
        return None

    def _class_labels(self, labels: list[str]) -> ClassLabels:
        if self.logits_layer is None or self.class_names is None:
            raise ModelError(
                f"Model {self.identifier!r} has no named output classes (logits_layer and "
                f"class_names), so it cannot map its classes to labels {labels[:10]}. Give "
                f"fitting stimuli with an 'image_label' column to fit a readout instead."
            )
        return ClassLabels(
            self.identifier, self._activations_of(self.logits_layer), self.class_names,
            labels, self.label_synonyms,
        )

    def _activations_of(self, layer: str) -> Features:
        """Stimuli -> the layer's activations, as float64 features for a readout."""

        def features(stimuli: StimulusSet) -> np.ndarray:
            return np.asarray(self.activations_model(stimuli, [layer]).values, dtype=np.float64)

        return features

    def look_at(
        self, stimuli: StimulusSet, number_of_trials: int = 1
    ) -> NeuroidAssembly | BehavioralAssembly:
        if self._recording is not None:
            return self._record(stimuli)
        if self._readout is not None:
            return self._readout(stimuli)
        raise ModelError(
            f"Model {self.identifier!r} was asked to look at stimuli without a task or a "
            f"recording. Call start_recording(region, time_bins) or start_task(task) first."
        )
