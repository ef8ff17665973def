"""Prompt terms and how they changed between revisions.

The court's reasoning turned on the prompt: which words, in what order, with what emphasis. So a
prompt is parsed into ordered *terms* (comma-separated phrases) with their effective weights in the
emphasis syntax shared by AUTOMATIC1111, Forge and ComfyUI:

    (term)  x1.1     ((term))  x1.21     (term:1.3)  x1.3     [term]  /1.1     \\( \\)  literal
    BREAK            starts a new 75-token chunk (kept as a marker term)
    <lora:name:0.8>  an extra network with its weight (kept as a term of kind "lora")
    [a:b:0.5] [a|b]  prompt editing / alternation: kept verbatim, weight 1

Written here rather than borrowed: the reference parsers live inside GPL/AGPL web UIs, and we need
term positions and a diff, which none of them expose.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

EXPLICIT = re.compile(r"^(.*?):\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$", re.S)
EXTRA_NET = re.compile(r"<(lora|lyco|hypernet|embedding):([^:>]+)(?::([+-]?[\d.]+))?[^>]*>", re.I)


@dataclass(frozen=True)
class Term:
    text: str
    weight: float = 1.0
    kind: str = "text"  # text | lora | hypernet | break | edit

    def as_dict(self) -> dict:
        return {"text": self.text, "weight": _weight(self.weight), "kind": self.kind}


def _weight(w: float) -> float | str:
    # "(x:1e999)" or hundreds of nested "(" overflow a float: kept as text, since canonical JSON has no infinity
    return round(w, 4) if math.isfinite(w) else str(w)


MAX_NESTING = 64  # brackets nested deeper than this are literal text: (1.1^64 = 445x is already absurd)
MAX_PROMPT_CHARS = 200_000  # a prompt longer than this is parsed up to here (A1111 caps at 75-token chunks anyway)


@dataclass
class _Group:
    opener: str  # "(" or "[", "" for the whole prompt
    out: list[tuple[str, float]]
    buf: list[str]

    def flush(self) -> None:
        if self.buf:
            self.out.append(("".join(self.buf), 1.0))
            self.buf.clear()


def _close(group: _Group, parent: _Group) -> None:
    """Apply a finished (...) or [...] group's emphasis and hand its segments to the parent."""
    group.flush()
    inner = group.out
    text = "".join(t for t, _w in inner)
    if group.opener == "[" and (":" in text or "|" in text):
        parent.out.append((f"[{text}]", 1.0))  # prompt editing / alternation: not an emphasis
        return
    factor = 1.1 if group.opener == "(" else 1 / 1.1
    if group.opener == "(" and inner:
        m = EXPLICIT.match(inner[-1][0])
        if m:  # "(text:1.3)": the explicit weight replaces the default 1.1
            inner[-1] = (m.group(1), inner[-1][1])
            factor = float(m.group(2))
    parent.out.extend((t, w * factor) for t, w in inner)


def _segments(s: str) -> list[tuple[str, float]]:
    """[(text, weight)] for the emphasis syntax, with an explicit stack rather than recursion:
    ~1,200 nested "(" in a hostile prompt exhausted Python's recursion limit. An unclosed group
    ends at the end of the prompt; an unmatched closer is literal, as the web UIs treat them."""
    stack = [_Group("", [], [])]
    i, n = 0, len(s)
    while i < n:
        ch, top = s[i], stack[-1]
        if ch == "\\" and i + 1 < n:
            top.buf.append(s[i + 1])
            i += 2
            continue
        if ch in "([" and len(stack) <= MAX_NESTING:
            top.flush()
            stack.append(_Group(ch, [], []))
        elif ch in ")]" and len(stack) > 1 and ch == (")" if top.opener == "(" else "]"):
            stack.pop()
            _close(top, stack[-1])
        else:
            top.buf.append(ch)
        i += 1
    while len(stack) > 1:
        group = stack.pop()
        _close(group, stack[-1])
    stack[0].flush()
    return stack[0].out


def parse_terms(prompt: str) -> list[Term]:
    """Ordered terms of a prompt with their effective weights."""
    if not prompt:
        return []
    terms: list[Term] = []
    nets = []

    def take_net(m: re.Match[str]) -> str:
        kind = m.group(1).lower()
        try:
            weight = float(m.group(3)) if m.group(3) else 1.0
        except ValueError:  # "<lora:x:1.2.3>" or "<lora:x:.>": the regex admits them, float() does not
            weight = 1.0
        nets.append(Term(m.group(2).strip(), weight, "lora" if kind in ("lora", "lyco") else kind))
        return ","
    body = EXTRA_NET.sub(take_net, str(prompt)[:MAX_PROMPT_CHARS])
    segs = _segments(body)
    for text, weight in segs:
        for chunk_i, chunk in enumerate(re.split(r"\bBREAK\b", text)):
            if chunk_i:
                terms.append(Term("BREAK", 1.0, "break"))
            for piece in chunk.split(","):
                piece = " ".join(piece.split())
                if piece:
                    kind = "edit" if piece.startswith("[") and piece.endswith("]") else "text"
                    terms.append(Term(piece, weight, kind))
    return terms + nets




@dataclass
class PromptDiff:
    added: list[Term]
    removed: list[Term]
    reweighted: list[tuple[Term, Term]]  # (before, after)
    moved: list[Term]  # common terms whose relative order changed
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.reweighted or self.moved)

    def as_dict(self) -> dict:
        return {
            "added": [t.as_dict() for t in self.added],
            "removed": [t.as_dict() for t in self.removed],
            "reweighted": [{"term": a.text, "from": _weight(a.weight), "to": _weight(b.weight)}
                           for a, b in self.reweighted],
            "moved": [t.as_dict() for t in self.moved],
            "unchanged": self.unchanged,
        }


def diff_terms(before: list[Term], after: list[Term]) -> PromptDiff:
    key_b = [t.text.lower() for t in before]
    key_a = [t.text.lower() for t in after]
    set_b, set_a = set(key_b), set(key_a)
    added = [t for t, k in zip(after, key_a, strict=True) if k not in set_b]
    removed = [t for t, k in zip(before, key_b, strict=True) if k not in set_a]
    by_b = {k: t for t, k in zip(before, key_b, strict=True)}
    reweighted = [(by_b[k], t) for t, k in zip(after, key_a, strict=True)
                  if k in by_b and abs(by_b[k].weight - t.weight) > 1e-6]
    common_b = [k for k in key_b if k in set_a]
    common_a = [k for k in key_a if k in set_b]
    keep = _lcs(common_b, common_a)
    moved_keys = [k for k in common_a if k not in keep]
    by_a = {k: t for t, k in zip(after, key_a, strict=True)}
    return PromptDiff(added, removed, reweighted, [by_a[k] for k in moved_keys], len(keep))


LCS_MAX_CELLS = 4_000_000  # the exact table costs n*m cells; beyond this, difflib's linear-memory matcher


def _lcs(a: list[str], b: list[str]) -> set[str]:
    """Terms in the longest common subsequence (those that kept their relative order)."""
    n, m = len(a), len(b)
    if n * m > LCS_MAX_CELLS:  # two 10,000-term prompts would need 100 M cells (GBs) for the exact table
        blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        return {a[blk.a + k] for blk in blocks for k in range(blk.size)}
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            dp[i][j] = dp[i + 1][j + 1] + 1 if a[i] == b[j] else max(dp[i + 1][j], dp[i][j + 1])
    i = j = 0
    out: set[str] = set()
    while i < n and j < m:
        if a[i] == b[j]:
            out.add(a[i])
            i += 1
            j += 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    return out
