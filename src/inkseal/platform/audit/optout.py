"""Site-level opt-outs for URL items, and fetching that honours them.

For each origin (scheme://host:port), once per worker: `/robots.txt`, `/.well-known/tdmrep.json` and
`/ai.txt`. For each item: the response's `X-Robots-Tag` and `tdm-reservation` / `tdm-policy` headers.

    robots.txt      which AI crawlers (GPTBot, CCBot, Google-Extended, ...) it disallows for the URL (only from a
                    file that was read: a 4xx/5xx answer claims no opt-out); and whether it disallows *us* (the
                    fetcher's User-Agent, else `*`): then the item is not fetched. Answers are read as the monitor
                    reads them (`match.sources.robots`): an unreachable robots.txt (5xx, 429, no answer) means the
                    site's items are not fetched (`robots_unreachable`), a 4xx one means no rules.
    X-Robots-Tag    `noai` / `noimageai`: the body is dropped unread (what img2dataset does by default)
    TDMRep          the header wins over `tdmrep.json` (W3C TDMRep §3: the header is the resource's own word);
                    in the JSON the first rule whose `location` matches the path applies
    ai.txt          Spawning's robots-like file: `Disallow: *.png`, `Disallow: /`; longest rule wins, Allow on ties

Fetching goes through the project's `Fetcher` (limits, deadline, network policy). Dataset rows count as
URLs *found on a public page*: a row cannot point the audit at loopback, the LAN or cloud metadata unless
`allow_private_addresses` is set (the benchmark and the tests serve from 127.0.0.1 and set it).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from inkseal.match.sources.fetch import REDIRECT_CODES, FetchError, Fetcher, looks_like_html
from inkseal.match.sources.robots import RobotsRules, robots_rules
from inkseal.errors import one_line

AI_CRAWLERS = ("GPTBot", "ChatGPT-User", "CCBot", "Google-Extended", "anthropic-ai", "ClaudeBot", "Bytespider",
               "PerplexityBot", "Applebot-Extended", "meta-externalagent", "cohere-ai", "Diffbot", "img2dataset",
               "omgili", "Amazonbot")
OUR_AGENT = "inkseal"
NOAI_TOKENS = {"noai", "noimageai"}
# A stand-in "page" the rows were found on: an address literal, so no DNS is needed to call it public.
ROW_ORIGIN = "https://1.1.1.1/"
MAX_SITE_FILE = 512 * 1024  # robots.txt / ai.txt / tdmrep.json: larger ones are cut (Google reads 500 KiB)


@dataclass
class SiteRules:
    robots: RobotsRules | None = None  # robots.txt's answer, read as the monitor reads it (match.sources.robots)
    tdmrep: list[dict] = field(default_factory=list)
    ai_txt: list[tuple[str, str]] = field(default_factory=list)  # (allow|disallow, pattern) for User-Agent *
    ai_txt_present: bool = False


@dataclass
class Fetched:
    data: bytes | None = None
    signals: dict = field(default_factory=dict)  # what the site said about this URL
    error_kind: str = ""
    error: str = ""


def parse_ai_txt(text: str) -> list[tuple[str, str]]:
    """Rules for `User-Agent: *` (ai.txt addresses AI users at large; groups for named agents are rare).

    Hand-rolled: there is no maintained ai.txt parser on PyPI, and robotparser cannot express `*.png`."""
    rules: list[tuple[str, str]] = []
    applies = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            applies = value == "*"
        elif applies and key in ("allow", "disallow") and value:
            rules.append((key, value))
    return rules


def _pattern_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("*."):  # by file type, anywhere
        return path.lower().split("?", 1)[0].endswith(pattern[1:].lower())
    regex = re.escape(pattern).replace(r"\*", ".*")
    if regex.endswith(r"\$"):
        regex = regex[:-2] + "$"
    return re.match(regex, path) is not None


def ai_txt_verdict(rules: list[tuple[str, str]], path: str) -> str:
    """"disallowed" / "allowed" (by the most specific rule; Allow wins a tie) / "" (no rule applies)."""
    best: tuple[int, bool] | None = None
    for kind, pattern in rules:
        if _pattern_matches(pattern, path):
            rank = (len(pattern), kind == "allow")
            if best is None or rank > best:
                best = rank
    if best is None:
        return ""
    return "allowed" if best[1] else "disallowed"


def tdmrep_rule(rules: list[dict], path: str) -> dict | None:
    for rule in rules:
        loc = str(rule.get("location", ""))
        if loc and _pattern_matches(loc if loc.startswith(("/", "*")) else "/" + loc, path):
            return rule
    return None


class SiteCache:
    """Each origin's rules, shared by the fetching threads of one worker: read once per origin, and a slow site
    holds up only its own items."""

    def __init__(self) -> None:
        self.rules: dict[str, SiteRules] = {}
        self.lock = threading.Lock()
        self.origin_locks: dict[str, threading.Lock] = {}


class SiteOptOuts:
    """One per fetching thread (a `Fetcher` is not shared between threads); the `SiteCache` is shared."""

    def __init__(self, fetcher: Fetcher, cache: SiteCache | None = None) -> None:
        self.fetcher = fetcher
        self.cache = cache or SiteCache()

    def _site_file(self, origin: str, path: str) -> tuple[int, str | None, str]:
        """(HTTP status or 0 when there was no answer, the file's text or None, why there was no answer)."""
        try:
            status, _h, body = self.fetcher.get_one(origin + path, origin + "/")
        except FetchError as exc:
            return 0, None, one_line(exc)[:200]
        if status >= 400 or looks_like_html(body):  # an HTML "not found" page served with 200 is no rules file
            return status, None, ""
        return status, body[:MAX_SITE_FILE].decode("utf-8", "replace"), ""

    def site(self, url: str) -> SiteRules:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cache = self.cache
        with cache.lock:
            if origin in cache.rules:
                return cache.rules[origin]
            origin_lock = cache.origin_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # the first item of a site reads its rules; the site's other items wait for them
            with cache.lock:
                if origin in cache.rules:
                    return cache.rules[origin]
            rules = self._read_site(origin)
            with cache.lock:
                cache.rules[origin] = rules
        return rules

    def _read_site(self, origin: str) -> SiteRules:
        rules = SiteRules()
        rules.robots = robots_rules(*self._site_file(origin, "/robots.txt"))
        _status, text, _why = self._site_file(origin, "/.well-known/tdmrep.json")
        if text is not None:
            try:
                data = json.loads(text)
                rules.tdmrep = [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
            except ValueError:
                rules.tdmrep = []
        _status, text, _why = self._site_file(origin, "/ai.txt")
        if text is not None:
            rules.ai_txt, rules.ai_txt_present = parse_ai_txt(text), True
        return rules

    def fetch(self, url: str) -> Fetched:
        try:
            rules = self.site(url)
        except Exception as exc:  # noqa: BLE001 - a malformed URL: the item's own finding
            return Fetched(error_kind="bad_url", error=one_line(exc)[:200])
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        robots = rules.robots or robots_rules(404, None)
        signals: dict = {
            # an opt-out only from a robots.txt that was read: an error answer is not the site's word
            "robots_ai_disallowed": [ua for ua in AI_CRAWLERS if not robots.can_fetch(ua, url)] if robots.read else [],
            "ai_txt": ai_txt_verdict(rules.ai_txt, path) if rules.ai_txt_present else "",
        }
        rule = tdmrep_rule(rules.tdmrep, path)
        if rule is not None:
            signals["tdm_reservation"] = int(rule.get("tdm-reservation", 0) or 0)
            signals["tdm_policy"] = str(rule.get("tdm-policy", "") or "")
            signals["tdm_source"] = "tdmrep.json"
        if robots.unreachable:  # RFC 9309: an unreachable robots.txt stops crawling the site; no opt-out is claimed
            return Fetched(signals=signals, error_kind="robots_unreachable", error=robots.reason)
        if not robots.can_fetch(OUR_AGENT, url):
            return Fetched(signals=signals, error_kind="robots_disallowed",
                           error="robots.txt disallows fetching this URL: not fetched / robots.txt 不允许抓取该网址，未抓取")
        try:
            status, headers, body = self._get(url)
        except FetchError as exc:
            kind = "timeout" if "timed out" in str(exc) else "fetch_failed"
            return Fetched(signals=signals, error_kind=kind, error=str(exc)[:300])
        xrt = ", ".join(headers.get_list("x-robots-tag"))
        if xrt:
            signals["x_robots_tag"] = xrt
        if "tdm-reservation" in headers:
            signals["tdm_reservation"] = 1 if headers["tdm-reservation"].strip() == "1" else 0
            signals["tdm_policy"] = headers.get("tdm-policy", "")
            signals["tdm_source"] = "header"
        if status >= 400:
            return Fetched(signals=signals, error_kind="http_error", error=f"HTTP {status}")
        if _noai(xrt):
            return Fetched(signals=signals)  # honoured: the body is not looked at
        if looks_like_html(body):
            return Fetched(signals=signals, error_kind="html_not_image",
                           error="the URL returned an HTML page, not an image / 该网址返回的是网页，不是图片")
        return Fetched(data=body, signals=signals)

    def _get(self, url: str):  # type: ignore[no-untyped-def]
        """Redirects followed one by one, each checked by the policy as found on the hop before."""
        found_on = ROW_ORIGIN
        for _hop in range(6):
            status, headers, body = self.fetcher.get_one(url, found_on)
            location = headers.get("location")
            if status in REDIRECT_CODES and location:
                found_on, url = url, urljoin(url, location)
                continue
            return status, headers, body
        raise FetchError("too many redirects")


def _noai(x_robots_tag: str) -> bool:
    """`X-Robots-Tag: noai`, `noimageai`, also as `otherbot: noai` (a directive list per agent)."""
    tokens = {t.strip().lower() for part in x_robots_tag.split(",") for t in part.split(":")}
    return bool(tokens & NOAI_TOKENS)
