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
import itertools
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
ATTRS_OF_KEY = ("model", "weights_sha1", "code_sha1", "preprocessing")  # in the assembly


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


def uncached_key(identifier: str, preprocessing: Callable[..., Any]) -> dict[str, Any]:
    """What labels activations that are neither read from nor written to the cache: the
    model and the preprocessing, without hashing weights, code or stimuli."""
    return {"model": identifier, "preprocessing": _callable_key(preprocessing)}


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


@dataclasses.dataclass(frozen=True)
class LayerLayout:
    """A layer's columns: ``shape`` (channels, y, x) of its units, ``projected`` (then
    ``width`` components, not units), ``width``."""

    shape: tuple[int, int, int]
    projected: bool
    width: int


def read_layout(entry: Path) -> LayerLayout:
    """The layout of a verified entry's activations."""
    meta = read_meta(entry) or {}
    width = np.load(entry / "activations.npy", mmap_mode="r").shape[1]
    return LayerLayout(tuple(meta["shape"]), bool(meta["projected"]), int(width))


def build_assembly(
    stimuli: StimulusSet,
    values: np.ndarray,
    layouts: dict[str, LayerLayout],
    key: dict[str, Any],
) -> NeuroidAssembly:
    """The layers' activations as one labelled ``presentation x neuroid`` assembly.

    ``values`` has the stimulus set's rows (a stimulus sharing a file with another
    repeats its row) and the layers' columns in the order of ``layouts``; neuroids are
    labelled by ``layer``, ``channel``, ``channel_y``, ``channel_x`` and ``neuroid_id``.
    The attrs name the model and the preprocessing, and with a cache key (not
    :func:`uncached_key`) the weights' and code's SHA1s.
    """
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
            **{name: key[name] for name in ATTRS_OF_KEY if name in key},
            "stimulus_set_identifier": str(stimuli.identifier),
        },
    )
    return NeuroidAssembly(array.assign_coords(_neuroid_index(layouts)))


def _neuroid_index(layouts: dict[str, LayerLayout]) -> xr.Coordinates:
    """The neuroid MultiIndex, built from each level's sorted uniques and codes.

    What ``set_index`` would build, without factorizing and sorting every level (1 s for
    a few hundred thousand neuroids): the codes are known. ``channel``, ``channel_y`` and
    ``channel_x`` take every value from 0 to their largest, so each is its own code;
    ``neuroid_id`` ('<layer>.<flat index>') is unique, its code is its rank among all ids
    in string order. Fixed-width strings, not objects: xarray copies them as one block.
    """
    names = list(layouts)
    layer_codes, units = [], {"channel": [], "channel_y": [], "channel_x": []}
    for number, layout in enumerate(layouts.values()):
        n = layout.width
        layer_codes.append(np.full(n, number))
        if layout.projected:
            channel, y, x = np.arange(n), np.zeros(n, np.int64), np.zeros(n, np.int64)
        else:
            channel, y, x = np.unravel_index(np.arange(n), layout.shape)
        units["channel"].append(channel)
        units["channel_y"].append(y)
        units["channel_x"].append(x)
    layer_order = np.argsort(np.array(names))
    layer_rank = np.empty(len(names), np.int64)
    layer_rank[layer_order] = np.arange(len(names))
    levels = [np.array(names)[layer_order]]
    codes = [layer_rank[np.concatenate(layer_codes)]]
    for parts in units.values():
        column = np.concatenate(parts).astype(np.int64)
        levels.append(np.arange(int(column.max()) + 1))
        codes.append(column)
    id_levels, id_codes = _neuroid_ids({layer: layout.width for layer, layout in layouts.items()})
    levels.append(id_levels)
    codes.append(id_codes)
    level_names = ["layer", "channel", "channel_y", "channel_x", "neuroid_id"]
    index = pd.MultiIndex(levels=levels, codes=codes, names=level_names, verify_integrity=False)
    dtypes = dict(zip(level_names, [level.dtype for level in levels], strict=True))
    return xr.Coordinates.from_xindex(
        PandasMultiIndex(index, "neuroid", level_coords_dtype=dtypes)
    )


def _neuroid_ids(widths: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The sorted ids '<layer>.<i>' of every layer's units, and each unit's rank among them.

    The ids of one layer sort as their numbers' digit strings do, so each layer's ranks
    come from an integer sort; the layers' blocks follow the order of their '<layer>.'
    prefixes, unless one prefix starts another ('a.' and 'a.b.'), when ids of the two
    interleave and all are sorted as strings.
    """
    prefixes = {layer: f"{layer}." for layer in widths}
    ordered = sorted(widths, key=prefixes.__getitem__)
    if any(prefixes[b].startswith(prefixes[a]) for a, b in itertools.pairwise(ordered)):
        ids = np.concatenate([
            np.char.add(prefixes[layer], np.arange(n).astype(str)) for layer, n in widths.items()
        ])
        return np.unique(ids, return_inverse=True)
    length = max(len(prefixes[layer]) + len(str(max(n - 1, 0))) for layer, n in widths.items())
    sorted_ids = np.zeros((sum(widths.values()), length), dtype=np.uint32)
    ranks, offset = {}, 0
    for layer in ordered:
        n, prefix = widths[layer], prefixes[layer]
        order = np.argsort(_digit_string_keys(n), kind="stable")
        block = sorted_ids[offset : offset + n]
        block[:, : len(prefix)] = np.frombuffer(prefix.encode("utf-32-le"), dtype=np.uint32)
        block[:, len(prefix) :][:, : len(str(max(n - 1, 0)))] = _digit_codepoints(order)
        ranks[layer] = np.empty(n, dtype=np.int64)
        ranks[layer][order] = np.arange(offset, offset + n)
        offset += n
    levels = sorted_ids.view(f"<U{length}").reshape(-1)
    return levels, np.concatenate([ranks[layer] for layer in widths])


def _digit_string_keys(n: int) -> np.ndarray:
    """Integers ordering 0 .. n-1 as their decimal strings sort ('10' before '2'): each
    digit counts as itself + 1, left-aligned in base 11, so a missing digit (0) sorts first."""
    numbers = np.arange(n, dtype=np.int64)
    width = len(str(max(n - 1, 0)))
    lengths = np.ones(n, dtype=np.int64)
    for power in range(1, width):
        lengths += numbers >= 10**power
    keys = np.zeros(n, dtype=np.int64)
    for position in range(width):
        shift = lengths - 1 - position
        digit = numbers // 10 ** np.maximum(shift, 0) % 10
        keys = keys * 11 + np.where(shift >= 0, digit + 1, 0)
    return keys


def _digit_codepoints(numbers: np.ndarray) -> np.ndarray:
    """The decimal digits of each number as UTF-32 code points, left-aligned, 0-padded."""
    width = len(str(max(int(numbers.max(initial=0)), 0)))
    lengths = np.ones(len(numbers), dtype=np.int64)
    for power in range(1, width):
        lengths += numbers >= 10**power
    points = np.zeros((len(numbers), width), dtype=np.uint32)
    for position in range(width):
        shift = lengths - 1 - position
        digit = numbers // 10 ** np.maximum(shift, 0) % 10
        points[:, position] = np.where(shift >= 0, ord("0") + digit, 0)
    return points


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
        self.layout: LayerLayout | None = None
        self.digest = hashlib.sha1()
        self.size = 0

    def open(self, layout: LayerLayout) -> None:
        """Start the file: ``layout.width`` columns per row."""
        self.layout = layout
        self.handle = open(self.folder / "activations.npy", "wb")  # noqa: SIM115
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (self.n_rows, layout.width)}
        )
        self._append(header.getbuffer())

    def write(self, batch: np.ndarray) -> None:
        """Append a batch's rows (``N x width``, projected already if the layer is)."""
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
            "shape": list(self.layout.shape),
            "projected": self.layout.projected,
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
