"""The model, benchmark and compare pages, through Django's test Client.

The rows are made by hand: two V1 benchmarks (``V1.one``, ``V1.two``) and public models
with known ceiled scores, so every median, best, rank and difference below is worked out
by hand in the comments (not read back from the pages):

============  ========  ========  =================================
model         V1.one    V1.two    V1 = neural_vision = average_vision
============  ========  ========  =================================
alpha         0.6       0.4       (0.6 + 0.4) / 2 = 0.5
beta          0.3       0.5       (0.3 + 0.5) / 2 = 0.4
gamma         0.9       X (OOM)   (0.9 + 0) / 2   = 0.45  (errored counts 0)
delta (ada's  0.95      0.95      0.95   -- private: never in others' ranks/medians
  private)
omega (ada's  0.1       0.1       -- withdrawn: off the leaderboard
  withdrawn)
============  ========  ========  =================================

Public values: V1.one {0.6, 0.3, 0.9}: median 0.6, best 0.9, ranks gamma 1, alpha 2,
beta 3. V1.two {0.4, 0.5} (gamma has none): median 0.45, best 0.5, beta 1, alpha 2.
V1 {0.5, 0.4, 0.45}: median 0.45, best 0.5, alpha 1, gamma 2, beta 3.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

SVG = "{http://www.w3.org/2000/svg}"


class _Rows(HTMLParser):
    """The text of each cell of the table rows that carry ``data-<attribute>``, by class."""

    def __init__(self, attribute: str) -> None:
        super().__init__()
        self.attribute, self.rows = f"data-{attribute}", {}
        self.current: dict | None = None
        self.cell: str | None = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and self.attribute in attrs:
            self.current = self.rows.setdefault(attrs[self.attribute], {})
        elif self.current is not None and tag in ("td", "th"):
            self.cell = attrs.get("class") or tag
            self.current[self.cell] = ""
        elif self.current is not None and tag == "pre":
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "tr":
            self.current = None
        elif tag in ("td", "th"):
            self.cell = None
        elif tag == "pre":
            self.depth -= 1

    def handle_data(self, data):
        if self.current is not None and self.cell is not None:
            self.current[self.cell] += data


def table_rows(html: str, attribute: str = "column") -> dict[str, dict[str, str]]:
    """``{row key: {cell class: text}}`` for the rows marked ``data-<attribute>``."""
    parser = _Rows(attribute)
    parser.feed(html)
    return {key: {k: " ".join(v.split()) for k, v in cells.items()}
            for key, cells in parser.rows.items()}


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG of a page, parsed as XML (fails on a malformed document)."""
    return [ET.fromstring(match) for match in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def svg_texts(svg: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in svg.iter(f"{SVG}text")]


@pytest.fixture
def people(database):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    ada = users.create_user("ada@example.org", "ada@example.org", None,
                            first_name="Ada", last_name="Lovelace")
    bob = users.create_user("bob@example.org", "bob@example.org", None)
    staff = users.create_user("staff@example.org", "staff@example.org", None,
                              is_staff=True)
    return {"ada": ada, "bob": bob, "staff": staff}


@pytest.fixture
def board_rows(people):
    """The tree, the two V1 benchmarks and the models of the module docstring."""
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )
    from brainmark.platform.submissions.models import Submission

    average = BenchmarkType.objects.create(identifier="average_vision", order=0)
    neural = BenchmarkType.objects.create(identifier="neural_vision", parent=average, order=1)
    v1 = BenchmarkType.objects.create(identifier="V1", parent=neural, order=3)
    one = BenchmarkType.objects.create(identifier="V1.one", parent=v1, order=10)
    two = BenchmarkType.objects.create(identifier="V1.two", parent=v1, order=11)
    one_old = BenchmarkVersion.objects.create(
        benchmark_type=one, version=1, ceiling=0.7, ceiling_error=0.05, public=True)
    one_v2 = BenchmarkVersion.objects.create(
        benchmark_type=one, version=2, ceiling=0.8, ceiling_error=0.02, public=True,
        license="CC-BY-4.0",
        bibtex="@article{one2020,\n  title={One V1 benchmark},\n  year={2020}\n}",
        metadata={  # the shape brainmark sync writes; "subjects" unknown here
            "description": "Responses of V1 neurons to *gratings*.\n\n- drifting\n- static",
            "parent": "V1", "visual_degrees": 4.0,
            "metric": {"identifier": "pls", "description": "Partial least squares."},
            "data": {"stimulus_set": "one2020", "stimuli": 450, "subjects": None,
                     "region": "V1", "species": "macaque",
                     "identifiers": ["one2020.V1", "one2020.V1b"]},
            "reference_url": "https://doi.org/10.0/one",
        },
    )
    two_v1 = BenchmarkVersion.objects.create(benchmark_type=two, version=1, ceiling=0.5,
                                             public=True)

    def model(identifier, *, public=True, owner=None, withdrawn=False, versions=1):
        row = Model.objects.create(identifier=identifier, public=public, owner=owner,
                                   withdrawn=withdrawn, license="MIT",
                                   metadata={"architecture": "convolutional", "layers": 8})
        return [
            ModelVersion.objects.create(model=row, version=number,
                                        plugin_sha1=f"{identifier[0]}{number}" * 20,
                                        visual_degrees=8.0)
            for number in range(1, versions + 1)
        ]

    def score(version, benchmark, ceiled, **extra):
        return Score.objects.create(
            model_version=version, benchmark_version=benchmark, ceiled=ceiled,
            raw=None if ceiled is None else ceiled * benchmark.ceiling, error=extra.pop(
                "error", None if ceiled is None else 0.01),
            ceiling=benchmark.ceiling,
            record={} if ceiled is None else {"model": version.model.identifier,
                                              "benchmark": benchmark.benchmark_type.identifier,
                                              "score": ceiled, "seed": 0},
            **extra,
        )

    alpha_v1, alpha_v2 = model("alpha", versions=2)
    (beta,) = model("beta")
    (gamma,) = model("gamma")
    (delta,) = model("delta", public=False, owner=people["ada"])
    (omega,) = model("omega", owner=people["ada"], withdrawn=True)
    omega.submission = Submission.objects.create(user=people["ada"], kind="model")
    omega.save()
    rows = {
        "alpha_old": score(alpha_v1, one_old, 0.55),
        "alpha_one": score(alpha_v2, one_v2, 0.6, layer_commitment={"V1": "features.2"}),
        "alpha_two": score(alpha_v2, two_v1, 0.4, layer_commitment={"V1": "features.2"}),
        "beta_one": score(beta, one_v2, 0.3),
        "beta_two": score(beta, two_v1, 0.5),
        "gamma_one": score(gamma, one_v2, 0.9),
        "gamma_two": score(gamma, two_v1, None, comment="out of memory: CUDA ran dry"),
        "delta_one": score(delta, one_v2, 0.95),
        "delta_two": score(delta, two_v1, 0.95),
        "omega_one": score(omega, one_v2, 0.1),
        "omega_two": score(omega, two_v1, 0.1),
    }
    return rows


def client_for(user=None):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    if user is not None:
        client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------
# Model page


@pytest.mark.db
def test_model_page_shows_hand_worked_values_ranks_medians_and_bests(board_rows):
    response = client_for().get("/models/alpha/")
    assert response.status_code == 200
    rows = table_rows(response.content.decode())
    # alpha on V1.one: 0.6 ± 0.01, rank 2 of 3 (0.9 > 0.6 > 0.3), median 0.6, best 0.9;
    # raw = 0.6 x ceiling 0.8 = 0.48.
    assert rows["V1.one"]["value"] == "0.600 ± 0.010"
    assert rows["V1.one"]["rank"] == "2 / 3"
    assert (rows["V1.one"]["median"], rows["V1.one"]["best"]) == ("0.600", "0.900")
    assert (rows["V1.one"]["raw"], rows["V1.one"]["ceiling"]) == ("0.480", "0.800")
    # V1.two: 0.4 of {0.4, 0.5}: rank 2 of 2, median 0.45, best 0.5.
    assert rows["V1.two"]["rank"] == "2 / 2"
    assert (rows["V1.two"]["median"], rows["V1.two"]["best"]) == ("0.450", "0.500")
    # Nodes: alpha 0.5 is the best of {0.5, 0.4, 0.45}; median 0.45.
    for node in ("V1", "neural_vision", "average_vision"):
        assert rows[node]["value"] == "0.500"
        assert rows[node]["rank"] == "1 / 3"
        assert (rows[node]["median"], rows[node]["best"]) == ("0.450", "0.500")


@pytest.mark.db
def test_ranks_of_the_other_models(board_rows):
    beta = table_rows(client_for().get("/models/beta/").content.decode())
    gamma = table_rows(client_for().get("/models/gamma/").content.decode())
    assert (beta["V1.one"]["rank"], beta["V1.two"]["rank"], beta["V1"]["rank"]) == (
        "3 / 3", "1 / 2", "3 / 3")
    assert (gamma["V1.one"]["rank"], gamma["V1"]["rank"]) == ("1 / 3", "2 / 3")
    assert gamma["V1"]["value"] == "0.450"  # (0.9 + 0) / 2: the errored child counts 0


@pytest.mark.db
def test_errored_score_shows_its_text(board_rows):
    html = client_for().get("/models/gamma/").content.decode()
    rows = table_rows(html)
    assert "X failed" in rows["V1.two"]["value"]
    assert "out of memory: CUDA ran dry" in rows["V1.two"]["value"]
    assert rows["V1.two"]["rank"] == "—"


@pytest.mark.db
def test_layer_commitment_metadata_license_and_built_in_owner(board_rows):
    html = client_for().get("/models/alpha/").content.decode()
    assert "features.2" in html
    assert "convolutional" in html and "MIT" in html
    assert "built-in" in html


@pytest.mark.db
def test_version_history_lists_both_versions_and_the_old_score(board_rows):
    html = client_for().get("/models/alpha/").content.decode()
    assert 'id="version-1"' in html and 'id="version-2"' in html
    assert "a1" * 20 in html and "a2" * 20 in html  # both plugin SHA1s
    old_version = html[html.index('id="version-1"'):]
    assert "0.550" in old_version  # version 1's score on V1.one v1 stays visible


@pytest.mark.db
def test_record_link_returns_the_stored_record(board_rows):
    score = board_rows["alpha_one"]
    url = f"/models/alpha/scores/{score.pk}.json"
    html = client_for().get("/models/alpha/").content.decode()
    assert f'href="{url}"' in html
    response = client_for().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"model": "alpha", "benchmark": "V1.one",
                                            "score": 0.6, "seed": 0}
    # A score of another model is not reachable through this model's address.
    assert client_for().get(f"/models/alpha/scores/{board_rows['beta_one'].pk}.json"
                            ).status_code == 404


@pytest.mark.db
def test_model_page_plot_is_well_formed_svg_with_axis_labels(board_rows):
    html = client_for().get("/models/alpha/").content.decode()
    (svg,) = svgs(html)
    assert svg.find(f"{SVG}title").text == "alpha beside the public models"
    texts = svg_texts(svg)
    assert "score (ceiled)" in texts
    assert {"median public model", "best public model", "alpha"} <= set(texts)
    tips = ["".join(title.itertext()) for title in svg.iter(f"{SVG}title")]
    assert "V1.one: alpha 0.6 ± 0.01" in tips
    assert "V1.one: best public model 0.9" in tips


@pytest.mark.db
def test_unknown_model_is_404(board_rows):
    assert client_for().get("/models/no-such-model/").status_code == 404


# ---------------------------------------------------------------------------------------
# Private and withdrawn models


@pytest.mark.db
def test_private_model_is_404_to_others_and_visible_to_its_owner_and_staff(board_rows, people):
    record = f"/models/delta/scores/{board_rows['delta_one'].pk}.json"
    for viewer in (None, people["bob"]):
        assert client_for(viewer).get("/models/delta/").status_code == 404
        assert client_for(viewer).get(record).status_code == 404
    for viewer in (people["ada"], people["staff"]):
        response = client_for(viewer).get("/models/delta/")
        assert response.status_code == 200
        rows = table_rows(response.content.decode())
        assert rows["V1.one"]["value"] == "0.950 ± 0.010"
        assert rows["V1.one"]["rank"] == "—"  # private: never ranked
        assert client_for(viewer).get(record).status_code == 200


@pytest.mark.db
def test_private_model_stays_out_of_the_medians_bests_and_ranks_its_owner_sees(
        board_rows, people):
    # Ada sees her private delta (0.95) on the board, yet alpha's numbers are unchanged.
    rows = table_rows(client_for(people["ada"]).get("/models/alpha/").content.decode())
    assert rows["V1.one"]["rank"] == "2 / 3"
    assert (rows["V1.one"]["median"], rows["V1.one"]["best"]) == ("0.600", "0.900")
    assert rows["V1"]["best"] == "0.500"
    benchmark = client_for(people["bob"]).get("/benchmarks/V1.one/").content.decode()
    assert "delta" not in benchmark
    # Ada sees her delta listed, unranked, and not counted in the distribution plot.
    own = client_for(people["ada"]).get("/benchmarks/V1.one/").content.decode()
    ranking = table_rows(own, "model")
    assert list(ranking) == ["gamma", "alpha", "beta", "delta"]
    assert [ranking[m]["rank"] for m in ranking] == ["1", "2", "3", "private"]
    (svg,) = svgs(own)
    bars = ["".join(rect.itertext()) for rect in svg.iter(f"{SVG}rect")
            if rect.find(f"{SVG}title") is not None]
    assert bars == ["1 model in [0.3, 0.4)", "1 model in [0.6, 0.7)", "1 model in [0.9, 1]"]


@pytest.mark.db
def test_withdrawn_model_says_so_and_shows_scores_only_to_its_owner(board_rows, people):
    anonymous = client_for().get("/models/omega/")
    assert anonymous.status_code == 200
    html = anonymous.content.decode()
    assert "withdrawn by its owner" in html
    assert "V1.one" not in table_rows(html)
    assert "ada@example.org" not in html and "Ada Lovelace" in html
    assert "/submissions/" not in html
    record = f"/models/omega/scores/{board_rows['omega_one'].pk}.json"
    assert client_for().get(record).status_code == 404

    owner = client_for(people["ada"]).get("/models/omega/").content.decode()
    assert "withdrawn by its owner" in owner
    rows = table_rows(owner)
    assert rows["V1.one"]["value"] == "0.100 ± 0.010"
    assert rows["V1"]["value"] == "0.100"  # (0.1 + 0.1) / 2
    assert rows["V1.one"]["rank"] == "—"
    assert "ada@example.org" in owner
    submission = board_rows["omega_one"].model_version.submission_id
    assert f'href="/submissions/{submission}/"' in owner
    assert client_for(people["ada"]).get(record).status_code == 200
    # Off the leaderboard: not among alpha's competitors (0.1 would be a third V1.two value).
    alpha = table_rows(client_for(people["ada"]).get("/models/alpha/").content.decode())
    assert alpha["V1.two"]["rank"] == "2 / 2"


# ---------------------------------------------------------------------------------------
# Benchmark page


@pytest.mark.db
def test_benchmark_page_ranks_public_models_and_describes_the_benchmark(board_rows):
    response = client_for().get("/benchmarks/V1.one/")
    assert response.status_code == 200
    html = response.content.decode()
    ranking = table_rows(html, "model")
    assert list(ranking) == ["gamma", "alpha", "beta"]  # 0.9 > 0.6 > 0.3
    assert [ranking[m]["rank"] for m in ranking] == ["1", "2", "3"]
    assert [ranking[m]["value"] for m in ranking] == ["0.900", "0.600", "0.300"]
    assert 'href="/models/gamma/"' in html
    # The description is Markdown; the data description shows the keys that exist.
    assert "Responses of V1 neurons to <em>gratings</em>." in html
    assert "<li>drifting</li>" in html
    assert '<h2 class="section">Metric</h2>' in html and "Partial least squares." in html
    assert "<dt>stimulus set</dt><dd>one2020</dd>" in html
    assert "<dt>stimuli</dt><dd>450</dd>" in html and "<dd>macaque</dd>" in html
    assert "<dd>one2020.V1, one2020.V1b</dd>" in html
    assert 'href="https://doi.org/10.0/one"' in html
    assert "subjects" not in html  # an empty key is left out, not rendered as None
    assert "0.8000 ± 0.0200" in html  # ceiling ± ceiling_error of version 2
    assert "CC-BY-4.0" in html
    assert re.search(r'<pre id="bibtex">@article\{one2020,', html)
    assert 'data-copy="bibtex"' in html
    versions = html[html.index('id="versions"'):]
    assert "0.7000 ± 0.0500" in versions and "0.8000 ± 0.0200" in versions


@pytest.mark.db
def test_benchmark_page_shows_errored_and_unscored_models(board_rows):
    ranking = table_rows(client_for().get("/benchmarks/V1.two/").content.decode(), "model")
    assert list(ranking) == ["beta", "alpha", "gamma"]
    assert "out of memory: CUDA ran dry" in ranking["gamma"]["value"]
    assert ranking["gamma"]["rank"] == "—"


@pytest.mark.db
def test_benchmark_histogram_counts_the_public_models(board_rows):
    (svg,) = svgs(client_for().get("/benchmarks/V1.one/").content.decode())
    texts = svg_texts(svg)
    assert "score (ceiled)" in texts and "number of models" in texts
    bars = ["".join(rect.itertext()) for rect in svg.iter(f"{SVG}rect")
            if rect.find(f"{SVG}title") is not None]
    # Ten bins of 0.1 over [0, 1]: 0.3, 0.6 and 0.9 fall in three bins, one model each.
    assert bars == ["1 model in [0.3, 0.4)", "1 model in [0.6, 0.7)", "1 model in [0.9, 1]"]


@pytest.mark.db
def test_inner_node_lists_children_and_ranks_on_its_aggregate(board_rows):
    html = client_for().get("/benchmarks/V1/").content.decode()
    assert 'href="/benchmarks/V1.one/"' in html and 'href="/benchmarks/V1.two/"' in html
    assert "mean of its children" in html
    ranking = table_rows(html, "model")
    assert list(ranking) == ["alpha", "gamma", "beta"]  # 0.5 > 0.45 > 0.4
    assert [ranking[m]["value"] for m in ranking] == ["0.500", "0.450", "0.400"]
    svgs(html)  # well-formed


@pytest.mark.db
def test_unknown_benchmark_is_404(board_rows):
    assert client_for().get("/benchmarks/V9.nothing/").status_code == 404


# ---------------------------------------------------------------------------------------
# Compare page


@pytest.mark.db
def test_compare_shows_hand_computed_differences_and_a_scatter_plot(board_rows):
    response = client_for().get("/compare/", {"a": "alpha", "b": "beta"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="alpha" selected>alpha</option>' in html  # the pickers keep A, B
    assert '<option value="beta" selected>beta</option>' in html
    rows = table_rows(html)
    # alpha - beta: V1.one 0.6 - 0.3 = +0.3; V1.two 0.4 - 0.5 = -0.1; V1 0.5 - 0.4 = +0.1.
    assert (rows["V1.one"]["difference"], rows["V1.one"]["higher"]) == ("+0.300", "alpha")
    assert (rows["V1.two"]["difference"], rows["V1.two"]["higher"]) == ("-0.100", "beta")
    assert (rows["V1"]["difference"], rows["V1"]["higher"]) == ("+0.100", "alpha")
    assert (rows["V1.one"]["a"], rows["V1.one"]["b"]) == ("0.600", "0.300")
    (svg,) = svgs(html)
    texts = svg_texts(svg)
    assert "alpha (ceiled score)" in texts and "beta (ceiled score)" in texts
    assert svg.find(f".//{SVG}line[@class='diagonal']") is not None
    points = [c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle")
              if c.find(f"{SVG}title") is not None]  # the legend's circles have no title
    assert sorted(points) == [
        "V1.one: alpha (ceiled score) 0.6, beta (ceiled score) 0.3",
        "V1.two: alpha (ceiled score) 0.4, beta (ceiled score) 0.5",
    ]


@pytest.mark.db
def test_compare_with_an_errored_benchmark_has_no_difference(board_rows):
    rows = table_rows(client_for().get("/compare/?a=gamma&b=alpha").content.decode())
    assert rows["V1.two"]["a"] == "X" and rows["V1.two"]["difference"] == "—"
    assert rows["V1"]["difference"] == "-0.050"  # 0.45 - 0.5


@pytest.mark.db
def test_compare_form_refuses_bad_choices(board_rows, people):
    page = client_for().get("/compare/")
    assert page.status_code == 200 and '<select name="a"' in page.content.decode()
    same = client_for().get("/compare/?a=alpha&b=alpha").content.decode()
    assert "Choose two different models to compare." in same
    missing = client_for().get("/compare/?a=alpha").content.decode()
    assert "Model B: choose a model." in missing
    unknown = client_for().get("/compare/?a=alpha&b=zzz").content.decode()
    assert "Model B: no model named zzz is on the leaderboard." in unknown
    # A private model is unknown to others, and comparable for its owner.
    hidden = client_for(people["bob"]).get("/compare/?a=alpha&b=delta").content.decode()
    assert "no model named delta" in hidden
    owner = client_for(people["ada"]).get("/compare/?a=delta&b=alpha").content.decode()
    assert table_rows(owner)["V1.one"]["difference"] == "+0.350"  # 0.95 - 0.6


# ---------------------------------------------------------------------------------------
# Speed: a fixed number of queries, whatever the number of scores


@pytest.mark.db
def test_model_page_queries_do_not_grow_with_models_and_benchmarks(board_rows, people):
    """Ada owns a private model, so her board is built from the tables on every request:
    the count covers building it and everything the pages add."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )

    viewer = client_for(people["ada"])

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(path).status_code == 200
        # Reads only: storing the public board is an INSERT the first time and an UPDATE
        # later, with savepoints around either (the board's own business, not growth).
        return sum(1 for query in captured.captured_queries
                   if query["sql"].lstrip().upper().startswith("SELECT"))

    before = {path: queries(path) for path in
              ("/models/alpha/", "/benchmarks/V1.one/", "/compare/?a=alpha&b=beta")}
    v1 = BenchmarkType.objects.get(identifier="V1")
    alpha = ModelVersion.objects.get(model__identifier="alpha", version=2)
    extra = []
    for index in range(5):
        benchmark = BenchmarkType.objects.create(identifier=f"V1.more{index}", parent=v1)
        extra.append(BenchmarkVersion.objects.create(benchmark_type=benchmark, version=1,
                                                     ceiling=0.5, public=True))
    for index in range(5):
        model = Model.objects.create(identifier=f"more{index}", public=True)
        version = ModelVersion.objects.create(model=model, version=1, plugin_sha1="f" * 40,
                                              visual_degrees=8)
        for benchmark in extra:
            Score.objects.create(model_version=version, benchmark_version=benchmark,
                                 ceiled=0.1 * index, record={"i": index})
    for benchmark in extra:
        Score.objects.create(model_version=alpha, benchmark_version=benchmark, ceiled=0.2,
                             record={"x": 1})
    after = {path: queries(path) for path in before}
    assert after == before


# ---------------------------------------------------------------------------------------
# Text from plugins and users is shown as text


@pytest.mark.db
def test_metadata_and_error_texts_are_escaped(board_rows):
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model, Score

    Model.objects.filter(identifier="alpha").update(
        metadata={"note": "<script>alert('model')</script>"})
    Score.objects.filter(pk=board_rows["gamma_two"].pk).update(comment="<b>boom</b> & more")
    BenchmarkVersion.objects.filter(benchmark_type__identifier="V1.one", version=2).update(
        metadata={"description": "<img src=x onerror=alert(1)>"})
    model = client_for().get("/models/alpha/").content.decode()
    assert "<script>alert" not in model and "&lt;script&gt;alert(" in model
    gamma = client_for().get("/models/gamma/").content.decode()
    assert "<b>boom</b>" not in gamma and "&lt;b&gt;boom&lt;/b&gt; &amp; more" in gamma
    benchmark = client_for().get("/benchmarks/V1.two/").content.decode()
    assert "<b>boom</b>" not in benchmark and "&lt;b&gt;boom&lt;/b&gt;" in benchmark
    described = client_for().get("/benchmarks/V1.one/").content.decode()
    assert "<img src=x" not in described and "&lt;img src=x" in described


@pytest.mark.db
def test_unpublished_benchmark_is_404_except_to_staff(board_rows, people):
    from brainmark.platform.leaderboard.models import BenchmarkType, BenchmarkVersion

    v1 = BenchmarkType.objects.get(identifier="V1")
    draft = BenchmarkType.objects.create(identifier="V1.draft", parent=v1)
    BenchmarkVersion.objects.create(benchmark_type=draft, version=1, ceiling=0.9, public=False)
    assert client_for().get("/benchmarks/V1.draft/").status_code == 404
    assert client_for(people["ada"]).get("/benchmarks/V1.draft/").status_code == 404
    staff = client_for(people["staff"]).get("/benchmarks/V1.draft/")
    assert staff.status_code == 200
    html = staff.content.decode()
    assert "unpublished" in html and "not on the leaderboard" in html
    # The V1 node's page lists it to staff only (as off the leaderboard).
    node = "/benchmarks/V1/"
    assert 'href="/benchmarks/V1.draft/"' not in client_for().get(node).content.decode()
    assert 'href="/benchmarks/V1.draft/"' in client_for(people["staff"]).get(node).content.decode()



# ---------------------------------------------------------------------------------------
# The plots on their own (no database)


def test_histogram_bins_close_on_the_right_and_widen_for_values_outside_zero_one():
    from brainmark.platform.leaderboard import plots

    # 1.0 falls in the last bin, [0.9, 1]; 0.05 and 0.0 in the first, [0, 0.1).
    svg = ET.fromstring(plots.histogram([0.0, 0.05, 1.0], title="t"))
    bars = ["".join(rect.itertext()) for rect in svg.iter(f"{SVG}rect")
            if rect.find(f"{SVG}title") is not None]
    assert bars == ["2 models in [0, 0.1)", "1 model in [0.9, 1]"]
    # An unclamped ceiled score of 1.5 widens the axis to [0, 1.5]: bins of 0.15.
    svg = ET.fromstring(plots.histogram([0.2, 1.5], title="t"))
    bars = ["".join(rect.itertext()) for rect in svg.iter(f"{SVG}rect")
            if rect.find(f"{SVG}title") is not None]
    assert bars == ["1 model in [0.15, 0.3)", "1 model in [1.35, 1.5]"]
    assert "1.5" in svg_texts(svg)  # a tick at the widened end


def test_plots_escape_names_and_draw_empty_states():
    from brainmark.platform.leaderboard import plots

    svg = ET.fromstring(plots.scatter([], title="<a> & <b>", x_label="x <1>", y_label="y"))
    assert svg.find(f"{SVG}title").text == "<a> & <b>"  # escaped in the document, text here
    assert "no benchmark scored for both" in svg_texts(svg)
    assert "no public model has a score yet" in svg_texts(
        ET.fromstring(plots.histogram([], title="t")))
    rows = [plots.DotRow("V1 <x>", 1, False, None, None, None, None)]
    svg = ET.fromstring(plots.dot_plot(rows, title="m", model="m <&>"))
    assert "V1 <x>" in svg_texts(svg) and "m <&>" in svg_texts(svg)


def test_ticks_are_round_numbers_covering_the_axis():
    from brainmark.platform.leaderboard.plots import _ticks

    assert _ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert _ticks(-0.2, 1.3) == [0, 0.5, 1.0]  # span 1.5 / 5 = 0.3 -> step 0.5
    assert _ticks(0, 7, 5) == [0, 2, 4, 6]
