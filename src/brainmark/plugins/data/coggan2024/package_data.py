"""Provenance: how the packaged files in this folder were made from the upstream data.

Run once (not at import or test time)::

    python src/brainmark/plugins/data/coggan2024/package_data.py /path/to/coggan2024-fmri-occlusion

``/path/to/coggan2024-fmri-occlusion`` holds ``stimuli/*.png`` and ``coggan2024_fmri.npz`` as
described in this folder's README.md. The script writes the stimulus set (CSV + ZIP) and one
RDM netCDF per region beside itself and prints the SHA1s pinned in ``data.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from brainmark.data import PropertyAssembly, StimulusSet

HERE = Path(__file__).parent
IDENTIFIER = "Coggan2024"
REGIONS = ("V1", "V2", "V4", "IT")
# ImageNet validation images the objects were cut from (upstream README).
IMAGENET = {
    "bear": ("n02132136", "ILSVRC2012_val_00049345"),
    "bison": ("n02410509", "ILSVRC2012_val_00048511"),
    "elephant": ("n02504458", "ILSVRC2012_val_00030840"),
    "hare": ("n02326432", "ILSVRC2012_val_00004064"),
    "jeep": ("n03594945", "ILSVRC2012_val_00036304"),
    "lamp": ("n04380533", "ILSVRC2012_val_00001055"),
    "sportsCar": ("n04285008", "ILSVRC2012_val_00001247"),
    "teapot": ("n04398044", "ILSVRC2012_val_00033663"),
}


def build_stimulus_set(source: Path) -> StimulusSet:
    """24 images: 8 objects x 3 occlusion conditions, ids are the file stems."""
    paths = sorted((source / "stimuli").glob("*.png"))
    rows = []
    for path in paths:
        object_name, occlusion = path.stem.split("_")
        wnid, imagenet_file = IMAGENET[object_name]
        rows.append(
            {
                "stimulus_id": path.stem,
                "object_name": object_name,
                "occlusion": occlusion,
                "imagenet_wnid": wnid,
                "imagenet_filename": imagenet_file,
            }
        )
    return StimulusSet(
        rows, stimulus_paths={path.stem: path for path in paths}, identifier=IDENTIFIER
    )


def build_rdms(source: Path) -> dict[str, PropertyAssembly]:
    """One RDM assembly per region: subject x stimulus_row x stimulus_column, 1 - r.

    Upstream matrices are correlations between the response patterns of one half of the
    runs (rows) and the other half (columns), so they are not symmetric and their diagonal
    is a reliability, not 1; we keep every entry and only turn similarity into
    dissimilarity (1 - r), as brainmark's RDM convention asks.
    """
    npz = np.load(source / "coggan2024_fmri.npz")
    stimulus_ids = [str(s) for s in npz["stimulus_id"]]
    subjects = [str(s) for s in npz["subjects"]]
    regions = [str(r) for r in npz["regions"]]
    rdms = {}
    for region in REGIONS:
        similarity = npz["data"][regions.index(region)]
        rdms[region] = PropertyAssembly(
            1.0 - similarity,
            dims=("subject", "stimulus_row", "stimulus_column"),
            coords={
                "subject": subjects,
                "stimulus_row": stimulus_ids,
                "stimulus_column": stimulus_ids,
            },
            attrs={
                "region": region,
                "dissimilarity": "1 - Pearson r between split-half (cross-run) patterns",
            },
        )
    return rdms


def main(source: Path) -> None:
    from brainmark.data import package_data_assembly_locally, package_stimulus_set_locally

    stimulus_set = build_stimulus_set(source)
    print(package_stimulus_set_locally(stimulus_set, IDENTIFIER, HERE))
    for region, rdm in build_rdms(source).items():
        print(
            package_data_assembly_locally(
                rdm,
                f"{IDENTIFIER}.{region}",
                IDENTIFIER,
                "PropertyAssembly",
                HERE,
                stimulus_set=stimulus_set,
            )
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
