"""The on-disk activations cache: one entry per layer under ``<home>/cache/activations``.

An entry is a folder holding ``activations.npy`` (float32, one row per distinct image
file, one column per unit) and ``meta.json``. Its name is the SHA1 of a key made of
content: the model identifier, a SHA1 of its weights, of its structure and code
(:func:`~brainmark.models._keys.module_code_sha1`), of brainmark's own code, the
preprocessing (its configuration and code), the stimuli (the SHA1 of every file's bytes),
the layer and the projection, so a changed model or image never reads stale activations.

An entry is written in a temporary folder and renamed into place only when complete
(:class:`EntryWriter`), so a failure (an unreadable image, a forward error) leaves no
half-written entry. Its ``meta.json`` records the SHA1 of the ``.npy`` file and its own
checksum; both are verified whenever the entry is read (:func:`is_verified`), and a
damaged entry is reported and recomputed.

Rows are stored once per distinct image file (stimuli sharing a file are computed once),
ordered by stimulus id, so the same images in another order reuse the entry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from xarray.indexes import PandasMultiIndex

from brainmark._files import (
    content_sha1,
    distrust_cache_file,
    read_checked_json,
    replace_folder,
    safe_file_name,
    write_checked_json,
)
from brainmark._provenance import code_key, library_sha1, plugin_folder_of
from brainmark.data.assemblies import NeuroidAssembly
from brainmark.data.hashing import stimulus_set_sha1
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ValidationError
from brainmark.models._keys import module_code_sha1, weights_sha1
from brainmark.models.projections import Projection

CACHE_FORMAT = 2


@dataclasses.dataclass(frozen=True)
class StimulusFiles:
    """Distinct image files (the cache rows) and the row of every stimulus in set order."""

    paths: list[Path]
    row_ids: list[str]  # first stimulus id of each row, for error messages
    rows: np.ndarray  # one per stimulus set row


def distinct_files(stimuli: StimulusSet) -> StimulusFiles:
    """The stimulus set's distinct files, ordered by the smallest stimulus id showing each."""
    if not isinstance(stimuli, pd.DataFrame) or "stimulus_id" not in stimuli.columns:
        raise ValidationError(
            f"Stimuli must be a StimulusSet with a 'stimulus_id' column. Got {type(stimuli)}."
        )
    ids = [str(sid) for sid in stimuli["stimulus_id"]]
    if not ids:
        raise ValidationError(f"Stimulus set {stimuli.identifier!r} is empty.")
    paths = {sid: Path(stimuli.get_stimulus(sid)).absolute() for sid in dict.fromkeys(ids)}
    row_of_path: dict[Path, int] = {}
    row_ids = []
    for sid in sorted(paths):
        if paths[sid] not in row_of_path:
            row_of_path[paths[sid]] = len(row_ids)
            row_ids.append(sid)
    rows = np.array([row_of_path[paths[sid]] for sid in ids], dtype=np.int64)
    return StimulusFiles(list(row_of_path), row_ids, rows)


# --- keys -----------------------------------------------------------------------------------


def cache_key(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    *,
    identifier: str,
    preprocessing: Callable[..., Any],
    projection: Projection | None,
) -> dict[str, Any]:
    """The key of a model's activations for a stimulus set, all but the layer.

    Stored in every entry's ``meta.json``; :func:`entry_folder` adds the layer.
    """
    return {
        "format": CACHE_FORMAT,
        "model": identifier,
        "weights_sha1": weights_sha1(module),
        "code_sha1": module_code_sha1(module),
        "library_sha1": library_sha1(),
        "preprocessing": _callable_key(preprocessing),
        "stimuli": stimulus_set_sha1(stimuli),
        "projection": projection.key() if projection is not None else None,
    }


def entry_folder(root: Path, key: dict[str, Any], layer: str) -> Path:
    """``<root>/<model>/<SHA1 of the key and layer>``: the entry of one layer."""
    text = json.dumps({**key, "layer": layer}, sort_keys=True)
    return root / safe_file_name(key["model"]) / hashlib.sha1(text.encode()).hexdigest()


def _callable_key(function: Callable[..., Any]) -> str:
    """A key that changes when a preprocessing's configuration or code changes.

    A function defined in a plugin is keyed by the plugin's content (helpers it calls
    included), any other by its source; an object by its ``repr`` and its class's code.
    """
    if isinstance(function, functools.partial):
        return f"partial({_callable_key(function.func)}, {function.args!r}, {function.keywords!r})"
    if inspect.isfunction(function):
        name = f"{function.__module__}.{function.__qualname__}"
        if plugin_folder_of(function.__module__) is not None:
            return f"{name}:{code_key(function)}"
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            source = ""
        return f"{name}:{hashlib.sha1(source.encode()).hexdigest()}"
    return f"{function!r}|{code_key(type(function))}"


# --- reading ----------------------------------------------------------------------------------


def read_meta(entry: Path) -> dict[str, Any] | None:
    """The entry's ``meta.json`` if its checksum holds, else None (reported when damaged)."""
    meta = read_checked_json(entry / "meta.json", what="activations metadata")
    return meta if isinstance(meta, dict) else None


def is_verified(entry: Path, n_rows: int) -> bool:
    """Whether an entry exists, is complete and its ``.npy`` still has the recorded SHA1.

    A damaged entry (edited, truncated, half-copied) is reported with a
    :class:`~brainmark.exceptions.CacheIntegrityWarning` naming the bad file.
    """
    if not entry.exists():
        return False
    meta = read_meta(entry)
    npy = entry / "activations.npy"
    if meta is None:
        if not (entry / "meta.json").exists():
            distrust_cache_file(entry, "activations entry", "it has no meta.json")
        return False
    reason = None
    if meta.get("rows") != n_rows:
        reason = f"it holds {meta.get('rows')} rows, the stimuli need {n_rows}"
    elif not npy.is_file() or npy.stat().st_size != meta.get("npy_bytes"):
        size = npy.stat().st_size if npy.is_file() else "no"
        reason = f"it has {size} bytes, {meta.get('npy_bytes')} were written (truncated?)"
    elif content_sha1(npy) != meta.get("npy_sha1"):
        reason = "its bytes no longer match the SHA1 recorded when it was written"
    if reason is not None:
        distrust_cache_file(npy, "activations", reason)
        return False
    return True


def read_assembly(
    stimuli: StimulusSet,
    files: StimulusFiles,
    entries: dict[str, Path],
    key: dict[str, Any],
) -> NeuroidAssembly:
    """The entries' activations as one labelled ``presentation x neuroid`` assembly.

    Rows follow the stimulus set (a stimulus sharing a file with another repeats its row);
    neuroids are labelled by ``layer``, ``channel``, ``channel_y``, ``channel_x`` and
    ``neuroid_id``.
    """
    metas = {layer: read_meta(entry) or {} for layer, entry in entries.items()}
    arrays = {
        layer: np.load(entry / "activations.npy", mmap_mode="r") for layer, entry in entries.items()
    }
    width = sum(array.shape[1] for array in arrays.values())
    values = np.empty((len(files.rows), width), dtype=np.float32)
    coords: dict[str, list[np.ndarray]] = {
        "layer": [], "channel": [], "channel_y": [], "channel_x": [], "neuroid_id": []
    }
    # Rows in file order (the usual case: stimuli sorted by id, no shared files) are read
    # straight from the file into place; fancy indexing would copy twice.
    in_file_order = np.array_equal(files.rows, np.arange(len(files.paths)))
    offset = 0
    for layer, array in arrays.items():
        n = array.shape[1]
        values[:, offset : offset + n] = array if in_file_order else array[files.rows]
        offset += n
        if metas[layer]["projected"]:
            channel, y, x = np.arange(n), np.zeros(n, int), np.zeros(n, int)
        else:
            channel, y, x = np.unravel_index(np.arange(n), metas[layer]["shape"])
        coords["layer"].append(np.full(n, layer))
        coords["channel"].append(channel)
        coords["channel_y"].append(y)
        coords["channel_x"].append(x)
        coords["neuroid_id"].append(np.char.add(f"{layer}.", np.arange(n).astype(str)))
    frame = pd.DataFrame(stimuli).reset_index(drop=True)
    presentation = {
        column: ("presentation", frame[column].to_numpy()) for column in frame.columns
    }
    presentation["stimulus_id"] = ("presentation", frame["stimulus_id"].astype(str).to_numpy())
    array = xr.DataArray(
        values,
        dims=("presentation", "neuroid"),
        coords=presentation,
        attrs={
            "model": key["model"],
            "weights_sha1": key["weights_sha1"],
            "code_sha1": key["code_sha1"],
            "preprocessing": key["preprocessing"],
            "stimulus_set_identifier": str(stimuli.identifier),
        },
    )
    columns = {name: np.concatenate(parts) for name, parts in coords.items()}
    return NeuroidAssembly(array.assign_coords(_neuroid_index(columns)))


def _neuroid_index(columns: dict[str, np.ndarray]) -> xr.Coordinates:
    """The neuroid MultiIndex built from each level's sorted uniques and codes.

    What ``set_index`` would build, without its factorizing and sorting of every level
    through pandas (0.3-1 s for a few hundred thousand neuroids). Fixed-width strings, not
    objects: xarray copies them as one block of memory.
    """
    levels, codes = [], []
    for column in columns.values():
        uniques, inverse = np.unique(column, return_inverse=True)
        levels.append(uniques)
        codes.append(inverse)
    index = pd.MultiIndex(levels=levels, codes=codes, names=list(columns), verify_integrity=False)
    dtypes = {name: column.dtype for name, column in columns.items()}
    return xr.Coordinates.from_xindex(
        PandasMultiIndex(index, "neuroid", level_coords_dtype=dtypes)
    )


# --- writing ----------------------------------------------------------------------------------


class EntryWriter:
    """Writes one layer's entry in a temporary folder beside it, then renames it into place.

    Batches are appended to a ``.npy`` file whose header announces all rows; the file's
    SHA1 and size are computed as it is written, for the entry's ``meta.json``.
    """

    def __init__(self, entry: Path, n_rows: int) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        self.entry = entry
        self.folder = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
        self.n_rows = n_rows
        self.handle: Any = None
        self.projector: Callable[[np.ndarray], np.ndarray] | None = None
        self.shape: tuple[int, ...] = ()
        self.digest = hashlib.sha1()
        self.size = 0

    def open(self, shape: tuple[int, ...], projector: Callable | None, width: int) -> None:
        """Start the file: units of ``shape`` per row, ``width`` columns once projected."""
        self.shape, self.projector = shape, projector
        self.handle = open(self.folder / "activations.npy", "wb")  # noqa: SIM115
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (self.n_rows, width)}
        )
        self._append(header.getbuffer())

    def write(self, batch: np.ndarray) -> None:
        """Append a batch's rows (``N x units``), projected first if a projector was given."""
        if self.projector is not None:
            batch = self.projector(batch)
        self._append(np.ascontiguousarray(batch, dtype="<f4").data)

    def _append(self, data: memoryview) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += data.nbytes

    def commit(self, meta: dict[str, Any]) -> None:
        """Finish the file, write ``meta.json`` (``meta`` and the file's size and SHA1) and
        rename the folder to the entry, replacing any older one."""
        self._close()
        meta = {
            **meta,
            "shape": list(self.shape),
            "projected": self.projector is not None,
            "npy_bytes": self.size,
            "npy_sha1": self.digest.hexdigest(),
        }
        write_checked_json(self.folder / "meta.json", meta)
        replace_folder(self.folder, self.entry)

    def discard(self) -> None:
        """Remove what is left of the temporary folder (all of it if not committed)."""
        self._close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _close(self) -> None:
        if self.handle is not None:
            self.handle.close()
