"""Speed and memory of activation extraction; prints JSON and writes results/activations.json.

Speed: wall seconds of :func:`brainmark.models.extract_activations` over N generated
256 px PNGs (so every image is resized to 224 px) against a bare loop written here: decode,
resize and normalize in this process, forward in batches, the same layers recorded with
plain forward hooks into numpy arrays. Configurations: ``alexnet-untrained`` with 2 layers
(V1, IT) and with 5 (V1, V2, V4, IT, behavior), ``resnet18-untrained`` with 5, at 200 and
1,000 images; each with a cold cache and with ``use_cache=False``. The bare loop and the
two extractions alternate ``--rounds`` times (bare, cold, no cache, ...); medians compared.
Goal: extraction within 10% of the bare loop.

Memory: peak memory of a fresh process extracting all convolution layers of
``resnet18-untrained`` for 1,000, 2,500 and 5,000 images (goal < 3 GB at 5,000), with a
seeded random projection to 1,000 components per layer (the output assembly then is
N x 20,000 floats), plus the unprojected layers streamed to disk with
:func:`brainmark.models.cache_activations` for a few hundred images (about 10 MB of disk per
image). Reported: the process's peak RSS and the peak PSS of it and its decoding workers
together (PSS splits pages shared after fork, so the sum is not double-counted).

Usage: ``python perf/activations.py [--quick] [--threads 2] [--rounds 5]``; speed only:
``--memory-images --raw-images`` (sections not rerun keep their last results); some
configurations: ``--configs alexnet-untrained:2 --speed-images 200``.
"""

# ruff: noqa: E402 (the imports follow the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where perf/platform.py would shadow
# the standard library's platform module (numpy and torch import it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results" / "activations.json"


def generate_images(folder: Path, count: int, size: int = 224) -> None:
    """Smooth random color fields with a random ellipse: cheap to draw, realistic to decode."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for n in range(count):
        path = folder / f"image{n:05d}.png"
        if path.exists():
            continue
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        box = sorted(rng.integers(0, size, 2)), sorted(rng.integers(0, size, 2))
        ImageDraw.Draw(image).ellipse(
            [box[0][0], box[1][0], box[0][1], box[1][1]], fill=tuple(rng.integers(0, 256, 3))
        )
        image.save(path)


def stimulus_set(folder: Path, count: int):
    from brainmark.data import StimulusSet

    ids = [f"image{n:05d}" for n in range(count)]
    return StimulusSet(
        {"stimulus_id": ids},
        stimulus_paths={sid: folder / f"{sid}.png" for sid in ids},
        identifier=f"benchmark-noise-{count}",
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (decoding workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    cpu, wall = _cpu_seconds(), time.perf_counter()
    function()
    return time.perf_counter() - wall, _cpu_seconds() - cpu


SPEED_SIZE = 256  # generated images are resized to the models' 224 px


def model_layers(model: Any, count: int) -> list[str]:
    """The first ``count`` of the layers a model commits to V1, V2, V4, IT and behavior;
    2 means V1 and IT."""
    committed = sorted(
        {model.layer_for(region) for region in ("V1", "V2", "V4", "IT")}
        | {model.behavioral_readout_layer},
        key=model.layers.index,
    )
    if count == 2:
        return [model.layer_for("V1"), model.layer_for("IT")]
    return committed[:count]


def bare_loop(
    module: Any, paths: list[Path], layers: list[str], size: int, batch_size: int
) -> dict[str, np.ndarray]:
    """Decode, resize, normalize and run ``module`` in one process, recording ``layers``.

    The reference the extractor is held to: no caching, no labels, no workers; each
    layer's output is copied by a plain forward hook into a numpy array.
    """
    import torch
    from PIL import Image

    from brainmark.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    named = dict(module.named_modules())
    arrays: dict[str, np.ndarray] = {}
    start = 0

    def hook_for(layer: str):
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            flat = output.reshape(len(output), -1).numpy()
            if layer not in arrays:
                arrays[layer] = np.empty((len(paths), flat.shape[1]), np.float32)
            arrays[layer][start : start + len(flat)] = flat

        return hook

    def decode(path: Path) -> torch.Tensor:
        with Image.open(path) as image:
            image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())

    handles = [named[layer].register_forward_hook(hook_for(layer)) for layer in layers]
    module.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(paths), batch_size):
                batch = torch.stack([decode(p) for p in paths[start : start + batch_size]])
                module((batch.float() / 255 - mean) / std)
    finally:
        for handle in handles:
            handle.remove()
    return arrays


def measure_speed(
    model_name: str, n_layers: int, folder: Path, count: int, batch_size: int, rounds: int
) -> dict:
    """Bare loop, cold-cache extraction and extraction without cache, alternated ``rounds``
    times; each extraction's median compared with the bare loop's.

    On a shared machine the same forward pass drifts by 10-30% from minute to minute, so a
    single pair of timings says little: alternating them and taking medians does.
    """
    from brainmark import load_model
    from brainmark.models import extract_activations
    from brainmark.settings import override_settings

    model = load_model(model_name)
    module = model.activations_model.module
    preprocessing = model.activations_model.preprocessing
    layers = model_layers(model, n_layers)
    stimuli = stimulus_set(folder, count)
    paths = [Path(stimuli.get_stimulus(s)) for s in stimuli["stimulus_id"]]

    def extract(use_cache: bool) -> Any:
        return extract_activations(
            module, stimuli, layers, preprocessing=preprocessing, identifier=model_name,
            batch_size=batch_size, use_cache=use_cache, progress=False,
        )

    # Warm-up: allocator, kernels, file hashes; and a check that both compute the same.
    reference = bare_loop(module, paths[:batch_size], layers, preprocessing.size, batch_size)
    with tempfile.TemporaryDirectory() as home, override_settings(home=home):
        warm = extract_activations(
            module, stimulus_set(folder, batch_size), layers, preprocessing=preprocessing,
            identifier=model_name, batch_size=batch_size, use_cache=False, progress=False,
        )
    largest = max(
        float(np.abs(warm.sel(layer=layer).values - reference[layer]).max()) for layer in layers
    )
    timings: dict[str, list[float]] = {"bare": [], "cold_cache": [], "no_cache": []}
    cpu: dict[str, list[float]] = {mode: [] for mode in timings}
    runs = {
        "bare": lambda: bare_loop(module, paths, layers, preprocessing.size, batch_size),
        "cold_cache": lambda: extract(True),
        "no_cache": lambda: extract(False),
    }
    for _ in range(rounds):
        for mode, run in runs.items():
            with tempfile.TemporaryDirectory() as home, override_settings(home=home):
                wall, seconds = _timed(run)
            timings[mode].append(wall)
            cpu[mode].append(seconds)
    bare = statistics.median(timings["bare"])
    result = {
        "model": model_name,
        "images": count,
        "layers": layers,
        "neuroids": int(warm.sizes["neuroid"]),
        "largest_difference_to_bare": largest,
        "bare_images_per_second": round(count / bare, 2),
    }
    for mode in ("cold_cache", "no_cache"):
        median = statistics.median(timings[mode])
        result[f"{mode}_images_per_second"] = round(count / median, 2)
        result[f"{mode}_ratio_to_bare"] = round(median / bare, 3)
        result[f"{mode}_within_10_percent"] = median <= 1.1 * bare
        result[f"{mode}_cpu_ratio_to_bare"] = round(
            statistics.median(cpu[mode]) / statistics.median(cpu["bare"]), 3
        )
    result["seconds"] = {mode: [round(t, 2) for t in times] for mode, times in timings.items()}
    result["cpu_seconds"] = {mode: [round(t, 2) for t in times] for mode, times in cpu.items()}
    return result


def memory_child(folder: Path, count: int, projected: bool, batch_size: int) -> None:
    """Run in a fresh process: extract all conv layers of resnet18-untrained, print peak."""
    import torch

    from brainmark import load_model
    from brainmark.models import RandomProjection, cache_activations, extract_activations
    from brainmark.settings import override_settings

    model = load_model("resnet18-untrained")
    module = model.activations_model.module
    conv_layers = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)]
    with tempfile.TemporaryDirectory() as home, override_settings(home=home):
        kwargs = {
            "preprocessing": model.activations_model.preprocessing,
            "identifier": "resnet18-untrained",
            "batch_size": batch_size,
            "progress": False,
        }
        if projected:
            assembly = extract_activations(
                module, stimulus_set(folder, count), conv_layers,
                projection=RandomProjection(1000, seed=0), **kwargs,
            )
            shape = list(assembly.shape)
        else:
            files = cache_activations(module, stimulus_set(folder, count), conv_layers, **kwargs)
            shape = [count, sum(np.load(f, mmap_mode="r").shape[1] for f in files.values())]
            disk = sum(f.stat().st_size for f in files.values())
    result = {
        "layers": len(conv_layers),
        "output_shape": shape,
        "peak_rss_mb": round(_peak_rss_kb() / 1024, 1),
    }
    if not projected:
        result["disk_mb"] = round(disk / 2**20, 1)
    print(json.dumps(result))


def _peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM). Not ru_maxrss: on Linux that survives fork and
    exec, so a child started by a large parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _tree_pss_kb(root: int) -> int:
    """Sum of PSS over ``root`` and its descendants (Linux /proc; cheap enough to poll)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass  # the process ended between two reads
    return total


def measure_memory(folder: Path, count: int, projected: bool, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, __file__, "--memory-child", str(count), "--images-folder", str(folder),
        "--threads", str(args.threads), "--batch-size", str(args.batch_size),
    ] + ([] if projected else ["--raw"])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_pss_kb(process.pid))
            time.sleep(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    start = time.perf_counter()
    output, _ = process.communicate()
    done.set()
    poller.join()
    if process.returncode != 0:
        raise SystemExit(f"memory run with {count} images failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "images": count,
        "projection": "RandomProjection(1000)" if projected else None,
        **result,
        "peak_tree_pss_mb": round(peak / 1024, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 images, small memory runs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--speed-images", type=int, nargs="*", default=None, help="none skips speed"
    )
    parser.add_argument("--rounds", type=int, default=5, help="runs of each, alternated")
    parser.add_argument(
        "--configs", nargs="+",
        default=["alexnet-untrained:2", "alexnet-untrained:5", "resnet18-untrained:5"],
        help="MODEL:LAYERS (2: V1 and IT; 5: V1, V2, V4, IT and behavior)",
    )
    parser.add_argument("--memory-images", type=int, nargs="*", default=None)
    parser.add_argument("--raw-images", type=int, nargs="*", default=None)
    parser.add_argument("--images-folder", type=Path, default=None)
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.images_folder, args.memory_child, not args.raw, args.batch_size)
        return

    speed_images = args.speed_images if args.speed_images is not None else (
        [100] if args.quick else [200, 1000]
    )
    memory_images = args.memory_images if args.memory_images is not None else (
        [200, 500] if args.quick else [1000, 2500, 5000]
    )
    raw_images = args.raw_images if args.raw_images is not None else (
        [50, 100] if args.quick else [250, 500]
    )
    folder = args.images_folder or Path(tempfile.gettempdir()) / "brainmark-benchmark-images"
    generate_images(folder, max([0, *memory_images, *raw_images]))
    speed_folder = folder.with_name(f"{folder.name}-{SPEED_SIZE}")
    generate_images(speed_folder, max([0, *speed_images]), size=SPEED_SIZE)

    report = {
        "conditions": {
            "torch_threads": args.threads,
            "cpu_count": os.cpu_count(),
            "batch_size": args.batch_size,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "image_size": {"speed": SPEED_SIZE, "memory": 224},
            "python": platform.python_version(),
            "torch": torch.__version__,
            "quick": args.quick,
            "rounds": args.rounds,
            "note": "bare loop, cold-cache and no-cache extractions alternate; ratios "
            "compare their medians, as speed drifts on a shared machine",
        },
    }
    previous = json.loads(args.output.read_text()) if args.output.is_file() else {}
    planned = {"speed": speed_images,
               "memory_projected": memory_images,
               "memory_raw_streamed": raw_images}
    for section, sizes in planned.items():  # a section this run skips keeps its last results
        report[section] = [] if sizes or section not in previous else previous[section]
    configs = [(name, int(n)) for name, n in (c.split(":") for c in args.configs)]
    runs = [("speed", lambda name=name, n=n, count=count: measure_speed(
                name, n, speed_folder, count, args.batch_size, args.rounds))
            for count in speed_images for name, n in configs]
    runs += [("memory_projected", lambda n=n: measure_memory(folder, n, True, args))
             for n in memory_images]
    runs += [("memory_raw_streamed", lambda n=n: measure_memory(folder, n, False, args))
             for n in raw_images]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for section, run in runs:  # saved after each run, so a long run reports as it goes
        report[section].append(run())
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
