"""What the site shows about plugins, read by the library in a child process of ``sync``.

Run as ``python -m brainmark.platform.leaderboard.plugin_facts``: it loads every registered
benchmark and model and prints one JSON object on stdout,
``{"benchmarks": [...], "models": [...], "problems": [...]}``. Plugins may print while
loading; that goes to stderr, so stdout holds the JSON alone. A benchmark or model that
fails is listed under ``problems`` and left out; the rest are still read. This module
imports no Django, so the web process never needs to import a plugin or torch: only this
child does.

Each benchmark: identifier, version, parent, bibtex, ceiling and its error, visual degrees,
``license`` and ``metadata`` (see :func:`benchmark_metadata`). Each model: identifier,
visual degrees, the plugin's content hash, ``license`` and ``metadata`` (see
:func:`model_metadata`). Everything is read from what the plugin and its data declare
(attributes, data ``attrs``, docstrings, the README beside the files); a fact a plugin does
not state is left out, never guessed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from brainmark.scoring import finite_or_none

#: Licence identifiers (SPDX) recognised in a README's licence statement.
LICENSE_PATTERN = re.compile(
    r"(?<![\w.-])(MIT|Apache-2\.0|BSD-[234]-Clause|CC0-1\.0|CC-BY(?:-NC)?(?:-SA|-ND)?-[1-4]\.0"
    r"|(?:A|L)?GPL-[23]\.[01](?:-only|-or-later)?|MPL-2\.0|ISC|Unlicense|ODbL-1\.0"
    r"|PDDL-1\.0)(?![\w-])"
)
#: The most a licence column holds (BenchmarkVersion.license, Model.license).
LICENSE_MAX_LENGTH = 100


def _error_text(error: BaseException) -> str:
    """One line naming the exception and its message."""
    return f"{type(error).__name__}: {error}".strip()


# ---------------------------------------------------------------------------------------
# Reading what plugins state: docstrings, README sections, bibtex fields


def plugin_description(factory: Any) -> str | None:
    """The docstring of the module defining ``factory`` (the plugin's ``benchmark.py`` or
    ``model.py``, where ``brainmark new`` asks authors to describe the experiment or model),
    else the factory's own docstring; None when neither has one."""
    module = inspect.getmodule(factory)
    for source in (module, factory):
        text = inspect.getdoc(source) if source is not None else None
        if text and text.strip():
            return text.strip()
    return None


def readme_sections(text: str) -> dict[str, str]:
    """A Markdown file's sections: heading (lower case, ``#`` removed) -> its text."""
    sections: dict[str, list[str]] = {}
    current, fenced = "", False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        heading = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            current = heading.group(1).strip().lower()
            sections.setdefault(current, [])
        else:
            sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def license_statement(readme: str) -> str | None:
    """What a plugin's README says about the licence of what it ships.

    The text of its ``License`` section (data plugins, as ``brainmark new data`` writes
    them), else the ``License:`` lines of its ``Weights`` sections (model plugins shipping
    weights, as docs/models.md describes); None when it says nothing.
    """
    sections = readme_sections(readme)
    for name, body in sections.items():
        if name in ("license", "licence", "licenses", "licences") and body:
            return body
    lines = [
        re.sub(r"^[-*]\s*", "", line.strip())
        for name, body in sections.items() if name.startswith("weights")
        for line in body.splitlines()
        if re.match(r"^[-*]?\s*licen[cs]e\s*:", line.strip(), re.IGNORECASE)
    ]
    return "\n".join(lines) or None


def license_identifiers(statement: str | None) -> str:
    """The SPDX licence identifiers a statement names, in order, joined by ', ' (as many as
    the column holds; the statement itself is kept whole in the metadata)."""
    joined = ""
    for identifier in dict.fromkeys(LICENSE_PATTERN.findall(statement or "")):
        longer = f"{joined}, {identifier}" if joined else identifier
        if len(longer) > LICENSE_MAX_LENGTH:
            break
        joined = longer
    return joined


def bibtex_entries(text: str) -> dict[str, dict[str, str]]:
    """The entries of a BibTeX text: key -> {field name (lower case): value without braces}."""
    entries: dict[str, dict[str, str]] = {}
    for start in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,", text):
        fields: dict[str, str] = {}
        position, depth = start.end(), 1
        body_start = position
        while position < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        body = text[body_start:position - 1]
        for field in re.finditer(r"(\w+)\s*=\s*", body):
            value_start = field.end()
            if value_start < len(body) and body[value_start] == "{":
                level, end = 0, value_start
                for end in range(value_start, len(body)):
                    level += {"{": 1, "}": -1}.get(body[end], 0)
                    if level == 0:
                        break
                value = body[value_start + 1:end]
            else:
                value = re.match(r'"?([^",}\n]*)', body[value_start:]).group(1)
            fields.setdefault(field.group(1).lower(), " ".join(value.split()))
        entries[start.group(1)] = fields
    return entries


def reference_url(fields: dict[str, str]) -> str | None:
    """An entry's ``url``, its DOI as a doi.org address, or a ``\\url{...}`` it holds."""
    if re.match(r"https?://\S+$", fields.get("url", "")):
        return fields["url"]
    doi = fields.get("doi", "").strip()
    if doi:
        return "https://doi.org/" + doi.removeprefix("https://doi.org/")
    for value in fields.values():
        url = re.search(r"\\url\{(https?://[^}\s]+)\}", value)
        if url:
            return url.group(1)
    return None


def readme_bibtex(readme: str) -> str:
    """The ```` ```bibtex ```` blocks of a README, joined."""
    blocks = re.findall(r"```bibtex\s*\n(.*?)```", readme, re.DOTALL | re.IGNORECASE)
    return "\n".join(block.strip() for block in blocks)


def _readme(folder: Path) -> str:
    path = folder / "README.md"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


# ---------------------------------------------------------------------------------------
# Benchmarks


def _named_metric(metric: Any) -> dict[str, str] | None:
    """The registered name of ``metric`` (or its function name) and its docstring's first
    line; None for an anonymous function."""
    from brainmark.registry import metric_registry

    kind = metric if inspect.isfunction(metric) else type(metric)
    identifier = None
    for name in metric_registry:
        try:
            if metric_registry[name] is kind:
                identifier = name
                break
        except Exception:  # A broken metric plugin names nothing here; sync goes on.
            continue
    if identifier is None:
        identifier = getattr(kind, "__name__", "")
        if not identifier or identifier == "<lambda>":
            return None
    described = {"identifier": identifier}
    doc = inspect.getdoc(kind)
    if doc and doc.strip():
        described["description"] = doc.strip().splitlines()[0].strip()
    return described


def _benchmark_data(benchmark: Any) -> Any:
    """The data a benchmark compares with: its ``assembly`` (the benchmark helpers) or
    ``rdms``; None when it exposes neither."""
    import xarray as xr

    for name in ("assembly", "rdms"):
        data = getattr(benchmark, name, None)
        if isinstance(data, xr.DataArray):
            return data
    return None


def _stimulus_count(benchmark: Any, data: Any) -> int | None:
    import numpy as np

    if hasattr(benchmark, "data_stimulus_ids"):
        return len(benchmark.data_stimulus_ids())
    if {"stimulus_row", "stimulus_column"} <= set(data.dims):
        ids = np.concatenate([np.asarray(data[dim].values).astype(str)
                              for dim in ("stimulus_row", "stimulus_column")])
        return len(set(ids))
    if "stimulus_id" in data.coords:
        return len(set(np.asarray(data["stimulus_id"].values).astype(str)))
    return None


def data_description(benchmark: Any) -> tuple[dict[str, Any], str]:
    """The benchmark's data (see :func:`benchmark_metadata`) and its licence identifiers."""
    import numpy as np

    data = _benchmark_data(benchmark)
    if data is None:
        return {}, ""
    attrs = data.attrs
    described: dict[str, Any] = {"sha1": str(benchmark.data_sha1())}
    if isinstance(attrs.get("identifier"), str):
        described["identifiers"] = [attrs["identifier"]]
    stimulus_set = attrs.get("stimulus_set_identifier") or getattr(
        attrs.get("stimulus_set"), "identifier", None
    )
    if isinstance(stimulus_set, str) and stimulus_set:
        described["stimulus_set"] = stimulus_set
    stimuli = _stimulus_count(benchmark, data)
    if stimuli:
        described["stimuli"] = stimuli
    if "subject" in data.coords:
        described["subjects"] = len(set(np.asarray(data["subject"].values).astype(str).ravel()))
    for dim, key in (("neuroid", "neuroids"), ("presentation", "presentations")):
        if dim in data.dims:
            described[key] = int(data.sizes[dim])
    region = getattr(benchmark, "region", None) or attrs.get("region")
    task = getattr(benchmark, "task", None)
    task = getattr(task, "value", task) or attrs.get("task")
    for key, value in (("region", region), ("species", attrs.get("species")),
                       ("recording", attrs.get("recording")), ("task", task)):
        if isinstance(value, str) and value:
            described[key] = value
    license_id = ""
    readme = _data_readme(described.get("identifiers", []))
    statement = license_statement(readme) if readme else None
    if statement:
        described["license_text"] = statement
        license_id = license_identifiers(statement)
    return described, license_id


def _data_readme(identifiers: list[str]) -> str:
    """The README of the data plugin registering the first of ``identifiers`` ('' if none)."""
    from brainmark.registry import data_registry

    for identifier in identifiers:
        try:
            return _readme(data_registry.locate(identifier).folder)
        except Exception:  # Data not registered by a plugin (e.g. built in memory).
            continue
    return ""


def benchmark_metadata(benchmark: Any, factory: Any) -> tuple[dict[str, Any], str]:
    """What the site shows about a benchmark beyond its numbers, and its data's licence.

    The dict holds only what the plugin states (a key is absent otherwise):

    - ``description``: the plugin's description (:func:`plugin_description`);
    - ``reference_url``: the ``url`` or DOI of its bibtex, or of the data README's entry
      with the same key;
    - ``metric`` / ``ceiler``: ``{"identifier", "description"}``, the registered metric
      (or function) and the first line of its docstring;
    - ``data``: ``identifiers`` (datasets), ``stimulus_set``, ``sha1`` (of the data, as in
      the ceiling key and score records), ``stimuli``, ``subjects``, ``neuroids``,
      ``presentations``, ``region``, ``species``, ``recording``, ``task`` (from the
      benchmark's attributes and the data's ``attrs``), ``license_text`` (the data
      README's licence statement).
    """
    metadata: dict[str, Any] = {}
    description = plugin_description(factory)
    if description:
        metadata["description"] = description
    for key in ("metric", "ceiler"):
        part = getattr(benchmark, key, None)  # the benchmark helpers' metric and ceiler
        named = _named_metric(part) if callable(part) and not inspect.ismethod(part) else None
        if named:
            metadata[key] = named
    data, license_id = data_description(benchmark)
    if data:
        metadata["data"] = data
    url = _benchmark_reference(benchmark.bibtex or "", data.get("identifiers", []))
    if url:
        metadata["reference_url"] = url
    return metadata, license_id


def _benchmark_reference(bibtex: str, data_identifiers: list[str]) -> str | None:
    entries = bibtex_entries(bibtex)
    for fields in entries.values():
        url = reference_url(fields)
        if url:
            return url
    readme_entries = bibtex_entries(readme_bibtex(_data_readme(data_identifiers)))
    for key in entries:
        url = reference_url(readme_entries.get(key, {}))
        if url:
            return url
    return None


def benchmark_facts(identifier: str) -> dict[str, Any]:
    """Identifier, version, parent, bibtex, ceiling, ceiling error, visual degrees, licence
    and metadata (:func:`benchmark_metadata`)."""
    from brainmark.registry import benchmark_registry

    factory = benchmark_registry[identifier]
    benchmark = benchmark_registry.load(identifier)
    ceiling = benchmark.ceiling  # Raises when the ceiling cannot be computed.
    metadata, license_id = benchmark_metadata(benchmark, factory)
    return {
        "identifier": benchmark.identifier,
        "version": int(benchmark.version),
        "parent": benchmark.parent,
        "bibtex": benchmark.bibtex or "",
        "ceiling": finite_or_none(ceiling),
        "ceiling_error": finite_or_none(getattr(ceiling, "attrs", {}).get("error")),
        "visual_degrees": finite_or_none(getattr(benchmark, "visual_degrees", None)),
        "license": license_id,
        "metadata": metadata,
    }


# ---------------------------------------------------------------------------------------
# Models


def model_metadata(model: Any, factory: Any, folder: Path) -> tuple[dict[str, Any], str]:
    """What the site shows about a model, and the licence of what its plugin ships.

    Only what the plugin states (a key is absent otherwise): ``description``
    (:func:`plugin_description`); for a model built on the library's ``ModelCommitment``,
    ``architecture`` (the network's class), ``parameter_count`` (counted on the network the
    plugin built, with its shipped or seeded weights: nothing is downloaded), ``layers``,
    ``region_layer_map``, ``behavioral_readout_layer`` and ``image_size``; from the
    plugin's README, ``bibtex``, ``reference_url`` (a ``url``, DOI or ``\\url`` of that
    bibtex) and ``license_text``.
    """
    metadata: dict[str, Any] = {}
    description = plugin_description(factory)
    if description:
        metadata["description"] = description
    activations = getattr(model, "activations_model", None)
    network = getattr(activations, "module", None)
    if network is not None and hasattr(network, "parameters"):
        metadata["architecture"] = type(network).__name__
        metadata["parameter_count"] = int(sum(p.numel() for p in network.parameters()))
    layers = getattr(model, "layers", None)
    if isinstance(layers, list) and layers:
        metadata["layers"] = [str(layer) for layer in layers]
    if getattr(model, "region_layer_map", None) is not None:
        from brainmark.models.layer_selection import mapped_layers

        metadata["region_layer_map"] = dict(mapped_layers(model))
    readout = getattr(model, "behavioral_readout_layer", None)
    if isinstance(readout, str) and readout:
        metadata["behavioral_readout_layer"] = readout
    size = getattr(getattr(activations, "preprocessing", None), "size", None)
    if isinstance(size, int) and size > 0:
        metadata["image_size"] = size
    readme = _readme(folder)
    bibtex = readme_bibtex(readme)
    if bibtex:
        metadata["bibtex"] = bibtex
        for fields in bibtex_entries(bibtex).values():
            url = reference_url(fields)
            if url:
                metadata["reference_url"] = url
                break
    statement = license_statement(readme) if readme else None
    if statement:
        metadata["license_text"] = statement
    return metadata, license_identifiers(statement)


def model_facts(identifier: str) -> dict[str, Any]:
    """Identifier, visual degrees, the content hash of the model's plugin folder, licence
    and metadata (:func:`model_metadata`)."""
    from brainmark._provenance import plugin_content_sha1
    from brainmark.registry import model_registry

    factory = model_registry[identifier]
    model = model_registry.load(identifier)
    folder = model_registry.locate(identifier).folder
    metadata, license_id = model_metadata(model, factory, folder)
    return {
        "identifier": identifier,
        "visual_degrees": float(model.visual_degrees()),
        "plugin_sha1": plugin_content_sha1(folder),
        "license": license_id,
        "metadata": metadata,
    }


def collect_plugin_facts(root: Path | None = None, identifiers: Collection[str] = ()
                         ) -> dict[str, list[dict[str, Any]]]:
    """Facts about every registered benchmark and model, and the problems met reading them.

    ``root``: only the plugins whose folder lies in that plugin root; ``identifiers``: only
    those (the submission pipeline reads a submission's own plugins, in the sandbox).
    """
    from brainmark.registry import benchmark_registry, model_registry

    facts: dict[str, list[dict[str, Any]]] = {"benchmarks": [], "models": [], "problems": []}
    for kind, registry, read in (
        ("benchmark", benchmark_registry, benchmark_facts),
        ("model", model_registry, model_facts),
    ):
        for identifier in sorted(registry):
            if identifiers and identifier not in identifiers:
                continue
            folder = registry.locate(identifier).folder.resolve()
            if root is not None and not folder.is_relative_to(root):
                continue
            try:
                facts[f"{kind}s"].append(read(identifier))
            except Exception as error:  # A broken plugin is reported, not fatal.
                facts["problems"].append(
                    {"kind": kind, "identifier": identifier, "error": _error_text(error)}
                )
    return facts


def main(argv: list[str] | None = None) -> None:
    """Print the facts as JSON on stdout; anything plugins print goes to stderr.

    ``--root PATH`` restricts them to the plugins of that plugin root, ``--identifier ID``
    (repeatable) to those identifiers.
    """
    parser = argparse.ArgumentParser(prog="python -m brainmark.platform.leaderboard.plugin_facts")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--identifier", action="append", default=[])
    arguments = parser.parse_args(argv)
    root = arguments.root.resolve() if arguments.root else None
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        facts = collect_plugin_facts(root, set(arguments.identifier))
    real_stdout.write(json.dumps(facts, allow_nan=False) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
