"""The installed distribution's version: pyproject.toml is its one source."""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("brainmark")
except importlib.metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"
