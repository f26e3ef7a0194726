"""The site's numbers are ``brainmark table``'s: one aggregation function, one tree.

In a fresh home, through the CLI in child processes: ``brainmark sync --score`` scores the
``pixels`` model on a V1 and an IT benchmark, ``brainmark table --json`` computes the same
pairs, and the site's ``/leaderboard.json`` (served in another child, the other built-in
benchmarks excluded so both aggregate the same benchmarks) must give every leaf and node
value to 1e-9.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

MODEL = "pixels"
BENCHMARKS = ("Coggan2024.V1-rdm", "Kiani2007.IT-rdm")

SITE_JSON = r"""
import json, sys
import django

django.setup()
from django.test import Client

client = Client(HTTP_HOST="localhost")
full = json.loads(client.get("/leaderboard.json").content)
chosen = set(sys.argv[1:])
others = [c["identifier"] for c in full["columns"]
          if c["is_benchmark"] and c["identifier"] not in chosen]
response = client.get("/leaderboard.json", {"exclude": ",".join(others)})
assert response.status_code == 200, response.content
print(response.content.decode())
"""


def test_leaderboard_json_equals_brainmark_table(run_brainmark, sqlite_environment):
    env = sqlite_environment
    assert run_brainmark("migrate", env=env).returncode == 0
    choice = [arg for benchmark in BENCHMARKS for arg in ("--benchmark", benchmark)]
    synced = run_brainmark("sync", "--score", "--model", MODEL, *choice, env=env)
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert "Scored 2 pairs, 0 failed." in synced.stdout
    table = run_brainmark("table", "--model", MODEL, *choice, "--json", env=env)
    assert table.returncode == 0, table.stderr[-3000:]
    expected = json.loads(table.stdout)

    site = subprocess.run(
        [sys.executable, "-c", SITE_JSON, *BENCHMARKS],
        env={**env, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"},
        capture_output=True, text=True, timeout=300,
    )
    assert site.returncode == 0, site.stderr[-3000:]
    board = json.loads(site.stdout)
    row = next(row for row in board["rows"] if row["model"] == MODEL)

    leaves = {record["benchmark"]: record["score"] for record in expected["results"]}
    assert set(leaves) == set(BENCHMARKS) and None not in leaves.values()
    for benchmark, score in leaves.items():
        assert row["values"][benchmark] == pytest.approx(score, abs=1e-9), benchmark
    nodes = expected["nodes"][MODEL]
    assert {"V1", "IT", "neural_vision", "average_vision"} <= set(nodes)
    site_nodes = {c["identifier"] for c in board["columns"] if not c["is_benchmark"]}
    for node in site_nodes:
        if node in nodes:
            assert row["values"][node] == pytest.approx(nodes[node], abs=1e-9), node
        else:  # every benchmark beneath it is excluded: the library has no value either
            assert row["values"][node] is None, node
    assert set(nodes) <= site_nodes
