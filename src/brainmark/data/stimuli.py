"""StimulusSet: one row per stimulus, a unique ``stimulus_id`` and a path for each image."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from brainmark.exceptions import ValidationError


class StimulusSet(pd.DataFrame):
    """A :class:`pandas.DataFrame` of stimulus metadata with the files that show them.

    Columns hold metadata (``stimulus_id`` required and unique, then e.g. ``object_name``);
    ``stimulus_paths`` maps each ``stimulus_id`` to a local file and ``identifier`` names the
    set. Both attributes survive slicing, copying and pandas operations (pandas propagates
    ``_metadata``).

    Parameters
    ----------
    data
        Anything :class:`pandas.DataFrame` accepts.
    stimulus_paths
        ``stimulus_id -> path`` of the image file.
    identifier
        Name of the stimulus set, e.g. ``'Kriegeskorte2008'``.
    """

    _metadata: ClassVar[list[str]] = ["stimulus_paths", "identifier"]
    stimulus_paths: dict[str, Path] | None = None
    identifier: str | None = None

    def __init__(
        self,
        data: Any = None,
        *args: Any,
        stimulus_paths: Mapping[str, str | Path] | None = None,
        identifier: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, *args, **kwargs)
        if isinstance(data, StimulusSet):
            for name in self._metadata:
                object.__setattr__(self, name, getattr(data, name, None))
        if stimulus_paths is not None:
            self.stimulus_paths = {str(key): Path(value) for key, value in stimulus_paths.items()}
        if identifier is not None:
            self.identifier = identifier

    @property
    def _constructor(self) -> type[StimulusSet]:
        return StimulusSet

    def __finalize__(self, other: Any, method: str | None = None, **kwargs: Any) -> StimulusSet:
        """Also keep the metadata through ``merge`` and ``concat``, which pandas leaves out.

        A merge keeps its left set's; a concat joins the sets' paths and keeps their
        identifier when they share one.
        """
        result = super().__finalize__(other, method=method, **kwargs)
        if method == "merge" and isinstance(getattr(other, "left", None), StimulusSet):
            for name in self._metadata:
                object.__setattr__(result, name, getattr(other.left, name, None))
        elif method == "concat":
            sets = [frame for frame in getattr(other, "objs", ()) if isinstance(frame, StimulusSet)]
            if sets:
                paths: dict[str, Path] = {}
                for frame in sets:
                    paths.update(frame.stimulus_paths or {})
                identifiers = {frame.identifier for frame in sets}
                object.__setattr__(result, "stimulus_paths", paths)
                object.__setattr__(
                    result, "identifier", identifiers.pop() if len(identifiers) == 1 else None
                )
        return result

    @property
    def name(self) -> str | None:
        """Alias of ``identifier`` (the name Brain-Score's tutorials use)."""
        return self.identifier

    def get_stimulus(self, stimulus_id: str) -> Path:
        """Local path of the file that shows ``stimulus_id``."""
        paths = self.stimulus_paths or {}
        try:
            return Path(paths[str(stimulus_id)])
        except KeyError:
            raise ValidationError(
                f"Stimulus set {self.identifier!r} has no file for stimulus_id "
                f"{stimulus_id!r}. Set stimulus_paths[{stimulus_id!r}] to the image's path."
            ) from None

    def subset(self, stimulus_ids: list[str], *, identifier: str | None = None) -> StimulusSet:
        """Rows for ``stimulus_ids`` in that order, with their paths and a derived identifier."""
        positions = pd.Index(self["stimulus_id"]).get_indexer(list(stimulus_ids))
        missing = [sid for sid, pos in zip(stimulus_ids, positions, strict=True) if pos < 0]
        if missing:
            raise ValidationError(
                f"Stimulus set {self.identifier!r} has no stimulus_id {missing[:10]}."
            )
        rows = StimulusSet(self.iloc[positions].reset_index(drop=True))
        wanted = set(map(str, stimulus_ids))
        rows.stimulus_paths = {
            sid: path for sid, path in (self.stimulus_paths or {}).items() if sid in wanted
        }
        rows.identifier = identifier or self.identifier
        return rows
