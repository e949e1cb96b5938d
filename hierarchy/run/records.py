"""Records as arrays and JSON: a tree of dataclasses, lists, tuples, dicts, numbers and numpy
arrays written as one npz (every array) and one JSON text (everything else), no pickled classes.

    arrays_data, text = to_arrays_and_json(value, {"Episode": Episode}, format=1)
    value = from_arrays_and_json(arrays_data, text, {"Episode": Episode}, format=1)

In the JSON text an array is `{"array": "a3", "scalar": false}` (the npz entry; numpy scalars are
stored as 0-d arrays, `scalar` true), a list `{"list": [...]}`, a tuple `{"tuple": [...]}`, a dict
(string keys) `{"dict": {...}}`, a dataclass `{"record": "<name>", "fields": {...}}`; None, bools,
ints, floats and strings are themselves (floats round-trip exactly, NaN and inf included). Only
the record classes the caller names are written or read. An array object held in several places is
stored once and read back as one object, so that sharing survives as it does with pickle.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from typing import Any, Dict, Tuple

import numpy as np

# What reading files that are not such a pair raises: broken JSON or npz, a missing entry or field.
READ_ERRORS = (ValueError, KeyError, TypeError, AttributeError, OSError, zipfile.BadZipFile)


def to_arrays_and_json(value: Any, records: Dict[str, type], *, format: int) -> Tuple[bytes, str]:
    """(the npz file's bytes, the JSON text) of `value`; the text records `format`.

    Raises:
      TypeError: `value` holds something else than the types above, or a dataclass not in `records`.
    """
    arrays: Dict[str, np.ndarray] = {}
    tree = _encode(value, records, arrays, {})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue(), json.dumps({"format": format, "value": tree}, indent=1) + "\n"


def from_arrays_and_json(arrays_data: bytes, text: str, records: Dict[str, type], *,
                         format: int) -> Any:
    """The value `to_arrays_and_json` wrote; arrays are read without pickle.

    Raises:
      ValueError: the text is of another format, names an unknown record, or does not parse (one
        of READ_ERRORS for a broken npz or a missing entry).
    """
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("format") != format:
        raise ValueError(f"format {document.get('format') if isinstance(document, dict) else None!r}"
                         f", not {format}")
    with np.load(io.BytesIO(arrays_data), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return _decode(document["value"], records, arrays)


def _encode(value: Any, records: Dict[str, type], arrays: Dict[str, np.ndarray],
            names: Dict[int, str]) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):   # first: np.float64 is a float too
        if id(value) not in names:   # names: id of an array already stored -> its entry
            names[id(value)] = f"a{len(arrays)}"
            arrays[names[id(value)]] = np.asarray(value)
        return {"array": names[id(value)], "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_encode(v, records, arrays, names) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, records, arrays, names) for k, v in value.items()}}
    if records.get(type(value).__name__) is type(value):
        return {"record": type(value).__name__,
                "fields": {f.name: _encode(getattr(value, f.name), records, arrays, names)
                           for f in dataclasses.fields(value)}}
    raise TypeError(f"cannot write a {type(value).__name__} as arrays and JSON")


def _decode(node: Any, records: Dict[str, type], arrays: Dict[str, np.ndarray]) -> Any:
    if not isinstance(node, dict):
        return node
    if "array" in node:
        array = arrays[node["array"]]
        return array[()] if node["scalar"] else array
    if "list" in node:
        return [_decode(v, records, arrays) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, records, arrays) for v in node["tuple"])
    if "dict" in node:
        return {k: _decode(v, records, arrays) for k, v in node["dict"].items()}
    if node.get("record") not in records:
        raise ValueError(f"unknown record {node.get('record')!r}")
    return records[node["record"]](**{k: _decode(v, records, arrays)
                                      for k, v in node["fields"].items()})
