"""JSON from hostile files: bounded nesting, and values that canonical JSON can always write.

`json.loads` recurses in C and raises RecursionError around depth 1,000; everything downstream
(dataclasses.asdict, canonical JSON, templates) recurses in Python too. So nesting is capped well
below that, and walks here are iterative. Canonical JSON rejects NaN and +/-Infinity by design, and
tools do write them ("cfg": NaN), so `json_safe` keeps them as the strings "NaN", "Infinity",
"-Infinity": what the file said, in a form every JSON writer accepts.
"""

from __future__ import annotations

import json
import math
from typing import Any

from inkseal.errors import MetadataError, one_line

MAX_DEPTH = 64  # ComfyUI / InvokeAI graphs nest about 6 deep; 64 is far beyond any real tool


def nonfinite_text(x: float) -> str:
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def json_safe(obj: Any, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of `obj` made of str / int / finite float / bool / None / list / dict with str keys.

    Non-finite floats become strings; tuples become lists; anything else (bytes, sets, complex from
    ast.literal_eval) becomes its repr; containers deeper than `max_depth` are replaced by a note.
    Iterative, so no input can exhaust the interpreter's stack.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(obj, root, 0, 0)]  # (value, parent, key in parent, depth)
    while stack:
        value, parent, key, depth = stack.pop()
        if isinstance(value, float):
            out: Any = value if math.isfinite(value) else nonfinite_text(value)
        elif value is None or isinstance(value, str | bool | int):
            out = value
        elif isinstance(value, dict | list | tuple):
            if depth >= max_depth:
                out = f"(nested deeper than {max_depth} levels: omitted)"
            elif isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    sk = k if isinstance(k, str) else str(json_safe(k, 1))
                    out[sk] = None
                    stack.append((v, out, sk, depth + 1))
            else:
                out = [None] * len(value)
                for i, v in enumerate(value):
                    stack.append((v, out, i, depth + 1))
        else:
            out = repr(value)[:1000]
        parent[key] = out
    return root[0]


def depth_of(obj: Any) -> int:
    """Deepest container nesting in `obj` (0 for a scalar), computed without recursion."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in value)
    return deepest


def loads_limited(text: str | bytes, *, max_depth: int = MAX_DEPTH, what: str = "JSON") -> Any:
    """`json.loads` that raises `MetadataError` (one line) for bad, too-deep JSON, and makes NaN/inf strings."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise MetadataError(f"{what} nested too deeply to read") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MetadataError(f"{what} is not valid JSON: {one_line(exc)}") from None
    if depth_of(value) > max_depth:
        raise MetadataError(f"{what} nested deeper than {max_depth} levels: refused")
    return json_safe(value, max_depth)
