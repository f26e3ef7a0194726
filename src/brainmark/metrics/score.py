"""Score: the float-like labelled value every metric, ceiling and benchmark returns.

A :class:`Score` is a 0-d :class:`xarray.DataArray`, so it compares and computes like a
float (``score > 0.5``, ``float(score)``, ``2 * score``) while its ``attrs`` carry what
explains it:

- ``raw``: for a metric, the per-split / per-neuroid (or per-subject) values the number
  was aggregated from; for a ceiled score, the unceiled :class:`Score` (which carries its
  own ``raw`` in turn);
- ``error``: the standard error of the value (see ``docs/scores.md`` for each family);
- ``ceiling``: the ceiling :class:`Score` a ceiled score was divided by;
- optional provenance: ``model_identifier``, ``benchmark_identifier``, ``comment``, ...

Scores serialize to strict JSON (:meth:`Score.to_json`) and back (:meth:`Score.from_json`)
without loss: floats keep every bit, nested scores and labelled per-split arrays keep their
dims, coordinates and dtypes, NaN survives as ``null``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainmark.exceptions import MetricError

_FORMAT = 1


class Score(xr.DataArray):
    """A 0-d labelled value with ``raw``, ``error``, ``ceiling`` and provenance in ``attrs``.

    Construct it like a DataArray, ``Score(0.42)``, then fill ``attrs``. Like every
    brainmark DataArray subclass it adds no state (xarray's advice on subclassing).
    """

    __slots__ = ()

    def __round__(self, ndigits: int | None = None) -> float:
        return round(float(self), ndigits)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the value, its coordinates and (recursively) its attrs."""
        return _encode(self)

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON (no NaN literals) that :meth:`from_json` turns back into this score."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> Score:
        """The score a :meth:`to_dict` call produced."""
        decoded = _decode(content)
        if not isinstance(decoded, Score):
            raise MetricError(
                f"The dict describes a {content.get('__class__')!r}, not a Score. Pass the "
                f"output of Score.to_dict()."
            )
        return decoded

    @classmethod
    def from_json(cls, text: str) -> Score:
        """The score a :meth:`to_json` call produced."""
        return cls.from_dict(json.loads(text))


def ceil_score(raw: Score, ceiling: Score) -> Score:
    """``raw / ceiling``, keeping both (and the scaled error) in the result's ``attrs``.

    The error is the raw score's error divided by the ceiling: the ceiling is computed once
    per benchmark version and treated as a constant (its own error stays in
    ``attrs['ceiling'].attrs['error']``). Values above 1 are kept, not clipped: they say
    the model beats the ceiling estimate (see ``docs/scores.md``).

    Raises
    ------
    MetricError
        When the ceiling is not a finite positive number.
    """
    ceiling_value = float(ceiling)
    if not (math.isfinite(ceiling_value) and ceiling_value > 0):
        raise MetricError(
            f"Cannot ceil a score with ceiling {ceiling_value}: a ceiling must be a finite "
            f"positive number. Check the data the ceiling was computed on for constant or "
            f"unreliable responses."
        )
    ceiled = Score(float(raw) / ceiling_value)
    ceiled.attrs["raw"] = raw
    ceiled.attrs["ceiling"] = ceiling
    ceiled.attrs["error"] = float(raw.attrs.get("error", np.nan)) / ceiling_value
    _ceil_resamples(ceiled, raw, ceiling, ceiling_value)
    return ceiled


def _ceil_resamples(ceiled: Score, raw: Score, ceiling: Score, ceiling_value: float) -> None:
    """The ceiled score's interval: ``raw_b / ceiling_b`` on each shared resample ``b``.

    The metric and the ceiling resample the same stimuli (and subjects), so the ratio per
    resample carries the uncertainty of both. A ceiling without resamples (``no_ceiling``,
    a constant) divides every resample by its value.
    """
    from brainmark.metrics.intervals import attach_interval

    raw_values = raw.attrs.get("resample_values")
    if raw_values is None:
        return
    raw_values = np.asarray(raw_values, dtype=np.float64)
    ceiling_values = ceiling.attrs.get("resample_values")
    method = str(raw.attrs.get("interval_method", "bootstrap"))
    if ceiling_values is None:
        divisor: np.ndarray | float = ceiling_value
    else:
        mismatched = [name for name in ("resamples", "seed")
                      if raw.attrs.get(name) != ceiling.attrs.get(name)]
        if mismatched or len(ceiling_values) != len(raw_values):
            settings = [[side.attrs.get(name) for name in ("resamples", "seed")]
                        for side in (raw, ceiling)]
            raise MetricError(
                f"The score and its ceiling were resampled differently (resamples, seed "
                f"{settings[0]} vs {settings[1]}; {len(raw_values)} vs "
                f"{len(ceiling_values)} values), so their "
                f"resamples do not pair up. Give the metric and the ceiling the same "
                f"resamples and resample_seed."
            )
        divisor = np.asarray(ceiling_values, dtype=np.float64)
        divisor = np.where(divisor > 0, divisor, np.nan)  # no ceiling in that resample
        method = f"{method}; ceiling on the same resamples"
    with np.errstate(invalid="ignore", divide="ignore"):
        values = raw_values / divisor
    attach_interval(ceiled, values, method=method, resamples=int(raw.attrs["resamples"]),
                    seed=int(raw.attrs["seed"]),
                    level=float(raw.attrs.get("interval_level", 0.95)))


def standard_error(values: np.ndarray | list[float]) -> float:
    """Standard error of the mean of the finite values: ``std(ddof=1) / sqrt(count)``.

    The one convention for every ``attrs['error']`` in brainmark (``docs/scores.md``): the
    sample standard deviation with Bessel's correction (as ``scipy.stats.sem``), over the
    finite values only. NaN when fewer than 2 values are finite.
    """
    finite = np.asarray(values, dtype=np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    if len(finite) < 2:
        return np.nan
    return float(finite.std(ddof=1) / np.sqrt(len(finite)))


# --- JSON encoding --------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    """JSON-ready form of attrs values: numbers, strings, containers, arrays, DataArrays."""
    if isinstance(value, xr.DataArray):
        return _encode_data_array(value)
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _encode_array(value)}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(key), _encode(item)] for key, item in value.items()]}
    raise MetricError(
        f"Cannot serialize a {type(value).__name__} in a Score's attrs to JSON. Store "
        f"numbers, strings, lists, dicts, numpy arrays or DataArrays there."
    )


def _encode_array(array: np.ndarray) -> dict[str, Any]:
    array = np.asarray(array)
    kind = array.dtype.kind
    if kind == "f":
        flat = [float(x) if math.isfinite(x) else (None if math.isnan(x) else repr(float(x)))
                for x in array.ravel().tolist()]
    elif kind in "biuU?":
        flat = array.ravel().tolist()
    elif kind in "OT":
        flat = [_encode(item) for item in array.ravel().tolist()]
    else:
        raise MetricError(f"Cannot serialize an array of dtype {array.dtype} in a Score.")
    return {"dtype": array.dtype.str if kind != "T" else "T", "shape": list(array.shape),
            "data": flat}


def _decode_array(content: dict[str, Any]) -> np.ndarray:
    dtype = content["dtype"]
    data = content["data"]
    if dtype == "T":
        return np.array([_decode(item) for item in data], dtype=object).reshape(content["shape"])
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        data = [np.nan if x is None else float(x) for x in data]
    elif dtype.kind == "O":
        values = np.empty(len(data), dtype=object)
        values[:] = [_decode(item) for item in data]
        return values.reshape(content["shape"])
    return np.array(data, dtype=dtype).reshape(content["shape"])


def _encode_data_array(array: xr.DataArray) -> dict[str, Any]:
    multi = {
        str(dim): list(map(str, index.names))
        for dim, index in array.indexes.items()
        if dim in array.dims and isinstance(index, pd.MultiIndex)
    }
    plain = array.reset_index(list(multi)) if multi else array
    coords = {}
    for name, coord in plain.coords.items():
        if name in multi:
            continue
        coords[str(name)] = {"dims": list(map(str, coord.dims)),
                             "values": _encode_array(np.asarray(coord.values))}
    return {
        "__class__": type(array).__name__,
        "format": _FORMAT,
        "name": _encode(array.name),
        "dims": list(map(str, array.dims)),
        "values": _encode_array(np.asarray(array.values)),
        "coords": coords,
        "multiindex": multi,
        "attrs": {str(key): _encode(item) for key, item in array.attrs.items()},
    }


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__ndarray__" in value:
        return _decode_array(value["__ndarray__"])
    if "__dict__" in value:
        return {_decode(key): _decode(item) for key, item in value["__dict__"]}
    if "__class__" in value:
        return _decode_data_array(value)
    raise MetricError(f"Unrecognised element in a serialized Score: {sorted(value)}.")


def _decode_data_array(content: dict[str, Any]) -> xr.DataArray:
    from brainmark.data.assemblies import ASSEMBLY_CLASSES

    coords = {
        name: (tuple(coord["dims"]), _decode_array(coord["values"]))
        for name, coord in content["coords"].items()
    }
    array = xr.DataArray(
        _decode_array(content["values"]),
        dims=tuple(content["dims"]),
        coords=coords,
        name=_decode(content["name"]),
        attrs={key: _decode(item) for key, item in content["attrs"].items()},
    )
    for dim, levels in content["multiindex"].items():
        index = pd.MultiIndex.from_arrays([array[level].values for level in levels], names=levels)
        array = array.drop_vars(levels).assign_coords(
            xr.Coordinates.from_pandas_multiindex(index, dim)
        )
    name = content["__class__"]
    if name == "Score":
        return Score(array)
    cls = ASSEMBLY_CLASSES.get(name)
    return cls(array) if cls is not None else array
