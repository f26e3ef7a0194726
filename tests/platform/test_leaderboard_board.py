"""The leaderboard's data layer (``leaderboard/board.py``) on hand-made rows.

Every expected number below is worked by hand from the scores in :func:`rows` with the
tree's rule (a parent is the mean of its children, a missing or errored child counts 0).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

MAR = datetime(2026, 3, 1, tzinfo=UTC)


def test_competition_ranks_share_ties_and_skip():
    from brainmark.platform.leaderboard.board import competition_ranks

    ranks = competition_ranks({"a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0, "e": None,
                               "f": float("nan")})
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_tree_columns_keep_only_nodes_with_benchmarks_in_tree_order():
    from brainmark.platform.leaderboard.board import tree_columns

    columns = tree_columns([
        ("b4", "behavior", 4, 1, None), ("b1", "V1", 1, 1, 0.5), ("b3", "IT", 3, 2, 0.7),
        ("e1", "engineering", 5, 1, None), ("b2", "V1", 2, 1, 0.5),
    ])
    assert [(c.identifier, c.parent, c.depth, c.is_benchmark) for c in columns] == [
        ("average_vision", None, 0, False),
        ("neural_vision", "average_vision", 1, False),
        ("V1", "neural_vision", 2, False),
        ("b1", "V1", 3, True),
        ("b2", "V1", 3, True),
        ("IT", "neural_vision", 2, False),
        ("b3", "IT", 3, True),
        ("behavior_vision", "average_vision", 1, False),
        ("b4", "behavior_vision", 2, True),
        ("engineering_vision", None, 0, False),
        ("e1", "engineering_vision", 1, True),
    ]
    assert columns[6].version == 2 and columns[6].ceiling == 0.7
    assert columns[6].benchmark_version_id == 3


def test_assemble_board_without_a_database():
    from brainmark.platform.leaderboard.board import assemble_board, tree_columns

    columns = tree_columns([("b1", "V1", 1, 1, None), ("b2", "V1", 2, 1, None)])
    models = [
        {"model": m, "model_id": i, "model_version": 1, "model_version_id": i,
         "public": public, "owner_id": None}
        for i, (m, public) in enumerate([("x", True), ("y", True), ("z", False)])
    ]
    board = assemble_board(columns, models, {"x": {"b1": 0.6}, "y": {"b1": 0.2, "b2": 0.8},
                                             "z": {"b1": 1.0, "b2": 1.0}}, {})
    values = {row.model: row.values for row in board.rows}
    # x: V1 = (0.6 + 0)/2, one benchmark missing.
    assert values["x"]["V1"] == pytest.approx(0.3)
    assert values["x"]["neural_vision"] == pytest.approx(0.3)
    assert values["x"]["average_vision"] == pytest.approx(0.3)
    assert values["y"]["average_vision"] == pytest.approx(0.5)
    assert board.rank("y", "average_vision") == 1 and board.rank("x", "average_vision") == 2
    assert board.rank("z", "average_vision") is None  # private: never ranked
    assert [row.model for row in board.rows] == ["z", "y", "x"]
    assert board.column_values("b1") == [0.2, 0.6]
    assert sorted(board.column_values("b1", public_only=False)) == [0.2, 0.6, 1.0]


# ---------------------------------------------------------------------------------------
# From the database


@pytest.mark.db
def test_anonymous_board_values_ranks_and_errors(rows):
    from brainmark.platform.leaderboard.board import build_board

    board = build_board(None)
    assert [column.identifier for column in board.columns] == [
        "average_vision", "neural_vision", "V1", "b1", "b2", "IT", "b3", "behavior_vision",
        "b4", "engineering_vision", "e1",
    ]
    assert [row.model for row in board.rows] == ["alpha", "beta"]  # no private, no withdrawn
    alpha, beta = board.rows
    assert alpha.model_version == 2
    # alpha v2: V1 = (0.8+0.6)/2 = 0.7, IT = 0.5, neural = 0.6, behavior = 0.3,
    # average = (0.6+0.3)/2 = 0.45, engineering = 0.9.
    expected_alpha = {"V1": 0.7, "IT": 0.5, "neural_vision": 0.6, "behavior_vision": 0.3,
                      "average_vision": 0.45, "engineering_vision": 0.9, "b1": 0.8}
    for column, value in expected_alpha.items():
        assert alpha.values[column] == pytest.approx(value), column
    # beta: V1 = (0.2+0)/2 = 0.1, IT empty (its one benchmark errored) but 0 in neural,
    # neural = 0.05, behavior = 0.6, average = (0.05+0.6)/2 = 0.325, engineering empty.
    expected_beta = {"V1": 0.1, "neural_vision": 0.05, "behavior_vision": 0.6,
                     "average_vision": 0.325}
    for column, value in expected_beta.items():
        assert beta.values[column] == pytest.approx(value), column
    assert beta.values["IT"] is None and beta.values["engineering_vision"] is None
    assert beta.values["b2"] is None and beta.values["b3"] is None
    assert beta.errors == {"b3": "CUDA out of memory"}
    assert (alpha.rank, beta.rank) == (1, 2)
    assert board.rank("beta", "b4") == 1 and board.rank("alpha", "b4") == 2
    assert board.rank("beta", "b2") is None
    assert board.column("b1").ceiling == 0.8 and board.column("b4").version == 1


@pytest.mark.db
def test_private_models_show_to_their_owner_and_staff_without_a_rank(rows):
    from django.contrib.auth.models import AnonymousUser

    from brainmark.platform.leaderboard.board import build_board

    assert [row.model for row in build_board(AnonymousUser()).rows] == ["alpha", "beta"]
    for viewer in (rows["ada"], rows["staff"]):
        board = build_board(viewer)
        assert [row.model for row in board.rows] == ["gamma", "alpha", "beta"]
        gamma = board.rows[0]
        assert gamma.values["average_vision"] == pytest.approx(0.9)
        assert gamma.rank is None and board.rank("gamma", "b1") is None
        assert board.rows[1].rank == 1  # gamma scores higher but does not count
        assert 0.9 not in board.column_values("b1")
        assert board.column_values("b1", public_only=False).count(0.9) == 1


@pytest.mark.db
def test_excluded_benchmarks_recompute_the_nodes(rows):
    from brainmark.platform.leaderboard.board import build_board

    board = build_board(None, excluded=["b2"])
    alpha, beta = (next(r for r in board.rows if r.model == m) for m in ("alpha", "beta"))
    # Without b2: alpha V1 = 0.8, neural = (0.8+0.5)/2 = 0.65, average = (0.65+0.3)/2 = 0.475.
    assert alpha.values["V1"] == pytest.approx(0.8)
    assert alpha.values["average_vision"] == pytest.approx(0.475)
    # beta V1 = 0.2, neural = (0.2+0)/2 = 0.1, average = (0.1+0.6)/2 = 0.35.
    assert beta.values["average_vision"] == pytest.approx(0.35)
    assert alpha.values["b2"] == pytest.approx(0.6)  # its column stays, out of the means
    assert board.excluded == frozenset({"b2"})

    # Without b3, IT has no benchmark: neural is V1 alone (the library leaves IT out).
    board = build_board(None, excluded=["b3"])
    beta = next(r for r in board.rows if r.model == "beta")
    assert beta.values["IT"] is None
    assert beta.values["neural_vision"] == pytest.approx(0.1)
    assert beta.values["average_vision"] == pytest.approx((0.1 + 0.6) / 2)
    # alpha: V1 = 0.7 = neural, average = (0.7+0.3)/2 = 0.5, still first.
    alpha = next(r for r in board.rows if r.model == "alpha")
    assert alpha.values["average_vision"] == pytest.approx(0.5)
    assert board.rank("alpha", "average_vision") == 1


@pytest.mark.db
def test_board_as_of_a_past_date(rows):
    from brainmark.platform.leaderboard.board import build_board

    board = build_board(None, as_of=MAR)
    alpha, beta = (next(r for r in board.rows if r.model == m) for m in ("alpha", "beta"))
    # March: alpha is version 1 (b1 0.4): V1 = 0.5, neural = 0.5, average = (0.5+0.3)/2.
    assert alpha.model_version == 1
    assert alpha.values["average_vision"] == pytest.approx(0.4)
    # beta's b4 ended in April: behavior 0, average = (0.05+0)/2 = 0.025.
    assert beta.values["b4"] is None
    assert beta.values["average_vision"] == pytest.approx(0.025)
    assert board.as_of == MAR

    # Before any version existed there is nothing to show.
    empty = build_board(None, as_of=datetime(2025, 6, 1, tzinfo=UTC))
    assert empty.rows == [] and empty.columns == []


@pytest.mark.db
def test_board_queries_do_not_grow_with_rows(rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from brainmark.platform.leaderboard.board import build_board

    with CaptureQueriesContext(connection) as queries:
        build_board(rows["ada"])
    assert len(queries) <= 5


def test_as_of_parsing_and_formatting():
    from brainmark.platform.leaderboard.forms import BoardStateError, format_as_of, parse_as_of

    assert parse_as_of("2026-05-01") == datetime(2026, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert format_as_of(parse_as_of("2026-05-01")) == "2026-05-01"
    noon = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_as_of("2026-05-01T12:00:00Z") == noon
    assert parse_as_of("2026-05-01T12:00:00") == noon  # no zone: UTC
    assert parse_as_of("2026-05-01T14:00:00+02:00") == noon
    assert parse_as_of("2026-05-01T14:00:00 02:00") == noon  # '+' decoded to a space
    assert format_as_of(noon) == "2026-05-01T12:00:00Z"
    for text in ("yesterday", "2026-13-01", "9999-12-31T23:59:59-05:00"):
        with pytest.raises(BoardStateError, match="as_of"):
            parse_as_of(text)


def test_model_filter_by_text_and_metadata():
    from brainmark.platform.leaderboard.forms import matches

    metadata = {"architecture": "ViT", "parameters": 86000000}
    assert matches("vit-b16", metadata, "")
    assert matches("vit-b16", metadata, "B16 architecture:vit")
    assert matches("model-x", metadata, "vit")  # a metadata value
    assert not matches("model-x", metadata, "architecture:resnet")
    assert not matches("model-x", metadata, "family:vit")  # no such key
    assert not matches("model-x", metadata, "vit convnext")  # every word must match


def test_leaf_scores_are_shown_and_averaged_clamped_to_the_unit_interval():
    from brainmark.platform.leaderboard.board import assemble_board, tree_columns

    columns = tree_columns([("b1", "V1", 1, 1, None), ("b2", "V1", 2, 1, None)])
    models = [{"model": "x", "model_id": 1, "model_version": 1, "model_version_id": 1,
               "public": True, "owner_id": None}]
    board = assemble_board(columns, models, {"x": {"b1": 1.3, "b2": -0.2}}, {})
    values = board.rows[0].values
    assert (values["b1"], values["b2"]) == (1.0, 0.0)
    assert values["V1"] == pytest.approx((1.0 + 0.0) / 2)
