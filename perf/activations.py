"""Speed and memory of activation extraction; prints JSON and writes results/activations.json.

Speed: images/second of ``alexnet-untrained`` and ``resnet18-untrained`` on N generated
224 px PNGs through :func:`brainmark.models.extract_activations` (decoding in worker
processes, hooks on the layers the model commits to regions and behavior, streaming to a
cold cache, building the assembly) against the bare forward pass of the same module on
tensors decoded beforehand, in the same run. Goal: overhead below 15%.

Memory: peak memory of a fresh process extracting all convolution layers of
``resnet18-untrained`` for 1,000, 2,500 and 5,000 images (goal < 3 GB at 5,000), with a
seeded random projection to 1,000 components per layer (the output assembly then is
N x 20,000 floats), plus the unprojected layers streamed to disk with
:func:`brainmark.models.cache_activations` for a few hundred images (about 10 MB of disk per
image). Reported: the process's peak RSS and the peak PSS of it and its decoding workers
together (PSS splits pages shared after fork, so the sum is not double-counted).

Usage: ``python perf/activations.py [--quick] [--threads 2] [--rounds 3]``; speed only:
``--memory-images --raw-images`` (sections not rerun keep their last results); one torch
thread, leaving a core to the decoding workers: ``--threads 1 --output results/....json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
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


def measure_speed(
    model_name: str, folder: Path, count: int, batch_size: int, rounds: int
) -> dict:
    """Bare forward and cold extraction, interleaved ``rounds`` times; medians compared.

    On a shared machine the same forward pass drifts by 10-30% from minute to minute, so a
    single pair of timings says little: alternating the two and taking medians does.
    """
    import torch

    from brainmark import load_model
    from brainmark.models import extract_activations
    from brainmark.models.activations import _resolve_workers
    from brainmark.settings import get_settings, override_settings

    model = load_model(model_name)
    module = model.activations_model.module
    preprocessing = model.activations_model.preprocessing
    layers = sorted(
        {model.layer_for(region) for region in ("V1", "V2", "V4", "IT")}
        | {model.behavioral_readout_layer},
        key=model.layers.index,
    )
    stimuli = stimulus_set(folder, count)
    paths = [stimuli.get_stimulus(s) for s in stimuli["stimulus_id"]]
    decoded = []
    decode_seconds, _ = _timed(lambda: decoded.extend(preprocessing.decode(p) for p in paths))
    tensors = preprocessing.transform_batch(torch.stack(decoded))

    def bare_forward() -> None:
        with torch.inference_mode():
            for first in range(0, count, batch_size):
                module(tensors[first : first + batch_size])

    def extract() -> Any:
        return extract_activations(
            module, stimuli, layers, preprocessing=preprocessing, identifier=model_name,
            batch_size=batch_size,
        )

    with torch.inference_mode():
        module(tensors[:batch_size])  # warm-up: allocator and kernels
    bare, extracted = [_timed(bare_forward)], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as home, override_settings(home=home):
            extracted.append(_timed(extract))  # a cold cache every round
            neuroids = int(extract().sizes["neuroid"])
            cached, _ = _timed(extract)
        bare.append(_timed(bare_forward))
    bare_wall = statistics.median(wall for wall, _ in bare)
    bare_cpu = statistics.median(cpu for _, cpu in bare)
    extracted_wall = statistics.median(wall for wall, _ in extracted)
    extracted_cpu = statistics.median(cpu for _, cpu in extracted)
    return {
        "model": model_name,
        "images": count,
        "layers": layers,
        "neuroids": neuroids,
        "decoding_workers": _resolve_workers(None, get_settings().num_workers),
        "bare_forward_seconds": [round(wall, 2) for wall, _ in bare],
        "extractor_seconds": [round(wall, 2) for wall, _ in extracted],
        "bare_forward_images_per_second": round(count / bare_wall, 2),
        "extractor_images_per_second": round(count / extracted_wall, 2),
        "overhead_percent": round(100 * (extracted_wall - bare_wall) / bare_wall, 1),
        "bare_forward_cpu_seconds": round(bare_cpu, 2),
        "extractor_cpu_seconds": round(extracted_cpu, 2),
        "decode_seconds_in_one_process": round(decode_seconds, 2),
        "cached_read_seconds": round(cached, 2),
    }


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
    parser.add_argument("--speed-images", type=int, default=None, help="0 skips speed")
    parser.add_argument("--rounds", type=int, default=3, help="extractions per model")
    parser.add_argument("--models", nargs="+", default=["alexnet-untrained", "resnet18-untrained"])
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
        100 if args.quick else 1000
    )
    memory_images = args.memory_images if args.memory_images is not None else (
        [200, 500] if args.quick else [1000, 2500, 5000]
    )
    raw_images = args.raw_images if args.raw_images is not None else (
        [50, 100] if args.quick else [250, 500]
    )
    folder = args.images_folder or Path(tempfile.gettempdir()) / "brainmark-benchmark-images"
    generate_images(folder, max([speed_images, *memory_images, *raw_images]))

    report = {
        "conditions": {
            "torch_threads": args.threads,
            "cpu_count": os.cpu_count(),
            "batch_size": args.batch_size,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "image_size": 224,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "quick": args.quick,
            "note": "bare passes and cold extractions alternate (bare first and last); "
            "overhead compares their medians, as speed drifts on a shared machine",
        },
    }
    previous = json.loads(args.output.read_text()) if args.output.is_file() else {}
    planned = {"speed": [speed_images] if speed_images else [],
               "memory_projected": memory_images,
               "memory_raw_streamed": raw_images}
    for section, sizes in planned.items():  # a section this run skips keeps its last results
        report[section] = [] if sizes or section not in previous else previous[section]
    runs = [("speed", lambda name=name: measure_speed(name, folder, speed_images,
                                                    args.batch_size, args.rounds))
            for name in args.models if speed_images]
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
