"""The synthetic board and the stored public board: never stale past a write."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def synthetic(database):
    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.synthetic import populate

    snapshots.forget()
    return populate(5, 6, seed=7, private_fraction=0.4, error_fraction=0.1)


def test_populate_writes_a_scored_tree(synthetic):
    from brainmark.platform.leaderboard.board import build_board
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model, Score

    assert len(synthetic.models) == 5 and len(synthetic.benchmarks) == 6
    assert Model.objects.filter(identifier__in=synthetic.private_models, public=False).count() \
        == len(synthetic.private_models)
    assert Score.objects.filter(model_version__model__identifier__in=synthetic.models).count() \
        == synthetic.scores
    assert not BenchmarkVersion.objects.filter(ceiling__isnull=True).exists()
    board = build_board(None)
    names = {column.identifier for column in board.columns}
    # One benchmark at least in every region (6 benchmarks, 6 regions).
    assert {"V1", "V2", "V4", "IT", "behavior_vision", "engineering_vision"} <= names
    assert {row.model for row in board.rows} == set(synthetic.models) - set(
        synthetic.private_models)


def test_node_values_are_means_of_children_with_missing_as_zero(synthetic):
    """An independent check of the whole synthetic board with numpy: a node is the mean of
    its children (leaves clamped to [0, 1]), a child without a score counting 0, and empty
    when none of its children has one."""
    from brainmark.platform.leaderboard.board import build_board

    board = build_board(None)
    children: dict[str, list[str]] = {}
    for column in board.columns:
        if column.parent:
            children.setdefault(column.parent, []).append(column.identifier)
    for row in board.rows:
        for node in (c.identifier for c in reversed(board.columns) if not c.is_benchmark):
            values = [row.values[child] for child in children[node]]
            if all(value is None for value in values):  # nothing scored beneath: empty
                assert row.values[node] is None
                continue
            expected = np.mean([min(max(value or 0.0, 0.0), 1.0) for value in values])
            assert row.values[node] == pytest.approx(expected, abs=1e-12)


def test_the_key_changes_with_every_kind_of_write(synthetic):
    from brainmark.platform.leaderboard.models import BenchmarkType, Model, Score
    from brainmark.platform.leaderboard.snapshots import current_key

    keys = [current_key()]
    score = Score.objects.filter(ceiled__isnull=False).first()
    Score.objects.filter(pk=score.pk).update(ceiled=0.01)  # a queryset update: no signal
    keys.append(current_key())
    Model.objects.filter(identifier=synthetic.models[0]).update(public=False)
    keys.append(current_key())
    BenchmarkType.objects.filter(identifier=synthetic.benchmarks[0]).update(visible=False)
    keys.append(current_key())
    Score.objects.filter(pk=score.pk).delete()
    keys.append(current_key())
    assert None not in keys and len(set(keys)) == len(keys)


def test_the_stored_board_follows_every_write(synthetic):
    from brainmark.platform.leaderboard.board import build_board
    from brainmark.platform.leaderboard.models import BoardSnapshot, Score
    from brainmark.platform.leaderboard.snapshots import board_for

    first, key = board_for(None)
    assert key is not None and BoardSnapshot.objects.get(name="public-board").key == key
    assert first == build_board(None)
    again, same_key = board_for(None)
    assert same_key == key and again is first  # served from this process's memo

    row = first.rows[0]
    benchmark = first.benchmarks[0]
    Score.objects.filter(model_version_id=row.model_version_id,
                         benchmark_version_id=benchmark.benchmark_version_id
                         ).update(ceiled=0.987654321, comment="")
    fresh, new_key = board_for(None)
    assert new_key != key
    assert next(r for r in fresh.rows if r.model == row.model).values[
        benchmark.identifier] == 0.987654321
    assert fresh == build_board(None)


def test_a_board_read_back_from_storage_equals_the_computed_one(synthetic):
    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.board import build_board

    computed, _ = snapshots.board_for(None)
    snapshots.forget()  # another process: only the stored row is there
    stored, _ = snapshots.board_for(None)
    assert stored is not computed
    assert stored == computed == build_board(None)


def test_viewers_with_private_models_get_a_live_board(synthetic):
    from brainmark.platform.leaderboard.board import build_board
    from brainmark.platform.leaderboard.models import Model
    from brainmark.platform.leaderboard.snapshots import board_for

    private = Model.objects.filter(identifier__in=synthetic.private_models,
                                   owner__isnull=False).first()
    if private is None:
        private = Model.objects.filter(identifier__in=synthetic.private_models).first()
        from django.contrib.auth import get_user_model
        private.owner = get_user_model().objects.create_user("own", "own@example.org", "x")
        private.save()
    board, key = board_for(private.owner)
    assert key is None
    assert private.identifier in {row.model for row in board.rows}
    assert board == build_board(private.owner)  # public part from storage + private rows
    public_board, _ = board_for(None)
    assert private.identifier not in {row.model for row in public_board.rows}


def test_public_board_plus_private_rows_equals_the_viewers_board(database):
    from datetime import UTC, datetime

    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.board import build_board
    from brainmark.platform.leaderboard.synthetic import write_example_board

    snapshots.forget()
    users = write_example_board()
    march = datetime(2026, 3, 1, tzinfo=UTC)
    for viewer in (users["ada"], users["staff"]):
        for options in ({}, {"excluded": ["b2"]}, {"as_of": march}):
            board, key = snapshots.board_for(viewer, **options)
            assert key is None
            assert board == build_board(viewer, **options)
            assert "gamma" in {row.model for row in board.rows}


def test_a_committed_write_refreshes_the_stored_board(synthetic):
    import json

    from django.test import TestCase

    from brainmark.platform.leaderboard.board import board_from_dict
    from brainmark.platform.leaderboard.models import BoardSnapshot, Score
    from brainmark.platform.leaderboard.snapshots import current_key, refresh_public_board

    score = Score.objects.filter(ceiled__isnull=False,
                                 model_version__model__public=True).first()
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        score.ceiled = 0.123456789
        score.save()
    assert callbacks  # the save asked for a refresh once committed
    stored = BoardSnapshot.objects.get(name="public-board")
    assert stored.key == current_key()
    board = board_from_dict(json.loads(stored.payload))
    row = next(r for r in board.rows if r.model_version_id == score.model_version_id)
    assert row.values[score.benchmark_version.benchmark_type.identifier] == 0.123456789
    assert refresh_public_board() is False  # already current


def test_the_memo_keeps_to_its_limits(database, monkeypatch):
    from brainmark.platform.leaderboard import snapshots

    snapshots.forget()
    monkeypatch.setattr(snapshots, "MEMO_BYTES", 3000)
    monkeypatch.setattr(snapshots, "MEMO_SIZE", 10)
    computed = []

    def payload(name: str) -> str:
        return snapshots.memoized("k", (name,), lambda: computed.append(name) or "x" * 1000)

    for name in "abc":
        payload(name)
    payload("a")  # a is now the most recently used
    payload("d")  # over 3000 bytes: b, the least recently used, goes
    payload("a")
    payload("c")
    payload("b")
    assert computed == ["a", "b", "c", "d", "b"]
    assert snapshots.memoized(None, ("a",), lambda: "live") == "live"  # no key: not kept
    snapshots.forget()


def test_postgresql_takes_the_board_key_before_each_statement(database):
    """The key's row is locked before a statement locks its own rows (no deadlock between
    two writers of overlapping rows); SQLite has one writer and row triggers."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgrelid::regclass::text, tgtype FROM pg_trigger "
                       "WHERE tgname LIKE 'leaderboard_%_new_board_key'")
        triggers = dict(cursor.fetchall())
    assert set(triggers) == {"leaderboard_model", "leaderboard_modelversion",
                             "leaderboard_benchmarktype", "leaderboard_benchmarkversion",
                             "leaderboard_score"}
    before, row_level = 1 << 1, 1 << 0  # pg_trigger.tgtype bits
    assert all(tgtype & before and not tgtype & row_level for tgtype in triggers.values())
