"""JSON text that every strict parser accepts: NaN and infinities become ``null`` (Python's ``json`` would write the
non-standard tokens ``NaN`` / ``Infinity``, which e.g. JavaScript's ``JSON.parse`` rejects)."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(data: Any) -> Any:
    """``data`` with every non-finite float (also numpy / one-element tensor scalars read as floats) replaced by
    None, recursively through dicts, lists and tuples."""
    if isinstance(data, dict):
        return {k: finite_or_none(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(v) for v in data]
    if isinstance(data, float) or type(data).__name__ in ("float16", "float32", "float64"):
        value = float(data)
        return value if math.isfinite(value) else None
    return data


def dumps(data: Any, *, indent: int | None = None) -> str:
    """Standard JSON text of ``data`` (non-finite floats written as ``null``)."""
    return json.dumps(finite_or_none(data), indent=indent, allow_nan=False)
