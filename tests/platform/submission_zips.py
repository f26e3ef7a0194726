"""Zips of plugins and the API client that posts them, for the intake's tests.

Shared by ``test_intake.py`` and ``test_validation_rules.py``: the fixtures (a home with a
LocalStore as the ``store``, users, an API client with a token) are imported into each test
module, so both post their zips the same way, to ``POST /api/submissions/``.
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import yaml

_users = itertools.count()
_names = itertools.count()

METADATA = {
    "architecture": "CNN",
    "parameters": 1234,
    "training_data": "ImageNet",
    "license": "MIT",
    "reference": "https://example.org/paper",
}
BENCHMARK_METADATA = {
    "region": "IT",
    "species": "macaque",
    "task": "passive viewing",
    "stimuli": "objects",
    "license": "MIT",
    "reference": "https://example.org/paper",
}


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def test_client_host(django_configured: None) -> Iterator[None]:
    from django.test import override_settings

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        yield


@pytest.fixture
def home(tmp_path: Path, database: None) -> Iterator[Path]:
    """A home of its own (the work folders) and a LocalStore folder as the ``store``."""
    from brainmark.settings import override_settings

    folder = tmp_path / "home"
    folder.mkdir()
    with override_settings(home=folder, store=(tmp_path / "object-store").as_uri()):
        yield folder


@pytest.fixture
def store_root(home: Path) -> Path:
    return home.parent / "object-store"


@pytest.fixture
def make_user(database: None):
    from django.contrib.auth import get_user_model

    def make(**extra):
        email = f"submitter{next(_users)}@example.org"
        return get_user_model().objects.create_user(email, email, "a long pass phrase 42",
                                                    **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def api(user):
    return api_client(user)


# --- helpers --------------------------------------------------------------------------------


def api_client(user):
    """A Django test client sending a new API token of ``user`` as ``Bearer``."""
    from django.test import Client

    from brainmark.platform.accounts.models import ApiToken

    _, clear = ApiToken.objects.create_token(user, "intake test")
    return Client(headers={"Authorization": f"Bearer {clear}"})


def write_zip(path: Path, entries: Iterable[tuple[str | zipfile.ZipInfo, bytes | str]],
              ) -> Path:
    """A deflated zip of ``entries`` (a name or a crafted ZipInfo, and the data) at ``path``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def model_zip(tmp_path: Path, identifier: str | None = None, *, extra: dict | None = None,
              as_identifier: str | None = None) -> Path:
    """A zip of one scaffolded model plugin with its metadata.yml.

    ``as_identifier`` rewrites the registration afterwards (the scaffold refuses names the
    library already knows, such as ``pixels``).
    """
    from brainmark._scaffold import new_model

    identifier = identifier or f"intake-net-{next(_names)}"
    source = tmp_path / f"source-{identifier}"
    scaffold = new_model(identifier, source)
    (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(METADATA))
    if as_identifier is not None:
        init = scaffold.folder / "__init__.py"
        init.write_text(init.read_text().replace(f"'{identifier}'", f"'{as_identifier}'")
                        .replace(f'"{identifier}"', f'"{as_identifier}"'))
    path = tmp_path / f"{identifier}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.rglob("*")):
            archive.write(file, file.relative_to(source).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def benchmark_zip(tmp_path: Path, identifier: str) -> Path:
    """A zip of one scaffolded benchmark plugin with its metadata.yml."""
    from brainmark._scaffold import new_benchmark

    source = tmp_path / f"source-{identifier}"
    scaffold = new_benchmark(identifier, source)
    (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(BENCHMARK_METADATA))
    path = tmp_path / f"{identifier}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.rglob("*")):
            archive.write(file, file.relative_to(source).as_posix())
    return path


def submit(api, path: Path, **fields):
    """POST the zip at ``path`` (and form ``fields``) to ``/api/submissions/``."""
    with path.open("rb") as stream:
        return api.post("/api/submissions/", {"file": stream, **fields})


def stored_files(store_root: Path) -> list[Path]:
    """The submitted zips in the LocalStore at ``store_root``."""
    folder = store_root / "submissions"
    return [p for p in folder.rglob("*.zip") if p.is_file()] if folder.exists() else []
