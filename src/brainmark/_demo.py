"""``brainmark demo``: package, store (two versions), load back and verify real data.

Runs on the embedded defaults only (a folder store under BRAINMARK_HOME, no services): the
Kriegeskorte 2008 stimulus set and monkey IT RDM of the built-in data plugin are packaged
again under demo identifiers, uploaded twice to the store, loaded back pinned to the first
version with SHA1 verification, and compared with the originals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from brainmark._version import __version__
from brainmark.data import (
    load_assembly_from_store,
    load_stimulus_set_from_store,
    open_store,
    package_data_assembly_locally,
    package_stimulus_set_locally,
)
from brainmark.exceptions import ValidationError
from brainmark.registry import data_registry, stimulus_set_registry
from brainmark.settings import get_settings

SOURCE_STIMULUS_SET = "Kriegeskorte2008"
SOURCE_ASSEMBLY = "Kriegeskorte2008.mIT"
DEMO_STIMULUS_SET = "demo.Kriegeskorte2008"
DEMO_ASSEMBLY = "demo.Kriegeskorte2008.mIT"


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, function: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = function()
        self.seconds[name] = time.perf_counter() - start
        return result


def run_demo(store_location: str | None = None, echo: Callable[[str], None] = print) -> dict:
    """Run the demo end to end and print a summary; returns what it measured.

    Raises
    ------
    ValidationError
        If the data loaded back differ from the data packaged (they never should).
    """
    settings = get_settings()
    store = open_store(store_location or settings.store_location)
    timer = _Timer()
    echo(f"brainmark {__version__} demo  (home: {settings.home})")
    echo(f"store: {store.location}")

    stimuli = timer("load plugin data", lambda: stimulus_set_registry.load(SOURCE_STIMULUS_SET))
    rdm = data_registry.load(SOURCE_ASSEMBLY)
    stimuli.identifier = DEMO_STIMULUS_SET

    folder = settings.packages_dir / "demo"
    packaged_set = timer(
        "package stimulus set",
        lambda: package_stimulus_set_locally(stimuli, DEMO_STIMULUS_SET, folder),
    )
    packaged_rdm = timer(
        "package assembly",
        lambda: package_data_assembly_locally(
            rdm, DEMO_ASSEMBLY, DEMO_STIMULUS_SET, "PropertyAssembly", folder,
            stimulus_set=stimuli,
        ),
    )

    files = [packaged_set["csv_path"], packaged_set["zip_path"], packaged_rdm["path"]]
    versions: dict[str, list[str | None]] = {}

    def upload_twice() -> None:
        for path in files:
            versions[Path(path).name] = [store.upload(path, Path(path).name)[1] for _ in "12"]

    timer("upload (2 versions each)", upload_twice)
    csv_key, zip_key, nc_key = (Path(path).name for path in files)

    def load_both() -> tuple[pd.DataFrame, xr.DataArray]:
        loaded_set = load_stimulus_set_from_store(
            DEMO_STIMULUS_SET, store, packaged_set["csv_sha1"], packaged_set["zip_sha1"],
            csv_version_id=versions[csv_key][0], zip_version_id=versions[zip_key][0],
        )
        loaded_rdm = load_assembly_from_store(
            DEMO_ASSEMBLY, store, packaged_rdm["sha1"], version_id=versions[nc_key][0],
            stimulus_set_loader=lambda: loaded_set,
        )
        return loaded_set, loaded_rdm

    loaded_set, loaded_rdm = timer("load (download + verify)", load_both)
    timer("load again (cache hit)", load_both)

    identical_metadata = pd.DataFrame(loaded_set).equals(pd.DataFrame(stimuli))
    identical_images = all(
        loaded_set.get_stimulus(sid).read_bytes() == stimuli.get_stimulus(sid).read_bytes()
        for sid in stimuli["stimulus_id"]
    )
    identical_rdm = loaded_rdm.drop_attrs().identical(rdm.drop_attrs())
    if not (identical_metadata and identical_images and identical_rdm):
        raise ValidationError(
            f"Demo round trip changed the data: metadata identical {identical_metadata}, "
            f"images identical {identical_images}, RDM identical {identical_rdm}."
        )

    echo("")
    echo(f"stimulus set {DEMO_STIMULUS_SET}: {len(loaded_set)} stimuli, "
         f"{loaded_set.shape[1]} metadata columns")
    echo(f"  csv  sha1 {packaged_set['csv_sha1']}  versions {versions[csv_key]}")
    echo(f"  zip  sha1 {packaged_set['zip_sha1']}  versions {versions[zip_key]}")
    echo(f"assembly {DEMO_ASSEMBLY}: {type(loaded_rdm).__name__} "
         f"{dict(loaded_rdm.sizes)}")
    echo(f"  nc   sha1 {packaged_rdm['sha1']}  versions {versions[nc_key]}")
    echo("loaded back (first versions, SHA1 verified): identical metadata, images and values")
    echo("")
    echo("time:")
    for name, seconds in timer.seconds.items():
        echo(f"  {name:<26} {seconds * 1000:8.1f} ms")
    return {
        "stimulus_set": packaged_set,
        "assembly": packaged_rdm,
        "versions": versions,
        "seconds": timer.seconds,
    }
