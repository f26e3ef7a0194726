"""Geirhos et al. 2021 edge and silhouette: 16-class decisions, accuracy and error consistency.

Each image set (160 images, 10 per category) was shown to 10 subjects who chose one of 16
categories. Images are placed at 8 degrees of visual angle (as Brain-Score's Geirhos2021
benchmarks do, following the lab setup of the paper).

The model performs ``Task.label``: a readout over its features is fitted on the *other*
image set (silhouettes when testing edges, edges when testing silhouettes), with each
image's category as label, so no test image is seen while fitting and the model must
generalise from one abstraction of shape to the other. Both sets are renderings of the
same 160 photos (``edge_oven10`` and ``silhouette_oven10`` show one oven), so the readout is
cross-fitted by object: fitted on the other set's images of half of the objects of each
category, it answers for the test images of the other half, and the other way round; no
object is both fitted and tested. (Version 1 fitted on all 160 objects, which let a
readout recognise the very objects it was tested on.) Its choices on the test images are
then scored:

- ``Geirhos2021<set>-top1`` (parent ``engineering``): accuracy against the true category;
  ceiling 1 (ground truth, no subject noise).
- ``Geirhos2021<set>-error_consistency`` (parent ``behavior``): Cohen's kappa of the model's
  trial-by-trial correctness with each subject's, beyond what their accuracies predict;
  ceiled by the subject-to-subject error consistency.
"""

from __future__ import annotations

from brainmark import load_dataset, load_stimulus_set
from brainmark.benchmarks import BehavioralBenchmark
from brainmark.data import StimulusSet
from brainmark.metrics import no_ceiling
from brainmark.model_interface import Task

VISUAL_DEGREES = 8
OTHER_SET = {"edge": "silhouette", "silhouette": "edge"}
BIBTEX = """@inproceedings{geirhos2021partial,
  title = {Partial success in closing the gap between human and machine vision},
  author = {Geirhos, Robert and Narayanappa, Kantharaju and Mitzkus, Benjamin and Thieringer,
    Tizian and Bethge, Matthias and Wichmann, Felix A. and Brendel, Wieland},
  booktitle = {Advances in Neural Information Processing Systems},
  volume = {34},
  year = {2021}
}"""


def stimuli_with_objects(image_set: str) -> StimulusSet:
    """The image set with ``object_id``: the photo both renderings come from (``oven10``)."""
    stimuli = load_stimulus_set(f"Geirhos2021{image_set}")
    stimuli["object_id"] = stimuli["stimulus_id"].str.removeprefix(f"{image_set}_")
    return stimuli


def _geirhos2021(image_set: str, metric: str) -> BehavioralBenchmark:
    accuracy = metric == "top1"
    return BehavioralBenchmark(
        f"Geirhos2021{image_set}-{metric}",
        version=2,
        assembly=lambda: load_dataset(f"Geirhos2021{image_set}"),
        stimulus_set=lambda: stimuli_with_objects(image_set),
        task=Task.label,
        fitting_stimuli=lambda: stimuli_with_objects(OTHER_SET[image_set]),
        cross_fit_by="object_id",
        visual_degrees=VISUAL_DEGREES,
        metric="accuracy" if accuracy else "error_consistency",
        ceiler=(lambda _: no_ceiling()) if accuracy else "error_consistency_ceiling",
        parent="engineering" if accuracy else "behavior",
        bibtex=BIBTEX,
    )


def geirhos2021_edge_top1() -> BehavioralBenchmark:
    return _geirhos2021("edge", "top1")


def geirhos2021_edge_error_consistency() -> BehavioralBenchmark:
    return _geirhos2021("edge", "error_consistency")


def geirhos2021_silhouette_top1() -> BehavioralBenchmark:
    return _geirhos2021("silhouette", "top1")


def geirhos2021_silhouette_error_consistency() -> BehavioralBenchmark:
    return _geirhos2021("silhouette", "error_consistency")
