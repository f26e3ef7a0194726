"""The library and the CLI load no Django: only the platform's commands do."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOADS_NOTHING_OF_DJANGO = """
import sys
{code}
loaded = sorted(
    m for m in sys.modules if m == "django" or m.startswith(("django.", "brainmark.platform"))
)
assert not loaded, loaded
"""


@pytest.mark.parametrize(
    "code",
    [
        "import brainmark",
        "import brainmark.cli",
        # The help lists every command, the platform's included, without importing Django.
        "from brainmark.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n"
        "    assert e.code == 0\n",
    ],
    ids=["import brainmark", "import brainmark.cli", "brainmark --help"],
)
def test_library_and_cli_load_no_django(code):
    result = subprocess.run(
        [sys.executable, "-c", LOADS_NOTHING_OF_DJANGO.format(code=code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_help_lists_the_platform_commands(run_brainmark):
    result = run_brainmark("--help")
    assert result.returncode == 0
    assert "migrate" in result.stdout and "manage" in result.stdout


def test_manage_passes_arguments_to_django_unchanged(run_brainmark, sqlite_environment):
    result = run_brainmark("manage", "check", "--tag", "models", env=sqlite_environment)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    unknown = run_brainmark("manage", "no-such-command", env=sqlite_environment)
    assert unknown.returncode != 0
    assert "Unknown command: 'no-such-command'" in unknown.stderr


def test_migrate_refuses_a_home_that_is_a_file(tmp_path, run_brainmark, sqlite_environment):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_brainmark("migrate", env={**sqlite_environment, "BRAINMARK_HOME": str(blocker)})
    assert result.returncode == 1
    assert "is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr


SERVES_EVERY_PAGE = r"""
import os, re, sys
from collections import deque

import django

django.setup()
from django.core.management import call_command
from django.test.utils import setup_test_environment

setup_test_environment()  # The test client's host name, e-mail kept in memory.

call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client

from brainmark.platform.accounts.models import ApiToken
from brainmark.platform.leaderboard.models import Model
from brainmark.platform.leaderboard.synthetic import populate

populate(6, 8, seed=3, private_fraction=0.3, error_fraction=0.2)
owner = Model.objects.filter(public=False).first().owner
staff = get_user_model().objects.create_user("staff@example.org", "staff@example.org", None,
                                             is_staff=True, is_superuser=True)
_, token = ApiToken.objects.create_token(owner, "crawl")

seen, failures = set(), []
for viewer in (None, owner, staff):
    client = Client()
    if viewer is not None:
        client.force_login(viewer)
    queue = deque(["/", "/api/openapi.json", "/admin/"])
    while queue and len(seen) < 2000:
        url = queue.popleft()
        if (viewer, url) in seen:
            continue
        seen.add((viewer, url))
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        if response.status_code >= 500:
            failures.append((url, response.status_code))
        if response.get("Content-Type", "").startswith("text/html"):
            for link in re.findall(r'href="(/[^"#]*)"', response.content.decode()):
                # The admin's sorted and filtered lists are the same views again.
                if not link.startswith(("/static/", "/admin/logout", "/admin/jsi18n")) and not (
                    link.startswith("/admin/") and "?" in link
                ):
                    queue.append(link.replace("&amp;", "&"))
        elif url == "/api/openapi.json":
            for path in response.json()["paths"]:
                if "{" not in path:
                    queue.append(path)
pages = {url for _, url in seen}
assert len(pages) > 30, sorted(pages)
assert not failures, failures
loaded = sorted(m for m in sys.modules
                if m == "torch" or m.startswith(("torch.", "torchvision", "brainmark.plugins")))
assert not loaded, loaded
print(len(pages), "pages")
"""


@pytest.mark.slow
def test_the_web_process_serves_every_page_without_torch_or_plugins(tmp_path, sqlite_environment):
    """Crawl the site from / (anonymous, a model owner, staff) and every API path without
    parameters: no server error, and no torch or plugin module was ever imported."""
    result = subprocess.run(
        [sys.executable, "-c", SERVES_EVERY_PAGE],
        env={**sqlite_environment, "BRAINMARK_HOME": str(tmp_path),
             "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
