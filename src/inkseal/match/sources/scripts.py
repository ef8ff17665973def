"""Pictures an article keeps in the JSON state of its `<script>` tags, read without running anything.

Content platforms render articles from a JSON state shipped inside the page, so the pictures may be
nowhere in the markup a plain HTML reader sees:

    Xiaohongshu  window.__INITIAL_STATE__ = {... note.noteDetailMap.<id>.note.imageList[].urlDefault ...}
                 (a JavaScript literal: `undefined` values, "/" written as \\u002F)
    Weibo        var $render_data = [{status: {pics: [{large: {url}}]}}][0] || {};
    WeChat       var msg_cdn_url = "https://mmbiz.qpic.cn/...?wx_fmt=jpeg";   (the cover picture)
    Toutiao      <script id="RENDER_DATA" type="application/json">%7B%22...   (URL-encoded JSON)
    Zhihu        <script id="js-initialData" type="text/json">{...}</script>
    Baijiahao    window.jsonData = {...}

Two shapes are read: a script whose type says JSON (its whole text, URL-decoded when it is), and in
other scripts every `name = {` / `name = [` assignment (the value cut out by a bracket scanner that
knows strings, `undefined` read as null) and every `name = "http..."` string assignment. Nothing is
evaluated. Work is bounded: a script over `max_script_bytes` is not read (noted), a value is parsed
only if it fits in the same cap, at most MAX_ASSIGNMENTS per script, MAX_NODES JSON nodes walked per
page. Only http(s) URLs that look like pictures are taken, each with the JSON path that held it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import unquote

from inkseal.match.sources.pictures import looks_like_image
from inkseal.errors import one_line

MAX_ASSIGNMENTS = 32  # per script: real pages assign a handful of state objects
MAX_NODES = 200_000  # JSON nodes walked per page, all scripts together
MAX_PATH_CHARS = 160
# Names under which pages are known to keep their state: a value there that is not JSON is worth a note.
KNOWN_STATE = re.compile(r"(?:^|\.)(?:__INITIAL_STATE__|\$render_data|__NEXT_DATA__|jsonData|__INITIAL_SSR_STATE__|"
                         r"__PRELOADED_STATE__|__APOLLO_STATE__|_ROUTER_DATA|__INITIAL_DATA__|initialState)$")
# The look-behind lets a name start only where an identifier starts: a run of letters is tried once, not
# once per letter (which was quadratic: 0.8 MB of state took 1.4 s).
_ASSIGN = re.compile(r"(?<![\w$.])((?:window\.)?[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*=\s*([\[{\"'])")
# A string is taken only from a JavaScript declaration (`var msg_cdn_url = "..."`), not from `src='...'`
# in HTML that a script or a JSON string carries.
_DECLARED = re.compile(r"(?:\b(?:var|let|const)\s+|\bwindow\.)[\w$.]+$")
_SCANNED = re.compile(r"[\"\[\]{}]|\bundefined\b")


class ScriptNotes:
    """What the page's scripts did not give up, one line per kind (kept by the page's collector)."""

    def __init__(self) -> None:
        self.lines: dict[str, str] = {}
        self.nodes_left = MAX_NODES

    def add(self, key: str, line: str) -> None:
        self.lines.setdefault(key, line)


def script_pictures(text: str, script_type: str, script_id: str, cap: int,
                    notes: ScriptNotes) -> Iterator[tuple[str, str]]:
    """(URL, how) for each picture URL held in one script's JSON state."""
    if len(text) > cap:
        notes.add("script-size", f"a script over {cap:,} characters was not read for pictures")
        return
    label = f"script#{script_id}" if script_id else "script"
    if "json" in script_type.lower():
        body = text.strip()
        if body[:3].upper() in ("%7B", "%5B"):  # Toutiao ships its state URL-encoded
            body = unquote(body)
        value = _loads(body, f"{label} (JSON)", notes, known=True)
        if value is not None:
            yield from _picture_urls(value, label, notes)
        return
    pos = 0
    for _count in range(MAX_ASSIGNMENTS):
        m = _ASSIGN.search(text, pos)
        if m is None:
            break
        pos = m.end()
        name, opener = m.group(1), m.group(2)
        if opener in "\"'":
            if not _DECLARED.search(text, max(0, m.start() - 8), m.end(1)):
                continue
            url = _string_literal(text, m.end() - 1)
            if url and looks_like_image(url, name):
                yield url, f"{label}: {name}"
            continue
        raw, problem, end = json_value(text, m.end() - 1, cap)
        if raw is not None:
            pos = end  # the next assignment is after this value, not inside it
        if raw is None:
            if KNOWN_STATE.search(name):
                notes.add(f"state-{name}", f"script state {name}: {problem}; not read")
            continue
        value = _loads(raw, f"script state {name}", notes, known=bool(KNOWN_STATE.search(name)))
        if value is not None:
            yield from _picture_urls(value, f"{label}: {name}", notes)


def _string_literal(text: str, quote_at: int) -> str | None:
    quote = text[quote_at]
    end = text.find(quote, quote_at + 1, quote_at + 4096)
    if end < 0:
        return None
    value = text[quote_at + 1:end]
    if "\\" in value:  # "https:\/\/..." or \u002F escapes: read as a JSON string would be
        try:
            value = json.loads('"' + value.replace('"', '\\"') + '"')
        except ValueError:
            return None
    return value if value.startswith(("http://", "https://", "//")) else None


def json_value(text: str, start: int, cap: int) -> tuple[str | None, str, int]:
    """The JSON text of the object or array opening at `start`, `undefined` written as null, and
    where it ends; or (None, why, start). One pass: string ends are found with str.find, escapes counted backwards once.
    Hand-rolled because json.JSONDecoder.raw_decode cannot skip `undefined` and a regex cannot
    balance brackets."""
    limit = min(len(text), start + cap)
    depth, pos, last = 0, start, start
    pieces: list[str] = []
    while True:
        m = _SCANNED.search(text, pos, limit)
        if m is None:
            return None, ("value over the size cap" if limit < len(text) else "unclosed value"), start
        tok = m.group()
        pos = m.end()
        if tok == '"':
            while True:
                q = text.find('"', pos, limit)
                if q < 0:
                    return None, "unclosed string", start
                back = q - 1
                while back >= pos and text[back] == "\\":
                    back -= 1
                pos = q + 1
                if (q - 1 - back) % 2 == 0:
                    break
        elif tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                pieces.append(text[last:pos])
                return "".join(pieces), "", pos
        else:  # a JavaScript `undefined`: JSON's null
            pieces.append(text[last:m.start()])
            pieces.append("null")
            last = pos


def _loads(raw: str, what: str, notes: ScriptNotes, *, known: bool) -> object | None:
    try:
        return json.loads(raw)
    except RecursionError:
        notes.add(f"deep-{what}", f"{what}: nested too deeply; not read")
    except ValueError as exc:
        if known:
            notes.add(f"json-{what}", f"{what}: invalid JSON ({one_line(exc)[:80]}); not read")
    return None


def _picture_urls(value: object, label: str, notes: ScriptNotes) -> Iterator[tuple[str, str]]:
    """Every picture URL in a parsed JSON value, walked iteratively within the page's node budget."""
    stack: list[tuple[object, str, str]] = [(value, "", "")]
    while stack:
        if notes.nodes_left <= 0:
            notes.add("nodes", f"script state over {MAX_NODES:,} JSON values: the rest was not read")
            return
        notes.nodes_left -= 1
        node, path, key = stack.pop()
        if isinstance(node, str):
            if len(node) < 2048 and node.startswith(("http://", "https://", "//")) and looks_like_image(node, path):
                yield node, f"{label} {path[-MAX_PATH_CHARS:]}".rstrip()
        elif isinstance(node, dict):
            for k, v in reversed(list(node.items())):  # reversed: popped in document order
                if isinstance(v, str | dict | list):
                    stack.append((v, f"{path}.{k}" if path else str(k), str(k)))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                v = node[i]
                if isinstance(v, str | dict | list):
                    stack.append((v, f"{path}[{i}]", key))
