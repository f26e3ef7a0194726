"""Provenance: how the packaged files in this folder were made from the upstream data.

Run once (not at import or test time)::

    cd src/brainmark/plugins/data/geirhos2021
    python package_data.py /path/to/geirhos-edge-silhouette-cueconflict

The source folder holds ``stimuli/{edges,filled-silhouettes}/<category>/<category><n>.png``
and ``human-raw-data/{edge,silhouette}/*_subject-XX_session_1.csv`` as described in this
folder's README.md. For each image set the script writes a stimulus set (CSV + ZIP) and
a BehavioralAssembly of every human trial (netCDF) beside itself and prints the SHA1s
pinned in ``data.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from brainmark.data import BehavioralAssembly, StimulusSet

HERE = Path(__file__).parent
# image set -> (folder of stimuli upstream, folder of human data upstream)
IMAGE_SETS = {"edge": "edges", "silhouette": "filled-silhouettes"}


def identifier(image_set: str) -> str:
    return f"Geirhos2021{image_set}"


def build_stimulus_set(source: Path, image_set: str) -> StimulusSet:
    """160 images, 10 per category; ids ``<set>_<file stem>`` so the two sets never share ids.

    ``image_label`` is the category, the column a model's readout is fitted on.
    """
    paths = sorted((source / "stimuli" / IMAGE_SETS[image_set]).glob("*/*.png"))
    rows = [
        {
            "stimulus_id": f"{image_set}_{path.stem}",
            "image_label": path.parent.name,
            "image_set": image_set,
        }
        for path in paths
    ]
    return StimulusSet(
        rows,
        stimulus_paths={f"{image_set}_{path.stem}": path for path in paths},
        identifier=identifier(image_set),
    )


def build_assembly(source: Path, image_set: str) -> BehavioralAssembly:
    """Every trial of the 10 subjects: value = the category the subject chose.

    ``na`` means no response within the time limit (it counts as an error). ``truth`` is
    the image's category; ``trial`` the position in the subject's session.
    """
    frames = [
        pd.read_csv(path, dtype={"object_response": str, "category": str})
        for path in sorted((source / "human-raw-data" / image_set).glob("*.csv"))
    ]
    trials = pd.concat(frames, ignore_index=True)
    stems = trials["imagename"].str.rsplit("_", n=1).str[-1].str.removesuffix(".png")
    return BehavioralAssembly(
        trials["object_response"].to_numpy(dtype=str),
        dims=("presentation",),
        coords={
            "stimulus_id": ("presentation", (image_set + "_" + stems).to_numpy(dtype=str)),
            "subject": ("presentation", trials["subj"].to_numpy(dtype=str)),
            "truth": ("presentation", trials["category"].to_numpy(dtype=str)),
            "condition": ("presentation", trials["condition"].astype(str).to_numpy(dtype=str)),
            "session": ("presentation", trials["session"].to_numpy(dtype=int)),
            "trial": ("presentation", trials["trial"].to_numpy(dtype=int)),
            "reaction_time": ("presentation", trials["rt"].to_numpy(dtype=float)),
        },
        attrs={"image_set": image_set},
    )


def main(source: Path) -> None:
    from brainmark.data import package_data_assembly_locally, package_stimulus_set_locally

    for image_set in IMAGE_SETS:
        stimulus_set = build_stimulus_set(source, image_set)
        print(package_stimulus_set_locally(stimulus_set, identifier(image_set), HERE))
        print(
            package_data_assembly_locally(
                build_assembly(source, image_set),
                identifier(image_set),
                identifier(image_set),
                "BehavioralAssembly",
                HERE,
                stimulus_set=stimulus_set,
            )
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
