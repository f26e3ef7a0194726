"""Content hashes of data: what a derived file was computed *from*.

:func:`assembly_sha1` identifies an assembly by its values and labels (the key of a
benchmark's ceiling), :func:`stimulus_set_sha1` a stimulus set by the bytes of its files
(the key of activations and placed images). Neither depends on how the data was stored or
loaded, nor on the names it goes by.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from brainmark._files import content_sha1
from brainmark.data.stimuli import StimulusSet


def assembly_sha1(*assemblies: xr.DataArray) -> str:
    """SHA1 of the values and coordinates of assemblies: the identity of a ceiling's data.

    Coordinates are hashed by name and value so relabelling the data changes the digest
    too; the result does not depend on how the data was stored or loaded (a label stored
    as a fixed-width or an object string hashes the same). A dimension's MultiIndex is
    hashed through its levels, which are coordinates themselves, whether it has one level
    (``neuroid_id`` alone) or several.

    Parameters
    ----------
    *assemblies
        The assemblies, hashed in the order given.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha1()
    for assembly in assemblies:
        digest.update(repr(assembly.dims).encode())
        values = np.asarray(assembly.values)
        # Numbers hash by their float64 bytes, labels (behavioral choices) by their text.
        values = values.astype(float) if values.dtype.kind in "biuf" else _as_text(values)
        digest.update(np.ascontiguousarray(values).tobytes())
        for name in sorted(map(str, assembly.coords)):
            if name in assembly.dims and isinstance(assembly.indexes.get(name), pd.MultiIndex):
                continue  # Its levels are hashed as coordinates.
            digest.update(name.encode())
            digest.update(_as_text(assembly.coords[name].values).tobytes())
    return digest.hexdigest()


def _as_text(values: np.ndarray) -> np.ndarray:
    """Values as a fixed-width unicode array of their ``str``, whatever objects they hold."""
    values = np.asarray(values)
    if values.dtype.kind != "O":
        return values.astype(str)
    return np.array([str(value) for value in values.ravel()], dtype=str).reshape(values.shape)


def stimulus_set_sha1(stimuli: StimulusSet) -> str:
    """SHA1 of the sorted (stimulus id, SHA1 of its file's bytes) pairs.

    Changed images under the same names and ids give a new key; the same files under
    another identifier or in another row order give the same key. File hashes are
    remembered per process while a file is unchanged (see :func:`brainmark._files.
    content_sha1`), so keying a set costs one read of its files per process.
    """
    ids = sorted(dict.fromkeys(str(sid) for sid in stimuli["stimulus_id"]))
    digest = hashlib.sha1()
    for sid in ids:
        digest.update(f"{sid}\t{content_sha1(Path(stimuli.get_stimulus(sid)))}\n".encode())
    return f"files:{digest.hexdigest()}"
