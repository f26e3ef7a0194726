"""The public board, computed once per state of the leaderboard's tables and reused.

Building the board reads every latest score (300,000 rows for 1,000 models x 300
benchmarks), so the public board is kept, serialized, in :class:`BoardSnapshot`, labelled
with the :class:`BoardKey` it was computed under. Database triggers give ``BoardKey`` a new
random key in the transaction of every write to the models, versions, benchmark types and
scores, so a request compares one short row with the label and recomputes when they differ:
never stale past the write that changed it, with no day-long cache.

Each process also keeps the boards and the pages' derived payloads (JSON slices, CSV,
rendered tables) it computed, by key, in a small in-memory table; a request then costs one
query for the key. Boards seen by a viewer with private models (their owner, staff) are
computed live, never stored.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, connection, transaction

from brainmark.platform.leaderboard.board import (
    BOARD_FORMAT,
    Board,
    board_from_dict,
    board_to_dict,
    build_board,
    with_private_rows,
)
from brainmark.platform.leaderboard.models import BoardKey, BoardSnapshot, Model

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: How many boards and derived payloads each process keeps, and about how many bytes: a
#: board of 1,000 models x 300 benchmarks takes about 30 MB, its JSON download 12 MB.
MEMO_SIZE = 48
MEMO_BYTES = 256 * 2**20
#: Bytes a board is counted for, per cell (value, rank and their dict entries).
BOARD_CELL_BYTES = 100

_memo: OrderedDict[tuple, Any] = OrderedDict()
_weights: dict[tuple, int] = {}
_lock = threading.Lock()

#: The snapshot row holding the public board (today, nothing excluded).
PUBLIC_BOARD = "public-board"


def current_key() -> str | None:
    """The key of the leaderboard tables' present state (one query); None when the row is
    missing (nothing is then kept)."""
    return BoardKey.objects.values_list("key", flat=True).first()


def sees_private_models(viewer: Any) -> bool:
    """True when ``viewer`` sees a model the public does not (staff; owners of private
    models), so their board is not the shared public one."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    if viewer.is_staff and viewer.is_active:
        return True
    return Model.objects.filter(owner_id=viewer.pk, public=False, withdrawn=False).exists()


def memoized(key: str | None, name: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, kept in this process under the board key ``key`` (None: not kept)."""
    if key is None:
        return compute()
    memo_key = (connection.settings_dict.get("NAME"), key, name)
    with _lock:
        if memo_key in _memo:
            _memo.move_to_end(memo_key)
            return _memo[memo_key]
    value = compute()
    _remember(memo_key, value)
    return value


def _weight(value: Any) -> int:
    if isinstance(value, Board):
        return BOARD_CELL_BYTES * max(1, len(value.rows)) * max(1, len(value.columns))
    if isinstance(value, str | bytes):
        return len(value)
    return 1024


def _remember(memo_key: tuple, value: Any) -> None:
    """Keep ``value``, dropping the least recently used entries beyond the limits."""
    with _lock:
        _memo[memo_key] = value
        _memo.move_to_end(memo_key)
        _weights[memo_key] = _weight(value)
        while len(_memo) > 1 and (
            len(_memo) > MEMO_SIZE or sum(_weights.values()) > MEMO_BYTES
        ):
            oldest, _ = _memo.popitem(last=False)
            _weights.pop(oldest, None)


def forget() -> None:
    """Empty this process's memo (tests that compare a stored board with a fresh one)."""
    with _lock:
        _memo.clear()
        _weights.clear()


def _stored_public_board(key: str) -> Board:
    row = BoardSnapshot.objects.filter(name=PUBLIC_BOARD, key=key).values_list(
        "payload", flat=True
    ).first()
    stored = json.loads(row) if row is not None else None
    if stored is not None and stored.get("format") == BOARD_FORMAT:
        return board_from_dict(stored)
    board = build_board(None)
    try:
        with transaction.atomic():
            BoardSnapshot.objects.update_or_create(
                name=PUBLIC_BOARD,
                defaults={"key": key, "payload": json.dumps(board_to_dict(board))},
            )
    except IntegrityError:
        pass  # Another process stored it at the same moment; ours is as good.
    return board


def board_for(
    viewer: Any, *, as_of: datetime | None = None, excluded: Collection[str] = ()
) -> tuple[Board, str | None]:
    """The board ``viewer`` sees, and the key it is kept under (None when it holds private
    rows, which are never kept).

    The public board of today, with nothing excluded, comes from :class:`BoardSnapshot`;
    other public boards (as of a date, custom aggregation) are kept in this process only.
    A viewer who sees private models (their owner, staff) gets the public board plus those
    models' rows, read for this request.
    """
    public, key = public_board(as_of=as_of, excluded=excluded)
    if sees_private_models(viewer):
        return with_private_rows(public, viewer), None
    return public, key


def public_board(
    *, as_of: datetime | None = None, excluded: Collection[str] = ()
) -> tuple[Board, str | None]:
    """The board of the public models, and the key it is kept under (None: not kept)."""
    key = current_key()
    excluded = frozenset(excluded)
    if key is None:
        return build_board(None, as_of=as_of, excluded=excluded), None
    if as_of is None and not excluded:
        return memoized(key, ("board",), lambda: _stored_public_board(key)), key
    name = ("board", as_of.isoformat() if as_of else None, tuple(sorted(excluded)))
    return memoized(
        key, name, lambda: build_board(None, as_of=as_of, excluded=excluded)
    ), key


def refresh_public_board() -> bool:
    """Compute and store today's public board now, unless the stored one is current.

    Called after a write commits (see :func:`connect_refresh`), so the next reader finds the
    board ready instead of computing it. Returns whether it computed. Correctness never
    depends on it: a write that bypasses it (a bulk update, raw SQL) still changes the key,
    and the next reader recomputes.
    """
    key = current_key()
    if key is None or BoardSnapshot.objects.filter(name=PUBLIC_BOARD, key=key).exists():
        return False
    _remember((connection.settings_dict.get("NAME"), key, ("board",)), _stored_public_board(key))
    return True


def _refresh_after_commit(**kwargs: Any) -> None:
    def refresh() -> None:
        try:
            refresh_public_board()
        except DatabaseError:
            logger.exception("Could not refresh the stored leaderboard; readers recompute it.")

    transaction.on_commit(refresh)


def connect_refresh() -> None:
    """Refresh the stored public board after every committed save or delete of a model,
    version, benchmark type or score (``LeaderboardConfig.ready``)."""
    from django.db.models.signals import post_delete, post_save

    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        ModelVersion,
        Score,
    )

    for kind in (Model, ModelVersion, BenchmarkType, BenchmarkVersion, Score):
        for signal in (post_save, post_delete):
            signal.connect(_refresh_after_commit, sender=kind,
                           dispatch_uid=f"leaderboard-refresh-{kind.__name__}-{signal}")
