"""The normalised record of one generation, whatever tool wrote it.

Importers fill a `Generation` from whatever JSON or text a file holds, so any field may arrive with
any type (a list where a prompt should be, a dict for a seed, NaN for a CFG scale). `normalise()`
coerces every field to its declared type and makes the free-form parts JSON-safe: after it,
`as_dict()` always gives something canonical JSON can write (NaN / inf kept as strings).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from inkseal.journal.prompts import parse_terms
from inkseal.safejson import json_safe, loads_limited, nonfinite_text

MAX_PROMPTS = 64  # prompts per generation (ComfyUI area prompts, regional prompters): more are dropped


@dataclass
class Generation:
    tool: str
    where: str  # where in the file the parameters were found
    source_key: str = ""  # the metadata key it came from (to avoid double imports)
    version: str | None = None
    prompts: list[str] = field(default_factory=list)  # positive prompts, in the order applied
    negative_prompts: list[str] = field(default_factory=list)
    model: str | None = None
    model_hash: str | None = None
    vae: str | None = None
    loras: list[dict[str, Any]] = field(default_factory=list)  # {name, weight, hash?}
    sampler: str | None = None
    scheduler: str | None = None
    steps: int | None = None
    cfg_scale: float | str | None = None  # a string only for a non-finite value the file gave ("NaN")
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    denoise: float | str | None = None
    clip_skip: int | None = None
    source_image: str | None = None  # img2img / inpaint source
    hires: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # every other parameter, verbatim
    workflow: Any = None  # the full graph where the tool gives one

    @property
    def size(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None

    def terms(self) -> list[dict]:
        return [t.as_dict() for p in self.prompts for t in parse_terms(p)]

    def negative_terms(self) -> list[dict]:
        return [t.as_dict() for p in self.negative_prompts for t in parse_terms(p)]

    def normalise(self) -> Generation:
        """Coerce every field to its declared type (see the module docstring); returns self."""
        for name in ("tool", "where", "source_key"):
            setattr(self, name, _text(getattr(self, name)) or "")
        for name in ("version", "model", "model_hash", "vae", "sampler", "scheduler", "source_image"):
            setattr(self, name, _text(getattr(self, name)))
        for name in ("steps", "seed", "width", "height", "clip_skip"):
            setattr(self, name, to_int(getattr(self, name)))
        for name in ("cfg_scale", "denoise"):
            setattr(self, name, to_float(getattr(self, name)))
        self.prompts = _texts(self.prompts)
        self.negative_prompts = _texts(self.negative_prompts)
        loras = self.loras if isinstance(self.loras, list) else []
        self.loras = [json_safe(x) if isinstance(x, dict) else {"name": _text(x)} for x in loras[:256]]
        self.hires = json_safe(self.hires) if isinstance(self.hires, dict) else {}
        self.extra = json_safe(self.extra) if isinstance(self.extra, dict) else {"value": json_safe(self.extra)}
        self.workflow = json_safe(self.workflow)
        return self

    def as_dict(self) -> dict[str, Any]:
        self.normalise()
        # shallow on purpose: dataclasses.asdict deep-copies recursively (normalise made it all JSON-safe)
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["size"] = self.size
        d["terms"] = self.terms()
        d["negative_terms"] = self.negative_terms()
        return d


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return nonfinite_text(v)
    if isinstance(v, int | float):
        return str(v)
    # a dict / list where a name belongs: kept as readable JSON, bounded
    return json.dumps(json_safe(v, 8), ensure_ascii=False)[:10_000]


def _texts(v: Any) -> list[str]:
    items = v if isinstance(v, list | tuple) else [v]
    return [t for t in (_text(x) for x in items[:MAX_PROMPTS]) if t]


def to_int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if not isinstance(v, str | float):
        return None  # a list or dict where a number belongs
    text = str(v).strip()
    if len(text) > 100:
        return None  # int() of a 100,000-digit string is slow (and Python refuses beyond 4,300 digits)
    try:
        return int(text)  # exact for 64-bit seeds, which a float would round
    except ValueError:
        pass
    try:
        return int(float(text))
    except (TypeError, ValueError, OverflowError):  # "inf" / "nan": no integer
        return None


def to_float(v: Any) -> float | str | None:
    """A float; None when there is none; a non-finite value stays as the string "NaN" / "Infinity" /
    "-Infinity", because canonical JSON cannot hold NaN or infinities but the file did say it."""
    if v is None or v == "" or isinstance(v, list | dict | tuple):
        return None
    if isinstance(v, str) and len(v) > 100:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else nonfinite_text(x)


def load_json(text: str) -> Any:
    """JSON with the leniencies tools need (NaN, trailing NULs, a BOM), nesting capped, NaN/inf as strings.

    Raises `MetadataError` (a ValueError would also do for callers that catch it) with one line."""
    return loads_limited(text.strip().lstrip("\ufeff").rstrip("\0"), what="JSON metadata")
