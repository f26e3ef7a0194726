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
import xarray as xr

from brainmark._files import content_sha1
from brainmark.data.stimuli import StimulusSet


def assembly_sha1(*assemblies: xr.DataArray) -> str:
    """SHA1 of the values and coordinates of assemblies: the identity of a ceiling's data.

    Coordinates are hashed by name and value so relabelling the data changes the digest
    too; the result does not depend on how the data was stored or loaded.
    """
    digest = hashlib.sha1()
    for assembly in assemblies:
        digest.update(repr(assembly.dims).encode())
        values = np.asarray(assembly.values)
        # Numbers hash by their float64 bytes, labels (behavioral choices) by their text.
        values = values.astype(float) if values.dtype.kind in "biuf" else values.astype(str)
        digest.update(np.ascontiguousarray(values).tobytes())
        for name in sorted(map(str, assembly.coords)):
            if name in assembly.dims and name in assembly.indexes:
                index = assembly.indexes[name]
                if index.nlevels > 1 or index.name != name:
                    continue  # A MultiIndex: its levels are hashed as coordinates.
            digest.update(name.encode())
            digest.update(np.asarray(assembly.coords[name].values).astype(str).tobytes())
    return digest.hexdigest()


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
