"""The blind mark as evidence that anyone can re-check, with no key and no original.

A sealed version's C2PA manifest (signed, in the pack as the published file) names the blind mark's
64-bit message as its soft binding. Reading the suspect with the public algorithm and finding that
exact message is a check any expert can repeat: `inkseal binding read`, or this module. By chance a
picture would yield that message with probability (messages read) x 2^-64. What it shows is that the
copy carries the mark of this work's published version; together with the visual match, that it is
a copy of it (a mark copied alone onto another picture would not match visually).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from inkseal.seal import blindmark


def manifest_binding(assertions: list[dict[str, Any]]) -> str | None:
    """The blind mark's value among a manifest's soft-binding assertions (several may be present)."""
    for a in assertions:
        label = str(a.get("label") or "")
        data = a.get("data") or {}
        if label.startswith("c2pa.soft-binding") and data.get("alg") == blindmark.ALG:
            blocks = data.get("blocks") or []
            if blocks and isinstance(blocks[0], dict) and blocks[0].get("value"):
                return str(blocks[0]["value"])
    return None


def read_for(rgb: np.ndarray, value: str) -> dict[str, Any]:
    """Whether the suspect `rgb` carries the message `value` (base64), read without key or original."""
    try:
        expected = base64.b64decode(value, validate=True)
    except ValueError:
        return {"alg": blindmark.ALG, "value": value, "detected": False, "messages_read": 0,
                "coincidence_probability": 1.0, "reason": "the recorded value is not base64 / 记录的值不是 base64"}
    result = blindmark.read(rgb, expect={expected}, thorough=True)
    read = max(result.checked, len(result.candidates))
    found = any(c.message == expected for c in result.candidates)
    return {"alg": blindmark.ALG, "value": value, "detected": found, "messages_read": read,
            "coincidence_probability": read * 2.0 ** -64 if found else 1.0, "reason": result.reason}
