"""Coggan & Tong 2024: RSA of a model region with human fMRI of V1, V2, V4 and IT.

24 images (8 objects, each complete or with its upper or lower half occluded) were shown
at 9 degrees of visual angle (as in the paper and Brain-Score's implementation). For each
region the model records the matching region; its RDM (1 - Pearson r over units) is
compared with each of the 9 subjects' RDMs on all off-diagonal entries (the subjects' RDMs
are split-half cross-run matrices, not symmetric), and the mean over subjects is the raw
score. The ceiling is the inter-subject consistency: how well each subject's RDM is
predicted by the mean of the others (``rdm_subject_ceiling``).
"""

from __future__ import annotations

from brainmark import load_dataset, load_stimulus_set
from brainmark.benchmarks import RSABenchmark

VISUAL_DEGREES = 9
BIBTEX = """@article{coggan2024amodal,
  author = {Coggan, David D. and Tong, Frank},
  title = {Evidence of strong amodal completion in both early and high-level visual cortices},
  journal = {bioRxiv},
  year = {2024}
}"""


def coggan2024_rsa(region: str) -> RSABenchmark:
    """The ``Coggan2024.<region>-rdm`` benchmark (data load on first use)."""
    return RSABenchmark(
        f"Coggan2024.{region}-rdm",
        version=1,
        rdms=lambda: load_dataset(f"Coggan2024.{region}"),
        stimulus_set=lambda: load_stimulus_set("Coggan2024"),
        region=region,
        visual_degrees=VISUAL_DEGREES,
        parent=region,
        bibtex=BIBTEX,
    )


def coggan2024_v1() -> RSABenchmark:
    return coggan2024_rsa("V1")


def coggan2024_v2() -> RSABenchmark:
    return coggan2024_rsa("V2")


def coggan2024_v4() -> RSABenchmark:
    return coggan2024_rsa("V4")


def coggan2024_it() -> RSABenchmark:
    return coggan2024_rsa("IT")
