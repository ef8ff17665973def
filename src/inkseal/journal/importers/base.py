"""The normalised record of one generation, whatever tool wrote it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from inkseal.journal.prompts import parse_terms


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
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    denoise: float | None = None
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

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = self.size
        d["terms"] = self.terms()
        d["negative_terms"] = self.negative_terms()
        return d


def to_int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    try:
        return int(str(v).strip())  # exact for 64-bit seeds, which a float would round
    except ValueError:
        pass
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def to_float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def load_json(text: str) -> Any:
    """JSON with the leniencies tools need: NaN, trailing NULs, a BOM."""
    return json.loads(text.strip().lstrip("\ufeff").rstrip("\0"))
