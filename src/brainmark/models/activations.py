"""Activations of a PyTorch module's layers for a stimulus set, cached on disk.

:func:`extract_activations` runs the module over the stimuli in batches with forward
hooks on the requested layers, under :func:`torch.inference_mode` on the GPU when there is
one. Images are decoded by a pool of threads of this process that lives across calls (the
decoding is C code that releases the GIL): on the CPU between forward passes, with as many
threads as torch computes with, so the two never compete for cores; on a GPU one batch
ahead, overlapping the forward pass. ``num_workers`` > 0 asks for worker processes instead
(a :class:`torch.utils.data.DataLoader`), 0 for decoding in the calling thread.

Each hook copies its layer's output straight into the returned assembly's values (a wide
layer reduced first by a :class:`~brainmark.models.RandomProjection` or
:class:`~brainmark.models.PCAProjection`); with the cache in use, each batch is also
appended to one float32 ``.npy`` file per layer, an entry of the activations cache keyed by
content and verified when read (:mod:`brainmark.models._activation_cache`): only the
layers missing from it are extracted. :func:`cache_activations` only streams to those
files, so its memory holds a batch, never the whole set.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
    LayerLayout,
    StimulusFiles,
    build_assembly,
    cache_key,
    distinct_files,
    entry_folder,
    is_verified,
    read_layout,
    uncached_key,
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
        Callable: image path -> ``C x H x W`` tensor, run by the decoding threads (or worker
        processes: then picklable). If it has ``decode`` and ``transform_batch`` methods, as
        :class:`~brainmark.models.ImagePreprocessing` does, only ``decode`` runs there and
        ``transform_batch`` runs on each batch on the device. Its ``repr`` (or source,
        for a function) is part of the cache key. Default
        :class:`~brainmark.models.ImagePreprocessing` (224 px, ImageNet normalization).
    identifier
        Model name for the cache and errors; default the module's class name.
    projection
        Optional :class:`~brainmark.models.RandomProjection` or
        :class:`~brainmark.models.PCAProjection` for wide layers.
    batch_size, num_workers, device
        Default to the settings ``batch_size``, ``num_workers`` and ``device``.
        ``num_workers``: -1 decodes in the threads of a pool (see the module's text), 0 in
        the calling thread, N > 0 in N worker processes.
    use_cache
        Read and write the on-disk cache; if False, nothing is read, written or hashed
        (the activations go from the hooks to the assembly). With the setting ``reuse_cache``
        false, cached entries are not read but recomputed and replaced.
    progress
        Show a progress bar over batches.

    Returns
    -------
    NeuroidAssembly
        ``presentation x neuroid`` (float32). Presentation coords: the stimulus set's
        columns, in its row order. Neuroid coords: ``layer``, ``channel``, ``channel_y``,
        ``channel_x`` (0 for a layer without spatial dims; after a projection ``channel``
        is the component), ``neuroid_id`` (``'<layer>.<flat index>'``). Attrs: ``model``,
        ``preprocessing``, ``stimulus_set_identifier`` and, with the cache in use, the
        ``weights_sha1`` and ``code_sha1`` of its key.
    """
    options = _ExtractionOptions(
        preprocessing=preprocessing, identifier=identifier, projection=projection,
        batch_size=batch_size, num_workers=num_workers, device=device, progress=progress,
    )
    return _extract(module, stimuli, layers, options, use_cache=use_cache)


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
    entries = _run(module, stimuli, layers, options, use_cache=True, assemble=False)
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
    use_cache: bool,
) -> NeuroidAssembly:
    return _run(module, stimuli, layers, options, use_cache=use_cache, assemble=True)


def _run(
    module: torch.nn.Module,
    stimuli: StimulusSet,
    layers: Sequence[str],
    options: _ExtractionOptions,
    *,
    use_cache: bool,
    assemble: bool,
) -> Any:
    """Validate, key, read the cached layers and extract the others.

    ``assemble``: return the assembly (the extracted layers go there from the hooks), else
    the entries of the layers in the cache, without loading them.
    """
    options = options.for_module(module)
    layers = validate_layers(module, layers, identifier=options.identifier)
    files = distinct_files(stimuli)
    settings = get_settings()
    batch_size = options.batch_size or settings.batch_size
    device = resolve_device(options.device or settings.device)
    # The first batch is decoded while the key is computed (both release the GIL).
    batches = _DecodedBatches(files, options.preprocessing, batch_size, options.num_workers,
                              device)
    try:
        if use_cache:
            key = cache_key(
                module, stimuli, identifier=options.identifier,
                preprocessing=options.preprocessing, projection=options.projection,
            )
            entries = {
                layer: entry_folder(settings.activations_dir, key, layer) for layer in layers
            }
        else:
            key, entries = uncached_key(options.identifier, options.preprocessing), {}
        cached = [
            layer for layer in layers
            if use_cache and settings.reuse_cache and is_verified(entries[layer], len(files.paths))
        ]
        missing = [layer for layer in layers if layer not in cached]
        output = _Output(files, layers, {layer: read_layout(entries[layer]) for layer in cached})
        if missing:
            fitting = None
            if isinstance(options.projection, PCAProjection):
                fitting = _fitting_activations(module, options.projection, missing, options)
            writers = {layer: entries[layer] for layer in missing} if use_cache else {}
            _stream_to_cache(module, batches, missing, writers, key, options, fitting,
                             output if assemble else None)
    finally:
        batches.close()
    if not assemble:
        return entries
    for layer in cached:
        output.read(layer, entries[layer] / "activations.npy")
    return build_assembly(stimuli, output.values, output.layouts, key)


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


# --- decoding, the forward pass with hooks ----------------------------------------------------


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


_pools: dict[int, tuple[int, ThreadPoolExecutor]] = {}
_pools_lock = threading.Lock()


def _decoding_pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` decoding threads, kept for the next calls in this process.

    A forked child gets a new one: the parent's threads do not exist there.
    """
    with _pools_lock:
        pid, pool = _pools.get(threads, (None, None))
        if pool is None or pid != os.getpid():
            pool = ThreadPoolExecutor(threads, thread_name_prefix="brainmark-decode")
            _pools[threads] = (os.getpid(), pool)
        return pool


class _DecodedBatches:
    """The files' decoded batches in order: uint8 tensors, or a :class:`_DecodeFailure`.

    Decoded by the thread pool (``num_workers`` -1), in the calling thread (0) or by
    worker processes (N > 0). The pool starts on the first batch at once, so it is
    decoded while the caller computes the cache key; on the CPU each later batch is
    decoded when the forward pass of the previous one is done (the forward pass uses every
    core torch is given), on a GPU while it runs.
    """

    def __init__(
        self,
        files: StimulusFiles,
        preprocessing: Callable[[str | Path], torch.Tensor],
        batch_size: int,
        num_workers: int | None,
        device: torch.device,
    ) -> None:
        workers = get_settings().num_workers if num_workers is None else num_workers
        self.images = _ImageFiles(files, getattr(preprocessing, "decode", preprocessing))
        self.starts = range(0, len(files.paths), batch_size)
        self.batch_size = batch_size
        self.processes = workers if workers > 0 else 0
        self.prefetch = device.type == "cuda"
        self.pin_memory = device.type == "cuda"
        self.pending: list[list[Future]] = []
        self.pool = None
        if workers < 0:
            cores = os.cpu_count() or 1
            threads = cores if self.prefetch else min(torch.get_num_threads(), cores)
            self.pool = _decoding_pool(max(1, min(threads, 8)))
            self._submit(0)

    def __len__(self) -> int:
        return len(self.starts)

    def _submit(self, number: int) -> None:
        start = self.starts[number]
        indices = range(start, min(start + self.batch_size, len(self.images)))
        self.pending.append([
            self.pool.submit(contextvars.copy_context().run, self.images.__getitem__, index)
            for index in indices
        ])

    def __iter__(self) -> Iterator[torch.Tensor | _DecodeFailure]:
        if self.processes:
            yield from DataLoader(
                self.images, batch_size=self.batch_size, shuffle=False,
                num_workers=self.processes if len(self) > 1 else 0, collate_fn=_collate,
                pin_memory=self.pin_memory,
            )
            return
        for number, start in enumerate(self.starts):
            if self.pool is None:
                stop = min(start + self.batch_size, len(self.images))
                yield _collate([self.images[index] for index in range(start, stop)])
                continue
            if not self.pending:
                self._submit(number)
            futures = self.pending.pop(0)
            items = [future.result() for future in futures]
            if self.prefetch and number + 1 < len(self):
                self._submit(number + 1)
            yield _collate(items)

    def close(self) -> None:
        """Cancel what is still queued (the batches were not all needed, or a run failed)."""
        for futures in self.pending:
            for future in futures:
                future.cancel()
        self.pending.clear()


class _Output:
    """The assembly's values (stimulus set rows x the layers' columns), filled by layer.

    Allocated once every layer's width is known; rows arrive in file order (a batch of
    files, or a cached layer's file) and go to the stimulus set's rows showing them.
    """

    def __init__(
        self, files: StimulusFiles, layers: list[str], layouts: dict[str, LayerLayout]
    ) -> None:
        self.files = files
        self.layers = layers
        self.layouts = dict(layouts)
        self.values: np.ndarray | None = None
        self.columns: dict[str, slice] = {}
        self.in_file_order = np.array_equal(files.rows, np.arange(len(files.paths)))
        if not self.in_file_order:
            self.order = np.argsort(files.rows, kind="stable")
            self.sorted_rows = files.rows[self.order]

    def allocate(self) -> None:
        offset = 0
        for layer in self.layers:
            width = self.layouts[layer].width
            self.columns[layer] = slice(offset, offset + width)
            offset += width
        self.layouts = {layer: self.layouts[layer] for layer in self.layers}
        self.values = np.empty((len(self.files.rows), offset), dtype=np.float32)

    def put(self, layer: str, start: int, block: np.ndarray) -> None:
        """Place one layer's rows of files ``start`` .. ``start + len(block)``: ``block``
        is ``N x units`` or ``N x`` the unit shape, in any memory layout (one copy)."""
        columns = self.columns[layer]
        if self.in_file_order:
            target = self.values[start : start + len(block), columns]
            # Splitting the rows' contiguous columns into the unit shape is a view.
            target.reshape(block.shape)[...] = block
            return
        low, high = np.searchsorted(self.sorted_rows, [start, start + len(block)])
        positions = self.order[low:high]
        rows = block.reshape(len(block), -1)
        self.values[positions, columns] = rows[self.files.rows[positions] - start]

    def read(self, layer: str, npy: Path) -> None:
        """Place a cached layer's rows, read straight from its file."""
        if self.values is None:
            self.allocate()
        self.put(layer, 0, np.load(npy, mmap_mode="r"))


class _LayerRecord:
    """One layer's output in the current batch, as its forward hook records it.

    With ``direct`` true (an assembly is built, no entry written) the hook copies the
    output straight into the assembly's values once they are allocated; otherwise it keeps
    a copy for the entry's writer. Either way the copy is made in the hook: a later
    in-place operation (ReLU(inplace=True) after a conv) must not change what is recorded.
    A module called several times per forward pass leaves its last call's output.
    """

    def __init__(self, layer: str, output: _Output | None, direct: bool) -> None:
        self.layer = layer
        self.output = output
        self.direct = direct
        self.layout: LayerLayout | None = None
        self.projector: Callable[[np.ndarray], np.ndarray] | None = None
        self.rows: np.ndarray | None = None
        self.unit_shape: tuple[int, ...] = ()
        self.recorded = False
        self.start = 0

    def record(self, tensor: torch.Tensor) -> None:
        self.unit_shape = tuple(tensor.shape[1:])
        units = tensor.detach().float().cpu().numpy()  # a view of the output, in its layout
        if self.projector is not None:
            units = np.asarray(self.projector(units.reshape(len(units), -1)), dtype=np.float32)
        if self.direct and self.output is not None and self.output.values is not None:
            self.output.put(self.layer, self.start, units)
        else:
            self.rows = np.empty((len(units), units[0].size), dtype=np.float32)
            self.rows.reshape(units.shape)[...] = units
        self.recorded = True


def _stream_to_cache(
    module: torch.nn.Module,
    batches: _DecodedBatches,
    layers: list[str],
    entries: dict[str, Path],
    key: dict[str, Any],
    options: _ExtractionOptions,
    fitting: dict[str, np.ndarray] | None,
    output: _Output | None,
) -> None:
    """Run the module over all files once, recording each layer in ``output`` (the
    assembly's values), in its cache entry (``entries``: the layers to write), or both."""
    device = resolve_device(options.device or get_settings().device)
    files = batches.images.files
    # A two-stage preprocessing (decode, transform_batch) finishes on the device.
    transform = getattr(options.preprocessing, "transform_batch", lambda batch: batch)
    modules = dict(module.named_modules())
    records = {layer: _LayerRecord(layer, output, direct=not entries) for layer in layers}
    failed: dict[str, Any] = {}

    def hook_for(record: _LayerRecord) -> Callable:
        def hook(_module: Any, _inputs: Any, result: Any) -> None:
            result = result[0] if isinstance(result, tuple | list) else result
            if isinstance(result, torch.Tensor):
                record.record(result)
            else:
                failed[record.layer] = result

        return hook

    writers: dict[str, EntryWriter] = {}
    handles = []
    was_training = module.training
    try:
        for layer, entry in entries.items():
            writers[layer] = EntryWriter(entry, len(files.paths))
        for record in records.values():
            handles.append(modules[record.layer].register_forward_hook(hook_for(record)))
        module.eval().to(device)
        start = 0
        bar = tqdm(batches, total=len(batches), desc=f"{options.identifier} activations",
                   unit="batch", disable=not options.progress, leave=False)
        with torch.inference_mode():
            for batch in bar:
                if isinstance(batch, _DecodeFailure):
                    raise ModelError(
                        f"Stimulus {batch.stimulus_id!r} could not be decoded from "
                        f"{batch.path}: {batch.message}. Replace or remove the file, or fix "
                        f"the preprocessing."
                    )
                for record in records.values():
                    record.start, record.recorded = start, False
                failed.clear()
                try:
                    module(transform(batch.to(device, non_blocking=True)))
                except Exception as error:
                    ids = files.row_ids[start : start + len(batch)]
                    raise ModelError(
                        f"Model {options.identifier!r} failed in its forward pass on a batch "
                        f"of {len(batch)} stimuli (first: {ids[:3]}), input shape "
                        f"{tuple(batch.shape)}: {type(error).__name__}: {error}"
                    ) from error
                for record in records.values():
                    if not record.recorded or record.layer in failed:
                        raise ModelError(
                            f"Model {options.identifier!r}: layer {record.layer!r} was not "
                            f"called in the forward pass or did not return a tensor; choose "
                            f"another layer."
                        )
                    if start == 0:
                        _open_record(record, options.projection, fitting, writers.get(record.layer))
                if start == 0 and output is not None:
                    output.allocate()
                for record in records.values():
                    _keep_rows(record, writers.get(record.layer), output)
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


def _open_record(
    record: _LayerRecord,
    projection: Projection | None,
    fitting: dict[str, np.ndarray] | None,
    writer: EntryWriter | None,
) -> None:
    """After the first batch: the layer's layout, its projector (applied to the first
    batch here, by the hook afterwards) and its entry's file."""
    rows = record.rows
    shape = _unit_shape(record.unit_shape)
    width = rows.shape[1]
    if projection is not None and width > projection.n_components:
        data = fitting.get(record.layer) if fitting else None
        record.projector = projection.projector(
            record.layer, width, (lambda: data) if data is not None else None
        )
        record.rows = record.projector(rows)
    record.layout = LayerLayout(shape, record.projector is not None, record.rows.shape[1])
    if writer is not None:
        writer.open(record.layout)
    if record.output is not None:
        record.output.layouts[record.layer] = record.layout


def _keep_rows(record: _LayerRecord, writer: EntryWriter | None, output: _Output | None) -> None:
    """Hand the batch's rows kept by the hook to the entry and the assembly."""
    if record.rows is None:
        return  # already in the assembly's values
    if writer is not None:
        writer.write(record.rows)
    if output is not None and output.values is not None:
        output.put(record.layer, record.start, record.rows)
    record.rows = None


def _unit_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, y, x) of one stimulus's output; 1 for missing spatial dims."""
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
    assembly = _extract(module, projection.fitting_stimuli, layers, unprojected, use_cache=True)
    layer_of = assembly["layer"].values
    return {layer: np.asarray(assembly.values[:, layer_of == layer]) for layer in layers}


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
