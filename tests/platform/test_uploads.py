"""Data and weights upload: the page and the API stream a file to the object store.

Every test uploads real bytes through Django's test client into a real store (a LocalStore
folder, or moto's S3 server on loopback) named by brainmark's ``store`` setting, and checks
what the store holds against hashlib on the original bytes. Refusals (SHA1 mismatch, content
not of its kind, quota) must leave no row, no stored object and no temporary file.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import re
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.db

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_buckets = itertools.count()
_users = itertools.count()


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def test_client_host(django_configured: None) -> Iterator[None]:
    """Django's test client calls itself 'testserver'; the site answers listed hosts only."""
    from django.test import override_settings

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        yield


@pytest.fixture
def store_root(tmp_path: Path, database: None) -> Iterator[Path]:
    """A LocalStore folder as the ``store`` setting, read by the upload at call time."""
    from brainmark.settings import override_settings

    root = tmp_path / "object-store"
    with override_settings(store=root.as_uri()):
        yield root


@pytest.fixture
def upload_tmp(tmp_path: Path) -> Iterator[Path]:
    """Where uploads are streamed to (Django's FILE_UPLOAD_TEMP_DIR), to see it emptied."""
    from django.test import override_settings

    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    with override_settings(FILE_UPLOAD_TEMP_DIR=str(folder)):
        yield folder


@pytest.fixture
def make_user(database: None):
    from django.contrib.auth import get_user_model

    def make():
        email = f"uploader{next(_users)}@example.org"
        return get_user_model().objects.create_user(email, email, "a long pass phrase 42")

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def client(user):
    """A browser logged in as ``user``."""
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def token(user) -> str:
    from brainmark.platform.accounts.models import ApiToken

    _, clear = ApiToken.objects.create_token(user, "uploads test")
    return clear


@pytest.fixture
def api(token):
    """A script's client: the API token, no session."""
    from django.test import Client

    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def packaged(tmp_path: Path) -> dict:
    """A stimulus set (4 real PNG images) and a NeuroidAssembly, packaged by the library."""
    from PIL import Image

    from brainmark.data import (
        NeuroidAssembly,
        StimulusSet,
        package_data_assembly_locally,
        package_stimulus_set_locally,
    )

    rng = np.random.default_rng(7)
    images = tmp_path / "images"
    images.mkdir()
    paths = {}
    for number in range(4):
        path = images / f"image{number}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        paths[f"s{number}"] = path
    stimuli = StimulusSet(
        {"stimulus_id": list(paths), "object_name": ["car", "dog", "car", "dog"]},
        stimulus_paths=paths,
        identifier="Upload2026",
    )
    output = tmp_path / "packaged"
    stimulus_record = package_stimulus_set_locally(stimuli, "Upload2026", output)
    values = rng.normal(size=(4, 3))
    assembly = NeuroidAssembly(
        values,
        dims=("presentation", "neuroid"),
        coords={
            "stimulus_id": ("presentation", list(paths)),
            "neuroid_id": ("neuroid", ["n1", "n2", "n3"]),
            "region": ("neuroid", ["IT"] * 3),
        },
    )
    assembly_record = package_data_assembly_locally(
        assembly, "Upload2026.IT", "Upload2026", "NeuroidAssembly", output
    )
    return {"stimuli": stimulus_record, "assembly": assembly_record, "values": values,
            "images": paths}


# --- helpers --------------------------------------------------------------------------------


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def post_page(client, path: Path, kind: str, identifier: str, stated_sha1: str, **extra):
    with open(path, "rb") as handle:
        return client.post(
            "/uploads/",
            {"file": handle, "kind": kind, "identifier": identifier, "sha1": stated_sha1},
            **extra,
        )


def post_api(api, path: Path, kind: str, identifier: str, stated_sha1: str):
    with open(path, "rb") as handle:
        return api.post(
            "/api/uploads/",
            {"file": handle, "kind": kind, "identifier": identifier, "sha1": stated_sha1},
        )


def page_snippet(page: str) -> str:
    """The registration snippet as an upload's page shows it."""
    match = re.search(r'<pre id="snippet"><code>(.*?)</code></pre>', page, re.DOTALL)
    assert match, page
    return html.unescape(match.group(1))


def rows():
    from brainmark.platform.uploads.models import DataPackage

    return list(DataPackage.objects.all())


def run_snippet(snippet: str, then: str, tmp_path: Path) -> str:
    """Run the snippet as a plugin would, in a fresh process with its own home, then ``then``."""
    home = tmp_path / f"snippet-home-{len(list(tmp_path.glob('snippet-home-*')))}"
    environment = {**os.environ, "BRAINMARK_HOME": str(home)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", snippet + "\n" + then],
        capture_output=True, text=True, timeout=300, env=environment,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_refused_and_nothing_kept(root: Path, temporary: Path) -> None:
    assert rows() == []
    assert stored_files(root) == []
    assert list(temporary.iterdir()) == []


# --- login ----------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in_and_store_nothing(store_root, upload_tmp, tmp_path):
    from django.test import Client

    anonymous = Client()
    page = anonymous.get("/uploads/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/uploads/"
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights")
    posted = post_page(anonymous, weights, "weights", "my-net", sha1(b"weights"))
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/login/")
    api_answer = post_api(anonymous, weights, "weights", "my-net", sha1(b"weights"))
    assert api_answer.status_code == 401
    wrong_token = Client(headers={"Authorization": "Bearer bm_not-a-token"})
    assert post_api(wrong_token, weights, "weights", "my-net", sha1(b"weights")).status_code == 401
    assert_refused_and_nothing_kept(store_root, upload_tmp)


def test_the_page_shows_the_form_and_the_quota(client, store_root):
    page = client.get("/uploads/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'enctype="multipart/form-data"' in text
    for name in ("kind", "identifier", "sha1", "file"):
        assert f'name="{name}"' in text
    assert "0 bytes</strong> used of 5.0 GB (5,000,000,000 bytes)" in text
    assert "No uploads yet." in text


# --- the page -------------------------------------------------------------------------------


def test_a_stimulus_set_uploaded_through_the_page_loads_with_the_snippet(
    client, user, store_root, upload_tmp, packaged, tmp_path
):
    from brainmark.data import open_store

    record = packaged["stimuli"]
    csv_bytes, zip_bytes = record["csv_path"].read_bytes(), record["zip_path"].read_bytes()
    answer = post_page(client, record["csv_path"], "stimulus_csv", "Upload2026", sha1(csv_bytes))
    assert answer.status_code == 302
    (csv_row,) = rows()
    assert answer["Location"] == f"/uploads/{csv_row.pk}/"
    answer = post_page(client, record["zip_path"], "stimulus_zip", "Upload2026", sha1(zip_bytes))
    assert answer.status_code == 302
    zip_row = next(row for row in rows() if row.kind == "stimulus_zip")

    for row, data in ((csv_row, csv_bytes), (zip_row, zip_bytes)):
        assert row.owner == user and row.identifier == "Upload2026"
        assert row.sha1 == sha1(data) and row.size == len(data)
        assert row.key == f"uploads/{user.pk}/Upload2026/{row.file_name}"
        assert row.location == (store_root / "uploads" / str(user.pk) / "Upload2026").as_uri()
        store = open_store(row.location)
        assert store.versions(row.file_name) == [row.version_id]
        copy = store.download(row.file_name, tmp_path / f"copy-{row.file_name}",
                              version_id=row.version_id)
        assert sha1(copy.read_bytes()) == sha1(data)
    assert csv_row.file_name == "stimulus_Upload2026.csv"  # The names the loader asks for.
    assert zip_row.file_name == "stimulus_Upload2026.zip"
    assert list(upload_tmp.iterdir()) == []

    detail = client.get(answer["Location"])
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "Stored stimulus_Upload2026.zip" in page  # The message after the redirect.
    snippet = page_snippet(page)
    for row in (csv_row, zip_row):
        assert f"'{row.sha1}'" in snippet and f"'{row.version_id}'" in snippet
    assert f"'{csv_row.location}'" in snippet
    # Pasted as it is into a plugin, the snippet loads the stimulus set from the store.
    output = run_snippet(
        snippet,
        "s = load_upload2026_stimuli()\n"
        "import json, hashlib\n"
        "print(json.dumps({sid: hashlib.sha1(open(s.get_stimulus(sid), 'rb').read())"
        ".hexdigest() for sid in s['stimulus_id']} | {'objects': list(s['object_name'])}))",
        tmp_path,
    )
    loaded = json.loads(output)
    assert loaded.pop("objects") == ["car", "dog", "car", "dog"]
    assert loaded == {sid: sha1(path.read_bytes()) for sid, path in packaged["images"].items()}

    listing = client.get("/uploads/").content.decode()
    assert listing.count('href="/uploads/') >= 2
    assert "stimulus_Upload2026.csv" in listing and "stimulus_Upload2026.zip" in listing


def test_the_snippet_of_a_csv_alone_says_the_zip_is_missing(client, store_root, packaged):
    record = packaged["stimuli"]
    data = record["csv_path"].read_bytes()
    post_page(client, record["csv_path"], "stimulus_csv", "Upload2026", sha1(data))
    (row,) = rows()
    snippet = page_snippet(client.get(f"/uploads/{row.pk}/").content.decode())
    assert snippet.startswith("# Still to upload for 'Upload2026': Stimulus set images (ZIP).")
    assert f"csv_sha1='{row.sha1}'" in snippet


def test_another_users_upload_page_is_not_found(client, make_user, store_root, tmp_path):
    from django.test import Client

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 10)
    post_page(client, weights, "weights", "my-net", sha1(b"w" * 10))
    (row,) = rows()
    other = Client()
    other.force_login(make_user())
    assert other.get(f"/uploads/{row.pk}/").status_code == 404
    assert "my-net" not in other.get("/uploads/").content.decode()


def test_the_page_checks_csrf_before_storing(user, store_root, upload_tmp, tmp_path):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"x" * 1000)
    answer = post_page(browser, weights, "weights", "my-net", sha1(b"x" * 1000))
    assert answer.status_code == 403
    assert_refused_and_nothing_kept(store_root, upload_tmp)
    # With the page's token the same upload is stored.
    browser.get("/uploads/")
    token = browser.cookies["csrftoken"].value
    with open(weights, "rb") as handle:
        answer = browser.post("/uploads/", {"file": handle, "kind": "weights",
                                            "identifier": "my-net", "sha1": sha1(b"x" * 1000),
                                            "csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    assert len(rows()) == 1


# --- the API --------------------------------------------------------------------------------


def test_an_assembly_uploaded_through_the_api_loads_with_the_snippet(
    api, user, store_root, upload_tmp, packaged, tmp_path
):
    from brainmark.data import open_store

    stimuli = packaged["stimuli"]
    answers = {}
    for kind, path in (("stimulus_csv", stimuli["csv_path"]),
                       ("stimulus_zip", stimuli["zip_path"])):
        answer = post_api(api, path, kind, "Upload2026", sha1(path.read_bytes()))
        assert answer.status_code == 201, answer.content
        answers[kind] = answer.json()
    record = packaged["assembly"]
    data = record["path"].read_bytes()
    answer = post_api(api, record["path"], "assembly", "Upload2026.IT", sha1(data))
    assert answer.status_code == 201, answer.content
    body = answer.json()
    row = next(row for row in rows() if row.kind == "assembly")
    assert body["id"] == row.pk
    assert body["sha1"] == sha1(data) == row.sha1
    assert body["size"] == len(data) == row.size
    assert body["kind"] == "assembly"
    assert body["file_name"] == "assy_Upload2026.IT.nc"
    assert body["key"] == f"uploads/{user.pk}/Upload2026.IT/assy_Upload2026.IT.nc"
    # Read from the file: the stimulus set and class package_data_assembly_locally recorded.
    assert body["details"] == {"stimulus_set_identifier": "Upload2026",
                               "class": "NeuroidAssembly"}
    store = open_store(body["location"])
    assert store.versions(body["file_name"]) == [body["version_id"]] == [row.version_id]
    assert f"sha1='{body['sha1']}'" in body["snippet"]
    assert f"version_id='{body['version_id']}'" in body["snippet"]
    assert "stimulus_set_registry.load('Upload2026')" in body["snippet"]
    assert list(upload_tmp.iterdir()) == []
    # The data plugin: the stimulus set's snippet (complete once the ZIP is in) and the
    # assembly's, pasted one after the other.
    output = run_snippet(
        answers["stimulus_zip"]["snippet"] + "\n" + body["snippet"],
        "a = load_upload2026_it()\nimport json\n"
        "print(json.dumps({'values': a.values.tolist(), 'ids': list(a['stimulus_id'].values),"
        " 'objects': list(a['object_name'].values), 'class': type(a).__name__,"
        " 'stimuli': len(a.attrs['stimulus_set'])}))",
        tmp_path,
    )
    loaded = json.loads(output)
    assert loaded["class"] == "NeuroidAssembly"
    assert loaded["ids"] == ["s0", "s1", "s2", "s3"]
    assert loaded["objects"] == ["car", "dog", "car", "dog"]  # Joined from the stimulus set.
    assert loaded["stimuli"] == 4
    np.testing.assert_array_equal(np.array(loaded["values"]), packaged["values"])


def test_an_assembly_packaged_under_another_identifier_is_refused(
    api, store_root, upload_tmp, packaged
):
    path = packaged["assembly"]["path"]
    answer = post_api(api, path, "assembly", "Upload2026.V4", sha1(path.read_bytes()))
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        "assy_Upload2026.IT.nc was packaged as assembly 'Upload2026.IT', not 'Upload2026.V4': "
        "upload it as 'Upload2026.IT', or package it again under the identifier you mean."
    )
    assert_refused_and_nothing_kept(store_root, upload_tmp)


def test_weights_uploaded_twice_are_two_versions_each_loadable(
    api, store_root, upload_tmp, tmp_path
):
    from brainmark.data import open_store

    first, second = os.urandom(300_000), os.urandom(200_000)
    path = tmp_path / "my weights (final).pt"
    path.write_bytes(first)
    one = post_api(api, path, "weights", "my-net", sha1(first))
    path.write_bytes(second)
    two = post_api(api, path, "weights", "my-net", sha1(second))
    assert one.status_code == two.status_code == 201
    one, two = one.json(), two.json()
    assert one["file_name"] == two["file_name"] == "my_weights__final_.pt"
    assert one["location"] == two["location"]
    store = open_store(one["location"])
    assert store.versions(one["file_name"]) == [one["version_id"], two["version_id"]]
    output = run_snippet(
        one["snippet"],
        "import hashlib\nprint(hashlib.sha1(my_net_weights_path().read_bytes()).hexdigest())",
        tmp_path,
    )
    assert output.strip() == sha1(first)  # The snippet pins the first version, not the latest.
    listed = api.get("/api/uploads/").json()
    assert [item["version_id"] for item in listed] == [two["version_id"], one["version_id"]]


def test_the_list_holds_the_callers_uploads_only(api, client, make_user, store_root, tmp_path):
    from django.test import Client

    path = tmp_path / "w.bin"
    path.write_bytes(b"mine")
    assert post_api(api, path, "weights", "my-net", sha1(b"mine")).status_code == 201
    other = Client()
    other.force_login(make_user())
    path.write_bytes(b"theirs")
    assert post_page(other, path, "weights", "their-net", sha1(b"theirs")).status_code == 302
    mine = api.get("/api/uploads/").json()
    assert [item["identifier"] for item in mine] == ["my-net"]
    assert [item["identifier"] for item in client.get("/api/uploads/").json()] == ["my-net"]
    assert Client().get("/api/uploads/").status_code == 401


def test_the_openapi_description_names_the_form_and_the_answers(database):
    from django.test import Client

    schema = Client().get("/api/openapi.json").json()
    operation = schema["paths"]["/api/uploads/"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "kind", "identifier", "sha1"]
    assert form["properties"]["file"]["format"] == "binary"
    assert form["properties"]["kind"]["enum"] == ["stimulus_csv", "stimulus_zip", "assembly",
                                                  "weights"]
    assert {"201", "400", "413"} <= set(operation["responses"])
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][created.rsplit("/", 1)[-1]]["properties"]
    assert {"identifier", "key", "location", "sha1", "version_id", "size", "snippet",
            "details"} <= set(fields)


# --- refusals -------------------------------------------------------------------------------


def test_a_wrong_sha1_stores_nothing(client, api, store_root, upload_tmp, tmp_path):
    data = os.urandom(100_000)
    path = tmp_path / "weights.pt"
    path.write_bytes(data)
    stated = sha1(data + b"!")
    answer = post_api(api, path, "weights", "my-net", stated)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "SHA1 mismatch" in detail and sha1(data) in detail and stated in detail
    assert_refused_and_nothing_kept(store_root, upload_tmp)
    page = post_page(client, path, "weights", "my-net", stated)
    assert page.status_code == 400
    assert "SHA1 mismatch" in page.content.decode()
    assert_refused_and_nothing_kept(store_root, upload_tmp)


@pytest.mark.parametrize(
    ("kind", "name", "content", "expected"),
    [
        ("stimulus_zip", "stimulus_Upload2026.zip", b"PK\x03\x04 but not a zip" * 10,
         "is not a ZIP archive"),
        ("assembly", "assy_Upload2026.IT.nc", b"just text, no netCDF" * 10,
         "is not a netCDF file"),
        ("assembly", "assy_Upload2026.IT.nc", b"CDF\x01" + bytes(60), "classic netCDF-3"),
        ("assembly", "assy_Upload2026.IT.nc", b"\x89HDF\r\n\x1a\n" + bytes(200),
         "does not open as netCDF"),
        ("stimulus_csv", "stimulus_Upload2026.csv", b"stimulus_id,object_name\r\na,car\r\n",
         "has no column ['filename']"),
        ("stimulus_csv", "stimulus_Upload2026.csv", b"stimulus_id,filename\r\na,\xff.png\r\n",
         "is not UTF-8 text (byte 24"),
        ("stimulus_csv", "stimulus_Upload2026.csv",
         b"stimulus_id,filename\r\na,a.png\r\nb,b.png\r\na,c.png\r\n",
         "line 4: stimulus_id 'a' repeats line 2"),
        ("stimulus_csv", "stimulus_Upload2026.csv", b"stimulus_id,filename\r\n",
         "has a header but no stimulus rows"),
    ],
    ids=["zip-not-zip", "nc-text", "nc-classic", "nc-broken-hdf5", "csv-no-filename",
         "csv-latin1", "csv-duplicate-id", "csv-no-rows"],
)
def test_content_not_of_its_kind_is_refused(
    api, store_root, upload_tmp, tmp_path, kind, name, content, expected
):
    path = tmp_path / name
    path.write_bytes(content)
    answer = post_api(api, path, kind, "Upload2026.IT", sha1(content))
    assert answer.status_code == 400
    assert expected in answer.json()["detail"]
    assert name in answer.json()["detail"]
    assert_refused_and_nothing_kept(store_root, upload_tmp)


def test_a_zip_of_files_is_accepted_under_any_name_and_named_by_its_kind(
    api, store_root, tmp_path
):
    path = tmp_path / "images.dat"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", b"png bytes")
    answer = post_api(api, path, "stimulus_zip", "Upload2026", sha1(path.read_bytes()))
    assert answer.status_code == 201, answer.content
    assert answer.json()["file_name"] == "stimulus_Upload2026.zip"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("identifier", "../etc", "identifier: The stimulus set identifier must start with"),
        ("sha1", "abc", "sha1: A SHA1 is 40 lower-case hex digits."),
        ("kind", "picture", "kind: Select a valid choice. picture is not one"),
    ],
)
def test_bad_form_fields_are_named(api, store_root, upload_tmp, tmp_path, field, value,
                                   expected):
    path = tmp_path / "stimulus.csv"
    data = b"stimulus_id,filename\r\na,a.png\r\n"
    path.write_bytes(data)
    fields = {"kind": "stimulus_csv", "identifier": "Upload2026", "sha1": sha1(data),
              field: value}
    with open(path, "rb") as handle:
        answer = api.post("/api/uploads/", {"file": handle, **fields})
    assert answer.status_code == 400
    assert expected in answer.json()["detail"]
    assert_refused_and_nothing_kept(store_root, upload_tmp)


def test_an_upper_case_sha1_is_the_same_sha1(api, store_root, tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    answer = post_api(api, path, "weights", "my-net", sha1(b"weights").upper())
    assert answer.status_code == 201
    assert answer.json()["sha1"] == sha1(b"weights")


def test_a_second_file_in_one_request_is_refused(api, store_root, upload_tmp, tmp_path):
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"a" * 10)
    second.write_bytes(b"b" * 10)
    with open(first, "rb") as one, open(second, "rb") as two:
        answer = api.post("/api/uploads/", {"file": [one, two], "kind": "weights",
                                            "identifier": "my-net", "sha1": sha1(b"a" * 10)})
    assert answer.status_code == 400
    assert "Send one file per upload" in answer.json()["detail"]
    assert_refused_and_nothing_kept(store_root, upload_tmp)


# --- quota ----------------------------------------------------------------------------------


def test_a_request_longer_than_the_quota_is_refused_before_it_is_read(
    api, client, store_root, upload_tmp, tmp_path
):
    from django.test import override_settings

    data = os.urandom(200_000)
    path = tmp_path / "big.pt"
    path.write_bytes(data)
    with override_settings(BRAINMARK_UPLOAD_QUOTA_BYTES=1000):
        answer = post_api(api, path, "weights", "my-net", sha1(data))
        assert answer.status_code == 413
        detail = answer.json()["detail"]
        # The request is read no further than its Content-Length: the file is at least that
        # minus the 64 KiB allowed for the form's other fields.
        request = answer.wsgi_request
        at_least = int(request.META["CONTENT_LENGTH"]) - 65536
        assert detail.startswith(
            "Upload quota exceeded: you have stored 0 bytes of your 1.0 kB (1,000 bytes), and "
            f"this file is at least {at_least / 1000:.1f} kB ({at_least:,} bytes), more than "
            "the 1.0 kB (1,000 bytes) left."
        )
        assert not hasattr(request, "_files")  # The body was never parsed.
        page = post_page(client, path, "weights", "my-net", sha1(data))
        assert page.status_code == 413
        assert "Upload quota exceeded" in page.content.decode()
    assert_refused_and_nothing_kept(store_root, upload_tmp)


def test_an_upload_passing_the_quota_is_stopped_while_it_streams(
    api, store_root, upload_tmp, tmp_path
):
    from django.test import override_settings

    first = os.urandom(600)
    path = tmp_path / "w.pt"
    path.write_bytes(first)
    with override_settings(BRAINMARK_UPLOAD_QUOTA_BYTES=1000):
        assert post_api(api, path, "weights", "my-net", sha1(first)).status_code == 201
        second = os.urandom(20_000)  # Content-Length alone does not show it is too big.
        path.write_bytes(second)
        answer = post_api(api, path, "weights", "my-net", sha1(second))
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    # Stopped at the first chunk that passes the 400 bytes left: the whole 20,000 bytes
    # arrive in one 256 KiB chunk.
    assert detail.startswith(
        "Upload quota exceeded: you have stored 600 bytes of your 1.0 kB (1,000 bytes), and "
        "this file is at least 20.0 kB (20,000 bytes), more than the 400 bytes left."
    )
    (kept,) = rows()
    assert kept.sha1 == sha1(first)
    assert sorted(path.name for path in stored_files(store_root)) == sorted(
        [kept.file_name, kept.version_id]  # The latest copy and its one version.
    )
    assert list(upload_tmp.iterdir()) == []


# --- S3 -------------------------------------------------------------------------------------


@pytest.fixture
def s3_site_store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, database: None):
    """A versioned bucket as the site's store: credentials from the environment, as deployed."""
    import boto3

    from brainmark.settings import override_settings

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"brainmark-uploads-{next(_buckets)}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with override_settings(store=f"s3://{bucket}/site", s3_endpoint_url=s3_endpoint):
        yield bucket, client


def test_an_upload_to_s3_records_the_version_id_s3_gave(api, user, s3_site_store, upload_tmp,
                                                       tmp_path):
    bucket, s3 = s3_site_store
    contents = [os.urandom(70_000), os.urandom(50_000)]
    path = tmp_path / "resnet.pt"
    answers = []
    for data in contents:
        path.write_bytes(data)
        answer = post_api(api, path, "weights", "my-resnet", sha1(data))
        assert answer.status_code == 201, answer.content
        answers.append(answer.json())
    key = f"site/uploads/{user.pk}/my-resnet/resnet.pt"
    assert answers[0]["location"] == f"s3://{bucket}/site/uploads/{user.pk}/my-resnet"
    assert answers[0]["key"] == f"uploads/{user.pk}/my-resnet/resnet.pt"
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert {version["VersionId"] for version in listed} == {a["version_id"] for a in answers}
    recorded = {row.version_id: row.sha1 for row in rows()}
    for answer, data in zip(answers, contents, strict=True):
        stored = s3.get_object(Bucket=bucket, Key=key, VersionId=answer["version_id"])
        assert sha1(stored["Body"].read()) == sha1(data) == recorded[answer["version_id"]]
        assert f"version_id='{answer['version_id']}'" in answer["snippet"]
    assert list(upload_tmp.iterdir()) == []


def test_a_refused_upload_puts_nothing_into_the_bucket(api, s3_site_store, upload_tmp,
                                                      tmp_path):
    bucket, s3 = s3_site_store
    path = tmp_path / "resnet.pt"
    path.write_bytes(b"weights")
    answer = post_api(api, path, "weights", "my-resnet", sha1(b"other"))
    assert answer.status_code == 400
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert rows() == [] and list(upload_tmp.iterdir()) == []


# --- memory ---------------------------------------------------------------------------------


def test_a_50_mb_upload_streams_through_bounded_memory(token, store_root, upload_tmp, tmp_path):
    """The request body is read from a file on disk in chunks, as from a socket: the server
    side never holds more than a chunk of it, so tracemalloc's peak stays far below 50 MB."""
    from django.test import Client, override_settings
    from django.test.client import BOUNDARY, MULTIPART_CONTENT

    from brainmark.platform.uploads.handlers import StreamedUploadedFile

    size = 50 * 1000 * 1000
    digest = hashlib.sha1()
    body_path = tmp_path / "request-body"
    with open(body_path, "wb") as body:
        for name, value in (("kind", "weights"), ("identifier", "big-net")):
            body.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                       f"{value}\r\n".encode())
        body.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                   f'filename="big.pt"\r\nContent-Type: application/octet-stream\r\n\r\n'
                   .encode())
        rng = np.random.default_rng(3)
        for _ in range(size // 1_000_000):
            chunk = rng.bytes(1_000_000)
            digest.update(chunk)
            body.write(chunk)
        body.write(f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sha1\"\r\n\r\n"
                   f"{digest.hexdigest()}\r\n--{BOUNDARY}--\r\n".encode())
    api = Client(headers={"Authorization": f"Bearer {token}"})
    # Django's own handlers would keep a file this small in memory; ours never do.
    with open(body_path, "rb") as stream, override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=10**9):
        tracemalloc.start()
        try:
            answer = api.generic(
                "POST", "/api/uploads/", CONTENT_TYPE=MULTIPART_CONTENT,
                CONTENT_LENGTH=str(body_path.stat().st_size), **{"wsgi.input": stream},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answer.status_code == 201, answer.content
    assert isinstance(answer.wsgi_request.FILES["file"], StreamedUploadedFile)
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"
    (row,) = rows()
    assert row.size == size and row.sha1 == digest.hexdigest()
    stored = store_root / row.key
    assert stored.stat().st_size == size
    copy_digest = hashlib.sha1()
    with open(stored, "rb") as handle:
        while chunk := handle.read(1 << 20):
            copy_digest.update(chunk)
    assert copy_digest.hexdigest() == digest.hexdigest()
    assert list(upload_tmp.iterdir()) == []


# --- admin ----------------------------------------------------------------------------------


def test_the_admin_lists_and_opens_uploads(api, store_root, tmp_path):
    from django.contrib.auth import get_user_model
    from django.test import Client

    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    assert post_api(api, path, "weights", "my-net", sha1(b"weights")).status_code == 201
    (row,) = rows()
    staff = get_user_model().objects.create_superuser("admin@example.org",
                                                      "admin@example.org", "pw")
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/uploads/datapackage/")
    assert listing.status_code == 200 and row.version_id in listing.content.decode()
    change = admin.get(f"/admin/uploads/datapackage/{row.pk}/change/")
    assert change.status_code == 200 and row.location in change.content.decode()


def test_sizes_read_in_decimal_units(django_configured):
    from brainmark.platform.uploads.services import format_bytes

    assert format_bytes(999) == "999 bytes"
    assert format_bytes(1500) == "1.5 kB (1,500 bytes)"
    assert format_bytes(5_000_000_000) == "5.0 GB (5,000,000,000 bytes)"
    assert format_bytes(0) == "0 bytes"
    assert format_bytes(2_500_000, exact=False) == "2.5 MB"


# --- malformed requests ---------------------------------------------------------------------


def multipart_body(fields: dict[str, str], file_bytes: bytes, file_name: str = "w.pt") -> bytes:
    from django.test.client import BOUNDARY

    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"'
        f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + file_bytes + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def test_a_body_cut_short_stores_nothing(token, store_root, upload_tmp):
    """A client that goes away mid-file: Content-Length promises more than arrives."""
    import io

    from django.test import Client
    from django.test.client import MULTIPART_CONTENT

    data = os.urandom(600_000)
    body = multipart_body({"kind": "weights", "identifier": "my-net", "sha1": sha1(data)}, data)
    cut = body[: len(body) // 2]
    api = Client(headers={"Authorization": f"Bearer {token}"})
    answer = api.generic("POST", "/api/uploads/", CONTENT_TYPE=MULTIPART_CONTENT,
                         CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(cut)})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("The upload was cut short: the request ended after")
    assert_refused_and_nothing_kept(store_root, upload_tmp)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"kind": "weights"}', "file: This field is required."),
        ("multipart/form-data", b"--x\r\n", "could not be read as a multipart form"),
        ("multipart/form-data; boundary=zz", b"no parts at all", "file: This field is required."),
    ],
    ids=["json", "no-boundary", "no-parts"],
)
def test_malformed_requests_are_answered_400(api, store_root, upload_tmp, content_type, body,
                                             expected):
    answer = api.generic("POST", "/api/uploads/", body, content_type=content_type)
    assert answer.status_code == 400, answer.content
    assert expected in answer.json()["detail"]
    assert_refused_and_nothing_kept(store_root, upload_tmp)


# --- boundaries -----------------------------------------------------------------------------

UPLOAD_IN_A_FRESH_SITE = """
import hashlib, sys
from pathlib import Path
import django
django.setup()
from django.core.management import call_command
from django.test import Client, override_settings
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user("a@example.org", "a@example.org", "pass phrase 42")
browser = Client()
browser.force_login(user)
uploads = [(Path(sys.argv[1]), "assembly", "Upload2026.IT"),
           (Path(sys.argv[2]), "stimulus_csv", "Upload2026"),
           (Path(sys.argv[3]), "stimulus_zip", "Upload2026")]
with override_settings(ALLOWED_HOSTS=["testserver"]):
    for path, kind, identifier in uploads:
        with open(path, "rb") as handle:
            answer = browser.post("/uploads/", {"file": handle, "kind": kind,
                                  "identifier": identifier,
                                  "sha1": hashlib.sha1(path.read_bytes()).hexdigest()})
        assert answer.status_code == 302, answer.content
        assert browser.get(answer["Location"]).status_code == 200
    assert browser.get("/uploads/").status_code == 200
loaded = sorted(
    m for m in sys.modules if m == "torch" or m.startswith(("torch.", "brainmark.plugins"))
)
assert not loaded, loaded
"""


def test_uploading_imports_no_torch_and_no_plugin(packaged, tmp_path):
    """The web process checks content with h5netcdf and the library's naming rules only."""
    environment = {
        name: value for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL")
    }
    environment |= {"BRAINMARK_HOME": str(tmp_path / "site-home"),
                    "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
    stimuli = packaged["stimuli"]
    result = subprocess.run(
        [sys.executable, "-c", UPLOAD_IN_A_FRESH_SITE, str(packaged["assembly"]["path"]),
         str(stimuli["csv_path"]), str(stimuli["zip_path"])],
        capture_output=True, text=True, timeout=300, env=environment,
    )
    assert result.returncode == 0, result.stderr


def test_an_assembly_on_which_hdf5_loops_without_end_is_refused_in_bounded_time(
    api, store_root, upload_tmp, tmp_path, monkeypatch
):
    """One flipped byte (found by fuzzing, kept in tests/hostile/data) sends the HDF5
    library into an endless loop that no Python code can stop: the web process reads an
    upload only in a child process with a time limit, so the request answers 400 and the
    worker is free again."""
    import faulthandler
    import shutil

    from brainmark.platform.uploads import netcdf_probe

    monkeypatch.setattr(netcdf_probe, "PROBE_SECONDS", 3)
    path = tmp_path / "assy_Upload2026.IT.nc"
    shutil.copy(Path(__file__).parents[1] / "hostile/data/hdf5-btree-loop.nc", path)
    # Read in the web process itself, the loop would never end, and no Python signal
    # handler runs inside it: faulthandler's own thread ends this test process then.
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        answer = post_api(api, path, "assembly", "Upload2026.IT", sha1(path.read_bytes()))
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "assy_Upload2026.IT.nc" in detail and "did not end within 3 s" in detail
    assert_refused_and_nothing_kept(store_root, upload_tmp)
