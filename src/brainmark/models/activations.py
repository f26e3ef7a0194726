"""Activations of a PyTorch module's layers for a stimulus set, streamed to an on-disk cache.

:func:`extract_activations` runs the module over the stimuli in batches with forward
hooks on the requested layers. Images are decoded and preprocessed in worker processes
(a :class:`torch.utils.data.DataLoader`) while the module runs under
:func:`torch.inference_mode` on the GPU when there is one. Each batch's activations are
appended to one float32 ``.npy`` file per layer, so memory holds a batch, never the whole
set; a wide layer can be reduced first by a :class:`~brainmark.models.RandomProjection`
or :class:`~brainmark.models.PCAProjection`.

Each layer's file is an entry of the activations cache, keyed by content and verified
when read (:mod:`brainmark.models._activation_cache`): only the layers missing from it
are extracted.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from brainmark.data.assemblies import NeuroidAssembly
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, SettingsError
from brainmark.models._activation_cache import (
    EntryWriter,
    StimulusFiles,
    cache_key,
    distinct_files,
    entry_folder,
    is_verified,
    read_assembly,
)
from brainmark.models.preprocessing import ImagePreprocessing
from brainmark.models.projections import PCAProjection, Projection
from brainmark.settings import get_settings


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
        :class:`~brainmark.models.ImagePreprocessing` does, only ``decode`` runs there and
        ``transform_batch`` runs on each batch on the device). Its ``repr`` (or source,
        for a function) is part of the cache key. Default
        :class:`~brainmark.models.ImagePreprocessing` (224 px, ImageNet normalization).
    identifier
        Model name for the cache and errors; default the module's class name.
    projection
        Optional :class:`~brainmark.models.RandomProjection` or
        :class:`~brainmark.models.PCAProjection` for wide layers.
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
    options = _ExtractionOptions(
        preprocessing=preprocessing, identifier=identifier, projection=projection,
        batch_size=batch_size, num_workers=num_workers, device=device, progress=progress,
    )
    root = None if use_cache else Path(tempfile.mkdtemp())
    try:
        return _extract(module, stimuli, layers, options, root=root)
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
    options = _ExtractionOptions(
        preprocessing=preprocessing, identifier=identifier, projection=projection,
        batch_size=batch_size, num_workers=num_workers, device=device, progress=progress,
    )
    _, entries, _ = _cached_entries(module, stimuli, layers, options, root=None)
    return {layer: entry / "activations.npy" for layer, entry in entries.items()}


@dataclasses.dataclass(frozen=True)
class _ExtractionOptions:
    """How to extract: the keyword arguments of :func:`extract_activations` but ``use_cache``.

    None means the default: for ``identifier`` and ``preprocessing`` see
    :meth:`for_module`, the others come from the settings when the module runs.
    """

    preprocessing: Callable[[str | Path], torch.Tensor] | None = None
    identifier: str | None = None
    projection: Projection | None = None
    batch_size: int | None = None
    num_workers: int | None = None
    device: str | None = None
    progress: bool = True

    def for_module(self, module: torch.nn.Module) -> _ExtractionOptions:
        """These options with the model's name and preprocessing filled in."""
        return dataclasses.replace(
            self,
            identifier=self.identifier or type(module).__qualname__,
            preprocessing=(
                self.preprocessing if self.preprocessing is not None else ImagePreprocessing()
            ),
        )


def _extract(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    options: _ExtractionOptions,
    *,
    root: Path | None,
) -> NeuroidAssembly:
    files, entries, key = _cached_entries(module, stimuli, layers, options, root=root)
    return read_assembly(stimuli, files, entries, key)


def _cached_entries(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    options: _ExtractionOptions,
    *,
    root: Path | None,
) -> tuple[StimulusFiles, dict[str, Path], dict[str, Any]]:
    """Validate, key, and extract the layers missing from the cache under ``root``.

    ``root`` None is the settings' activations folder.
    """
    options = options.for_module(module)
    layers = validate_layers(module, layers, identifier=options.identifier)
    files = distinct_files(stimuli)
    settings = get_settings()
    root = root if root is not None else settings.activations_dir
    key = cache_key(
        module, stimuli, identifier=options.identifier, preprocessing=options.preprocessing,
        projection=options.projection,
    )
    entries = {layer: entry_folder(root, key, layer) for layer in layers}
    missing = [
        layer for layer in layers
        if not (settings.reuse_cache and is_verified(entries[layer], len(files.paths)))
    ]
    if missing:
        fitting = None
        if isinstance(options.projection, PCAProjection):
            fitting = _fitting_activations(module, options.projection, missing, options)
        _stream_to_cache(
            module, files, {layer: entries[layer] for layer in missing}, key, options, fitting
        )
    return files, entries, key


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


# --- decoding in worker processes, the forward pass with hooks ------------------------------


@dataclasses.dataclass(frozen=True)
class _DecodeFailure:
    stimulus_id: str
    path: str
    message: str


class _ImageFiles(Dataset):
    """Decodes one image per index; a failure is returned (picklable), not raised."""

    def __init__(self, files: StimulusFiles, decode: Callable[[Path], torch.Tensor]) -> None:
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


def _stream_to_cache(
    module: torch.nn.Module,
    files: StimulusFiles,
    entries: dict[str, Path],
    key: dict[str, Any],
    options: _ExtractionOptions,
    fitting: dict[str, np.ndarray] | None,
) -> None:
    """Run the module over all files once, writing each layer's entry."""
    settings = get_settings()
    batch_size = options.batch_size or settings.batch_size
    device = resolve_device(options.device or settings.device)
    n_batches = -(-len(files.paths) // batch_size)
    # Worker processes cost a start-up; one batch is decoded faster in this process.
    workers = _resolve_workers(options.num_workers, settings.num_workers) if n_batches > 1 else 0
    preprocessing = options.preprocessing
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

    writers: dict[str, EntryWriter] = {}
    handles = []
    was_training = module.training
    try:
        for layer, entry in entries.items():
            writers[layer] = EntryWriter(entry, len(files.paths))
            handles.append(modules[layer].register_forward_hook(hook_for(layer)))
        module.eval().to(device)
        start = 0
        bar = tqdm(loader, total=n_batches, desc=f"{options.identifier} activations",
                   unit="batch", disable=not options.progress, leave=False)
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
                        f"Model {options.identifier!r} failed in its forward pass on a batch "
                        f"of {len(batch)} stimuli (first: {ids[:3]}), input shape "
                        f"{tuple(batch.shape)}: {type(error).__name__}: {error}"
                    ) from error
                for layer, writer in writers.items():
                    output = captured.get(layer)
                    if not isinstance(output, torch.Tensor):
                        raise ModelError(
                            f"Model {options.identifier!r}: layer {layer!r} was not called in "
                            f"the forward pass or did not return a tensor; choose another layer."
                        )
                    values = output.detach().float().reshape(len(batch), -1).cpu().numpy()
                    if writer.handle is None:
                        _open_writer(writer, layer, output, options.projection, fitting)
                    writer.write(values)
                start += len(batch)
        for layer, writer in writers.items():
            writer.commit(
                {**key, "layer": layer, "rows": len(files.paths), "row_ids": files.row_ids}
            )
    finally:
        for handle in handles:
            handle.remove()
        for writer in writers.values():
            writer.discard()
        module.train(was_training)


def _open_writer(
    writer: EntryWriter,
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
    options: _ExtractionOptions,
) -> dict[str, np.ndarray]:
    """Each layer's activations for the PCA's fitting stimuli, unprojected and cached."""
    unprojected = dataclasses.replace(options, projection=None)
    assembly = _extract(module, projection.fitting_stimuli, layers, unprojected, root=None)
    layer_of = assembly["layer"].values
    return {layer: np.asarray(assembly.values[:, layer_of == layer]) for layer in layers}


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
