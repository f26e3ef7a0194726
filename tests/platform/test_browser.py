"""The site in a real browser: Playwright for Python driving Debian's Chromium.

One ``brainmark serve`` for the module, in a fresh ``BRAINMARK_HOME`` on SQLite, holding a
small synthetic board (6 models x 8 benchmarks, a few failed and a few missing scores).
A user signs up, activates the account with the link of the mail in the file outbox, logs
out and in again; the leaderboard is expanded, sorted, re-aggregated without a benchmark
and reloaded from its URL; a model page is opened from the grid; the CSV download is
checked number by number against the SQLite file, read directly, with node values
recomputed here with numpy (mean of the children, a missing or failed child counting 0).
Screenshots of the expanded leaderboard and of a model page go to the test run's artifacts
folder (``$BRAINMARK_TEST_ARTIFACTS``, else ``test-artifacts/`` in the repository).

Chromium is Debian's (``make system`` installs it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tests.platform.live_site import BRAINMARK, clean_environment, run, serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]

REPOSITORY = Path(__file__).resolve().parents[2]
SEED = 11  # 6 models x 8 benchmarks: failed scores, a missing one, regions of two benchmarks
TIMEOUT_MS = 20_000
EMAIL = "ada.lovelace@example.org"
PASSWORD = "Corvid-lumen-7342!quartz"

#: The benchmark tree (node -> parent), written out here rather than imported, so the
#: expected node values below do not lean on the library's code.
TREE = {
    "average_vision": None, "neural_vision": "average_vision",
    "behavior_vision": "average_vision", "V1": "neural_vision", "V2": "neural_vision",
    "V4": "neural_vision", "IT": "neural_vision", "engineering_vision": None,
}
NEURAL_REGIONS = ("V1", "V2", "V4", "IT")


# ---------------------------------------------------------------------------------------
# The server


@dataclass(frozen=True)
class Site:
    address: str
    home: Path
    database: Path
    outbox: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, read_server_address) -> Iterator[Site]:
    """``brainmark serve`` on a migrated SQLite home holding a synthetic board.

    The port is chosen first so that ``BRAINMARK_SITE_URL`` (the links of the mails) can
    name it; the printed address must be that same address.
    """
    home = tmp_path_factory.mktemp("browser_home")
    env = clean_environment(home)
    run([str(BRAINMARK), "migrate"], env)
    populate = (
        "import django; django.setup()\n"
        "from brainmark.platform.leaderboard.synthetic import populate\n"
        f"populate(6, 8, seed={SEED}, private_fraction=0, error_fraction=0.1, resamples=50)\n"
    )
    run([sys.executable, "-c", populate],
        {**env, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"})
    with serving(env, home, read_server_address) as address:
        yield Site(address=address, home=home,
                   database=home / "platform" / "brainmark.sqlite3",
                   outbox=home / "platform" / "outbox")


# ---------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (a missing Chromium fails: run ``make system``)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
                    f"Install it with 'make system' (never 'playwright install').")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems:
    """What went wrong in a page that a user would not see at once: script errors, console
    errors and answers of 400 or more (the favicon, which the site does not have, aside)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith(
                "/favicon.ico"):
            self.problems.append(f"console error: {message.text} at {message.location}")

    def _response(self, response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} for {response.request.method} "
                                 f"{response.url}")


@pytest.fixture
def page(browser, site: Site):
    """A new page in a context of its own (no cookies shared between tests); fails the
    test on a script error, a console error or a failed request."""
    context = browser.new_context(base_url=site.address, accept_downloads=True,
                                  viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    yield page
    context.close()
    assert not problems.problems, "\n".join(problems.problems)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where this run's screenshots go."""
    folder = Path(os.environ.get("BRAINMARK_TEST_ARTIFACTS") or REPOSITORY / "test-artifacts")
    folder = folder / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------------------------------
# The database, read directly, and the expected board computed here


@dataclass(frozen=True)
class Expected:
    """The public board as the database says it should be."""

    parents: dict[str, str]
    """Leaf benchmark -> its node."""
    leaves: dict[str, dict[str, float | None]]
    """Model -> benchmark -> ceiled score (None when missing or failed)."""
    failed: dict[str, set[str]]
    """Model -> benchmarks whose score failed (no ceiled value)."""
    versions: dict[str, int]
    """Model -> its latest version number."""


def read_database(path: Path) -> Expected:
    """Latest public benchmark versions, latest versions of public models not withdrawn,
    and their scores, straight from the SQLite file (read only)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        kinds = {pk: (identifier, parent) for pk, identifier, parent in connection.execute(
            "SELECT t.id, t.identifier, p.identifier FROM leaderboard_benchmarktype t "
            "LEFT JOIN leaderboard_benchmarktype p ON t.parent_id = p.id WHERE t.visible")}
        benchmark_versions: dict[str, tuple[int, int]] = {}  # identifier -> (version, pk)
        parents: dict[str, str] = {}
        for pk, kind, version in connection.execute(
                "SELECT id, benchmark_type_id, version FROM leaderboard_benchmarkversion "
                "WHERE public"):
            identifier, parent = kinds[kind]
            if parent not in TREE or identifier in TREE:
                continue
            parents[identifier] = parent
            if version > benchmark_versions.get(identifier, (0, 0))[0]:
                benchmark_versions[identifier] = (version, pk)
        model_versions: dict[str, tuple[int, int]] = {}
        for identifier, version, pk in connection.execute(
                "SELECT m.identifier, v.version, v.id FROM leaderboard_modelversion v "
                "JOIN leaderboard_model m ON v.model_id = m.id "
                "WHERE m.public AND NOT m.withdrawn"):
            if version > model_versions.get(identifier, (0, 0))[0]:
                model_versions[identifier] = (version, pk)
        benchmark_of = {pk: name for name, (_, pk) in benchmark_versions.items()}
        model_of = {pk: name for name, (_, pk) in model_versions.items()}
        leaves = {model: dict.fromkeys(parents) for model in model_versions}
        failed: dict[str, set[str]] = {model: set() for model in model_versions}
        for model_version, benchmark_version, ceiled in connection.execute(
                "SELECT model_version_id, benchmark_version_id, ceiled FROM leaderboard_score"):
            if model_version in model_of and benchmark_version in benchmark_of:
                model, benchmark = model_of[model_version], benchmark_of[benchmark_version]
                if ceiled is None or math.isnan(ceiled):
                    failed[model].add(benchmark)
                else:
                    leaves[model][benchmark] = ceiled
    finally:
        connection.close()
    return Expected(parents=parents, leaves=leaves, failed=failed,
                    versions={model: version for model, (version, _) in model_versions.items()})


def node_values(leaves: dict[str, float | None], parents: dict[str, str],
                excluded: frozenset[str] = frozenset()) -> dict[str, float | None]:
    """Every node's value for one model, Brain-Score's rules: leaves clamped to [0, 1], the
    mean over all children with a missing or failed child counting 0, a node whose children
    all lack a value empty (None); a node with no benchmark beneath it is no child."""
    children: dict[str, list[str]] = {}
    for benchmark, parent in parents.items():
        if benchmark not in excluded:
            children.setdefault(parent, []).append(benchmark)
    for node, parent in TREE.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)
    values: dict[str, float | None] = {}

    def value(name: str) -> tuple[bool, float | None]:
        """(has a benchmark beneath, value)."""
        if name not in TREE:
            leaf = leaves.get(name)
            return True, None if leaf is None else float(np.clip(leaf, 0, 1))
        below = [value(child) for child in children.get(name, [])]
        below = [v for present, v in below if present]
        if not below:
            return False, None
        values[name] = (None if all(v is None for v in below)
                        else float(np.mean([0.0 if v is None else v for v in below])))
        return True, values[name]

    for node in TREE:
        value(node)
    return values


def competition_ranks(values: dict[str, float]) -> dict[str, int]:
    """1 + the number of models strictly above (ties share a rank)."""
    return {model: 1 + sum(other > value for other in values.values())
            for model, value in values.items()}


# ---------------------------------------------------------------------------------------
# Reading the grid


def grid_titles(page) -> list[str]:
    """The grid's column titles, left to right (expander signs dropped)."""
    return [title.replace("+", "").replace("−", "").strip()
            for title in page.locator(".tabulator-col .tabulator-col-title").all_inner_texts()]


def grid_column(page, column: str) -> list[str]:
    """One column's cells, top to bottom: the full value (the start of the cell's title,
    before its interval) or its text (``X`` for a failed score, ``–`` for a missing one)."""
    return page.locator(f".tabulator-row .tabulator-cell[tabulator-field='v:{column}']"
                        ).evaluate_all("cells => cells.map(c => c.textContent === 'X' || "
                                       "c.textContent === '–' ? c.textContent : "
                                       "c.title.split(' ')[0])")


def grid_models(page) -> list[str]:
    return page.locator(".tabulator-row .tabulator-cell[tabulator-field='model'] a"
                        ).all_inner_texts()


def grid_rows(page, columns: list[str]) -> dict[str, dict[str, float | None]]:
    """Model -> column -> value shown (None for X or –)."""
    models = grid_models(page)
    table: dict[str, dict[str, float | None]] = {model: {} for model in models}
    for column in columns:
        cells = grid_column(page, column)
        assert len(cells) == len(models), f"{column}: {len(cells)} cells, {len(models)} rows"
        for model, cell in zip(models, cells, strict=True):
            table[model][column] = None if cell in ("X", "–") else float(cell)
    return table


def wait_for_grid(page) -> None:
    page.wait_for_selector(".tabulator .tabulator-row .tabulator-cell[tabulator-field='model']")
    page.wait_for_function("() => !document.getElementById('leaderboard-grid')"
                           ".hasAttribute('aria-busy')")


# ---------------------------------------------------------------------------------------
# The tests


def test_sign_up_activate_log_out_and_log_in(page, site: Site) -> None:
    """Sign up, activate with the outbox mail's link, log out, log in again."""
    from playwright.sync_api import expect

    page.goto("/accounts/signup/")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.locator("main")).to_contain_text(EMAIL)

    # Not active yet: logging in says so.
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main")).to_contain_text("not activated yet")

    mails = [path.read_text() for path in sorted(site.outbox.glob("*.log"))]
    ours = [mail for mail in mails if f"To: {EMAIL}" in mail]
    assert len(ours) == 1, f"{len(ours)} mails to {EMAIL} in {site.outbox}: {mails}"
    links = re.findall(rf"{re.escape(site.address)}/accounts/activate/[^/\s]+/[^/\s]+/", ours[0])
    assert len(links) == 1, f"one activation link on {site.address} expected in:\n{ours[0]}"

    page.goto(links[0])
    expect(page).to_have_url(f"{site.address}/accounts/profile/")
    expect(page.locator(".messages")).to_contain_text("is active and you are logged in")
    account = page.get_by_role("navigation", name="Account")
    expect(account).to_contain_text(EMAIL)

    account.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{site.address}/")
    expect(account.get_by_role("link", name="Log in")).to_be_visible()
    expect(account).not_to_contain_text(EMAIL)

    account.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(f"{site.address}/accounts/login/")
    page.get_by_label("E-mail").fill(EMAIL.upper())  # any case
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site.address}/accounts/profile/")
    expect(account).to_contain_text(EMAIL)

    # Logged in, the leaderboard shows the same public board.
    page.goto("/")
    wait_for_grid(page)
    expect(account).to_contain_text(EMAIL)
    assert len(grid_models(page)) == 6


def test_leaderboard_expand_sort_untick_and_reload(page, site: Site, artifacts: Path) -> None:
    """Named columns, expand neural_vision, sort by V1, leave a benchmark out of the
    averages (checked against numpy on the leaves shown), and the URL keeps it all."""
    from playwright.sync_api import expect

    expected = read_database(site.database)
    response = page.goto("/")
    served = response.text()
    for name in ("average_vision", "neural_vision", "behavior_vision"):
        assert f'data-column="{name}"' in served, f"the served HTML does not name {name}"
    wait_for_grid(page)
    titles = grid_titles(page)
    assert {"average_vision", "neural_vision", "behavior_vision"} <= set(titles), titles
    neural = sorted(b for b, parent in expected.parents.items() if parent in NEURAL_REGIONS)
    assert not set(neural) & set(titles), f"benchmarks shown before expanding: {titles}"

    # Expand neural_vision: its regions and their benchmarks, nothing of behavior.
    page.locator(".tabulator-col[tabulator-field='v:neural_vision'] .expander").click()
    expect(page.locator(".tabulator-col[tabulator-field='v:" + neural[0] + "']")).to_be_visible()
    wait_for_grid(page)
    titles = grid_titles(page)
    assert {*NEURAL_REGIONS, *neural} <= set(titles), titles
    for region in NEURAL_REGIONS:  # each region's benchmarks follow it
        below = [b for b in neural if expected.parents[b] == region]
        at = titles.index(region)
        assert sorted(titles[at + 1:at + 1 + len(below)]) == below, (region, titles)
    behavior = [b for b, parent in expected.parents.items() if parent == "behavior_vision"]
    assert not set(behavior) & set(titles)
    assert "expanded=neural_vision" in page.url

    # Sort by V1 (Tabulator's sorter), largest first, missing last.
    v1 = page.locator(".tabulator-col[tabulator-field='v:V1']")
    v1.locator(".tabulator-col-sorter").click()
    expect(v1).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"sort=V1&dir=desc"))
    shown = grid_rows(page, ["V1"])
    order = [row["V1"] for row in shown.values()]
    present = [value for value in order if value is not None]
    assert present == sorted(present, reverse=True), order
    assert order[:len(present)] == present, f"missing values not last: {order}"
    for model, row in shown.items():
        want = node_values(expected.leaves[model], expected.parents)["V1"]
        assert row["V1"] == (None if want is None else pytest.approx(want, abs=1e-9)), model

    # Expand behavior_vision too, so every leaf under average_vision is on the grid.
    page.locator(".tabulator-col[tabulator-field='v:behavior_vision'] .expander").click()
    expect(page.locator(".tabulator-col[tabulator-field='v:" + behavior[0] + "']")
           ).to_be_visible()
    wait_for_grid(page)
    leaves_shown = sorted(b for b, parent in expected.parents.items()
                          if parent != "engineering_vision")
    before = grid_rows(page, ["average_vision", *leaves_shown])
    for model, row in before.items():  # what the grid shows is the database's
        for benchmark in leaves_shown:
            want = expected.leaves[model][benchmark]
            assert row[benchmark] == (None if want is None else pytest.approx(want, abs=1e-9))
    failed = [(model, benchmark) for model, names in expected.failed.items()
              for benchmark in names if benchmark in leaves_shown]
    assert failed, "the synthetic board should hold failed scores (seed changed?)"
    for model, benchmark in failed:  # X, with the reason on hover
        cell = page.locator(f".tabulator-row:has(a:text-is('{model}')) "
                            f".tabulator-cell[tabulator-field='v:{benchmark}']")
        expect(cell).to_have_text("X")
        expect(cell).to_have_attribute("title", re.compile("CUDA out of memory"))

    # Untick the last benchmark of a region that has two.
    regions = [r for r in (*NEURAL_REGIONS, "behavior_vision")
               if sum(parent == r for parent in expected.parents.values()) >= 2]
    assert regions, f"the synthetic board has no region with two benchmarks: {expected.parents}"
    dropped = sorted(b for b, parent in expected.parents.items() if parent == regions[0])[-1]
    page.locator("#custom-aggregation summary").click()
    box = page.locator(f"#custom-aggregation input[data-benchmark='{dropped}']")
    box.uncheck()
    expect(page).to_have_url(re.compile(rf"exclude={re.escape(dropped)}"))
    expect(page.locator(f".tabulator-col[tabulator-field='v:{dropped}'].excluded")
           ).to_be_visible()
    wait_for_grid(page)
    after = grid_rows(page, ["average_vision", *leaves_shown])
    changed = 0
    for model, row in after.items():
        leaves = {b: row[b] for b in leaves_shown}
        want = node_values(leaves, expected.parents, frozenset([dropped]))["average_vision"]
        assert row["average_vision"] == pytest.approx(want, abs=1e-9), (model, row, want)
        changed += not math.isclose(row["average_vision"], before[model]["average_vision"])
    assert changed, "no average_vision changed when a benchmark was left out"
    csv_link = page.get_by_role("link", name="CSV", exact=True)
    assert f"exclude={dropped}" in csv_link.get_attribute("href")

    # The URL keeps the state: reload, the same board.
    url = page.url
    page.reload()
    wait_for_grid(page)
    assert page.url == url
    expect(v1).to_have_attribute("aria-sort", "descending")
    assert not page.locator(f"#custom-aggregation input[data-benchmark='{dropped}']"
                            ).is_checked()
    assert {*NEURAL_REGIONS, *leaves_shown} <= set(grid_titles(page))
    assert grid_rows(page, ["average_vision", *leaves_shown]) == after
    assert [row["V1"] for row in grid_rows(page, ["V1"]).values()] == order

    page.screenshot(path=artifacts / "leaderboard-expanded.png", full_page=True)


def test_a_values_error_bar_shows_on_hover(page, site: Site, artifacts: Path) -> None:
    """Each value's interval (from the records' resamples) is a bar that appears when the
    pointer is over its cell, in the grid and in the page's table without JavaScript."""
    from playwright.sync_api import expect

    page.goto("/")
    wait_for_grid(page)
    cell = page.locator(".tabulator-row .tabulator-cell[tabulator-field='v:average_vision']"
                        ).first
    bar = cell.locator("svg.error-bar")
    expect(bar).to_be_hidden()
    expect(cell).to_have_attribute("title", re.compile(r"^[0-9.]+ \(95% interval "
                                                       r"[0-9.]+ to [0-9.]+\)$"))
    cell.hover()
    expect(bar).to_be_visible()
    low, high = (float(x) for x in re.findall(r"interval ([0-9.]+) to ([0-9.]+)",
                                               cell.get_attribute("title"))[0])
    value = float(cell.get_attribute("title").split()[0])
    interval = bar.locator("line.interval")
    assert float(interval.get_attribute("x1")) == pytest.approx(100 * low, abs=0.11)
    assert float(interval.get_attribute("x2")) == pytest.approx(100 * high, abs=0.11)
    assert low <= value <= high
    page.screenshot(path=artifacts / "leaderboard-error-bar.png")

    context = page.context.browser.new_context(base_url=site.address, java_script_enabled=False)
    plain = context.new_page()
    plain.goto("/")
    table_cell = plain.locator("#leaderboard-table tbody tr td[class^='hue-']").first
    expect(table_cell.locator("svg.error-bar")).to_be_hidden()
    table_cell.hover()
    expect(table_cell.locator("svg.error-bar")).to_be_visible()
    context.close()


def test_model_page_from_the_grid(page, site: Site, artifacts: Path) -> None:
    """A click on a model of the grid opens its page, with the leaderboard's average_vision."""
    from playwright.sync_api import expect

    expected = read_database(site.database)
    page.goto("/")
    wait_for_grid(page)
    models = grid_models(page)
    model = models[1]
    board_value = float(grid_column(page, "average_vision")[1])
    board_text = page.locator(".tabulator-row .tabulator-cell[tabulator-field="
                              "'v:average_vision']").nth(1).inner_text()
    page.locator(".tabulator-row .tabulator-cell[tabulator-field='model'] a").nth(1).click()
    expect(page).to_have_url(f"{site.address}/models/{model}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(model)
    cell = page.locator("#scores tr[data-column='average_vision'] td.value")
    page_text = cell.inner_text().split()[0]
    assert page_text == board_text == f"{board_value:.3f}"
    want = node_values(expected.leaves[model], expected.parents)
    assert board_value == pytest.approx(want["average_vision"], abs=1e-9)
    for node in ("neural_vision", "behavior_vision", *NEURAL_REGIONS):
        shown = page.locator(f"#scores tr[data-column='{node}'] td.value").inner_text().split()
        assert shown[0] == f"{want[node]:.3f}", node
    page.screenshot(path=artifacts / "model-page.png", full_page=True)


def test_csv_download_matches_the_database(page, site: Site) -> None:
    """The CSV the page links to: every model, leaf, node and rank equals the database's
    (leaves to 1e-9, nodes recomputed here with numpy)."""
    expected = read_database(site.database)
    page.goto("/")
    wait_for_grid(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    text = Path(download.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    header = next(csv.reader(io.StringIO(text)))

    nodes = [node for node in TREE if node in node_values({}, expected.parents)]
    columns = [*nodes, *expected.parents]
    assert set(header) == {"rank", "tied_with_above", "model", "model_version", *columns,
                           *(f"{name}_{side}" for name in columns for side in ("lower", "upper"))}
    assert {row["model"] for row in rows} == set(expected.leaves)
    averages = {model: node_values(leaves, expected.parents)["average_vision"]
                for model, leaves in expected.leaves.items()}
    ranks = competition_ranks(averages)
    failures = 0
    for row in rows:
        model = row["model"]
        assert int(row["model_version"]) == expected.versions[model]
        assert int(row["rank"]) == ranks[model], model
        for benchmark, want in expected.leaves[model].items():
            if benchmark in expected.failed[model]:
                assert row[benchmark] == "X", (model, benchmark)
                failures += 1
            elif want is None:
                assert row[benchmark] == "", (model, benchmark)
            else:
                assert float(row[benchmark]) == pytest.approx(want, abs=1e-9), (model, benchmark)
        for node, want in node_values(expected.leaves[model], expected.parents).items():
            if want is None:
                assert row[node] == "", (model, node)
            else:
                assert float(row[node]) == pytest.approx(want, abs=1e-9), (model, node)
    assert failures, "the synthetic board should hold failed scores (seed changed?)"
