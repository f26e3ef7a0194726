"""The leaderboard's JSON API (``/api/leaderboard``, models, benchmarks, scores).

Rows from :func:`synthetic.write_example_board`; its docstring's table gives the numbers.
Private models (gamma, ada's) appear only to their owner and staff, by session or token.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def client(rows):
    from django.test import Client

    return Client(HTTP_HOST="localhost")


@pytest.fixture
def ada_token(rows) -> str:
    from brainmark.platform.accounts.models import ApiToken

    return ApiToken.objects.create_token(rows["ada"], "tests")[1]


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_leaderboard_endpoint(client):
    payload = client.get("/api/leaderboard").json()
    assert [row["model"] for row in payload["rows"]] == ["alpha", "beta"]
    alpha, beta = payload["rows"]
    # alpha: V1 = (0.8+0.6)/2, IT 0.5, neural 0.6, behavior 0.3, average 0.45.
    assert alpha["values"]["average_vision"] == pytest.approx(0.45)
    assert alpha["values"]["V1"] == pytest.approx(0.7)
    assert beta["values"]["neural_vision"] == pytest.approx(0.05)
    assert (alpha["rank"], beta["rank"]) == (1, 2)
    assert beta["errors"] == {"b3": "CUDA out of memory"}
    columns = {c["identifier"]: c for c in payload["columns"]}
    assert columns["b1"]["is_benchmark"] and columns["b1"]["ceiling"] == 0.8
    assert columns["V1"]["parent"] == "neural_vision" and columns["V1"]["depth"] == 2


def test_leaderboard_endpoint_exclude_as_of_and_expanded(client):
    payload = client.get("/api/leaderboard?exclude=b2&as_of=2026-03-01").json()
    alpha = next(row for row in payload["rows"] if row["model"] == "alpha")
    # March, without b2: V1 = 0.4, neural = (0.4+0.5)/2, average = (0.45+0.3)/2.
    assert alpha["values"]["average_vision"] == pytest.approx(0.375)
    assert payload["excluded"] == ["b2"]
    payload = client.get("/api/leaderboard?expanded=").json()
    assert not any(column["is_benchmark"] for column in payload["columns"])
    response = client.get("/api/leaderboard?exclude=b9")
    assert response.status_code == 400 and "b9" in response.json()["detail"]
    response = client.get("/api/leaderboard?as_of=soon")
    assert response.status_code == 400 and "as_of" in response.json()["detail"]


def test_private_model_only_for_its_owner_and_staff(client, rows, ada_token):
    from django.test import Client

    mine = client.get("/api/leaderboard", **_bearer(ada_token)).json()
    gamma = next(row for row in mine["rows"] if row["model"] == "gamma")
    assert gamma["rank"] is None and gamma["public"] is False
    assert gamma["values"]["average_vision"] == pytest.approx(0.9)
    assert mine["columns"][0]["scale"] == pytest.approx([0.325, 0.45])  # public only
    assert client.get("/api/models/gamma").status_code == 404
    assert client.get("/api/models/gamma", **_bearer(ada_token)).status_code == 200
    staff = Client(HTTP_HOST="localhost")
    staff.force_login(rows["staff"])
    assert staff.get("/api/models/gamma").json()["public"] is False
    anonymous = {m["identifier"] for m in client.get("/api/models").json()["items"]}
    assert anonymous == {"alpha", "beta"}  # delta is withdrawn
    owner = {m["identifier"]
             for m in client.get("/api/models", **_bearer(ada_token)).json()["items"]}
    assert owner == {"alpha", "beta", "gamma"}
    assert all(s["model"] != "gamma" for s in client.get("/api/scores").json()["items"])
    response = client.get("/api/leaderboard", **_bearer("bm_not-a-token"))
    assert response.status_code == 401


def test_model_detail_has_versions_and_scores(client):
    payload = client.get("/api/models/alpha").json()
    assert [v["version"] for v in payload["versions"]] == [2, 1]
    assert payload["latest_version"] == 2
    latest = {s["benchmark"]: s["ceiled"] for s in payload["versions"][0]["scores"]}
    assert latest == {"b1": 0.8, "b2": 0.6, "b3": 0.5, "b4": 0.3, "e1": 0.9}
    first = {s["benchmark"]: s["ceiled"] for s in payload["versions"][1]["scores"]}
    assert first["b1"] == 0.4
    assert client.get("/api/models/nope").status_code == 404


def test_benchmarks(client, rows):
    from django.test import Client

    listing = client.get("/api/benchmarks").json()
    names = {b["identifier"]: b for b in listing["items"]}
    assert {"b1", "b2", "b3", "b4", "e1", "V1", "average_vision"} <= set(names)
    assert "V2" not in names  # a node with nothing beneath it
    assert names["b1"]["is_benchmark"] and not names["V1"]["is_benchmark"]
    detail = client.get("/api/benchmarks/b4").json()
    assert [v["version"] for v in detail["versions"]] == [1]  # version 2 is unpublished
    assert detail["versions"][0]["ceiling"] == 0.8
    assert detail["versions"][0]["bibtex"] == "@misc{b4}"
    assert detail["parent"] == "behavior_vision"
    staff = Client(HTTP_HOST="localhost")
    staff.force_login(rows["staff"])
    assert [v["version"] for v in staff.get("/api/benchmarks/b4").json()["versions"]] == [2, 1]
    node = client.get("/api/benchmarks/V1").json()
    assert node["children"] == ["b1", "b2"] and node["versions"] == []
    assert client.get("/api/benchmarks/nope").status_code == 404


def test_scores_filters_and_pages(client):
    scores = client.get("/api/scores?model=alpha&version=1").json()
    assert scores["count"] == 5
    assert {s["benchmark"]: s["ceiled"] for s in scores["items"]}["b1"] == 0.4
    b3 = client.get("/api/scores?benchmark=b3").json()["items"]
    assert sorted((s["model"], s["model_version"], s["ceiled"]) for s in b3) == [
        ("alpha", 1, 0.5), ("alpha", 2, 0.5), ("beta", 1, None)]
    assert next(s for s in b3 if s["model"] == "beta")["comment"] == "CUDA out of memory"
    first = client.get("/api/scores?page_size=4&page=1").json()
    second = client.get("/api/scores?page_size=4&page=2").json()
    assert first["count"] == second["count"] == 5 + 5 + 3  # alpha v1, v2, beta
    assert len(first["items"]) == 4 and {s["id"] for s in first["items"]}.isdisjoint(
        {s["id"] for s in second["items"]})
    assert client.get("/api/scores?version=0").status_code == 422
    assert client.get(f"/api/scores?version={2**40}").status_code == 422
    assert client.get(f"/api/scores?page={10**20}").status_code == 422
    assert client.get("/api/scores?page_size=5000").status_code == 422


def test_openapi_describes_the_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/leaderboard", "/api/models", "/api/models/{identifier}",
                 "/api/benchmarks", "/api/benchmarks/{identifier}", "/api/scores"):
        assert path in paths, path
