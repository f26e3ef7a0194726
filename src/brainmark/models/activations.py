"""Activations of a PyTorch module's layers for a stimulus set, streamed to an on-disk cache.

:func:`extract_activations` runs the module over the stimuli in batches with forward
hooks on the requested layers. Images are decoded and preprocessed in worker processes
(a :class:`torch.utils.data.DataLoader`) while the module runs under
:func:`torch.inference_mode` on the GPU when there is one. Each batch's activations are
appended to one float32 ``.npy`` file per layer, so memory holds a batch, never the whole
set; a wide layer can be reduced first by a :class:`RandomProjection` or
:class:`PCAProjection`.

Each layer's file is a cache entry under ``<home>/cache/activations``, keyed by content:
the model identifier, a SHA1 of its weights, of its structure and code
(:func:`~brainmark.models._keys.module_code_sha1`), of brainmark's own code, the
preprocessing (its configuration and code), the stimuli (the SHA1 of every file's bytes),
the layer and the projection: a changed model or image never reads stale activations. An
entry is written in a temporary folder and renamed into place only when complete, so a
failure (an unreadable image, a forward error) leaves no half-written entry. Its
``meta.json`` records the SHA1 of the ``.npy`` file and its own checksum; both are verified
whenever the entry is read, and a damaged entry is reported and recomputed.

Rows are stored once per distinct image file (stimuli sharing a file are computed once),
ordered by stimulus id, so the same images in another order reuse the entry.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import inspect
import io
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
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
from brainmark.data.images import open_image
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, SettingsError, ValidationError
from brainmark.models._keys import module_code_sha1, weights_sha1
from brainmark.settings import get_settings

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CACHE_FORMAT = 2


@dataclasses.dataclass(frozen=True)
class ImagePreprocessing:
    """Decode an image file into a normalized ``channels x size x size`` float tensor.

    The image is converted to RGB (or grayscale), resized to ``size x size`` (bilinear;
    stimuli are square once placed on screen) and normalized per channel. Being a frozen
    dataclass, it pickles to worker processes and its ``repr`` is a stable cache key.

    It works in two stages, which the extractor runs apart: ``decode`` (file -> uint8
    tensor) in the worker processes, ``transform_batch`` (scaling and normalization of a
    whole batch) on the model's device, where it costs next to nothing; a quarter of the
    bytes cross between processes. Calling it does both for one image.
    """

    size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    grayscale: bool = False

    def __call__(self, path: str | Path) -> torch.Tensor:
        return self.transform_batch(self.decode(path)[None])[0]

    def decode(self, path: str | Path) -> torch.Tensor:
        """The image as a ``channels x size x size`` uint8 tensor."""
        image = open_image(path).convert("L" if self.grayscale else "RGB")  # within the budget
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.array(array, order="C"))  # a writable copy

    def transform_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Decoded uint8 images ``N x C x H x W`` -> normalized float32 on the same device."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=batch.device)
        std = torch.tensor(self.std, dtype=torch.float32, device=batch.device)
        scale = (1 / (255 * std))[:, None, None]
        return batch.float().mul_(scale).sub_((mean / std)[:, None, None])


@dataclasses.dataclass(frozen=True)
class RandomProjection:
    """Reduce layers wider than ``n_components`` by a seeded sparse random projection.

    A very sparse random projection (Li, Hastie & Church 2006): each entry of the
    ``features x n_components`` matrix is +-sqrt(s / n_components) with probability 1/(2s)
    each and 0 otherwise, s = sqrt(features). It preserves pairwise distances up to a
    small distortion (Johnson-Lindenstrauss), needs no fitting data, and its matrix has
    only about ``n_components x sqrt(features)`` non-zeros however wide the layer. The
    matrix depends only on the seed, the layer name and its width.
    """

    n_components: int = 1000
    seed: int = 0

    def key(self) -> str:
        return repr(self)

    def projector(
        self, layer: str, n_features: int, fitting: Callable[[], np.ndarray] | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        from scipy import sparse

        rng = np.random.default_rng([self.seed, zlib.crc32(layer.encode()), n_features])
        density = 1 / np.sqrt(n_features)
        counts = rng.binomial(n_features, density, size=self.n_components)
        # Rows drawn with replacement: with ~sqrt(features) draws among `features` rows a
        # repeat is rare, and a repeated row merely doubles that entry.
        rows = rng.integers(0, n_features, size=counts.sum())
        columns = np.repeat(np.arange(self.n_components), counts)
        values = rng.choice(np.array([-1.0, 1.0], np.float32), size=counts.sum())
        values *= np.float32(np.sqrt(1 / (density * self.n_components)))
        matrix = sparse.csr_matrix(
            (values, (rows, columns)), shape=(n_features, self.n_components), dtype=np.float32
        )
        transposed = matrix.T.tocsr()  # sparse x dense is the fast direction in scipy
        return lambda batch: np.asarray((transposed @ batch.T).T, dtype=np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class PCAProjection:
    """Reduce layers wider than ``n_components`` to their principal components.

    The components are fitted on the activations of ``fitting_stimuli`` (a fixed set, e.g.
    a few hundred natural images), held in memory while fitting: that costs
    ``len(fitting_stimuli) x features x 4`` bytes per layer. Prefer
    :class:`RandomProjection` for very wide layers.
    """

    fitting_stimuli: StimulusSet
    n_components: int = 1000

    def key(self) -> str:
        fitting = stimulus_set_sha1(self.fitting_stimuli)
        return f"PCAProjection(n_components={self.n_components}, fitting={fitting})"

    def projector(
        self, layer: str, n_features: int, fitting: Callable[[], np.ndarray] | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        from sklearn.decomposition import PCA

        if fitting is None:
            raise ModelError("PCAProjection needs the activations of its fitting stimuli.")
        data = fitting()
        pca = PCA(n_components=min(self.n_components, *data.shape), random_state=0)
        pca.fit(data)
        mean = pca.mean_.astype(np.float32)
        components = pca.components_.T.astype(np.float32)
        return lambda batch: (batch - mean) @ components


Projection = RandomProjection | PCAProjection


def extract_activations(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    *,
    preprocessing: Callable[[str | Path], torch.Tensor] | None = None,
    identifier: str | None = None,
    projection: Projection | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    device: str | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> NeuroidAssembly:
    """Activations of ``layers`` of ``module`` for every stimulus, as a labelled assembly.

    Parameters
    ----------
    module
        Any :class:`torch.nn.Module` taking a batch ``N x C x H x W``. It is put in eval
        mode for the extraction (its mode is restored afterwards) and moved to the device.
    stimuli
        A :class:`~brainmark.data.StimulusSet` whose ``stimulus_paths`` name the files.
    layers
        Names from ``module.named_modules()``; the output of each is recorded (for a
        module called several times per forward pass, its last call).
    preprocessing
        Picklable callable: image path -> ``C x H x W`` tensor, run in worker processes
        (if it has ``decode`` and ``transform_batch`` methods, as
        :class:`ImagePreprocessing` does, only ``decode`` runs there and
        ``transform_batch`` runs on each batch on the device). Its ``repr`` (or source,
        for a function) is part of the cache key. Default :class:`ImagePreprocessing`
        (224 px, ImageNet normalization).
    identifier
        Model name for the cache and errors; default the module's class name.
    projection
        Optional :class:`RandomProjection` or :class:`PCAProjection` for wide layers.
    batch_size, num_workers, device
        Default to the settings ``batch_size``, ``num_workers`` and ``device``.
    use_cache
        Read and write the on-disk cache; if False, a temporary folder is used and removed.
        With the setting ``reuse_cache`` false, cached entries are not read but recomputed
        and replaced.
    progress
        Show a progress bar over batches.

    Returns
    -------
    NeuroidAssembly
        ``presentation x neuroid`` (float32). Presentation coords: the stimulus set's
        columns, in its row order. Neuroid coords: ``layer``, ``channel``, ``channel_y``,
        ``channel_x`` (0 for a layer without spatial dims; after a projection ``channel``
        is the component), ``neuroid_id`` (``'<layer>.<flat index>'``).
    """
    root = None if use_cache else Path(tempfile.mkdtemp())
    try:
        files, entries, key_parts = _cached_entries(
            module, stimuli, layers, root=root, preprocessing=preprocessing,
            identifier=identifier, projection=projection, batch_size=batch_size,
            num_workers=num_workers, device=device, progress=progress,
        )
        return _assembly(stimuli, files, entries, key_parts)
    finally:
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


def cache_activations(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    *,
    preprocessing: Callable[[str | Path], torch.Tensor] | None = None,
    identifier: str | None = None,
    projection: Projection | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Make sure the layers' activations are in the cache; return each layer's ``.npy`` file.

    Like :func:`extract_activations` (same arguments) without loading anything: for
    outputs larger than memory, read them with ``numpy.load(path, mmap_mode='r')``. Each
    file has one float32 row per distinct image file, ordered by the smallest stimulus id
    showing it (for a set without shared files: the sorted stimulus ids), and one column
    per unit in (channel, y, x) order, or per component after a projection.
    """
    _, entries, _ = _cached_entries(
        module, stimuli, layers, root=None, preprocessing=preprocessing,
        identifier=identifier, projection=projection, batch_size=batch_size,
        num_workers=num_workers, device=device, progress=progress,
    )
    return {layer: entry / "activations.npy" for layer, entry in entries.items()}


def _cached_entries(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    *,
    root: Path | None,
    preprocessing: Callable[[str | Path], torch.Tensor] | None,
    identifier: str | None,
    projection: Projection | None,
    batch_size: int | None,
    num_workers: int | None,
    device: str | None,
    progress: bool,
) -> tuple[_Files, dict[str, Path], dict[str, Any]]:
    """Validate, key, and extract the layers missing from the cache under ``root``."""
    identifier = identifier or type(module).__qualname__
    preprocessing = preprocessing if preprocessing is not None else ImagePreprocessing()
    layers = validate_layers(module, layers, identifier=identifier)
    files = _distinct_files(stimuli)
    settings = get_settings()
    root = root if root is not None else settings.activations_dir
    key_parts = {
        "format": _CACHE_FORMAT,
        "model": identifier,
        "weights_sha1": weights_sha1(module),
        "code_sha1": module_code_sha1(module),
        "library_sha1": library_sha1(),
        "preprocessing": _callable_key(preprocessing),
        "stimuli": stimulus_set_sha1(stimuli),
        "projection": projection.key() if projection is not None else None,
    }
    entries = {layer: _entry_folder(root, identifier, key_parts, layer) for layer in layers}
    missing = [
        layer for layer in layers
        if not (settings.reuse_cache and _is_verified(entries[layer], len(files.paths)))
    ]
    if missing:
        fitting = None
        if isinstance(projection, PCAProjection):
            fitting = _fitting_activations(
                module, projection, missing, preprocessing, identifier, batch_size,
                num_workers, device, progress,
            )
        _stream_to_cache(
            module,
            files,
            {layer: entries[layer] for layer in missing},
            key_parts,
            preprocessing=preprocessing,
            identifier=identifier,
            projection=projection,
            fitting=fitting,
            batch_size=batch_size or settings.batch_size,
            num_workers=_resolve_workers(num_workers, settings.num_workers),
            device=resolve_device(device or settings.device),
            progress=progress,
        )
    return files, entries, key_parts


def validate_layers(
    module: torch.nn.Module, layers: Sequence[str], *, identifier: str
) -> list[str]:
    """The layer names as a list, or a ModelError naming the unknown ones and the valid ones."""
    if isinstance(layers, str) or not layers:
        raise ModelError(
            f"Model {identifier!r}: layers must be a non-empty list of layer names. "
            f"Got {layers!r}."
        )
    layers = [str(layer) for layer in layers]
    duplicated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if duplicated:
        raise ModelError(f"Model {identifier!r}: layers {duplicated} are requested twice.")
    valid = [name for name, _ in module.named_modules() if name]
    unknown = [layer for layer in layers if layer not in valid]
    if unknown:
        close = sorted({m for u in unknown for m in difflib.get_close_matches(u, valid, n=3)})
        hint = f" Did you mean {close}?" if close else ""
        raise ModelError(
            f"Model {identifier!r} has no layer {', '.join(map(repr, unknown))}.{hint} "
            f"Valid layers: {valid}."
        )
    return layers


# --- stimuli ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Files:
    """Distinct image files (the cache rows) and the row of every stimulus in set order."""

    paths: list[Path]
    row_ids: list[str]  # first stimulus id of each row, for error messages
    rows: np.ndarray  # one per stimulus set row


def _distinct_files(stimuli: StimulusSet) -> _Files:
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
    return _Files(list(row_of_path), row_ids, rows)


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


# --- extraction --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _DecodeFailure:
    stimulus_id: str
    path: str
    message: str


class _ImageFiles(Dataset):
    """Decodes one image per index; a failure is returned (picklable), not raised."""

    def __init__(self, files: _Files, decode: Callable[[Path], torch.Tensor]) -> None:
        self.files = files
        self.decode = decode

    def __len__(self) -> int:
        return len(self.files.paths)

    def __getitem__(self, index: int) -> torch.Tensor | _DecodeFailure:
        path = self.files.paths[index]
        try:
            return self.decode(path)
        except Exception as error:
            return _DecodeFailure(
                self.files.row_ids[index], str(path), f"{type(error).__name__}: {error}"
            )


def _collate(items: list[Any]) -> torch.Tensor | _DecodeFailure:
    for item in items:
        if isinstance(item, _DecodeFailure):
            return item
    return torch.stack(items)


class _LayerWriter:
    """Appends one layer's batches to a ``.npy`` file whose header announces all rows.

    The file's SHA1 and size are computed as it is written, for the entry's checksum.
    """

    def __init__(self, folder: Path, n_rows: int) -> None:
        self.folder = folder
        self.n_rows = n_rows
        self.handle: Any = None
        self.projector: Callable[[np.ndarray], np.ndarray] | None = None
        self.shape: tuple[int, ...] = ()
        self.projected = False
        self.digest = hashlib.sha1()
        self.size = 0

    def open(self, shape: tuple[int, ...], projector: Callable | None, width: int) -> None:
        self.shape, self.projector = shape, projector
        self.projected = projector is not None
        self.handle = open(self.folder / "activations.npy", "wb")  # noqa: SIM115
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (self.n_rows, width)}
        )
        self._append(header.getbuffer())

    def write(self, batch: np.ndarray) -> None:
        if self.projector is not None:
            batch = self.projector(batch)
        self._append(np.ascontiguousarray(batch, dtype="<f4").data)

    def _append(self, data: memoryview) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += data.nbytes

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _stream_to_cache(
    module: torch.nn.Module,
    files: _Files,
    entries: dict[str, Path],
    key_parts: dict[str, Any],
    *,
    preprocessing: Callable,
    identifier: str,
    projection: Projection | None,
    fitting: dict[str, np.ndarray] | None,
    batch_size: int,
    num_workers: int,
    device: torch.device,
    progress: bool,
) -> None:
    """Run the module over all files once, writing each layer into a temporary entry."""
    n_batches = -(-len(files.paths) // batch_size)
    # Worker processes cost a start-up; one batch is decoded faster in this process.
    workers = num_workers if n_batches > 1 else 0
    loader = DataLoader(
        _ImageFiles(files, getattr(preprocessing, "decode", preprocessing)),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
    )
    # A two-stage preprocessing (decode, transform_batch) finishes on the device.
    transform = getattr(preprocessing, "transform_batch", lambda batch: batch)
    modules = dict(module.named_modules())
    captured: dict[str, torch.Tensor] = {}

    def hook_for(layer: str) -> Callable:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            output = output[0] if isinstance(output, tuple | list) else output
            # A copy: a later in-place operation (ReLU(inplace=True) after a conv) must
            # not change what was recorded. Peak memory is unchanged, as the original is
            # freed once the forward pass is done with it.
            if isinstance(output, torch.Tensor):
                output = output.detach().clone()
            captured[layer] = output

        return hook

    temporary = {}
    writers = {}
    handles = []
    was_training = module.training
    try:
        for layer, entry in entries.items():
            entry.parent.mkdir(parents=True, exist_ok=True)
            temporary[layer] = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
            writers[layer] = _LayerWriter(temporary[layer], len(files.paths))
            handles.append(modules[layer].register_forward_hook(hook_for(layer)))
        module.eval().to(device)
        start = 0
        bar = tqdm(loader, total=n_batches, desc=f"{identifier} activations", unit="batch",
                   disable=not progress, leave=False)
        with torch.inference_mode():
            for batch in bar:
                if isinstance(batch, _DecodeFailure):
                    raise ModelError(
                        f"Stimulus {batch.stimulus_id!r} could not be decoded from "
                        f"{batch.path}: {batch.message}. Replace or remove the file, or fix "
                        f"the preprocessing."
                    )
                captured.clear()
                try:
                    module(transform(batch.to(device, non_blocking=True)))
                except Exception as error:
                    ids = files.row_ids[start : start + len(batch)]
                    raise ModelError(
                        f"Model {identifier!r} failed in its forward pass on a batch of "
                        f"{len(batch)} stimuli (first: {ids[:3]}), input shape "
                        f"{tuple(batch.shape)}: {type(error).__name__}: {error}"
                    ) from error
                for layer, writer in writers.items():
                    output = captured.get(layer)
                    if not isinstance(output, torch.Tensor):
                        raise ModelError(
                            f"Model {identifier!r}: layer {layer!r} was not called in the "
                            f"forward pass or did not return a tensor; choose another layer."
                        )
                    values = output.detach().float().reshape(len(batch), -1).cpu().numpy()
                    if writer.handle is None:
                        _open_writer(writer, layer, output, projection, fitting)
                    writer.write(values)
                start += len(batch)
        for layer, writer in writers.items():
            writer.close()
            meta = {
                **key_parts,
                "layer": layer,
                "rows": len(files.paths),
                "row_ids": files.row_ids,
                "shape": list(writer.shape),
                "projected": writer.projected,
                "npy_bytes": writer.size,
                "npy_sha1": writer.digest.hexdigest(),
            }
            write_checked_json(temporary[layer] / "meta.json", meta)
            replace_folder(temporary[layer], entries[layer])
    finally:
        for handle in handles:
            handle.remove()
        for writer in writers.values():
            writer.close()
        for folder in temporary.values():
            shutil.rmtree(folder, ignore_errors=True)
        module.train(was_training)


def _open_writer(
    writer: _LayerWriter,
    layer: str,
    output: torch.Tensor,
    projection: Projection | None,
    fitting: dict[str, np.ndarray] | None,
) -> None:
    shape = _unit_shape(output)
    width = int(np.prod(shape))
    projector = None
    if projection is not None and width > projection.n_components:
        data = fitting.get(layer) if fitting else None
        projector = projection.projector(layer, width, (lambda: data) if data is not None else None)
        width = int(projector(np.zeros((1, int(np.prod(shape))), np.float32)).shape[1])
    writer.open(shape, projector, width)


def _unit_shape(output: torch.Tensor) -> tuple[int, int, int]:
    """(channels, y, x) of one stimulus's output; 1 for missing spatial dims."""
    shape = tuple(output.shape[1:])
    if len(shape) == 1:
        return (shape[0], 1, 1)
    if len(shape) == 2:
        return (shape[0], 1, shape[1])
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    return (shape[0], 1, int(np.prod(shape[1:])))


def _fitting_activations(
    module: torch.nn.Module,
    projection: PCAProjection,
    layers: list[str],
    preprocessing: Callable,
    identifier: str,
    batch_size: int | None,
    num_workers: int | None,
    device: str | None,
    progress: bool,
) -> dict[str, np.ndarray]:
    assembly = extract_activations(
        module, projection.fitting_stimuli, layers, preprocessing=preprocessing,
        identifier=identifier, batch_size=batch_size, num_workers=num_workers, device=device,
        progress=progress,
    )
    layer_of = assembly["layer"].values
    return {layer: np.asarray(assembly.values[:, layer_of == layer]) for layer in layers}


# --- cache entries -----------------------------------------------------------------------


def _entry_folder(root: Path, identifier: str, key_parts: dict[str, Any], layer: str) -> Path:
    key = json.dumps({**key_parts, "layer": layer}, sort_keys=True)
    return root / safe_file_name(identifier) / hashlib.sha1(key.encode()).hexdigest()


def _read_meta(entry: Path) -> dict[str, Any] | None:
    meta = read_checked_json(entry / "meta.json", what="activations metadata")
    return meta if isinstance(meta, dict) else None


def _is_verified(entry: Path, n_rows: int) -> bool:
    """Whether an entry exists, is complete and its ``.npy`` still has the recorded SHA1.

    A damaged entry (edited, truncated, half-copied) is reported with a
    :class:`~brainmark.exceptions.CacheIntegrityWarning` naming the bad file.
    """
    if not entry.exists():
        return False
    meta = _read_meta(entry)
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


def _assembly(
    stimuli: StimulusSet, files: _Files, entries: dict[str, Path], key_parts: dict[str, Any]
) -> NeuroidAssembly:
    metas = {layer: _read_meta(entry) or {} for layer, entry in entries.items()}
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
            "model": key_parts["model"],
            "weights_sha1": key_parts["weights_sha1"],
            "code_sha1": key_parts["code_sha1"],
            "preprocessing": key_parts["preprocessing"],
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


def _resolve_workers(requested: int | None, setting: int) -> int:
    workers = setting if requested is None else requested
    return min(os.cpu_count() or 1, 8) if workers < 0 else workers


def resolve_device(name: str | None = None) -> torch.device:
    """The torch device for ``name`` (default: the ``device`` setting), checked up front.

    Asking for a GPU that torch cannot use is a :class:`~brainmark.exceptions.
    SettingsError` saying what to set, not a torch error in the middle of a run.
    """
    name = name or get_settings().device
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SettingsError(
                f"Device {name!r} was asked for (setting 'device', BRAINMARK_DEVICE) but torch "
                f"sees no usable GPU (torch {torch.__version__}, CUDA build: "
                f"{torch.version.cuda or 'no'}). Set BRAINMARK_DEVICE=auto or cpu."
            )
        index = torch.device(name).index
        if index is not None and index >= torch.cuda.device_count():
            raise SettingsError(
                f"Device {name!r} was asked for but torch sees {torch.cuda.device_count()} "
                f"GPU(s). Set BRAINMARK_DEVICE to cuda:0 .. cuda:{torch.cuda.device_count() - 1}."
            )
    return torch.device(name)


class ActivationsModel:
    """A PyTorch module with its preprocessing and name: ``model(stimuli, layers)``.

    The unit :class:`~brainmark.models.ModelCommitment` commits to brain regions and
    behavior; calling it is :func:`extract_activations` with the stored configuration.

    Parameters
    ----------
    identifier
        Unique model name (the cache key's first part).
    module
        The network; layers are names from ``module.named_modules()``.
    preprocessing
        Image path -> tensor, see :func:`extract_activations`.
    projection
        Optional reduction of wide layers, see :func:`extract_activations`.
    """

    def __init__(
        self,
        identifier: str,
        module: torch.nn.Module,
        *,
        preprocessing: Callable[[str | Path], torch.Tensor] | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.identifier = identifier
        self.module = module
        self.preprocessing = preprocessing if preprocessing is not None else ImagePreprocessing()
        self.projection = projection

    @property
    def layers(self) -> list[str]:
        """Every named submodule, in definition order."""
        return [name for name, _ in self.module.named_modules() if name]

    def __call__(self, stimuli: StimulusSet, layers: Sequence[str]) -> NeuroidAssembly:
        return extract_activations(
            self.module,
            stimuli,
            layers,
            preprocessing=self.preprocessing,
            identifier=self.identifier,
            projection=self.projection,
        )

    def __repr__(self) -> str:
        return f"ActivationsModel({self.identifier!r}, {type(self.module).__name__})"
