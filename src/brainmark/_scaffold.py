"""``brainmark new benchmark|model|data NAME``: a plugin folder that passes its own tests.

The folder follows the plugin layout (``<root>/<type>/<folder>/`` with a registrations-only
``__init__.py``, the implementation, ``test.py`` and ``requirements.txt``), so
``brainmark test <root>/<type>/<folder>`` works right away and the user edits from a
working state: benchmarks of each kind (neural, rsa, behavioral) run on stand-in data that
is built in or that the template makes, a data plugin ships a packaged stand-in
experiment. Names follow :func:`~brainmark.data.packaging.validate_identifier`. Existing
files are never overwritten, and an identifier some registry already knows is refused: the
new plugin would clash with it as soon as both are found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import runpy
import textwrap
from pathlib import Path

from brainmark.data.packaging import benchmark_identifier_parts, validate_identifier
from brainmark.exceptions import DuplicateRegistrationError, ValidationError
from brainmark.registry import REGISTRIES, plugin_index

BENCHMARK_KINDS = ("neural", "rsa", "behavioral")
REGIONS = ("V1", "V2", "V4", "IT")
# Metrics of neural templates: those comparing responses with responses.
_NEURAL_METRICS = ("pls", "ridge", "ridgecv", "linear", "cka")
# Behavioral template metric -> (parent, the ceiler argument as written in the template).
_BEHAVIORAL_CHOICES = {
    "accuracy": ("engineering", "lambda _: no_ceiling(),  # ground truth: a ceiling of 1"),
    "error_consistency": ("behavior", '"error_consistency_ceiling",'),
    "i2n": ("behavior", "lambda _: no_ceiling(),  # TODO: the reliability of your data"),
}
_KIND_OF_METRIC = {
    **dict.fromkeys(_NEURAL_METRICS, "neural"),
    **dict.fromkeys(("rdm", "rsa"), "rsa"),
    **dict.fromkeys(("top1", "accuracy", "error_consistency", "i2n", "odd_one_out"),
                    "behavioral"),
}

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

_BENCHMARK_DOCSTRING = '''\
"""{identifier}: <one line saying what the model is compared with>.

<Describe the experiment: stimuli, subjects, the region or behavior measured, the
visual degrees the stimuli subtended (from the paper), the metric and the ceiling.>

{stand_in}
"""

from __future__ import annotations
'''

_BIBTEX = '''BIBTEX = """@article{{your2024paper,
  title = {{TODO: the paper of your data}},
  author = {{TODO}},
  journal = {{TODO}},
  year = {{2024}}
}}"""
'''

_RSA_IMPL = _BENCHMARK_DOCSTRING + '''
from brainmark import load_dataset, load_stimulus_set
from brainmark.benchmarks import RSABenchmark

VISUAL_DEGREES = 9  # TODO: the size of your stimuli in the experiment, in degrees
''' + _BIBTEX + '''

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

_NEURAL_IMPL = _BENCHMARK_DOCSTRING + '''
import numpy as np
from PIL import Image

from brainmark import load_stimulus_set
from brainmark.benchmarks import NeuralBenchmark
from brainmark.data import NeuroidAssembly

VISUAL_DEGREES = 8  # TODO: the size of your stimuli in the experiment, in degrees
''' + _BIBTEX + '''

def stand_in_responses() -> NeuroidAssembly:
    """STAND-IN, to be replaced by your data: made-up trial-level responses.

    40 "neuroids", each a fixed random mix of the pixels of the 92 built-in
    Kriegeskorte2008 images plus trial noise, over 4 repetitions: one presentation per
    trial, with the coordinates a NeuralBenchmark needs (stimulus_id and repetition on
    presentation, neuroid_id and region on neuroid). Seeded, so every run gives the same.
    """
    stimuli = load_stimulus_set("Kriegeskorte2008")
    ids = list(stimuli["stimulus_id"])
    pixels = np.stack([
        np.asarray(Image.open(stimuli.get_stimulus(sid)).convert("L").resize((16, 16)),
                   dtype=float).ravel()
        for sid in ids
    ])
    rng = np.random.default_rng(0)
    signal = (pixels - pixels.mean(axis=0)) @ rng.normal(size=(pixels.shape[1], 40))
    signal /= signal.std()
    repetitions = 4
    trials = np.concatenate(
        [signal + 0.5 * rng.normal(size=signal.shape) for _ in range(repetitions)]
    )
    return NeuroidAssembly(
        trials,
        dims=("presentation", "neuroid"),
        coords={{
            "stimulus_id": ("presentation", ids * repetitions),
            "repetition": ("presentation", np.repeat(np.arange(repetitions), len(ids))),
            "neuroid_id": ("neuroid", [f"n{{k:02d}}" for k in range(40)]),
            "region": ("neuroid", ["{region}"] * 40),
        }},
    )


def build_benchmark() -> NeuralBenchmark:
    """The benchmark; cheap to build, its data loads on first use."""
    return NeuralBenchmark(
        "{identifier}",
        version=1,
        assembly=stand_in_responses,  # TODO: lambda: load_dataset("<your dataset>")
        stimulus_set=lambda: load_stimulus_set("Kriegeskorte2008"),  # TODO: your stimuli
        region="{region}",
        visual_degrees=VISUAL_DEGREES,
        metric="{metric}",
        parent="{parent}",
        bibtex=BIBTEX,
    )
'''

_BEHAVIORAL_IMPL = _BENCHMARK_DOCSTRING + '''
from brainmark import load_dataset, load_stimulus_set
from brainmark.benchmarks import BehavioralBenchmark
from brainmark.data import StimulusSet
{ceiling_import}from brainmark.model_interface import Task

VISUAL_DEGREES = 8  # TODO: the size of your stimuli in the experiment, in degrees
''' + _BIBTEX + '''

def stand_in_stimuli(image_set: str) -> StimulusSet:
    """STAND-IN, to be replaced by your stimuli: the built-in Geirhos2021 edge or
    silhouette images, with the object each shows (both sets render the same photos)."""
    stimuli = load_stimulus_set(f"Geirhos2021{{image_set}}")
    stimuli["object_id"] = stimuli["stimulus_id"].str.removeprefix(f"{{image_set}}_")
    return stimuli


def build_benchmark() -> BehavioralBenchmark:
    """The benchmark; cheap to build, its data loads on first use.

    The model labels the test images with a readout fitted on other images of the same
    labels (here: silhouettes for edge drawings, cross-fitted by object so no object is
    both fitted and tested; see BehavioralBenchmark).
    """
    return BehavioralBenchmark(
        "{identifier}",
        version=1,
        assembly=lambda: load_dataset("Geirhos2021edge"),  # TODO: your subjects' choices
        stimulus_set=lambda: stand_in_stimuli("edge"),  # TODO: your test stimuli
        task=Task.label,
        fitting_stimuli=lambda: stand_in_stimuli("silhouette"),  # TODO: fitting stimuli
        cross_fit_by="object_id",  # TODO: None unless fitting images show the test objects
        visual_degrees=VISUAL_DEGREES,
        metric="{metric}",
        ceiler={ceiler}
        parent="{parent}",
        bibtex=BIBTEX,
    )
'''

_STAND_INS = {
    "rsa": "This template compares the model's {region} RDM with the Coggan2024 {region} fMRI "
           "RDMs (a built-in dataset) so that it runs before you edit it.",
    "neural": "This template compares the model's {region} recordings by '{metric}' with "
              "STAND-IN data (`stand_in_responses`: made-up responses to the built-in "
              "Kriegeskorte2008 images) so that it runs before you edit it.",
    "behavioral": "This template compares the model's choices by '{metric}' with the "
                  "Geirhos2021 edge subjects' (a built-in dataset) so that it runs before "
                  "you edit it.",
}
_BENCHMARK_IMPLS = {"rsa": _RSA_IMPL, "neural": _NEURAL_IMPL, "behavioral": _BEHAVIORAL_IMPL}

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


_DATA_INIT = '''\
from brainmark.registry import data_registry, stimulus_set_registry

from .data import load_responses, load_stimuli

stimulus_set_registry["{name}"] = load_stimuli
data_registry["{dataset}"] = load_responses
'''

_DATA_LOADERS = '''\
"""Loaders of the {name} files in this folder; SHA1s pinned in sha1s.json, checked on load."""

from __future__ import annotations

import json
from pathlib import Path

from brainmark.data import (
    NeuroidAssembly,
    StimulusSet,
    load_assembly_from_store,
    load_stimulus_set_from_store,
)

HERE = Path(__file__).parent
PINS = json.loads((HERE / "sha1s.json").read_text())


def load_stimuli() -> StimulusSet:
    """The stimuli shown (stimulus set {name!r})."""
    return load_stimulus_set_from_store(
        "{name}", HERE.as_uri(), csv_sha1=PINS["csv_sha1"], zip_sha1=PINS["zip_sha1"]
    )


def load_responses() -> NeuroidAssembly:
    """The responses, one presentation per trial (dataset {dataset!r})."""
    return load_assembly_from_store(
        "{dataset}",
        HERE.as_uri(),
        PINS["assembly_sha1"],
        cls=NeuroidAssembly,
        stimulus_set_loader=load_stimuli,
    )
'''

_DATA_PACKAGING = '''\
"""Provenance: makes this folder's packaged files. Run: python package_data.py

STAND-IN, to be replaced: until you rewrite `raw_stimuli` and `raw_responses` to read your
raw files, this packages a made-up experiment (12 generated images; 20 neuroids recorded
over 3 repetitions, 5 of them missing one trial) so that the plugin passes `brainmark
test` before you edit it. Rewrite them, run this script again (it writes the packaged
files and their SHA1s, sha1s.json, beside it), then update test.py and README.md.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from brainmark.data import (
    NeuroidAssembly,
    StimulusSet,
    package_data_assembly_locally,
    package_stimulus_set_locally,
)
from brainmark.testing import make_stimulus_set

HERE = Path(__file__).parent
STIMULUS_SET = "{name}"
DATASET = "{dataset}"


def raw_stimuli(scratch: Path) -> StimulusSet:
    """STAND-IN: the stimuli, one row per image, with their metadata and image files.

    Yours: a StimulusSet of your image files, e.g.
    ``StimulusSet({{"stimulus_id": ids, "object_name": names}}, stimulus_paths=dict(zip(ids,
    paths)), identifier=STIMULUS_SET)``. ``scratch`` is a temporary folder the stand-in
    writes its generated images to; yours need none.
    """
    return make_stimulus_set(
        scratch,
        [f"image{{n:02d}}" for n in range(12)],
        identifier=STIMULUS_SET,
        object_name=[f"object{{n // 3}}" for n in range(12)],
    )


def raw_responses(stimuli: StimulusSet) -> NeuroidAssembly:
    """STAND-IN: the responses, one presentation per trial, NaN for trials not recorded.

    Required: ``stimulus_id`` (and ``repetition``) on ``presentation``, ``neuroid_id`` on
    ``neuroid``; add what describes your recordings (``region``, ``animal``, ...). A trial
    missing for some neuroids stays a presentation with NaN for them (NaN padding): the
    benchmark averages repetitions ignoring NaN, and the ceiling uses the trials recorded.
    """
    ids = list(stimuli["stimulus_id"])
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(len(ids), 20))
    repetitions = 3
    trials = np.concatenate(
        [signal + 0.5 * rng.normal(size=signal.shape) for _ in range(repetitions)]
    )
    trials[-1, :5] = np.nan  # the last trial of the last image, not recorded for 5 neuroids
    return NeuroidAssembly(
        trials,
        dims=("presentation", "neuroid"),
        coords={{
            "stimulus_id": ("presentation", ids * repetitions),
            "repetition": ("presentation", np.repeat(np.arange(repetitions), len(ids))),
            "neuroid_id": ("neuroid", [f"n{{k:02d}}" for k in range(20)]),
            "region": ("neuroid", ["IT"] * 20),
        }},
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        stimuli = raw_stimuli(Path(scratch))
        packaged_stimuli = package_stimulus_set_locally(stimuli, STIMULUS_SET, HERE)
        packaged_responses = package_data_assembly_locally(
            raw_responses(stimuli), DATASET, STIMULUS_SET, "NeuroidAssembly", HERE,
            stimulus_set=stimuli, allow_nan=True,
        )
    pins = {{
        "csv_sha1": packaged_stimuli["csv_sha1"],
        "zip_sha1": packaged_stimuli["zip_sha1"],
        "assembly_sha1": packaged_responses["sha1"],
    }}
    (HERE / "sha1s.json").write_text(json.dumps(pins, indent=2) + "\\n")
    print(f"Packaged {{STIMULUS_SET}} and {{DATASET}} in {{HERE}}: {{pins}}")


if __name__ == "__main__":
    main()
'''

_DATA_README = '''\
# {name}: <one line: what was shown to whom, and what was recorded>

| identifier | what | shape |
|---|---|---|
| `{name}` (stimulus set) | <the images> | 12 images |
| `{dataset}` | <the responses>, one presentation per trial | 36 trials x 20 neuroids |

STAND-IN: the packaged files are a made-up experiment written by `package_data.py` so that
this plugin passes `brainmark test` before you edit it. Replace its `raw_stimuli` and
`raw_responses` with code reading your raw files, run `python package_data.py`, and fill
in every section below.

## Contents

<Coordinates and their meaning (stimulus_id, repetition, neuroid_id, region, ...), units
of the values, time window, which trials are missing (NaN) and why.>

## Source

<Where the raw data comes from: repository or archive, version or commit, and the file
paths that `package_data.py` reads.>

## License

<The license under which the data (images and responses) may be redistributed, with a
link; data whose license does not allow redistribution cannot be submitted.>

## Citation

<The paper(s) to cite when using the data, and their bibtex.>
'''

_DATA_TEST = '''\
import numpy as np

from brainmark import load_dataset, load_stimulus_set


def test_stimulus_set_has_every_image():
    assert len(load_stimulus_set("{name}")) == 12  # TODO: your number of images


def test_responses_are_the_trials_of_those_images():
    responses = load_dataset("{dataset}")
    assert dict(responses.sizes) == {{"presentation": 36, "neuroid": 20}}  # TODO: yours
    stimuli = load_stimulus_set("{name}")
    assert set(responses["stimulus_id"].values) == set(stimuli["stimulus_id"])
    assert int(np.isnan(responses.values).sum()) == 5  # TODO: your trials not recorded
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


@dataclasses.dataclass(frozen=True)
class Scaffold:
    """What ``brainmark new`` wrote, and what it chose that the user should know."""

    folder: Path
    paths: list[Path]
    notes: list[str] = dataclasses.field(default_factory=list)


def benchmark_kind(identifier: str, kind: str | None = None) -> tuple[str, str]:
    """The kind of benchmark to scaffold (one of :data:`BENCHMARK_KINDS`) and why.

    ``kind`` when given; otherwise guessed from the identifier's metric part: regression
    metrics and CKA compare responses (``neural``), ``rdm``/``rsa`` compare RDMs
    (``rsa``), ``top1``, ``accuracy``, ``error_consistency``, ``i2n``, ``odd_one_out``
    compare choices (``behavioral``). Any other metric needs ``kind``.
    """
    if kind is not None:
        if kind not in BENCHMARK_KINDS:
            raise ValidationError(
                f"Benchmark kind must be one of {list(BENCHMARK_KINDS)}; got {kind!r}."
            )
        return kind, "as given with --kind"
    metric = benchmark_identifier_parts(identifier)["metric"]
    if metric not in _KIND_OF_METRIC:
        raise ValidationError(
            f"Cannot tell the kind of benchmark {identifier!r} from its metric {metric!r}. "
            f"Pass --kind: neural (trial-level responses compared by a regression metric or "
            f"CKA, e.g. '-pls'), rsa (RDMs, '-rdm') or behavioral (choices, '-top1', "
            f"'-error_consistency', '-i2n')."
        )
    return _KIND_OF_METRIC[metric], (
        f"guessed from the metric {metric!r} in the identifier; choose another with --kind "
        f"{'|'.join(BENCHMARK_KINDS)}"
    )


def new_benchmark(identifier: str, destination: Path, kind: str | None = None) -> Scaffold:
    """Write ``<destination>/benchmarks/<folder>/`` for benchmark ``identifier``.

    The folder holds a working benchmark of ``kind`` (see :func:`benchmark_kind`) on
    stand-in data: ``rsa`` on the built-in Coggan2024 RDMs, ``neural`` on synthetic
    trial-level responses to the built-in Kriegeskorte2008 images that the template makes
    itself, ``behavioral`` on the built-in Geirhos2021 choices. The metric is the
    identifier's where brainmark registers it for that kind (``top1`` is ``accuracy``),
    else a stand-in. Neural and rsa templates record the region the identifier names
    (``.V1`` ... ``.IT``; IT when it names none of these), which is their parent;
    behavioral ones hang under ``behavior`` (``engineering`` for accuracy). The returned
    notes say what was chosen.
    """
    validate_identifier(identifier, "benchmark")
    kind, reason = benchmark_kind(identifier, kind)
    _refuse_known_identifier(identifier, "benchmark")
    parts = benchmark_identifier_parts(identifier)
    metric = parts["metric"]
    notes = [f"Kind: {kind} ({reason})."]
    region = parts["region"] if parts["region"] in REGIONS else "IT"
    wanted = "accuracy" if metric == "top1" else metric
    if kind == "behavioral":
        chosen = wanted if wanted in _BEHAVIORAL_CHOICES else "error_consistency"
        parent, ceiler = _BEHAVIORAL_CHOICES[chosen]
        values = {
            "metric": chosen,
            "parent": parent,
            "ceiler": ceiler,
            "ceiling_import": "from brainmark.metrics import no_ceiling\n"
            if "no_ceiling" in ceiler else "",
        }
    else:
        if parts["region"] not in REGIONS:
            notes.append(
                f"The identifier names no region a model records ({', '.join(REGIONS)}); "
                f"the template records IT with parent IT: change region and parent in "
                f"benchmark.py."
            )
        chosen = "rdm" if kind == "rsa" else wanted if wanted in _NEURAL_METRICS else "pls"
        values = {"metric": chosen, "parent": region}
    if chosen != wanted:
        notes.append(
            f"Metric: {chosen!r} stands in for {metric!r}, which brainmark does not register "
            f"for a {kind} benchmark; set metric= in benchmark.py."
        )
    values.update(identifier=identifier, region=region)
    stand_in = textwrap.fill(
        _STAND_INS[kind].format(**values) + " Replace the stand-in with your own data plugin "
        "(`brainmark new data`, see docs/submitting-a-benchmark.md) and update this "
        "docstring, the visual degrees and the bibtex.",
        width=88,
    )
    folder = Path(destination) / "benchmarks" / folder_name(identifier)
    paths = _create(
        folder,
        {
            "__init__.py": _BENCHMARK_INIT.format(**values),
            "benchmark.py": _BENCHMARK_IMPLS[kind].format(**values, stand_in=stand_in),
            "test.py": _BENCHMARK_TEST.format(**values),
            "requirements.txt": _REQUIREMENTS,
        },
    )
    return Scaffold(folder, paths, notes)


def new_model(identifier: str, destination: Path) -> Scaffold:
    """Write ``<destination>/models/<folder>/`` for model ``identifier``."""
    validate_identifier(identifier, "model")
    _refuse_known_identifier(identifier, "model")
    values = {"identifier": identifier}
    folder = Path(destination) / "models" / folder_name(identifier)
    paths = _create(
        folder,
        {
            "__init__.py": _MODEL_INIT.format(**values),
            "model.py": _MODEL_IMPL.format(**values),
            "test.py": _MODEL_TEST.format(**values),
            "requirements.txt": _REQUIREMENTS,
        },
    )
    return Scaffold(folder, paths)


def new_data(name: str, destination: Path) -> Scaffold:
    """Write ``<destination>/data/<folder>/``: stimulus set ``name`` and dataset ``name.IT``.

    The folder holds ``__init__.py`` (the two registrations), ``data.py`` (loaders checking
    the pinned SHA1s), ``package_data.py`` (the provenance script, with a stand-in
    experiment), ``README.md`` (contents, source, license and citation sections),
    ``test.py`` and ``requirements.txt``; ``package_data.py`` is run once, so the packaged
    files and ``sha1s.json`` are there and the plugin passes ``brainmark test`` at once.
    """
    validate_identifier(name, "stimulus set")
    dataset = f"{name}.IT"
    _refuse_known_identifier(name, "stimulus set")
    _refuse_known_identifier(dataset, "dataset")
    values = {"name": name, "dataset": dataset}
    folder = Path(destination) / "data" / folder_name(name)
    paths = _create(
        folder,
        {
            "__init__.py": _DATA_INIT.format(**values),
            "data.py": _DATA_LOADERS.format(**values),
            "package_data.py": _DATA_PACKAGING.format(**values),
            "README.md": _DATA_README.format(**values),
            "test.py": _DATA_TEST.format(**values),
            "requirements.txt": _REQUIREMENTS,
        },
    )
    before = set(folder.iterdir())
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(str(folder / "package_data.py"), run_name="__main__")
    paths += sorted(set(folder.iterdir()) - before)
    notes = [
        f"Stand-in data packaged: stimulus set {name!r} (12 generated images) and dataset "
        f"{dataset!r} (made-up responses). Rewrite raw_stimuli and raw_responses in "
        f"package_data.py for your data and run it again."
    ]
    return Scaffold(folder, paths, notes)
