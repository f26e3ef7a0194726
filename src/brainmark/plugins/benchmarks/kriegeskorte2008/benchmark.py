"""Kriegeskorte et al. 2008 92 images: IT RDMs of human and monkey, human similarity judgements.

Three benchmarks on the same 92 images (animate and inanimate objects, faces, bodies):

- ``Kriegeskorte2008.IT-rdm``: the model's IT RDM (1 - Pearson r) against each of the 4
  human subjects' IT fMRI RDMs (each the mean of the subject's two sessions), mean over
  subjects; ceiled by the inter-subject consistency of those RDMs. Images at 2.9 degrees,
  the size in the fMRI experiment (Kriegeskorte et al. 2008).
- ``Kiani2007.IT-rdm``: the model's IT RDM against monkey IT (674 single neurons from two
  monkeys, recorded by Kiani et al. 2007 and analysed in Kriegeskorte et al. 2008). There
  is one pooled RDM, so no reliability can be estimated from the data: the ceiling is 1
  and the ceiled score equals the raw RDM correlation. Images at 7 degrees (the size in
  Kiani et al. 2007).
- ``Mur2013-rdm``: human object-similarity judgements (16 subjects arranging the images by
  similarity, Mur et al. 2013). The model performs ``Task.odd_one_out`` on every one of
  the 92-choose-3 = 125,580 triplets; the similarity of a pair is the fraction of the 90
  triplets containing it in which neither image of the pair is the odd one out, and the
  model's dissimilarity is 1 - that fraction. It is compared with each subject's RDM and
  ceiled by the inter-subject consistency. Images at 2.9 degrees, as in the fMRI
  experiment with the same images (the arrangement task had no fixed viewing distance).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from brainmark import load_dataset, load_metric, load_stimulus_set
from brainmark.benchmarks import BenchmarkBase, RSABenchmark, placed_stimuli
from brainmark.data import PropertyAssembly, StimulusSet, assembly_sha1
from brainmark.metrics import no_ceiling

HUMAN_VISUAL_DEGREES = 2.9
MONKEY_VISUAL_DEGREES = 7
BIBTEX_KRIEGESKORTE2008 = """@article{kriegeskorte2008matching,
  title = {Matching categorical object representations in inferior temporal cortex of man and
    monkey},
  author = {Kriegeskorte, Nikolaus and Mur, Marieke and Ruff, Douglas A. and Kiani, Roozbeh
    and Bodurka, Jerzy and Esteky, Hossein and Tanaka, Keiji and Bandettini, Peter A.},
  journal = {Neuron},
  volume = {60},
  number = {6},
  pages = {1126--1141},
  year = {2008}
}"""
BIBTEX_KIANI2007 = """@article{kiani2007object,
  title = {Object category structure in response patterns of neuronal population in monkey
    inferior temporal cortex},
  author = {Kiani, Roozbeh and Esteky, Hossein and Mirpour, Koorosh and Tanaka, Keiji},
  journal = {Journal of Neurophysiology},
  volume = {97},
  number = {6},
  pages = {4296--4309},
  year = {2007}
}"""
BIBTEX_MUR2013 = """@article{mur2013human,
  title = {Human object-similarity judgments reflect and transcend the primate-{IT} object
    representation},
  author = {Mur, Marieke and Meys, Mirjam and Bodurka, Jerzy and Goebel, Rainer and
    Bandettini, Peter A. and Kriegeskorte, Nikolaus},
  journal = {Frontiers in Psychology},
  volume = {4},
  pages = {128},
  year = {2013}
}"""


def _stimuli() -> StimulusSet:
    return load_stimulus_set("Kriegeskorte2008")


def kriegeskorte2008_human_it() -> RSABenchmark:
    return RSABenchmark(
        "Kriegeskorte2008.IT-rdm",
        version=1,
        rdms=lambda: load_dataset("Kriegeskorte2008.hIT-subjects"),
        stimulus_set=_stimuli,
        region="IT",
        visual_degrees=HUMAN_VISUAL_DEGREES,
        parent="IT",
        bibtex=BIBTEX_KRIEGESKORTE2008,
    )


def kiani2007_monkey_it() -> RSABenchmark:
    return RSABenchmark(
        "Kiani2007.IT-rdm",
        version=1,
        rdms=lambda: load_dataset("Kriegeskorte2008.mIT"),
        stimulus_set=_stimuli,
        region="IT",
        visual_degrees=MONKEY_VISUAL_DEGREES,
        parent="IT",
        bibtex=BIBTEX_KIANI2007 + "\n" + BIBTEX_KRIEGESKORTE2008,
        ceiler=lambda _: no_ceiling(),
    )


def odd_one_out_trials(stimulus_set: StimulusSet) -> StimulusSet:
    """Every triplet of the stimuli as one odd-one-out trial (ids ``triplet<n>``)."""
    ids = np.asarray(stimulus_set["stimulus_id"], dtype=str)
    triplets = np.array(list(itertools.combinations(range(len(ids)), 3)))
    return StimulusSet(
        {
            "stimulus_id": [f"triplet{n}" for n in range(len(triplets))],
            "stimulus_id_0": ids[triplets[:, 0]],
            "stimulus_id_1": ids[triplets[:, 1]],
            "stimulus_id_2": ids[triplets[:, 2]],
        },
        stimulus_paths=dict(stimulus_set.stimulus_paths),
        identifier=f"{stimulus_set.identifier}-triplets",
    )


def triplet_rdm(trials: StimulusSet, odd_ones: Any, stimulus_ids: list[str]) -> PropertyAssembly:
    """Dissimilarity of each pair: 1 - fraction of its triplets where neither is the odd one.

    ``odd_ones`` holds, per trial (coord ``stimulus_id`` = trial id), the id of the image
    chosen as the odd one out.
    """
    position = {sid: n for n, sid in enumerate(stimulus_ids)}
    chosen = dict(zip(map(str, odd_ones["stimulus_id"].values), map(str, odd_ones.values),
                      strict=True))
    members = np.stack(
        [trials[f"stimulus_id_{k}"].map(position).to_numpy(dtype=int) for k in range(3)], axis=1
    )
    odd = np.array([position[chosen[trial]] for trial in trials["stimulus_id"]])
    is_odd = members == odd[:, None]
    if not is_odd.any(axis=1).all():
        raise ValueError("A model chose an odd one out that is not in its triplet.")
    # The pair kept together: the two members that are not the odd one.
    kept = members[~is_odd].reshape(len(members), 2)
    n = len(stimulus_ids)
    together = np.zeros((n, n))
    np.add.at(together, (kept[:, 0], kept[:, 1]), 1)
    together = together + together.T
    similarity = together / (n - 2)  # every pair is in n - 2 triplets
    np.fill_diagonal(similarity, 1.0)
    return PropertyAssembly(
        1.0 - similarity,
        dims=("stimulus_row", "stimulus_column"),
        coords={"stimulus_row": stimulus_ids, "stimulus_column": stimulus_ids},
    )


class Mur2013OddOneOut(BenchmarkBase):
    """Model similarity from odd-one-out choices vs human similarity judgements (see module)."""

    def __init__(self) -> None:
        super().__init__(
            identifier="Mur2013-rdm",
            version=1,
            ceiling_func=lambda: load_metric("rdm_subject_ceiling")(self.rdms),
            parent="behavior",
            bibtex=BIBTEX_MUR2013 + "\n" + BIBTEX_KRIEGESKORTE2008,
        )

    @functools.cached_property
    def rdms(self) -> PropertyAssembly:
        """The 16 subjects' judgement RDMs, loaded on first use."""
        return load_dataset("Kriegeskorte2008.behavior-similarity")

    def data_sha1(self) -> str:
        return assembly_sha1(self.rdms)

    def raw_score(self, model: Any) -> Any:
        from brainmark.model_interface import Task

        ids = [str(sid) for sid in self.rdms["stimulus_row"].values]
        stimuli = placed_stimuli(_stimuli().subset(ids), model, HUMAN_VISUAL_DEGREES)
        trials = odd_one_out_trials(stimuli)
        model.start_task(Task.odd_one_out, None)
        odd_ones = model.look_at(trials, number_of_trials=1)
        model_rdm = triplet_rdm(trials, odd_ones, ids)
        return load_metric("rdm")(model_rdm, self.rdms)
