"""The model interface: what a benchmark may ask of a model, as it would ask a subject.

A benchmark never looks inside a model. It tells the model how large the stimuli appear
(``visual_degrees``), then either asks it to record from a brain region
(``start_recording``) or to perform a task (``start_task``), and finally shows it stimuli
(``look_at``). Any object that answers these calls can be scored, whatever it is made of;
:class:`brainmark.models.ModelCommitment` builds one from a PyTorch network.

Importing this module imports no deep-learning framework.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from brainmark.data.assemblies import BehavioralAssembly, NeuroidAssembly
from brainmark.data.stimuli import StimulusSet


class Task(enum.StrEnum):
    """A behavioral task a model can be asked to perform (``start_task``).

    The values are plain strings, so ``Task.label == "label"``.
    """

    passive = "passive"
    """Look at stimuli without a task: ``look_at`` returns neural recordings, if recording."""

    label = "label"
    """Name each stimulus. ``fitting_stimuli`` is either a list of label names (the model
    maps its own classes onto them) or a StimulusSet with an ``image_label`` column (a
    readout is fitted on it). ``look_at`` returns a BehavioralAssembly over presentation
    whose values are the chosen labels."""

    probabilities = "probabilities"
    """Like ``label`` with fitting stimuli, but ``look_at`` returns a BehavioralAssembly
    ``presentation x choice`` of choice probabilities (each row sums to 1)."""

    odd_one_out = "odd_one_out"
    """Triplet task. ``look_at`` receives a StimulusSet of trials (a unique ``stimulus_id``
    per trial, columns ``stimulus_id_0``, ``stimulus_id_1``, ``stimulus_id_2`` naming images
    whose files are in ``stimulus_paths``) and returns a BehavioralAssembly over
    presentation (``stimulus_id`` = trial id) whose values are the odd image's id."""


class RecordingTarget(enum.StrEnum):
    """A brain region a model can be recorded from (``start_recording``)."""

    V1 = "V1"
    V2 = "V2"
    V4 = "V4"
    IT = "IT"


class BrainModel(ABC):
    """A model that can stand in for a subject in any benchmark.

    Calls come in this order: ``visual_degrees()`` (the benchmark places its stimuli
    accordingly), then ``start_task`` or ``start_recording``, then ``look_at``, possibly
    several times. A later ``start_*`` call replaces the earlier one.
    """

    @property
    @abstractmethod
    def identifier(self) -> str:
        """Unique name of the model, as registered (e.g. ``'resnet18-untrained'``)."""

    @abstractmethod
    def visual_degrees(self) -> float:
        """Width of the model's field of view in degrees of visual angle.

        A stimulus shown at D degrees in an experiment is scaled to occupy D / V of the
        model's input (:func:`brainmark.models.place_on_screen`).
        """

    @abstractmethod
    def start_task(self, task: Task, fitting_stimuli: Any = None) -> None:
        """Prepare to perform ``task``; see :class:`Task` for what ``fitting_stimuli`` is.

        Raises :class:`~brainmark.exceptions.ModelError` if the model cannot do the task.
        """

    @abstractmethod
    def start_recording(
        self, recording_target: RecordingTarget | str, time_bins: Sequence[tuple[int, int]]
    ) -> None:
        """Record from ``recording_target`` in each ``(start, end)`` time bin (ms)."""

    @abstractmethod
    def look_at(
        self, stimuli: StimulusSet, number_of_trials: int = 1
    ) -> NeuroidAssembly | BehavioralAssembly:
        """Show the stimuli; return what the current task or recording produces.

        Recording: a NeuroidAssembly ``presentation x neuroid x time_bin`` with the
        stimulus set's columns on presentation, ``neuroid_id`` and ``region`` on neuroid,
        ``time_bin_start``/``time_bin_end`` on time_bin. A task: a BehavioralAssembly (see
        :class:`Task`). ``number_of_trials`` matters only for stochastic models; a
        deterministic model returns one presentation per stimulus.
        """
