"""Behavioral readouts: how a committed network answers each task.

- :class:`FittedReadout`: ``label`` or ``probabilities`` from standardized features and a
  multinomial logistic regression fitted on labelled fitting stimuli;
- :class:`ClassLabels`: ``label`` from the network's own classes, each counted as one of
  the requested labels (or as none);
- :class:`OddOneOut`: of three images, the one least correlated with the other two.

A readout is called with stimuli and answers with a
:class:`~brainmark.data.BehavioralAssembly` over their presentations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainmark.data.assemblies import BehavioralAssembly, attach_stimulus_set_meta
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import Task

Features = Callable[[StimulusSet], np.ndarray]  # stimuli -> presentation x unit (float64)


class FittedReadout:
    """``label`` or ``probabilities`` from features: standardized, then logistic regression.

    Parameters
    ----------
    task
        ``Task.label`` (answer the most probable label) or ``Task.probabilities``.
    fitting_stimuli
        A :class:`~brainmark.data.StimulusSet` with an ``image_label`` column (two labels
        at least) the readout is fitted on.
    features
        The features of stimuli, e.g. a readout layer's activations.
    """

    def __init__(self, task: Task, fitting_stimuli: Any, features: Features) -> None:
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
        self.task = task
        self.features = features
        self.classifier = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)
        ).fit(features(fitting_stimuli), labels)

    def __call__(self, stimuli: StimulusSet) -> BehavioralAssembly:
        features = self.features(stimuli)
        if self.task is Task.label:
            return behavior(self.classifier.predict(features).astype(object), stimuli)
        probabilities = self.classifier.predict_proba(features)
        return behavior(probabilities, stimuli, choices=self.classifier.classes_)


class ClassLabels:
    """``label`` from the network's own classes: the best-scoring class among those that
    count as one of ``labels``, answered as that label.

    Parameters
    ----------
    model_identifier
        The model's name, for errors.
    logits
        The network's class scores for stimuli, one column per class.
    class_names
        The name of each class, in column order.
    labels
        The labels the task offers.
    label_synonyms
        ``class name -> label`` renamings (e.g. ``{'automobile': 'car'}``).
    """

    def __init__(
        self,
        model_identifier: str,
        logits: Features,
        class_names: Sequence[str],
        labels: Sequence[str],
        label_synonyms: Mapping[str, str] | None = None,
    ) -> None:
        synonyms = dict(label_synonyms or {})
        position = {str(label): n for n, label in enumerate(labels)}
        # For each class, the index of the label it counts as, or -1.
        self.label_of_class = np.array(
            [position.get(synonyms.get(name, name), -1) for name in class_names]
        )
        if (self.label_of_class < 0).all():
            raise ModelError(
                f"Model {model_identifier!r}: none of its classes {list(class_names)[:20]} "
                f"matches the labels {list(labels)[:20]}. Add label_synonyms or fit a readout."
            )
        self.labels = np.asarray(labels, dtype=object)
        self.logits = logits

    def __call__(self, stimuli: StimulusSet) -> BehavioralAssembly:
        allowed = np.where(self.label_of_class >= 0, self.logits(stimuli), -np.inf)
        choices = self.labels[self.label_of_class[np.argmax(allowed, axis=1)]]
        return behavior(choices, stimuli)


class OddOneOut:
    """``odd_one_out``: of each trial's three images, the one left out of the most
    correlated pair (Pearson correlation of their features).

    Trials are a stimulus set naming their images in ``stimulus_id_0``, ``stimulus_id_1``
    and ``stimulus_id_2``; the answer is the odd image's id.
    """

    def __init__(self, features: Features) -> None:
        self.features = features

    def __call__(self, trials: StimulusSet) -> BehavioralAssembly:
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
        features = self.features(images)
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
        return behavior(odd.astype(object), trials)


def behavior(
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
