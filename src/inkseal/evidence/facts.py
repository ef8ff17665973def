"""Facts and their proof levels: each fact says what the evidence shows, and how far anyone can check it.

    verifiable      an artifact anyone can re-check: a signature over bytes, a trusted (RFC 3161) timestamp,
                    a watermark detected at a false-positive probability <= 1e-6 with the key in the pack,
                    the blind mark read with no key equal to the published version's signed soft binding,
                    a capture of a public http(s) URL with its time (screenshot or WARC record checked)
    supported       our own assertion, consistent with the pack but not independently checkable
                    (e.g. a time with no trusted timestamp, a watermark only the key holder can re-read)
    missing         no evidence for it (the reason says what would be needed)
    not_applicable  the fact does not arise (e.g. "signature removed" for a version published unsigned)

The labels never use the court's own words ("proven", 已证明): whether a fact is proven is for the court.
"""

from __future__ import annotations

from typing import Any

LEVELS = ("verifiable", "supported", "missing", "not_applicable")
LEVEL_NAMES = {
    "verifiable": ("verifiable evidence", "有可核验证据"),
    "supported": ("our own statement only", "仅本方陈述"),
    "missing": ("evidence missing", "缺少证据"),
    "not_applicable": ("not applicable", "不适用"),
}
WATERMARK_MAX_FPP = 1e-6


def level_name(level: str, lang: str) -> str:
    en, zh = LEVEL_NAMES.get(level, (level, level))
    return zh if lang == "zh" else en


def level_of(f: dict) -> str:
    """A fact's level; packs from before levels said "proven"/"missing"."""
    level = f.get("level")
    if level in LEVELS:
        return str(level)
    return "verifiable" if f.get("status") == "proven" else "missing"


def fact(name: str, level: str, reason: tuple[str, str], files: list[str], checks: list[str], detail: str,
         detail_zh: str) -> dict[str, Any]:
    assert level in LEVELS, level
    # "status" repeats the level for readers of older packs/scripts (it is never "proven" any more)
    return {"fact": name, "level": level, "status": level, "reason": reason[0], "reason_zh": reason[1], "files": files,
            "checks": checks if level in ("verifiable", "supported") else [], "detail": detail,
            "detail_zh": detail_zh}
