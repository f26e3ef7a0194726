"""What the site shows about plugins, read by the library in a child process of ``sync``.

Run as ``python -m brainmark.platform.leaderboard.plugin_facts``: it loads every registered
benchmark (identifier, version, parent, bibtex, ceiling and its error, visual degrees) and
every registered model (identifier, visual degrees, plugin content hash) and prints one
JSON object on stdout. Plugins may print while loading; that goes to stderr, so stdout
holds the JSON alone. A benchmark or model that fails is listed under ``problems`` and left
out; the rest are still read. This module imports no Django, so the web process never
needs to import a plugin or torch: only this child does.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from brainmark.scoring import finite_or_none


def _error_text(error: BaseException) -> str:
    """One line naming the exception and its message."""
    return f"{type(error).__name__}: {error}".strip()


def benchmark_facts(identifier: str) -> dict[str, Any]:
    """Identifier, version, parent, bibtex, ceiling, ceiling error and visual degrees."""
    from brainmark.registry import benchmark_registry

    benchmark = benchmark_registry.load(identifier)
    ceiling = benchmark.ceiling  # Raises when the ceiling cannot be computed.
    return {
        "identifier": benchmark.identifier,
        "version": int(benchmark.version),
        "parent": benchmark.parent,
        "bibtex": benchmark.bibtex or "",
        "ceiling": finite_or_none(ceiling),
        "ceiling_error": finite_or_none(getattr(ceiling, "attrs", {}).get("error")),
        "visual_degrees": finite_or_none(getattr(benchmark, "visual_degrees", None)),
    }


def model_facts(identifier: str) -> dict[str, Any]:
    """Identifier, visual degrees and the content hash of the model's plugin folder."""
    from brainmark._provenance import plugin_content_sha1
    from brainmark.registry import model_registry

    model = model_registry.load(identifier)
    folder = model_registry.locate(identifier).folder
    return {
        "identifier": identifier,
        "visual_degrees": float(model.visual_degrees()),
        "plugin_sha1": plugin_content_sha1(folder),
    }


def collect_plugin_facts() -> dict[str, list[dict[str, Any]]]:
    """Facts about every registered benchmark and model, and the problems met reading them."""
    from brainmark.registry import benchmark_registry, model_registry

    facts: dict[str, list[dict[str, Any]]] = {"benchmarks": [], "models": [], "problems": []}
    for kind, registry, read in (
        ("benchmark", benchmark_registry, benchmark_facts),
        ("model", model_registry, model_facts),
    ):
        for identifier in sorted(registry):
            try:
                facts[f"{kind}s"].append(read(identifier))
            except Exception as error:  # A broken plugin is reported, not fatal.
                facts["problems"].append(
                    {"kind": kind, "identifier": identifier, "error": _error_text(error)}
                )
    return facts


def main() -> None:
    """Print the facts as JSON on stdout; anything plugins print goes to stderr."""
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        facts = collect_plugin_facts()
    real_stdout.write(json.dumps(facts, allow_nan=False) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
