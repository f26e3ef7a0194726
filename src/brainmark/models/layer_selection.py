"""Which layer a model commits to each brain region: a map, or the best-scoring layer.

A map ``region -> layer`` is given as a dict or as the path of a JSON file (a plain
mapping or the record :func:`select_layers` writes). A region the map lacks is chosen by
layer selection: every candidate layer is committed to the region alone and scored by a
scorer for it (e.g. a benchmark on public data); the best layer wins. A
:class:`~brainmark.models.ModelCommitment` remembers its choice on disk
(:func:`remembered_selection`), keyed by the network's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from brainmark._files import (
    read_checked_json,
    safe_file_name,
    write_checked_json,
    write_json_atomically,
)
from brainmark._provenance import library_sha1
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import BrainModel, RecordingTarget
from brainmark.models._keys import module_code_sha1, weights_sha1
from brainmark.models.activations import ActivationsModel
from brainmark.settings import get_settings

if TYPE_CHECKING:
    from brainmark.models.commitment import ModelCommitment

Scorer = Callable[[BrainModel], Any]


def select_layers(
    activations_model: ActivationsModel,
    layers: Sequence[str],
    scorers: Mapping[str, Scorer],
    *,
    visual_degrees: float = 8,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Choose each region's layer: the candidate that scores best with that region's scorer.

    Every layer of ``layers`` is committed to the region alone (a ModelCommitment mapping
    the region to it) and scored by ``scorers[region](model)``, e.g. a benchmark on public
    data for the region. The best layer wins (NaN scores lose; ties go to the earlier
    layer).

    Returns
    -------
    dict
        ``{"model": ..., "method": ..., "regions": {region: {"layer", "scorer",
        "scores": {layer: score}}}}``; written as JSON to ``path`` when given, which
        ``ModelCommitment(region_layer_map=path)`` reads back.
    """
    # Imported here: commitment imports this module to choose its layers.
    from brainmark.models.commitment import ModelCommitment

    layers = list(layers)
    regions = {}
    for region, scorer in scorers.items():
        region = region_name(region)
        scores = {}
        for layer in layers:
            candidate = ModelCommitment(
                f"{activations_model.identifier}", activations_model, [layer],
                region_layer_map={region: layer}, visual_degrees=visual_degrees,
            )
            scores[layer] = float(scorer(candidate))
        ranked = [s if np.isfinite(s) else -np.inf for s in scores.values()]
        regions[region] = {
            "layer": layers[int(np.argmax(ranked))],
            "scorer": _scorer_name(scorer),
            "scores": scores,
        }
    record = {
        "model": activations_model.identifier,
        "method": "layer selection: every candidate layer scored by the region's scorer, "
        "best kept",
        "visual_degrees": visual_degrees,
        "regions": regions,
    }
    if path is not None:
        write_json_atomically(path, record, indent=2)
    return record


def load_region_layer_map(path: str | Path) -> dict[str, str]:
    """``region -> layer`` from a JSON file: a plain mapping or a :func:`select_layers` record."""
    content = json.loads(Path(path).read_text())
    regions = content.get("regions", content) if isinstance(content, dict) else None
    if not isinstance(regions, dict):
        raise ValidationError(f"{path} must hold a JSON object region -> layer.")
    return {
        region_name(region): str(value["layer"] if isinstance(value, dict) else value)
        for region, value in regions.items()
    }


def mapped_layers(model: ModelCommitment) -> dict[str, str]:
    """The model's ``region -> layer`` map, read and checked against its candidate layers."""
    source = model.region_layer_map
    if source is None:
        return {}
    mapping = (
        load_region_layer_map(source)
        if isinstance(source, str | Path)
        else {region_name(region): str(layer) for region, layer in source.items()}
    )
    unknown = {region: layer for region, layer in mapping.items() if layer not in model.layers}
    if unknown:
        raise ModelError(
            f"Model {model.identifier!r}: region_layer_map commits layers that are not "
            f"among its layers: {unknown}. Layers: {model.layers}."
        )
    return mapping


def remembered_selection(model: ModelCommitment, region: str) -> str:
    """Layer selection for one region of ``model``, remembered on disk for this exact model.

    Keyed by the network's weights and code, its preprocessing, the candidate layers,
    the scorer (``model.layer_scorers[region]``), the field of view and brainmark's code;
    the file is checked when read.
    """
    scorer = model.layer_scorers[region]  # type: ignore[index]
    activations_model = model.activations_model
    module = activations_model.module
    key = json.dumps(
        [weights_sha1(module), module_code_sha1(module),
         repr(activations_model.preprocessing), library_sha1(), model.layers,
         _scorer_name(scorer), model.visual_degrees(), region]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    path = get_settings().layer_maps_dir / safe_file_name(f"{model.identifier}-{digest}.json")
    if get_settings().reuse_cache:
        record = read_checked_json(path, what="layer map")
        try:
            layer = record["regions"][region]["layer"]  # type: ignore[index]
        except (KeyError, TypeError):
            layer = None
        if layer in model.layers:
            return layer
    record = select_layers(
        activations_model, model.layers, {region: scorer}, visual_degrees=model.visual_degrees()
    )
    write_checked_json(path, record)
    return record["regions"][region]["layer"]


def region_name(region: RecordingTarget | str) -> str:
    """The region's name (``'V1'``, ``'V2'``, ``'V4'``, ``'IT'``), or a ModelError."""
    try:
        return RecordingTarget(region).value
    except ValueError:
        raise ModelError(
            f"Unknown recording target {region!r}; use one of "
            f"{[target.value for target in RecordingTarget]}."
        ) from None


def _scorer_name(scorer: Scorer) -> str:
    identifier = getattr(scorer, "identifier", None)
    if isinstance(identifier, str):
        return identifier
    return getattr(scorer, "__qualname__", type(scorer).__qualname__)
