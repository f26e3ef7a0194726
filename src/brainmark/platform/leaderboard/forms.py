"""The leaderboard's state in the URL (``?sort=&dir=&q=&exclude=&expanded=&as_of=``), checked.

Pages, downloads and the API read the same parameters through :class:`BoardState`, so a
permalink means the same everywhere and bad input gets one clear error naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict

from brainmark.platform.leaderboard.board import Board


class BoardStateError(ValueError):
    """A query parameter of the leaderboard is not valid; the message says which and why."""


def _names(values: list[str]) -> tuple[str, ...]:
    """``a,b`` and repeated parameters alike, blanks dropped, order kept, no duplicates."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    return tuple(names)


def parse_as_of(text: str) -> datetime:
    """A date (``2026-05-01``: the end of that day, UTC) or an ISO date and time (UTC when
    it names no zone)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max, tzinfo=UTC)
        text = text.replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:  # a '+' of the zone that a URL decoded into a space
            moment = datetime.fromisoformat(text[:-6] + text[-6:].replace(" ", "+"))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise BoardStateError(
            f"as_of={text!r} is not a date (2026-05-01) or a date and time "
            f"(2026-05-01T12:00:00Z)."
        ) from None
    return moment


class _StateForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    sort = forms.CharField(required=False, max_length=200)
    dir = forms.ChoiceField(required=False, choices=[("desc", "desc"), ("asc", "asc")])


@dataclass(frozen=True)
class BoardState:
    """What a leaderboard URL asks for."""

    as_of: datetime | None = None
    excluded: tuple[str, ...] = ()
    expanded: tuple[str, ...] = ()
    sort: str = ""
    descending: bool = True
    query: str = ""
    given: frozenset[str] = field(default=frozenset(), compare=False)
    """The parameters present in the URL (an empty ``expanded=`` differs from none)."""

    @classmethod
    def from_query(cls, query: QueryDict) -> BoardState:
        """Read and check the parameters (:class:`BoardStateError` names a bad one)."""
        form = _StateForm(query)
        if not form.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            raise BoardStateError(f"Invalid leaderboard parameters: {problems}")
        as_of_text = query.get("as_of", "").strip()
        return cls(
            as_of=parse_as_of(as_of_text) if as_of_text else None,
            excluded=_names(query.getlist("exclude")),
            expanded=_names(query.getlist("expanded")),
            sort=form.cleaned_data["sort"].strip(),
            descending=form.cleaned_data["dir"] != "asc",
            query=form.cleaned_data["q"].strip(),
            given=frozenset(query.keys()),
        )

    def check_against(self, board_columns: list[str], benchmarks: list[str]) -> None:
        """Refuse names the board does not have (a typo would silently show another board)."""
        unknown = [name for name in self.excluded if name not in benchmarks]
        if unknown:
            raise BoardStateError(
                f"exclude names benchmarks that are not on this leaderboard: {unknown}."
            )
        nodes = set(board_columns) - set(benchmarks)
        unknown = [name for name in self.expanded if name not in nodes]
        if unknown:
            raise BoardStateError(
                f"expanded names columns that are not nodes of this leaderboard: {unknown}. "
                f"Nodes: {sorted(nodes)}."
            )
        if self.sort and self.sort not in ("model", "rank", *board_columns):
            raise BoardStateError(
                f"sort={self.sort!r} is not a column of this leaderboard."
            )

    def query_string(self, **changes) -> str:
        """The URL query of this state (with ``changes``), without empty parameters."""
        state = replace(self, **changes) if changes else self
        pairs = []
        if state.sort:
            pairs += [("sort", state.sort), ("dir", "desc" if state.descending else "asc")]
        if state.query:
            pairs.append(("q", state.query))
        if state.excluded:
            pairs.append(("exclude", ",".join(state.excluded)))
        if state.expanded:
            pairs.append(("expanded", ",".join(state.expanded)))
        if state.as_of:
            pairs.append(("as_of", format_as_of(state.as_of)))
        return urlencode(pairs, safe=",:")

    def board_query(self) -> str:
        """The query that picks the board itself (``exclude``, ``as_of``): for downloads."""
        return replace(self, sort="", query="", expanded=()).query_string()


def format_as_of(moment: datetime) -> str:
    """An ``as_of`` value: a date for the end of a day, else the time to the second, UTC."""
    moment = moment.astimezone(UTC)
    if moment.time() == time.max:
        return moment.date().isoformat()
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def matches(row_model: str, metadata: dict, query: str) -> bool:
    """Whether a model matches the filter text: every word must appear in its identifier or
    a metadata value; ``key:value`` words match that metadata entry."""
    for word in query.lower().split():
        if ":" in word:
            key, _, value = word.partition(":")
            entries = {str(k).lower(): str(v).lower() for k, v in metadata.items()}
            if key not in entries or value not in entries[key]:
                return False
        elif word not in row_model.lower() and not any(
            word in str(value).lower() for value in metadata.values()
        ):
            return False
    return True


def benchmarks_under(board: Board, nodes: tuple[str, ...] | list[str]) -> set[str]:
    """The benchmark columns beneath any of ``nodes``."""
    parent = {column.identifier: column.parent for column in board.columns}
    wanted = set(nodes)
    found = set()
    for column in board.benchmarks:
        ancestor = column.parent
        while ancestor is not None:
            if ancestor in wanted:
                found.add(column.identifier)
                break
            ancestor = parent.get(ancestor)
    return found
