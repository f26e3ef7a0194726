"""ModelCommitment: a network committed to brain regions and behavioral readouts.

A network becomes a :class:`~brainmark.model_interface.BrainModel` by committing to

- a field of view in degrees (8 by default, as on Brain-Score);
- one layer per region: read from a map (a dict or the plugin's JSON file) or chosen by
  :func:`select_layers`, which scores every candidate layer with a benchmark for that
  region, keeps the best and stores the map and how it was chosen as JSON;
- behavioral readouts on a readout layer: ``label`` (the network's own classes mapped to
  the requested labels, or a readout fitted on labelled fitting stimuli),
  ``probabilities`` (standardized features + multinomial logistic regression) and
  ``odd_one_out`` (the image least correlated with the other two).

The networks are static: every requested time bin gets the same activations, and a
stimulus shown several times gives the same response, so it is returned once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainmark._files import (
    read_checked_json,
    safe_file_name,
    write_checked_json,
    write_json_atomically,
)
from brainmark._provenance import library_sha1
from brainmark.data.assemblies import (
    BehavioralAssembly,
    NeuroidAssembly,
    attach_stimulus_set_meta,
    coords_frame,
)
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import BrainModel, RecordingTarget, Task
from brainmark.models._keys import module_code_sha1, weights_sha1
from brainmark.models.activations import ActivationsModel
from brainmark.settings import get_settings

Scorer = Callable[[BrainModel], Any]


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
        the record :func:`select_layers` writes). If None or missing a region, the layer is
        chosen by :func:`select_layers` with ``layer_scorers[region]``.
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
        self._task: Task | None = None
        self._readout: Any = None
        self._label_map: np.ndarray | None = None
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
        region = _region(recording_target)
        bins = [tuple(int(t) for t in time_bin) for time_bin in time_bins]
        if not bins or any(len(b) != 2 or b[0] >= b[1] for b in bins):
            raise ValidationError(
                f"time_bins must be a non-empty list of (start, end) ms with start < end. "
                f"Got {list(time_bins)!r}."
            )
        self.layer_for(region)  # fail now, not after the benchmark prepared its stimuli
        self._recording = (region, bins)  # type: ignore[assignment]
        self._task = None

    def layer_for(self, region: RecordingTarget | str) -> str:
        """The layer committed to ``region``, choosing it by layer selection if needed."""
        region = _region(region)
        mapping = self._mapping()
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
        self._selected[region] = self._select(region)
        return self._selected[region]

    def _mapping(self) -> dict[str, str]:
        source = self.region_layer_map
        if source is None:
            return {}
        mapping = (
            load_region_layer_map(source)
            if isinstance(source, str | Path)
            else {_region(region): str(layer) for region, layer in source.items()}
        )
        unknown = {region: layer for region, layer in mapping.items() if layer not in self.layers}
        if unknown:
            raise ModelError(
                f"Model {self.identifier!r}: region_layer_map commits layers that are not "
                f"among its layers: {unknown}. Layers: {self.layers}."
            )
        return mapping

    def _select(self, region: str) -> str:
        """Layer selection for one region, remembered on disk for this exact model.

        Keyed by the network's weights and code, its preprocessing, the candidate layers,
        the scorer and brainmark's code; the file is checked when read.
        """
        scorer = self.layer_scorers[region]  # type: ignore[index]
        module = self.activations_model.module
        key = json.dumps(
            [weights_sha1(module), module_code_sha1(module),
             repr(self.activations_model.preprocessing), library_sha1(), self.layers,
             _scorer_name(scorer), self.visual_degrees(), region]
        )
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        path = get_settings().layer_maps_dir / safe_file_name(f"{self.identifier}-{digest}.json")
        if get_settings().reuse_cache:
            record = read_checked_json(path, what="layer map")
            try:
                layer = record["regions"][region]["layer"]  # type: ignore[index]
            except (KeyError, TypeError):
                layer = None
            if layer in self.layers:
                return layer
        record = select_layers(
            self.activations_model, self.layers, {region: scorer},
            visual_degrees=self.visual_degrees(),
        )
        write_checked_json(path, record)
        return record["regions"][region]["layer"]

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
        self._readout = None
        self._label_map = None
        if task is Task.label and fitting_stimuli is not None and not isinstance(
            fitting_stimuli, pd.DataFrame
        ):
            self._label_map = self._map_classes(list(fitting_stimuli))
        elif task in (Task.label, Task.probabilities):
            self._readout = self._fit_readout(fitting_stimuli, task)
        self._task = task

    def _features(self, stimuli: StimulusSet) -> np.ndarray:
        layer = self.behavioral_readout_layer or self.layers[-1]
        return np.asarray(self.activations_model(stimuli, [layer]).values, dtype=np.float64)

    def _fit_readout(self, fitting_stimuli: Any, task: Task) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if not isinstance(fitting_stimuli, StimulusSet) or "image_label" not in fitting_stimuli:
            raise ValidationError(
                f"Task {task.value!r} needs fitting_stimuli: a StimulusSet with an "
                f"'image_label' column to fit the readout on"
                + (" (or, for 'label', a list of label names)" if task is Task.label else "")
                + f". Got {type(fitting_stimuli).__name__}."
            )
        labels = fitting_stimuli["image_label"].astype(str).to_numpy()
        if len(set(labels)) < 2:
            raise ValidationError(
                f"Fitting stimuli {fitting_stimuli.identifier!r} have {len(set(labels))} "
                f"distinct image_label; a readout needs at least 2."
            )
        readout = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        return readout.fit(self._features(fitting_stimuli), labels)

    def _map_classes(self, labels: list[str]) -> np.ndarray:
        """For each network class, the index of the requested label it counts as (or -1)."""
        if self.logits_layer is None or self.class_names is None:
            raise ModelError(
                f"Model {self.identifier!r} has no named output classes (logits_layer and "
                f"class_names), so it cannot map its classes to labels {labels[:10]}. Give "
                f"fitting stimuli with an 'image_label' column to fit a readout instead."
            )
        synonyms = dict(self.label_synonyms or {})
        position = {str(label): n for n, label in enumerate(labels)}
        mapped = np.array(
            [position.get(synonyms.get(name, name), -1) for name in self.class_names]
        )
        if (mapped < 0).all():
            raise ModelError(
                f"Model {self.identifier!r}: none of its classes {list(self.class_names)[:20]} "
                f"matches the labels {labels[:20]}. Add label_synonyms or fit a readout."
            )
        self._labels = np.asarray(labels, dtype=object)
        return mapped

    def look_at(
        self, stimuli: StimulusSet, number_of_trials: int = 1
    ) -> NeuroidAssembly | BehavioralAssembly:
        if self._recording is not None:
            return self._record(stimuli)
        if self._task is Task.odd_one_out:
            return self._odd_one_out(stimuli)
        if self._task is Task.label and self._label_map is not None:
            logits = np.asarray(
                self.activations_model(stimuli, [self.logits_layer]).values, dtype=np.float64
            )
            allowed = np.where(self._label_map >= 0, logits, -np.inf)
            choices = self._labels[self._label_map[np.argmax(allowed, axis=1)]]
            return _behavior(choices, stimuli)
        if self._task in (Task.label, Task.probabilities):
            features = self._features(stimuli)
            if self._task is Task.label:
                return _behavior(self._readout.predict(features).astype(object), stimuli)
            probabilities = self._readout.predict_proba(features)
            return _behavior(probabilities, stimuli, choices=self._readout.classes_)
        raise ModelError(
            f"Model {self.identifier!r} was asked to look at stimuli without a task or a "
            f"recording. Call start_recording(region, time_bins) or start_task(task) first."
        )

    def _odd_one_out(self, trials: StimulusSet) -> BehavioralAssembly:
        columns = ["stimulus_id_0", "stimulus_id_1", "stimulus_id_2"]
        missing = [c for c in columns if c not in trials.columns]
        if missing:
            raise ValidationError(
                f"Odd-one-out trials {trials.identifier!r} lack columns {missing}; each trial "
                f"names its three images in {columns}."
            )
        members = trials[columns].astype(str).to_numpy()
        ids = sorted(set(members.ravel()))
        images = StimulusSet(
            {"stimulus_id": ids},
            stimulus_paths={sid: trials.get_stimulus(sid) for sid in ids},
            identifier=f"{trials.identifier}.images" if trials.identifier else None,
        )
        features = self._features(images)
        # Pearson correlation between images: centre and normalize each feature vector.
        features = features - features.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        features = features / np.where(norms > 0, norms, 1.0)
        similarity = features @ features.T
        index = pd.Index(ids).get_indexer(members.ravel()).reshape(members.shape)
        a, b, c = index.T
        # The odd one is the image left out of the most similar pair.
        pair_similarity = np.stack(
            [similarity[b, c], similarity[a, c], similarity[a, b]], axis=1
        )
        odd = members[np.arange(len(members)), np.argmax(pair_similarity, axis=1)]
        return _behavior(odd.astype(object), trials)


def select_layers(
    activations_model: ActivationsModel,
    layers: Sequence[str],
    scorers: Mapping[str, Scorer],
    *,
    visual_degrees: float = 8,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Choose each region's layer: the candidate that scores best with that region's scorer.

    Every layer of ``layers`` is committed to the region alone (a ModelCommitment mapping
    the region to it) and scored by ``scorers[region](model)``, e.g. a benchmark on public
    data for the region. The best layer wins (NaN scores lose; ties go to the earlier
    layer).

    Returns
    -------
    dict
        ``{"model": ..., "method": ..., "regions": {region: {"layer", "scorer",
        "scores": {layer: score}}}}``; written as JSON to ``path`` when given, which
        ``ModelCommitment(region_layer_map=path)`` reads back.
    """
    layers = list(layers)
    regions = {}
    for region, scorer in scorers.items():
        region = _region(region)
        scores = {}
        for layer in layers:
            candidate = ModelCommitment(
                f"{activations_model.identifier}", activations_model, [layer],
                region_layer_map={region: layer}, visual_degrees=visual_degrees,
            )
            scores[layer] = float(scorer(candidate))
        ranked = [s if np.isfinite(s) else -np.inf for s in scores.values()]
        regions[region] = {
            "layer": layers[int(np.argmax(ranked))],
            "scorer": _scorer_name(scorer),
            "scores": scores,
        }
    record = {
        "model": activations_model.identifier,
        "method": "layer selection: every candidate layer scored by the region's scorer, "
        "best kept",
        "visual_degrees": visual_degrees,
        "regions": regions,
    }
    if path is not None:
        write_json_atomically(path, record, indent=2)
    return record


def load_region_layer_map(path: str | Path) -> dict[str, str]:
    """``region -> layer`` from a JSON file: a plain mapping or a :func:`select_layers` record."""
    content = json.loads(Path(path).read_text())
    regions = content.get("regions", content) if isinstance(content, dict) else None
    if not isinstance(regions, dict):
        raise ValidationError(f"{path} must hold a JSON object region -> layer.")
    return {
        _region(region): str(value["layer"] if isinstance(value, dict) else value)
        for region, value in regions.items()
    }


def _region(region: RecordingTarget | str) -> str:
    try:
        return RecordingTarget(region).value
    except ValueError:
        raise ModelError(
            f"Unknown recording target {region!r}; use one of "
            f"{[target.value for target in RecordingTarget]}."
        ) from None


def _scorer_name(scorer: Scorer) -> str:
    identifier = getattr(scorer, "identifier", None)
    if isinstance(identifier, str):
        return identifier
    return getattr(scorer, "__qualname__", type(scorer).__qualname__)


def _behavior(
    values: np.ndarray, stimuli: StimulusSet, *, choices: Sequence[str] | None = None
) -> BehavioralAssembly:
    """Choices (or choice probabilities) over presentation, with the stimuli's columns."""
    coords: dict[str, Any] = {
        "stimulus_id": ("presentation", stimuli["stimulus_id"].astype(str).to_numpy())
    }
    dims: tuple[str, ...] = ("presentation",)
    if choices is not None:
        dims = ("presentation", "choice")
        coords["choice"] = np.asarray(choices, dtype=object)
    assembly = BehavioralAssembly(values, dims=dims, coords=coords)
    return attach_stimulus_set_meta(assembly, stimuli)
