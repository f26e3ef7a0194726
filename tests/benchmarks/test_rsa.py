import numpy as np
import pytest
import scipy.stats

from brainmark import load_model, load_stimulus_set
from brainmark.benchmarks import RSABenchmark
from brainmark.data import PropertyAssembly


def _upper(rdm):
    return rdm[np.triu_indices_from(rdm, k=1)]


def _subject_rdms(stimulus_ids, subjects=3, seed=0):
    """Seeded RDMs (1 - Pearson r) of noisy copies of one set of patterns, one per subject."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(len(stimulus_ids), 20))
    rdms = np.stack([1 - np.corrcoef(patterns + rng.normal(size=patterns.shape))
                     for _ in range(subjects)])
    return PropertyAssembly(
        rdms, dims=("subject", "stimulus_row", "stimulus_column"),
        coords={"subject": [f"s{k}" for k in range(subjects)],
                "stimulus_row": list(stimulus_ids), "stimulus_column": list(stimulus_ids)},
    )


def test_rdms_with_permuted_columns_give_the_score_and_ceiling_of_the_stored_order():
    stimuli = load_stimulus_set("Coggan2024")
    ids = list(stimuli["stimulus_id"])[:12]
    rdms = _subject_rdms(ids)
    permuted = rdms.isel(stimulus_column=np.random.default_rng(1).permutation(len(ids)))
    model = load_model("pixels")
    scores = [
        RSABenchmark(
            "Test2024.IT-rdm", version=1, rdms=data, stimulus_set=stimuli, region="IT",
            visual_degrees=model.visual_degrees(), parent="IT", bibtex="@article{test}",
        )(model)
        for data in (rdms, permuted)
    ]

    # Independently: the model's RDM against each subject's (Spearman r of the upper
    # triangles, mean over subjects); the ceiling predicts each subject by the others' mean.
    model.start_recording("IT", time_bins=[(70, 170)])
    features = model.look_at(stimuli.subset(ids)).values.reshape(len(ids), -1)
    model_rdm = 1 - np.corrcoef(features)
    subjects = rdms.values
    raw = np.mean([scipy.stats.spearmanr(_upper(model_rdm), _upper(rdm)).statistic
                   for rdm in subjects])
    ceiling = np.mean([
        scipy.stats.spearmanr(_upper(np.delete(subjects, k, axis=0).mean(axis=0)),
                              _upper(subjects[k])).statistic
        for k in range(len(subjects))
    ])
    for score in scores:
        assert float(score.attrs["raw"]) == pytest.approx(raw, abs=1e-12)
        assert float(score.attrs["ceiling"]) == pytest.approx(ceiling, abs=1e-12)
