"""Fixtures for the data tests: real image files and stores (moto's S3 server on loopback is
the root conftest's ``s3_endpoint``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainmark.data import LocalStore, NeuroidAssembly, S3Store, StimulusSet

S3_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}
_bucket_numbers = itertools.count()


def write_images(folder: Path, names: list[str], seed: int = 0) -> list[Path]:
    """Small random RGB PNG files, one per name."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        path = folder / name
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def make_stimulus_set(tmp_path: Path) -> Callable[..., StimulusSet]:
    """A factory of stimulus sets with real image files and a few typed columns."""
    counter = itertools.count()

    def make(ids: list[str] | None = None, identifier: str = "test.stimuli", **columns):
        ids = ids if ids is not None else ["a", "b", "c", "d"]
        folder = tmp_path / f"images{next(counter)}"
        paths = write_images(folder, [f"{i}.png" for i in range(len(ids))])
        data = {"stimulus_id": ids, **columns}
        if not columns:
            data["object_name"] = [f"object{i % 2}" for i in range(len(ids))]
            data["size"] = np.linspace(1.0, 2.0, len(ids))
        return StimulusSet(
            data,
            stimulus_paths=dict(zip(map(str, ids), paths, strict=True)),
            identifier=identifier,
        )

    return make


@pytest.fixture
def neuroid_assembly() -> NeuroidAssembly:
    """Two repetitions of four stimuli x three neuroids, multi-level coords on both dims."""
    values = np.arange(24, dtype=np.float64).reshape(8, 3) / 7
    return NeuroidAssembly(
        values,
        dims=("presentation", "neuroid"),
        coords={
            "stimulus_id": ("presentation", ["a", "b", "c", "d"] * 2),
            "repetition": ("presentation", [0] * 4 + [1] * 4),
            "neuroid_id": ("neuroid", ["n1", "n2", "n3"]),
            "region": ("neuroid", ["IT", "IT", "V4"]),
        },
        attrs={"experiment": "unit test"},
    )


@pytest.fixture
def s3_store(s3_endpoint: str) -> S3Store:
    """A fresh versioned bucket on the moto server, used with a key prefix."""
    import boto3

    bucket = f"brainmark-test-{next(_bucket_numbers)}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, **S3_CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return S3Store(bucket, "packages/v1", s3_endpoint, client_kwargs=S3_CREDENTIALS)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> LocalStore | S3Store:
    """Each test using it runs once on a LocalStore and once on an S3Store."""
    return request.getfixturevalue(f"{request.param}_store")
