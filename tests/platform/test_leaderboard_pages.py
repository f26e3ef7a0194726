"""The leaderboard page and its downloads, through Django's test Client.

The board is :func:`synthetic.write_example_board`; the expected numbers are worked by hand
from its table (a parent is the mean of its children, a missing or errored child counts 0):

- alpha (version 2): V1 = (0.8+0.6)/2 = 0.7, IT = 0.5, neural = 0.6, behavior = 0.3,
  average = 0.45, engineering = 0.9.
- beta: V1 = 0.1, IT = 0, neural = 0.05, behavior = 0.6, average = 0.325, engineering = 0.
- gamma (private, ada's): every value 0.9 but engineering 0.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def client(rows):
    from django.test import Client

    return Client(HTTP_HOST="localhost")


def _table(html: str) -> dict[str, list[str]]:
    """Model -> the cells' texts of its row in the page's table."""
    table = html[html.index('<table class="leaderboard"'):html.index("</table>")]
    result = {}
    for match in re.finditer(r'<tr data-model="([^"]+)"[^>]*>(.*?)</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(2), re.S)
        result[match.group(1)] = cells
    return result


def _header(html: str) -> list[str]:
    head = html[html.index("<thead>"):html.index("</thead>")]
    return re.findall(r'data-column="([^"]+)"', head)


def test_the_page_reads_without_javascript(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _header(html) == ["average_vision", "neural_vision", "V1", "IT", "behavior_vision",
                             "engineering_vision"]
    table = _table(html)
    assert list(table) == ["alpha", "beta"]  # no private, no withdrawn model
    # rank, then the node columns in header order
    assert table["alpha"] == ["1", "0.450", "0.600", "0.700", "0.500", "0.300", "0.900"]
    # beta's IT (errored) and engineering (missing) have no score beneath them: empty.
    assert table["beta"] == ["2", "0.325", "0.050", "0.100", "–", "0.600", "–"]
    assert "a missing or errored child counts\nas 0" in html or \
        "a missing or errored child counts as 0" in html
    assert 'href="/models/alpha/"' in html
    assert 'href="/benchmarks/b1/"' in html  # in the custom aggregation list
    # The grid library comes from the project's static files, nothing from elsewhere.
    assert "/static/leaderboard/vendor/tabulator/tabulator.min.js" in html
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html)
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_vendored_grid_library_and_its_license_are_served():
    from django.contrib.staticfiles import finders

    for name in ("tabulator.min.js", "tabulator.min.css", "LICENSE"):
        assert finders.find(f"leaderboard/vendor/tabulator/{name}"), name
    with open(finders.find("leaderboard/vendor/tabulator/LICENSE")) as license_file:
        assert "MIT" in license_file.read() or "Permission is hereby granted" in \
            license_file.read()


def test_expanded_nodes_show_benchmarks_and_errors_with_their_reason(client):
    html = client.get("/?expanded=IT,V1").content.decode()
    assert _header(html) == ["average_vision", "neural_vision", "V1", "b1", "b2", "IT", "b3",
                             "behavior_vision", "engineering_vision"]
    assert '<td class="error" title="CUDA out of memory">X</td>' in html
    assert 'href="/benchmarks/b3/"' in html
    beta = _table(html)["beta"]
    assert beta[4] == "0.200" and beta[5] == "–"  # b1, then the missing b2


def test_colour_scale_is_over_public_models(client):
    html = client.get("/").content.decode()
    # alpha holds the public maximum of average_vision (green), beta the minimum (red).
    row = html[html.index('<tr data-model="alpha">'):]
    assert 'class="hue-120"' in row[:row.index("</tr>")]
    row = html[html.index('<tr data-model="beta">'):]
    assert 'class="hue-0"' in row[:row.index("</tr>")]


def test_owner_sees_their_private_model_unranked(client, rows):
    client.force_login(rows["ada"])
    html = client.get("/").content.decode()
    table = _table(html)
    assert list(table) == ["gamma", "alpha", "beta"]
    assert "private" in table["gamma"][0]
    assert table["alpha"][0] == "1"
    # gamma's 0.9 is above the public maximum: it does not stretch the scale.
    row = html[html.index('<tr data-model="alpha">'):]
    assert 'class="hue-120"' in row[:row.index("</tr>")]


def test_sort_and_filter_by_text_and_metadata(client):
    html = client.get("/?sort=behavior_vision&dir=desc").content.decode()
    assert list(_table(html)) == ["beta", "alpha"]
    html = client.get("/?sort=behavior_vision&dir=asc").content.decode()
    assert list(_table(html)) == ["alpha", "beta"]
    assert list(_table(client.get("/?q=alp").content.decode())) == ["alpha"]
    assert list(_table(client.get("/?q=family:b").content.decode())) == ["beta"]
    assert list(_table(client.get("/?q=nothing-like-it").content.decode())) == []


def test_custom_aggregation_recomputes_the_averages(client):
    html = client.get("/?exclude=b2").content.decode()
    # Without b2: alpha V1 = 0.8, neural = 0.65, average = 0.475; beta average = 0.35.
    table = _table(html)
    assert table["alpha"][1:4] == ["0.475", "0.650", "0.800"]
    assert table["beta"][1] == "0.350"
    assert 'name="include" value="b2" data-benchmark="b2">' in html  # unticked
    # The page's form without JavaScript: ticked benchmarks -> the canonical URL.
    response = client.get("/?custom=1&shown=b1&shown=b2&shown=b3&include=b1&include=b3&q=a")
    assert response.status_code == 302
    assert response["Location"] == "/?q=a&exclude=b2"


def test_the_board_as_of_a_past_date_and_its_permalink(client):
    html = client.get("/?as_of=2026-03-01").content.decode()
    table = _table(html)
    # March: alpha version 1 (b1 0.4): average = (0.5+0.3)/2 = 0.4; beta's b4 ended in
    # April: behavior 0, average = 0.025.
    assert table["alpha"][1] == "0.400" and table["beta"][1] == "0.025"
    assert "The leaderboard as of 2026-03-01" in html
    # Today's page links to itself frozen at the time it was rendered.
    today = client.get("/").content.decode()
    link = re.search(r'class="permalink" href="\?([^"]+)"', today).group(1)
    assert re.fullmatch(r"as_of=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", link)
    assert _table(client.get("/?" + link).content.decode()) == _table(today)


def test_bad_parameters_are_named(client):
    for query, words in [("as_of=yesterday", "as_of"), ("exclude=nope", "nope"),
                         ("expanded=b1", "b1"), ("sort=height", "height"), ("dir=up", "dir")]:
        response = client.get("/?" + query)
        assert response.status_code == 400, query
        assert words in response.content.decode()
        response = client.get("/leaderboard.csv?" + query)
        if "exclude" in query or "as_of" in query:
            assert response.status_code == 400 and words in response.content.decode()


def test_a_new_score_shows_on_the_next_load(client, rows):
    from brainmark.platform.leaderboard.models import Score

    assert _table(client.get("/").content.decode())["beta"][1] == "0.325"
    assert json.loads(client.get("/leaderboard.json").content)["rows"][1]["values"][
        "average_vision"] == pytest.approx(0.325)
    # beta's b3 is rescored: 0.5 -> IT 0.5, neural (0.1+0.5)/2 = 0.3, average 0.45.
    Score.objects.filter(model_version__model__identifier="beta",
                         benchmark_version=rows["versions"]["b3"]).update(ceiled=0.5,
                                                                           comment="")
    table = _table(client.get("/").content.decode())
    assert table["beta"][1] == "0.450"
    payload = json.loads(client.get("/leaderboard.json").content)
    beta = next(row for row in payload["rows"] if row["model"] == "beta")
    assert beta["values"]["average_vision"] == pytest.approx(0.45)


# ---------------------------------------------------------------------------------------
# Downloads


def test_csv_download_is_public_models_only(client, rows):
    client.force_login(rows["ada"])  # even for gamma's owner
    response = client.get("/leaderboard.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [line["model"] for line in lines] == ["alpha", "beta"]
    alpha, beta = lines
    assert (alpha["rank"], alpha["model_version"]) == ("1", "2")
    assert float(alpha["average_vision"]) == pytest.approx(0.45, abs=1e-15)
    assert float(alpha["b1"]) == 0.8 and float(beta["b1"]) == 0.2
    assert beta["b3"] == "X" and beta["b2"] == "" and beta["e1"] == ""
    assert float(beta["average_vision"]) == pytest.approx(0.325, abs=1e-15)


def test_downloads_honour_exclude_and_as_of(client):
    lines = list(csv.DictReader(io.StringIO(
        client.get("/leaderboard.csv?exclude=b2&as_of=2026-03-01").content.decode())))
    assert "b2" not in lines[0]
    # March without b2: alpha V1 = 0.4, neural = 0.45, average = (0.45+0.3)/2 = 0.375.
    assert float(lines[0]["average_vision"]) == pytest.approx(0.375)
    payload = json.loads(client.get("/leaderboard.json?exclude=b2&as_of=2026-03-01").content)
    assert payload["as_of"] == "2026-03-01" and payload["excluded"] == ["b2"]
    alpha = next(row for row in payload["rows"] if row["model"] == "alpha")
    assert alpha["model_version"] == 1
    assert alpha["values"]["average_vision"] == pytest.approx(0.375)
    bib = client.get("/leaderboard.bib?exclude=b2").content.decode()
    assert "@misc{b1}" in bib and "@misc{b2}" not in bib


def test_json_download(client, rows):
    client.force_login(rows["ada"])
    payload = json.loads(client.get("/leaderboard.json").content)
    assert [c["identifier"] for c in payload["columns"]] == [
        "average_vision", "neural_vision", "V1", "b1", "b2", "IT", "b3", "behavior_vision",
        "b4", "engineering_vision", "e1"]
    assert [row["model"] for row in payload["rows"]] == ["alpha", "beta"]
    beta = payload["rows"][1]
    assert beta["errors"] == {"b3": "CUDA out of memory"}
    assert beta["values"]["b3"] is None and beta["rank"] == 2
    assert payload["columns"][0]["scale"] == pytest.approx([0.325, 0.45])
    assert "missing or errored child counts as 0" in payload["rule"]
    # Only the nodes and the benchmarks beneath the expanded ones, when asked.
    part = json.loads(client.get("/leaderboard.json?expanded=IT").content)
    assert [c["identifier"] for c in part["columns"] if c["is_benchmark"]] == ["b3"]


def test_bibtex_download_lists_every_benchmark_shown(client):
    response = client.get("/leaderboard.bib")
    assert response.status_code == 200
    text = response.content.decode()
    for name in ("b1", "b2", "b3", "b4", "e1"):
        assert f"@misc{{{name}}}" in text


def test_page_queries_do_not_grow_with_models_or_benchmarks(database):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.synthetic import populate

    populate(1, 1, seed=99)
    Client(HTTP_HOST="localhost").get("/")  # the stored board's row exists from now on
    counts = []
    for seed, (n_models, n_benchmarks) in enumerate([(3, 6), (9, 14)]):
        populate(n_models, n_benchmarks, seed=seed)
        for url in ("/", "/leaderboard.json", "/api/leaderboard"):
            snapshots.forget()
            with CaptureQueriesContext(connection) as cold:
                assert Client(HTTP_HOST="localhost").get(url).status_code == 200
            with CaptureQueriesContext(connection) as warm:
                assert Client(HTTP_HOST="localhost").get(url).status_code == 200
            counts.append((url, n_models, len(cold), len(warm)))
    small, large = counts[:3], counts[3:]
    assert [(u, c, w) for u, _, c, w in small] == [(u, c, w) for u, _, c, w in large]
    assert all(warm == 1 for _, _, _, warm in counts)  # the board key, nothing else


def test_an_empty_leaderboard_says_how_to_fill_it(database):
    from django.test import Client

    from brainmark.platform.leaderboard import snapshots

    snapshots.forget()
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 200
    assert "brainmark sync --score" in response.content.decode()
    assert Client(HTTP_HOST="localhost").get("/leaderboard.csv").content == \
        b"rank,tied_with_above,model,model_version\n"
