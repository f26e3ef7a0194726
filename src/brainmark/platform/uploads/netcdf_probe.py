"""Reading an uploaded netCDF file's variables and attributes, in a child process.

The HDF5 library can loop without end on a damaged B-tree (one flipped byte is enough),
and no Python code around it can stop the loop; it may also allocate what a crafted header
asks for. So the web process never opens an uploaded file itself: :func:`probe` runs this
module as ``python -m brainmark.platform.uploads.netcdf_probe PATH`` with a time and a
memory limit, and reads one JSON line back: ``{"variables": {name: {attribute: text}}}``
or ``{"error": "..."}``. The child imports h5netcdf (h5py, numpy) and nothing else of ours.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Limits of one probe: an upload's header is read in well under a second.
PROBE_SECONDS = 20
PROBE_MEMORY_BYTES = 2 << 30


class ProbeError(Exception):
    """The file could not be read: why, in words for its uploader."""


def probe(path: Path, *, seconds: float | None = None,
          memory_bytes: int | None = None) -> dict[str, dict[str, str]]:
    """Each data variable of the netCDF file ``path`` (not its dimensions' coordinates)
    with its attributes as text. Raises :class:`ProbeError` when the file does not open as
    netCDF, or reading it passed ``seconds`` or ``memory_bytes`` (by default
    :data:`PROBE_SECONDS` and :data:`PROBE_MEMORY_BYTES`)."""
    seconds = seconds or PROBE_SECONDS
    memory_bytes = memory_bytes or PROBE_MEMORY_BYTES

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    try:
        result = subprocess.run(
            [sys.executable, "-m", __name__, str(path)], capture_output=True, text=True,
            timeout=seconds, preexec_fn=limit_memory, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(f"reading it did not end within {seconds:g} s (its HDF5 structure "
                         f"is damaged)") from None
    try:
        answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        why = "it ran out of memory" if "MemoryError" in result.stderr else (
            f"the reader stopped with status {result.returncode}")
        raise ProbeError(f"reading it failed: {why}") from None
    if "error" in answer:
        raise ProbeError(answer["error"])
    return answer["variables"]


def _read(path: str) -> dict[str, dict[str, str]]:
    import h5netcdf

    with h5netcdf.File(path, "r") as dataset:
        return {
            str(name): {str(key): value if isinstance(value, str) else repr(value)
                        for key, value in variable.attrs.items()}
            for name, variable in dataset.variables.items()
            if name not in dataset.dimensions
        }


def main() -> None:
    try:
        answer: dict[str, Any] = {"variables": _read(sys.argv[1])}
    except MemoryError:
        raise
    except Exception as error:  # h5py raises many types for broken files
        answer = {"error": f"it has the HDF5 signature but does not open as netCDF: "
                           f"{type(error).__name__}: {error}"}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
