"""File formats of packaged data: stimulus metadata as CSV, assemblies as netCDF.

CSV keeps no types, so next to each stimulus set's CSV we record a column schema (dtype and
how the cells are written) that restores the DataFrame exactly: numbers as their shortest
round-trip text, strings as they are, and anything with missing values or mixed Python types
as one JSON value per cell. netCDF cannot hold MultiIndexes or fixed-width unicode, so we
reset the indexes before writing and record level order and dtypes in attributes that the
reader uses to restore them.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import xarray as xr

from brainmark.exceptions import BrainmarkError, ValidationError

SCHEMA_FORMAT = 1
_ATTR_PREFIX = "brainmark_"
_MULTIINDEX_ATTR = "brainmark_multiindex"
_DTYPE_ATTR = "brainmark_dtype"
_CLASS_ATTR = "brainmark_class"
_COORDS_ATTR = "brainmark_coords"
_COMPRESSION = {"zlib": True, "complevel": 5, "shuffle": True}


# --- stimulus metadata as CSV ---------------------------------------------------------------


def write_frame_csv(frame: pd.DataFrame, handle: IO[str]) -> list[dict[str, Any]]:
    """Write ``frame`` (no index) as CSV text and return the schema that restores it."""
    specs, columns = [], []
    for name in frame.columns:
        spec, cells = _encode_column(name, frame[name])
        specs.append(spec)
        columns.append(cells)
    # CRLF as in RFC 4180: the writer quotes fields holding either character of the line
    # terminator, so a lone '\r' or '\n' in a value survives (the reader splits on both).
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow([spec["name"] for spec in specs])
    writer.writerows(zip(*columns, strict=True))
    return specs


def read_frame_csv(path: Path, schema: list[dict[str, Any]] | None) -> pd.DataFrame:
    """Read a CSV written by :func:`write_frame_csv`; without a schema let pandas infer.

    A CSV (or schema) that cannot be read is a :class:`ValidationError` naming the file.
    """
    try:
        return _read_frame_csv(path, schema)
    except BrainmarkError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            csv.Error) as error:  # UnicodeDecodeError, pandas' ParserError are ValueErrors
        raise ValidationError(
            f"CSV {path} cannot be read as stimulus metadata{' by its schema' if schema else ''}"
            f" ({type(error).__name__}: {error}). The file is damaged or not written by "
            f"packaging; package the stimulus set again."
        ) from error


def _read_frame_csv(path: Path, schema: list[dict[str, Any]] | None) -> pd.DataFrame:
    if schema is None:
        return pd.read_csv(path)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValidationError(f"CSV {path} is empty: it has no header row.")
    header, body = rows[0], rows[1:]
    names = [spec["name"] for spec in schema]
    if header != names:
        raise ValidationError(
            f"CSV {path} has columns {header} but its schema lists {names}; the CSV and "
            f"ZIP come from different packagings. Package the stimulus set again."
        )
    cells = list(zip(*body, strict=True)) if body else [() for _ in names]
    return pd.DataFrame(
        {spec["name"]: _decode_column(spec, list(column)) for spec, column in zip(
            schema, cells, strict=True)},
        columns=names,
    )


def _encode_column(name: str, series: pd.Series) -> tuple[dict[str, Any], list[str]]:
    dtype = series.dtype
    spec: dict[str, Any] = {"name": name, "dtype": str(dtype)}
    values = series.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        spec["encoding"] = "text"
        return spec, ["True" if value else "False" for value in values]
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        spec["encoding"] = "text"
        return spec, [str(int(value)) for value in values]
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        spec["encoding"] = "text"
        return spec, [repr(float(value)) for value in values]
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        spec["encoding"] = "text"
        return spec, [str(value) for value in series.astype(str)]
    if isinstance(dtype, pd.CategoricalDtype):
        spec["categories"] = [_json_value(name, value) for value in dtype.categories.tolist()]
        spec["ordered"] = bool(dtype.ordered)
        values = series.astype(object).tolist()
    elif all(isinstance(value, str) for value in values):
        spec["encoding"] = "text"
        return spec, values
    spec["encoding"] = "json"
    return spec, [
        json.dumps(_json_value(name, value), ensure_ascii=False, allow_nan=True)
        for value in values
    ]


def _json_value(column: str, value: Any) -> Any:
    """A cell as a JSON value, refusing what JSON cannot hold (so the round trip is exact)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str | bool | int | float):
        return value
    raise ValidationError(
        f"Stimulus metadata column {column!r} holds a {type(value).__name__} value "
        f"({value!r}); CSV metadata can hold strings, numbers, booleans and missing values. "
        f"Convert the column, e.g. with .astype(str)."
    )


def _decode_column(spec: dict[str, Any], cells: list[str]) -> pd.Series:
    dtype = spec["dtype"]
    if spec["encoding"] == "json":
        values = [json.loads(cell) for cell in cells]
        if "categories" in spec:
            categories = pd.CategoricalDtype(spec["categories"], ordered=spec["ordered"])
            return pd.Series(pd.Categorical(values, dtype=categories))
        if dtype == "object":
            return pd.Series(values, dtype=object)
        return pd.Series(values, dtype=dtype)
    resolved = pd.api.types.pandas_dtype(dtype)
    if isinstance(resolved, np.dtype) and resolved.kind == "b":
        return pd.Series([cell == "True" for cell in cells], dtype=resolved)
    if isinstance(resolved, np.dtype) and resolved.kind in "iu":
        return pd.Series([int(cell) for cell in cells], dtype=resolved)
    if isinstance(resolved, np.dtype) and resolved.kind == "f":
        return pd.Series(np.array([float(cell) for cell in cells], dtype=resolved))
    if isinstance(resolved, np.dtype) and resolved.kind == "M":
        return pd.Series(pd.to_datetime(cells, format="ISO8601")).astype(resolved)
    return pd.Series(cells, dtype=resolved)


# --- assemblies as netCDF ---------------------------------------------------------------


def write_assembly_netcdf(
    assembly: xr.DataArray, path: Path, *, attrs: Mapping[str, Any], class_name: str
) -> None:
    """Write ``assembly`` to ``path`` (h5netcdf, compressed) with ``attrs`` added.

    Attributes that are not netCDF-serialisable (e.g. a ``stimulus_set`` DataFrame that a
    loader attached) are dropped: the loader attaches them again.
    """
    array = xr.DataArray(assembly)
    multiindex = {
        str(dim): [str(level) for level in array.indexes[dim].names]
        for dim in array.dims
        if isinstance(array.indexes.get(dim), pd.MultiIndex)
    }
    if multiindex:
        array = array.reset_index(list(multiindex))
    kept_attrs = {
        key: value for key, value in array.attrs.items() if not isinstance(value, pd.DataFrame)
    }
    _check_attrs(kept_attrs)
    array.attrs = {
        **kept_attrs,
        **attrs,
        _CLASS_ATTR: class_name,
        _MULTIINDEX_ATTR: json.dumps(multiindex),
        _DTYPE_ATTR: str(array.dtype),
        # CF's 'coordinates' attribute splits names on whitespace; keep the exact names.
        _COORDS_ATTR: json.dumps([str(name) for name in array.coords]),
    }
    array = array.assign_coords(
        {name: _with_dtype_attr(str(name), coord) for name, coord in array.coords.items()}
    )
    if array.dtype == object:
        _check_strings("values", np.asarray(array.values))
    for name in [*array.coords, *([array.name] if array.name is not None else [])]:
        _check_name(name)
    dataset = array.to_dataset(name=_variable_name(array))
    encoding = {
        name: dict(_COMPRESSION)
        for name, variable in dataset.variables.items()
        if variable.ndim > 0 and variable.size > 0 and variable.dtype.kind in "biuf"
    }
    with warnings.catch_warnings():
        # Names with spaces are restored from brainmark_coords; xarray's warning is moot.
        warnings.filterwarnings("ignore", "coordinate .* has a space in its name")
        dataset.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def _variable_name(array: xr.DataArray) -> str:
    return str(array.name) if array.name is not None else "__xarray_dataarray_variable__"


def _with_dtype_attr(name: str, coord: xr.DataArray) -> xr.DataArray:
    """Record string and object dtypes, which netCDF turns into variable-length strings."""
    values = np.asarray(coord.values)
    if values.dtype == object:
        _check_strings(f"coordinate {name!r}", values)
    variable = coord.variable.copy(deep=False)
    variable.attrs = {**variable.attrs, _DTYPE_ATTR: str(values.dtype)}
    return xr.DataArray(variable)


def _check_strings(what: str, values: np.ndarray) -> None:
    odd = [value for value in values.ravel() if not isinstance(value, str)]
    if odd:
        raise ValidationError(
            f"Assembly {what} mixes strings with {type(odd[0]).__name__} values "
            f"(e.g. {odd[0]!r}); netCDF cannot store that. Convert it, e.g. .astype(str)."
        )
    with_nul = [value for value in values.ravel() if "\x00" in value]
    if with_nul:
        raise ValidationError(
            f"Assembly {what} has strings containing the NUL character (e.g. "
            f"{with_nul[0]!r}); netCDF cannot store them. Remove the NUL characters."
        )


def _check_name(name: object) -> None:
    """HDF5 names variables by path: '/' separates groups and '.' is the group itself."""
    text = str(name)
    if not text or text == "." or "/" in text or "\x00" in text:
        raise ValidationError(
            f"Assembly coordinate or name {text!r} cannot be a netCDF variable name: use a "
            f"non-empty name without '/' or NUL characters, other than '.'."
        )


def _check_attrs(attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if str(key).startswith(_ATTR_PREFIX):
            raise ValidationError(
                f"Assembly attribute {key!r} uses the reserved prefix {_ATTR_PREFIX!r}. "
                f"Rename it."
            )
        scalar = isinstance(value, str | int | float | np.number) and not isinstance(
            value, bool | np.bool_
        )
        sequence = isinstance(value, list | tuple | np.ndarray) and all(
            isinstance(item, str | int | float | np.number)
            and not isinstance(item, bool | np.bool_)
            for item in np.asarray(value, dtype=object).ravel()
        )
        if not (scalar or sequence):
            raise ValidationError(
                f"Assembly attribute {key!r} has a value netCDF cannot store "
                f"({type(value).__name__}). Use strings, numbers or lists of them."
            )


def read_assembly_netcdf(path: Path) -> tuple[xr.DataArray, str | None]:
    """Read an assembly written by :func:`write_assembly_netcdf`; returns it and its class name.

    MultiIndexes are rebuilt with their original level order and dtypes restored. A file
    that is not such an assembly is a :class:`ValidationError` naming it.
    """
    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            dataset = opened.load()
    except MemoryError:
        raise
    except Exception as error:  # h5py and the netCDF layers raise many kinds on damage
        raise ValidationError(
            f"{path} is not a readable netCDF file ({type(error).__name__}: {error}). It is "
            f"damaged or not an assembly; package the assembly again."
        ) from error
    try:
        return _assembly_of(dataset, path)
    except BrainmarkError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            NotImplementedError) as error:  # e.g. pandas: "float16 indexes are not supported"
        raise ValidationError(
            f"{path} holds no assembly as packaging writes it: its brainmark_* attributes "
            f"or coordinates are damaged ({type(error).__name__}: {error}). Package the "
            f"assembly again."
        ) from error


def _assembly_of(dataset: xr.Dataset, path: Path) -> tuple[xr.DataArray, str | None]:
    ours = [name for name, variable in dataset.data_vars.items() if _COORDS_ATTR in variable.attrs]
    if ours:
        coord_names = json.loads(dataset[ours[0]].attrs[_COORDS_ATTR])
        dataset = dataset.set_coords([c for c in coord_names if c in dataset.data_vars])
    if len(dataset.data_vars) != 1:
        raise ValidationError(
            f"{path} holds {len(dataset.data_vars)} data variables "
            f"({list(dataset.data_vars)}); an assembly file holds exactly one."
        )
    (name,) = dataset.data_vars
    array = dataset[name]
    if name == "__xarray_dataarray_variable__":
        array.name = None
    attrs = dict(array.attrs)
    attrs.pop(_COORDS_ATTR, None)
    class_name = attrs.pop(_CLASS_ATTR, None)
    multiindex = json.loads(attrs.pop(_MULTIINDEX_ATTR, "{}"))
    values_dtype = attrs.pop(_DTYPE_ATTR, None)
    array.attrs = attrs
    if values_dtype is not None and array.dtype != np.dtype(values_dtype):
        array = array.astype(values_dtype)
    restored = {}
    for name, coord in array.coords.items():
        coord_dtype = coord.attrs.get(_DTYPE_ATTR)
        if coord_dtype is None:
            continue
        variable = coord.variable.copy(deep=False)
        variable.attrs = {k: v for k, v in variable.attrs.items() if k != _DTYPE_ATTR}
        if variable.dtype != np.dtype(coord_dtype):
            variable = variable.astype(coord_dtype)
        restored[name] = variable
    if restored:
        array = array.assign_coords(restored)
    for dim, levels in multiindex.items():
        if len(levels) > 1:
            array = array.set_index({dim: levels})
    # One-level MultiIndexes are rebuilt by the assembly constructor (gather_indexes).
    return array, class_name
