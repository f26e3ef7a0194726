"""Bounds, tie groups and paired verdicts on the site, from records whose resample values are
built here, so every verdict is known by construction.

Three benchmarks, b1 and b2 under V1 and b3 under IT (so V1, IT, neural_vision and
average_vision are the nodes), each scored with R resamples of one seed. ``noise[b]`` is a
benchmark's shared resampling noise (sd 0.05), ``own`` a model's independent noise:

==========  ==========================  ======================  ===================
model       b1, b2, b3 (points)         per-resample values      against the one above
==========  ==========================  ======================  ===================
top         0.7, 0.6, 0.5               point + noise[b]         (first)
near        0.699, 0.599, 0.499         top - 0.001 + own (sd    tied: the paired
                                        0.05)                    difference's spread
                                                                 (~0.05) holds 0
low         0.5, 0.4, 0.3               top - 0.2 exactly        not tied: every paired
                                                                 difference is ~0.2 - own
old         0.2, 0.2, 0.2               none (an old record)     unknown: no entry
secret      0.9, 0.9, 0.9 (private)     top + 0.2                never seen by others
==========  ==========================  ======================  ===================

Nodes (points): V1 = (b1 + b2) / 2, IT = b3, neural_vision = average_vision = (V1 + IT) / 2:
top 0.575, near 0.574, low 0.375, old 0.2. The expected node bounds are computed here with
numpy from the same formula applied to the resamples.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

R = 400
SEED = 7
BENCHMARKS = {"b1": "V1", "b2": "V1", "b3": "IT"}
POINTS = {
    "top": {"b1": 0.7, "b2": 0.6, "b3": 0.5},
    "near": {"b1": 0.699, "b2": 0.599, "b3": 0.499},
    "low": {"b1": 0.5, "b2": 0.4, "b3": 0.3},
    "old": {"b1": 0.2, "b2": 0.2, "b3": 0.2},
    "secret": {"b1": 0.9, "b2": 0.9, "b3": 0.9},
}


def _resamples() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(2024)
    noise = {b: rng.normal(0, 0.05, R) for b in BENCHMARKS}
    top = {b: POINTS["top"][b] + noise[b] for b in BENCHMARKS}
    return {
        "top": top,
        "near": {b: top[b] - 0.001 + rng.normal(0, 0.05, R) for b in BENCHMARKS},
        "low": {b: top[b] - 0.2 for b in BENCHMARKS},
        "secret": {b: top[b] + 0.2 for b in BENCHMARKS},
    }


def _stored(values: np.ndarray) -> np.ndarray:
    """What a record keeps: float32."""
    return values.astype(np.float32).astype(np.float64)


def _average(leaves: dict[str, np.ndarray]) -> np.ndarray:
    """average_vision = neural_vision = ((b1 + b2) / 2 + b3) / 2, resample by resample."""
    return ((leaves["b1"] + leaves["b2"]) / 2 + leaves["b3"]) / 2


def _interval(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.percentile(values, [2.5, 97.5])]


@pytest.fixture
def board(database):
    from django.contrib.auth import get_user_model

    from brainmark.benchmarks.tree import TREE
    from brainmark.metrics.intervals import encode_resamples
    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )

    snapshots.forget()
    owner = get_user_model().objects.create_user("owner", "owner@example.org", None)
    nodes: dict[str, BenchmarkType] = {}
    for order, (node, parent) in enumerate(TREE.items()):
        nodes[node] = BenchmarkType.objects.create(
            identifier=node, parent=nodes.get(parent) if parent else None, order=order)
    versions = {}
    for order, (name, parent) in enumerate(BENCHMARKS.items()):
        kind = BenchmarkType.objects.create(identifier=name, parent=nodes[parent], order=order)
        versions[name] = BenchmarkVersion.objects.create(benchmark_type=kind, version=1,
                                                         ceiling=0.8, public=True)
    resamples = _resamples()
    scores = {}
    for name, points in POINTS.items():
        model = Model.objects.create(identifier=name, public=name != "secret",
                                     owner=owner if name == "secret" else None)
        version = ModelVersion.objects.create(model=model, version=1, plugin_sha1="a" * 40,
                                              visual_degrees=8)
        for benchmark, point in points.items():
            record = {"model": name, "benchmark": benchmark, "score": point}
            if name in resamples:
                values = resamples[name][benchmark]
                record.update({
                    "interval": _interval(values), "interval_level": 0.95,
                    "interval_method": "bootstrap over stimuli", "resamples": R,
                    "seed": SEED, "resample_values": {"ceiled": encode_resamples(values)},
                })
            scores[name, benchmark] = Score.objects.create(
                model_version=version, benchmark_version=versions[benchmark], ceiled=point,
                raw=point * 0.8, ceiling=0.8, record=record)
    stored = {name: {b: _stored(v) for b, v in leaves.items()}
              for name, leaves in resamples.items()}
    return {"owner": owner, "scores": scores, "resamples": stored}


def test_the_board_has_each_values_bounds_and_the_tie_groups(board):
    from brainmark.platform.leaderboard.board import build_board

    built = build_board(None)
    rows = {row.model: row for row in built.rows}
    assert [row.model for row in built.rows] == ["top", "near", "low", "old"]
    assert [rows[m].rank for m in ("top", "near", "low", "old")] == [1, 2, 3, 4]
    # Tied with the one above on the ranked node: near (inside the noise); low is not;
    # old has no resamples, so nothing is said; the first has no one above.
    assert rows["near"].tied["average_vision"] is True
    assert rows["low"].tied["average_vision"] is False
    assert "average_vision" not in rows["old"].tied
    assert "average_vision" not in rows["top"].tied
    # The same on every node; a benchmark's ties are the ranking page's (below).
    assert rows["near"].tied["V1"] is True and rows["low"].tied["IT"] is False
    assert "b1" not in rows["near"].tied
    # A benchmark's bounds are its record's interval; a node's the percentile interval of
    # ((b1 + b2) / 2 + b3) / 2 over the resamples; an old record has none.
    resamples = board["resamples"]
    for model in ("top", "near", "low"):
        assert rows[model].bounds["b2"] == pytest.approx(
            _interval(_resamples()[model]["b2"]), abs=1e-12)
        assert rows[model].bounds["average_vision"] == pytest.approx(
            _interval(_average(resamples[model])), abs=1e-12)
        assert rows[model].bounds["V1"] == pytest.approx(
            _interval((resamples[model]["b1"] + resamples[model]["b2"]) / 2), abs=1e-12)
    assert rows["old"].bounds == {}


def test_the_leaderboard_table_marks_ties_and_draws_each_values_interval(board):
    from django.test import Client

    html, rows = _page(Client(HTTP_HOST="localhost"), "/", "model")
    assert [rows[m]["rank"] for m in ("top", "near", "low", "old")] == ["1", "2 ≈", "3", "4"]
    # low's average_vision cell (after the rank; the model is a th): its value, and its
    # interval on hover (title and bar).
    cell = html.split('data-model="low"')[1].split("</tr>")[0].split("<td")[2]
    low, high = _interval(_average(board["resamples"]["low"]))
    assert f"(95% interval {low:.3f} to {high:.3f})" in cell
    assert f'x1="{100 * low:.1f}" x2="{100 * high:.1f}"' in cell


def test_the_stored_board_keeps_bounds_and_ties(board):
    from brainmark.platform.leaderboard.board import board_from_dict, board_to_dict, build_board

    built = build_board(None)
    assert board_from_dict(board_to_dict(built)) == built


def test_excluding_a_benchmark_recomputes_the_node_bounds(board):
    from brainmark.platform.leaderboard.board import build_board

    rows = {row.model: row for row in build_board(None, excluded=["b3"]).rows}
    # Without b3: average_vision = neural_vision = V1 = (b1 + b2) / 2.
    leaves = board["resamples"]["low"]
    assert rows["low"].bounds["average_vision"] == pytest.approx(
        _interval((leaves["b1"] + leaves["b2"]) / 2), abs=1e-12)


def test_json_csv_and_api_carry_the_bounds_and_ties_of_public_models_only(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    for url in ("/leaderboard.json", "/api/leaderboard"):
        payload = client.get(url).json()
        rows = {row["model"]: row for row in payload["rows"]}
        assert set(rows) == {"top", "near", "low", "old"}, url  # secret is private
        assert rows["near"]["tied"]["average_vision"] is True
        assert rows["low"]["tied"]["average_vision"] is False
        assert rows["old"]["bounds"] == {} and rows["old"]["tied"] == {}
        assert rows["top"]["bounds"]["b1"] == pytest.approx(
            _interval(_resamples()["top"]["b1"]), abs=1e-12)
        assert rows["top"]["bounds"]["average_vision"] == pytest.approx(
            _interval(_average(board["resamples"]["top"])), abs=1e-12)

    lines = {line["model"]: line for line in csv.DictReader(io.StringIO(
        client.get("/leaderboard.csv").content.decode()))}
    assert set(lines) == {"top", "near", "low", "old"}
    assert [lines[m]["tied_with_above"] for m in ("top", "near", "low", "old")] == \
        ["", "true", "false", ""]
    low, high = _interval(_average(board["resamples"]["low"]))
    assert float(lines["low"]["average_vision_lower"]) == pytest.approx(low, abs=1e-12)
    assert float(lines["low"]["average_vision_upper"]) == pytest.approx(high, abs=1e-12)
    assert lines["old"]["b1"] == "0.2" and lines["old"]["b1_lower"] == ""


def test_the_owner_sees_their_private_model_with_bounds_but_unranked_and_untied(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(board["owner"])
    rows = {row["model"]: row for row in client.get("/api/leaderboard").json()["rows"]}
    assert rows["secret"]["rank"] is None and rows["secret"]["tied"] == {}
    assert rows["secret"]["bounds"]["b1"] == pytest.approx(
        _interval(_resamples()["secret"]["b1"]), abs=1e-12)
    # Nothing of the public models changed for them.
    assert rows["near"]["tied"]["average_vision"] is True


def test_score_api_gives_bounds_and_the_full_record_to_those_who_may_see_it(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    top = board["scores"]["top", "b1"]
    listed = {(s["model"], s["benchmark"]): s for s in client.get("/api/scores").json()["items"]}
    assert ("secret", "b1") not in listed
    want = _interval(_resamples()["top"]["b1"])
    assert [listed["top", "b1"]["lower"], listed["top", "b1"]["upper"]] == want
    assert listed["top", "b1"]["interval_level"] == 0.95
    assert listed["old", "b1"]["lower"] is None and listed["old", "b1"]["upper"] is None

    detail = client.get(f"/api/scores/{top.pk}").json()
    assert detail["record"] == top.record and detail["plugin_commit"] == ""
    assert detail["reproduce"] == f"brainmark reproduce {top.pk} --url http://localhost"
    secret = board["scores"]["secret", "b1"]
    assert client.get(f"/api/scores/{secret.pk}").status_code == 404
    client.force_login(board["owner"])
    assert client.get(f"/api/scores/{secret.pk}").json()["record"]["model"] == "secret"


def _page(client, url: str, attribute: str = "column") -> tuple[str, dict]:
    from tests.platform.test_detail_pages import table_rows

    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    return html, table_rows(html, attribute)


def test_the_model_page_says_where_it_is_reliably_better_or_worse(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    # Public average_vision values: top 0.575, near 0.574, low 0.375, old 0.2: the best is
    # top, the median (the 2nd of 4) near. low is top - 0.2 in every resample: worse than
    # both everywhere.
    html, rows = _page(client, "/models/low/")
    for column in ("average_vision", "neural_vision", "V1", "IT", "b1", "b2", "b3"):
        assert rows[column]["vs-best"] == "reliably worse", column
        assert rows[column]["vs-median"] == "reliably worse", column
    low, high = _interval(_resamples()["low"]["b1"])
    assert rows["b1"]["interval"] == f"[{low:.3f}, {high:.3f}]"
    standing = html.split('id="standing"')[1].split("</div>")[0]
    assert "Reliably worse than the best public model on: " in standing
    worse = standing.split("Reliably worse than the best public model on:")[1].split("</li>")[0]
    assert all(f">{name}</a>" in worse for name in ("average_vision", "V1", "b3"))

    # near: inside top's noise (tied with the best), and itself the median.
    _, rows = _page(client, "/models/near/")
    assert rows["average_vision"]["vs-best"] == "not distinguishable"
    assert rows["average_vision"]["vs-median"] == "this is the median"
    # top: the best; against the median (near), not distinguishable.
    _, rows = _page(client, "/models/top/")
    assert rows["average_vision"]["vs-best"] == "this is the best"
    assert rows["average_vision"]["vs-median"] == "not distinguishable"
    # old: no resamples recorded, so no verdict either way.
    _, rows = _page(client, "/models/old/")
    assert rows["average_vision"]["vs-best"] == "n/a"
    assert rows["b1"]["interval"] == "—"


def test_the_model_and_benchmark_pages_show_the_reproduce_command_of_each_score(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    top = board["scores"]["top", "b1"]
    command = f"brainmark reproduce {top.pk} --url http://localhost"
    html, _ = _page(client, "/models/top/")
    assert html.count(command) == 2  # the scores table and the version history
    _, ranking = _page(client, "/benchmarks/b1/", "model")
    assert ranking["top"]["td"] == command
    # The ranking marks near as tied with top (b1: near - top is -0.001 + own noise, sd
    # 0.05), low as not tied with near (-0.199 - own noise).
    assert ranking["near"]["rank"] == "2 ≈" and ranking["low"]["rank"] == "3"
    _, ranking = _page(client, "/benchmarks/average_vision/", "model")
    assert ranking["near"]["rank"] == "2 ≈" and ranking["low"]["rank"] == "3"


def test_the_compare_page_shows_paired_differences_with_their_intervals(board):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    stored = board["resamples"]
    html, rows = _page(client, "/compare/?a=top&b=low")
    # top - low is 0.2 in every resample (to float32 rounding): reliably higher everywhere.
    for column in ("average_vision", "V1", "b1", "b2", "b3"):
        assert rows[column]["paired"] == "[+0.200, +0.200]", column
        assert rows[column]["verdict"] == "top reliably higher", column
    assert "top is reliably higher on 7, low on 0, and they are not distinguishable on 0" in \
        " ".join(html.split())

    _, rows = _page(client, "/compare/?a=top&b=near")
    low, high = np.percentile(stored["top"]["b1"] - stored["near"]["b1"], [2.5, 97.5])
    assert rows["b1"]["paired"] == f"[{low:+.3f}, {high:+.3f}]"
    assert rows["b1"]["verdict"] == rows["average_vision"]["verdict"] == "not distinguishable"
    # A model without resamples: values compared, no paired verdict.
    _, rows = _page(client, "/compare/?a=top&b=old")
    assert rows["b1"]["paired"] == "—" and rows["b1"]["verdict"] == "n/a"
