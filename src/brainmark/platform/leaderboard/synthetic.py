"""A synthetic leaderboard written in bulk, for tests and ``perf/platform.py``.

``populate(1000, 300, seed=0)`` writes what a busy site holds: owners, models (some private,
some with a second version), the benchmark tree's nodes, benchmarks under V1, V2, V4, IT,
behavior and engineering (some with a second version), and a score of every latest model
version on every latest benchmark version, with times, a few missing and a few failed with
an error text. The numbers are random but realistic (a model's quality plus a benchmark's
difficulty plus noise, within [0, 1]); the same seed writes the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from brainmark.benchmarks.tree import TREE
from brainmark.metrics.intervals import encode_resamples
from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    ModelVersion,
    Score,
)

#: Where the synthetic benchmarks go, with their share of all benchmarks.
REGIONS: dict[str, float] = {
    "V1": 0.2, "V2": 0.1, "V4": 0.2, "IT": 0.25, "behavior_vision": 0.2,
    "engineering_vision": 0.05,
}
#: When the synthetic history starts; scores end within the following 500 days.
START = datetime(2025, 1, 1, tzinfo=UTC)
MISSING_FRACTION = 0.03
JAN, FEB, MAR, APR, MAY = (datetime(2026, month, 1, tzinfo=UTC) for month in range(1, 6))
ARCHITECTURES = ("resnet", "vit", "convnext", "alexnet", "cornet", "efficientnet")


@dataclass(frozen=True)
class Populated:
    """What :func:`populate` wrote: identifiers and row counts."""

    models: list[str]
    benchmarks: list[str]
    private_models: list[str]
    scores: int
    errors: int


def _nodes() -> dict[str, BenchmarkType]:
    nodes: dict[str, BenchmarkType] = {}
    for order, (node, parent) in enumerate(TREE.items()):  # parents come first
        nodes[node], _ = BenchmarkType.objects.get_or_create(
            identifier=node,
            defaults={"parent": nodes[parent] if parent else None, "order": order},
        )
    return nodes


def populate(
    n_models: int,
    n_benchmarks: int,
    *,
    seed: int,
    private_fraction: float = 0.1,
    error_fraction: float = 0.02,
    resamples: int = 0,
) -> Populated:
    """Write ``n_models`` models scored on ``n_benchmarks`` benchmarks in one transaction.

    Identifiers carry the seed (``synthetic<seed>-model-0001``), so boards of two seeds can
    live side by side. With ``resamples``, each score's record also holds that many
    per-resample values (a benchmark's shared resampling noise plus the model's own, sd
    0.03 each; the same seed draws the same values) and their 95 % interval, as the
    library records them; the scores themselves are those drawn without.
    """
    if n_models < 1 or n_benchmarks < 1:
        raise ValueError(f"populate needs at least one model and one benchmark, got "
                         f"n_models={n_models}, n_benchmarks={n_benchmarks}.")
    rng = random.Random(seed)
    prefix = f"synthetic{seed}"
    with transaction.atomic():
        nodes = _nodes()
        users = get_user_model()
        owners = users.objects.bulk_create([
            users(username=f"{prefix}-owner-{i}@example.org",
                  email=f"{prefix}-owner-{i}@example.org", password="!unusable")
            for i in range(max(1, n_models // 10))
        ])
        owners = list(users.objects.filter(username__startswith=f"{prefix}-owner-"))

        # Benchmarks: a share of them under each region, some with a second version.
        regions = list(REGIONS)
        weights = [REGIONS[region] for region in regions]
        chosen = [regions[i % len(regions)] for i in range(min(n_benchmarks, len(regions)))]
        chosen += rng.choices(regions, weights, k=n_benchmarks - len(chosen))
        types = BenchmarkType.objects.bulk_create([
            BenchmarkType(identifier=f"{prefix}.{region.split('_')[0]}-{i:04d}",
                          parent=nodes[region], order=100 + i)
            for i, region in enumerate(chosen)
        ])
        versions: list[BenchmarkVersion] = []
        for kind in types:
            for version in range(1, 3 if rng.random() < 0.1 else 2):
                ceiling = round(rng.uniform(0.5, 0.95), 4)
                versions.append(BenchmarkVersion(
                    benchmark_type=kind, version=version, ceiling=ceiling,
                    ceiling_error=round(rng.uniform(0.005, 0.05), 4), public=True,
                    bibtex=(f"@article{{{kind.identifier.replace('.', '_')}_v{version},\n"
                            f"  title = {{Synthetic benchmark {kind.identifier}}},\n"
                            f"  year = {{{2020 + version}}}\n}}"),
                    metadata={"region": kind.identifier.split(".")[1].split("-")[0],
                              "species": rng.choice(["macaque", "human"])},
                    license="CC-BY-4.0",
                ))
        versions = BenchmarkVersion.objects.bulk_create(versions, batch_size=2000)
        latest_benchmarks = {version.benchmark_type_id: version for version in versions}
        difficulty = {version.pk: rng.uniform(-0.15, 0.15) for version in versions}

        # Models: some private (with an owner), some with a second version.
        models = Model.objects.bulk_create([
            Model(identifier=f"{prefix}-model-{i:05d}",
                  owner=owners[i % len(owners)] if i % 2 else None,
                  public=rng.random() >= private_fraction,
                  metadata={"architecture": rng.choice(ARCHITECTURES),
                            "parameters": rng.randint(1, 600) * 10**6},
                  license="MIT")
            for i in range(n_models)
        ], batch_size=2000)
        model_versions = ModelVersion.objects.bulk_create([
            ModelVersion(model=model, version=version, plugin_sha1=f"{rng.getrandbits(160):040x}",
                         visual_degrees=8.0)
            for model in models
            for version in range(1, 3 if rng.random() < 0.1 else 2)
        ], batch_size=2000)
        latest_models = {version.model_id: version for version in model_versions}
        quality = {model.pk: rng.uniform(0.1, 0.7) for model in models}

        # Every row was created at the start; second versions 100 days later.
        for kind in (Model, ModelVersion, BenchmarkVersion):
            kind.objects.filter(pk__in=[row.pk for row in (
                models if kind is Model else model_versions if kind is ModelVersion
                else versions)]).update(created=START)
        ModelVersion.objects.filter(pk__in=[v.pk for v in model_versions if v.version > 1]
                                    ).update(created=START + timedelta(days=100))
        BenchmarkVersion.objects.filter(pk__in=[v.pk for v in versions if v.version > 1]
                                        ).update(created=START + timedelta(days=100))

        scores, errors = [], 0
        noise = np.random.default_rng(seed)
        shared = {pk: noise.normal(0, 0.03, resamples) for pk in sorted(latest_benchmarks)}
        for model_version in latest_models.values():
            for benchmark_version in latest_benchmarks.values():
                if rng.random() < MISSING_FRACTION:
                    continue
                begins = 100 if max(model_version.version, benchmark_version.version) > 1 else 0
                start = START + timedelta(days=rng.uniform(begins + 1, 500))
                end = start + timedelta(minutes=rng.uniform(1, 120))
                if rng.random() < error_fraction:
                    errors += 1
                    scores.append(Score(model_version=model_version,
                                        benchmark_version=benchmark_version, start=start,
                                        end=end, comment="RuntimeError: CUDA out of memory "
                                                         "(synthetic failure)"))
                    continue
                value = quality[model_version.model_id] + difficulty[benchmark_version.pk]
                value = min(1.0, max(0.0, value + rng.gauss(0, 0.05)))
                ceiling = benchmark_version.ceiling
                record = {}
                if resamples:
                    values = (value + shared[benchmark_version.benchmark_type_id]
                              + noise.normal(0, 0.03, resamples))
                    record = {
                        "score": value, "interval": list(np.percentile(values, [2.5, 97.5])),
                        "interval_level": 0.95, "interval_method": "synthetic",
                        "resamples": resamples, "seed": seed,
                        "resample_values": {"ceiled": encode_resamples(values)},
                    }
                scores.append(Score(
                    model_version=model_version, benchmark_version=benchmark_version,
                    raw=value * ceiling, ceiled=value, ceiling=ceiling,
                    error=round(rng.uniform(0.001, 0.03), 5), start=start, end=end,
                    layer_commitment={"IT": "layer4"}, record=record,
                ))
        Score.objects.bulk_create(scores, batch_size=5000)
    return Populated(
        models=[model.identifier for model in models],
        benchmarks=[kind.identifier for kind in types],
        private_models=[model.identifier for model in models if not model.public],
        scores=len(scores),
        errors=errors,
    )


# ---------------------------------------------------------------------------------------
# A hand-made board for tests


def _created_at(row: Any, when: datetime) -> None:
    type(row).objects.filter(pk=row.pk).update(created=when)


def write_example_board() -> dict:
    """A small board whose every number is worked by hand in the tests (and below).

    alpha, beta (public), gamma (ada's, private), delta (withdrawn) on b1, b2 (V1),
    b3 (IT), b4 (behavior) and e1 (engineering).

    ======  ====  =======  =====  ====  ====
    model    b1    b2       b3     b4    e1
    ======  ====  =======  =====  ====  ====
    alpha    0.4   0.6      0.5    0.3   0.9
    beta     0.2   --       error  0.6*  --
    gamma    0.9   0.9      0.9    0.9   --
    ======  ====  =======  =====  ====  ====

    Versions are created in January, scores end in February (* beta's b4: April).
    alpha's version 2 (May) scores b1 0.8, the rest as version 1, ending in May.
    Returns ``{"ada": owner of gamma, "staff": a staff user, "versions": benchmark
    identifier -> BenchmarkVersion}``. Users get no usable password (tests log in with
    ``force_login``).
    """
    users = get_user_model().objects
    ada = users.create_user("ada", "ada@example.org", None)
    nodes: dict[str, BenchmarkType] = {}
    for order, (node, parent) in enumerate([
        ("average_vision", None), ("neural_vision", "average_vision"),
        ("behavior_vision", "average_vision"), ("V1", "neural_vision"), ("V2", "neural_vision"),
        ("V4", "neural_vision"), ("IT", "neural_vision"), ("engineering_vision", None),
    ]):
        nodes[node] = BenchmarkType.objects.create(
            identifier=node, parent=nodes.get(parent) if parent else None, order=order)
    versions = {}
    for order, (name, node) in enumerate([("b1", "V1"), ("b2", "V1"), ("b3", "IT"),
                                          ("b4", "behavior_vision"),
                                          ("e1", "engineering_vision")]):
        kind = BenchmarkType.objects.create(identifier=name, parent=nodes[node], order=order)
        versions[name] = BenchmarkVersion.objects.create(
            benchmark_type=kind, version=1, ceiling=0.8, public=True, bibtex=f"@misc{{{name}}}")
        _created_at(versions[name], JAN)
    # An unpublished newer version of b4 is not on the board.
    BenchmarkVersion.objects.create(benchmark_type=versions["b4"].benchmark_type, version=2,
                                    public=False)
    model_versions = {}
    for name, public, owner, withdrawn in [("alpha", True, None, False),
                                           ("beta", True, None, False),
                                           ("gamma", False, ada, False),
                                           ("delta", True, None, True)]:
        model = Model.objects.create(identifier=name, public=public, owner=owner,
                                     withdrawn=withdrawn, metadata={"family": name[0]})
        _created_at(model, JAN)
        model_versions[name] = ModelVersion.objects.create(
            model=model, version=1, plugin_sha1="a" * 40, visual_degrees=8)
        _created_at(model_versions[name], JAN)

    def score(model_version, benchmark, value, end, comment=""):
        Score.objects.create(model_version=model_version, benchmark_version=versions[benchmark],
                             ceiled=value, raw=value, comment=comment, start=end, end=end)

    for benchmark, value in [("b1", 0.4), ("b2", 0.6), ("b3", 0.5), ("b4", 0.3), ("e1", 0.9)]:
        score(model_versions["alpha"], benchmark, value, FEB)
    score(model_versions["beta"], "b1", 0.2, FEB)
    score(model_versions["beta"], "b3", None, FEB, comment="CUDA out of memory")
    score(model_versions["beta"], "b4", 0.6, APR)
    for benchmark in ["b1", "b2", "b3", "b4"]:
        score(model_versions["gamma"], benchmark, 0.9, FEB)
        score(model_versions["delta"], benchmark, 1.0, FEB)
    alpha2 = ModelVersion.objects.create(model=model_versions["alpha"].model, version=2,
                                         plugin_sha1="b" * 40, visual_degrees=8)
    _created_at(alpha2, MAY)
    for benchmark, value in [("b1", 0.8), ("b2", 0.6), ("b3", 0.5), ("b4", 0.3), ("e1", 0.9)]:
        score(alpha2, benchmark, value, MAY)
    staff = users.create_user("staff", "staff@example.org", None, is_staff=True)
    return {"ada": ada, "staff": staff, "versions": versions}
