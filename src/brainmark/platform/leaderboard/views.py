"""The leaderboard page and its downloads (CSV, JSON, BibTeX).

Thin: the board comes from :mod:`.snapshots` (stored public board, or a live one for a
viewer with private models), the URL's state from :class:`.forms.BoardState`, the table and
the files from :mod:`.tables` and :mod:`.exports`. Downloads are public models only,
whoever asks. Nothing is cached by time: every response is built from the board of the
tables' present state (``Cache-Control: no-cache``), so a new score shows on the next load.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from brainmark.platform.leaderboard.board import Board
from brainmark.platform.leaderboard.exports import RULE, board_bibtex, board_csv, board_json
from brainmark.platform.leaderboard.forms import (
    BoardState,
    BoardStateError,
    benchmarks_under,
    format_as_of,
)
from brainmark.platform.leaderboard.snapshots import board_for, memoized
from brainmark.platform.leaderboard.tables import leaderboard_table


def _state_and_board(request: HttpRequest, viewer) -> tuple[BoardState, Board, str | None]:
    state = BoardState.from_query(request.GET)
    board, key = board_for(viewer, as_of=state.as_of, excluded=state.excluded)
    state.check_against([c.identifier for c in board.columns],
                        [c.identifier for c in board.benchmarks])
    return state, board, key


def _bad_request(request: HttpRequest, error: BoardStateError) -> HttpResponse:
    return render(request, "leaderboard/leaderboard.html", {"error": str(error)}, status=400)


def _custom_aggregation_redirect(request: HttpRequest) -> HttpResponse | None:
    """The page's form without JavaScript sends the ticked benchmarks (``include``) and the
    list shown (``shown``); answer with the canonical ``?exclude=`` URL."""
    if request.GET.get("custom") != "1":
        return None
    query = request.GET.copy()
    included = set(query.getlist("include"))
    shown = [name for name in query.getlist("shown") if name]
    for name in ("custom", "include", "shown"):
        query.pop(name, None)
    query["exclude"] = ",".join(name for name in shown if name not in included)
    if not query["exclude"]:
        query.pop("exclude")
    return HttpResponseRedirect(f"{request.path}?{query.urlencode(safe=',:')}")


@require_GET
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """The leaderboard: models as rows, the benchmark tree as columns."""
    redirect = _custom_aggregation_redirect(request)
    if redirect is not None:
        return redirect
    try:
        state, board, key = _state_and_board(request, request.user)
    except BoardStateError as error:
        return _bad_request(request, error)
    table = memoized(key, ("table", state.query_string()), lambda: leaderboard_table(board, state))
    rendered_at = timezone.now().replace(microsecond=0)
    groups = [
        {"node": node.identifier, "depth": node.depth,
         "benchmarks": [c for c in board.benchmarks if c.parent == node.identifier]}
        for node in board.nodes
    ]
    context = {
        "board": board,
        "state": state,
        "table": table,
        "rule": RULE,
        "groups": [group for group in groups if group["benchmarks"]],
        "model_count": sum(1 for row in board.rows if row.public),
        "private_count": sum(1 for row in board.rows if not row.public),
        "benchmark_count": len(board.benchmarks),
        "download_query": state.board_query(),
        "permalink": "?" + state.query_string(as_of=state.as_of or rendered_at),
        "permalink_time": format_as_of(state.as_of or rendered_at),
        "now_link": "?" + state.query_string(as_of=None),
        "state_json": {
            "sort": state.sort, "dir": "desc" if state.descending else "asc",
            "q": state.query, "exclude": list(state.excluded), "expanded": list(state.expanded),
            "as_of": format_as_of(state.as_of) if state.as_of else "",
        },
    }
    return render(request, "leaderboard/leaderboard.html", context)


def _download(request: HttpRequest, kind: str, content_type: str,
              make: Callable[[Board, BoardState], bytes]) -> HttpResponse:
    try:
        state, board, key = _state_and_board(request, None)  # public models only
    except BoardStateError as error:
        return HttpResponse(f"{error}\n", status=400, content_type="text/plain; charset=utf-8")
    body = memoized(key, (kind, state.query_string()), lambda: make(board, state))
    response = HttpResponse(body, content_type=content_type)
    stamp = f"-{format_as_of(board.as_of).replace(':', '')}" if board.as_of else ""
    response["Content-Disposition"] = f'inline; filename="brainmark-leaderboard{stamp}.{kind}"'
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def download_csv(request: HttpRequest) -> HttpResponse:
    """The public leaderboard as CSV (``exclude`` and ``as_of`` honoured)."""
    return _download(request, "csv", "text/csv; charset=utf-8",
                     lambda board, state: board_csv(board))


def _json(board: Board, state: BoardState) -> bytes:
    benchmarks = benchmarks_under(board, state.expanded) if "expanded" in state.given else None
    return board_json(board, benchmarks)


@require_GET
def download_json(request: HttpRequest) -> HttpResponse:
    """The public leaderboard as JSON (every column, or only the nodes and the benchmarks
    beneath ``expanded`` when that parameter is given)."""
    return _download(request, "json", "application/json", _json)


@require_GET
def download_bibtex(request: HttpRequest) -> HttpResponse:
    """The BibTeX references of every benchmark on the public leaderboard."""
    return _download(request, "bib", "application/x-bibtex; charset=utf-8",
                     lambda board, state: board_bibtex(board))
