"""``brainmark new benchmark|model NAME``: a plugin folder that passes its own tests.

The folder follows the plugin layout (``<root>/<type>/<folder>/`` with a registrations-only
``__init__.py``, the implementation, ``test.py`` and ``requirements.txt``), so
``brainmark test <root>/<type>/<folder>`` works right away and the user edits from a
working state. Existing files are never overwritten, and an identifier some registry
already knows is refused: the new plugin would clash with it as soon as both are found.
"""

from __future__ import annotations

import re
from pathlib import Path

from brainmark.data.packaging import validate_identifier
from brainmark.exceptions import DuplicateRegistrationError, ValidationError
from brainmark.registry import REGISTRIES, plugin_index

_REGION = re.compile(r"\.(V1|V2|V4|IT)-")

_REQUIREMENTS = """\
# Packages this plugin needs beyond brainmark, one per line with a lower bound, e.g.
# timm>=1.0
# brainmark never installs them while loading; run: pip install -r requirements.txt
"""

_BENCHMARK_INIT = '''\
from brainmark.registry import benchmark_registry

from .benchmark import build_benchmark

benchmark_registry["{identifier}"] = build_benchmark
'''

_BENCHMARK_IMPL = '''\
"""{identifier}: <one line saying what the model is compared with>.

<Describe the experiment: stimuli, subjects, the region or behavior measured, the
visual degrees the stimuli subtended (from the paper), the metric and the ceiling.>

This template compares the model's {region} RDM with the Coggan2024 {region} fMRI RDMs (a
built-in dataset) so that it runs before you edit it. Replace the data loaders with your
own data plugin (see docs/submitting-a-benchmark.md) and update the docstring, visual
degrees and bibtex.
"""

from __future__ import annotations

from brainmark import load_dataset, load_stimulus_set
from brainmark.benchmarks import RSABenchmark

VISUAL_DEGREES = 9  # TODO: the size of your stimuli in the experiment, in degrees
BIBTEX = """@article{{your2024paper,
  title = {{TODO: the paper of your data}},
  author = {{TODO}},
  journal = {{TODO}},
  year = {{2024}}
}}"""


def build_benchmark() -> RSABenchmark:
    """The benchmark; cheap to build, its data loads on first use."""
    return RSABenchmark(
        "{identifier}",
        version=1,
        rdms=lambda: load_dataset("Coggan2024.{region}"),  # TODO: your dataset
        stimulus_set=lambda: load_stimulus_set("Coggan2024"),  # TODO: your stimulus set
        region="{region}",
        visual_degrees=VISUAL_DEGREES,
        parent="{parent}",
        bibtex=BIBTEX,
    )
'''

_BENCHMARK_TEST = '''\
import math

from brainmark import load_benchmark, load_model
from brainmark.testing import check_benchmark

IDENTIFIER = "{identifier}"


def test_benchmark_passes_the_generic_checks():
    check_benchmark(load_benchmark(IDENTIFIER))


def test_pixels_model_gets_a_finite_score():
    # Once your data is in, pin the exact score of two cheap built-in models here, e.g.
    # assert float(score) == pytest.approx(0.123456, rel=1e-6)
    score = load_benchmark(IDENTIFIER)(load_model("pixels"))
    assert math.isfinite(float(score.attrs["raw"]))
'''

_MODEL_INIT = '''\
from brainmark.registry import model_registry

from .model import build_model

model_registry["{identifier}"] = build_model
'''

_MODEL_IMPL = '''\
"""{identifier}: <one line saying what the model is>.

<Say where the architecture and weights come from (and their license), what it was trained
on, and why its layers are committed to the regions below.>

The template is a small untrained convolutional network so that it runs before you edit
it: replace ``network()`` with your own ``torch.nn.Module`` (weights shipped in this folder
and loaded with ``torch.load``; nothing may be downloaded at run time) and the layer
commitment with the layers you chose on public data.
"""

from __future__ import annotations

import torch
from torch import nn

from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment

VISUAL_DEGREES = 8  # the field of view the model's input image spans
IMAGE_SIZE = 64  # pixels of the (square) input image
LAYERS = ["block1", "block2", "block3"]
# Region -> layer (module name in the network) the model commits to.
REGION_LAYERS = {{"V1": "block1", "V2": "block2", "V4": "block2", "IT": "block3"}}


def network() -> nn.Module:
    """The PyTorch module; seeded so the untrained template is deterministic."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = nn.Sequential()
        module.add_module("block1", nn.Sequential(nn.Conv2d(3, 16, 5, stride=2), nn.ReLU()))
        module.add_module("block2", nn.Sequential(nn.Conv2d(16, 32, 3, stride=2), nn.ReLU()))
        module.add_module("block3", nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten()))
    return module.eval()


def build_model() -> ModelCommitment:
    """The model as a brainmark BrainModel."""
    activations_model = ActivationsModel(
        "{identifier}", network(), preprocessing=ImagePreprocessing(IMAGE_SIZE)
    )
    return ModelCommitment(
        "{identifier}",
        activations_model,
        LAYERS,
        region_layer_map=REGION_LAYERS,
        visual_degrees=VISUAL_DEGREES,
        behavioral_readout_layer="block3",
    )
'''

_MODEL_TEST = '''\
from brainmark import load_model
from brainmark.testing import check_model

IDENTIFIER = "{identifier}"


def test_model_passes_the_generic_checks():
    check_model(load_model(IDENTIFIER))


def test_model_commits_a_layer_to_every_region():
    model = load_model(IDENTIFIER)
    assert [model.layer_for(region) for region in ("V1", "V2", "V4", "IT")] == [
        "block1", "block2", "block2", "block3"
    ]
'''


def folder_name(identifier: str) -> str:
    """A plugin folder name for an identifier: lower case, runs of other characters as '_'."""
    return re.sub(r"[^a-z0-9]+", "_", identifier.lower()).strip("_")


def _refuse_known_identifier(identifier: str, kind: str) -> None:
    """Refuse an identifier that any registry (built-in, plugin path, entry points) knows."""
    for registry in REGISTRIES.values():
        if identifier in registry:
            location = plugin_index().find(registry.name, identifier)
            where = f"plugin folder {location.folder}" if location else "code in this process"
            article = "an" if registry.kind[0] in "aeiou" else "a"
            raise DuplicateRegistrationError(
                f"{kind.capitalize()} identifier {identifier!r} is already registered as "
                f"{article} {registry.kind} by {where}. Identifiers must be unique across the "
                f"built-in plugins, BRAINMARK_PLUGIN_PATH and installed plugin packages; "
                f"choose another name."
            )


def _create(folder: Path, files: dict[str, str]) -> list[Path]:
    if folder.exists():
        raise ValidationError(
            f"{folder} already exists; 'brainmark new' never overwrites files. Choose another "
            f"name or destination, or remove the folder first."
        )
    folder.mkdir(parents=True)
    written = []
    for name, content in files.items():
        path = folder / name
        path.write_text(content)
        written.append(path)
    return written


def new_benchmark(identifier: str, destination: Path) -> list[Path]:
    """Write ``<destination>/benchmarks/<folder>/`` for benchmark ``identifier``.

    A neural identifier (``Author2024.IT-rdm``) gets that region as parent; any other
    (``Author2024-rdm``) a behavior parent with the IT RDM as a stand-in comparison.
    """
    validate_identifier(identifier, "benchmark")
    _refuse_known_identifier(identifier, "benchmark")
    match = _REGION.search(identifier)
    region = match.group(1) if match else "IT"
    parent = region if match else "behavior"
    values = {"identifier": identifier, "region": region, "parent": parent}
    folder = Path(destination) / "benchmarks" / folder_name(identifier)
    return _create(
        folder,
        {
            "__init__.py": _BENCHMARK_INIT.format(**values),
            "benchmark.py": _BENCHMARK_IMPL.format(**values),
            "test.py": _BENCHMARK_TEST.format(**values),
            "requirements.txt": _REQUIREMENTS,
        },
    )


def new_model(identifier: str, destination: Path) -> list[Path]:
    """Write ``<destination>/models/<folder>/`` for model ``identifier``."""
    validate_identifier(identifier, "model")
    _refuse_known_identifier(identifier, "model")
    values = {"identifier": identifier}
    folder = Path(destination) / "models" / folder_name(identifier)
    return _create(
        folder,
        {
            "__init__.py": _MODEL_INIT.format(**values),
            "model.py": _MODEL_IMPL.format(**values),
            "test.py": _MODEL_TEST.format(**values),
            "requirements.txt": _REQUIREMENTS,
        },
    )

