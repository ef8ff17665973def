"""Polite fetching for monitors: robots.txt, a per-host rate limit and concurrency, our user agent,
conditional requests, and redirects followed one by one.

Every request goes through `match.sources.fetch.Fetcher` (one per thread: its deadline belongs to the
fetch in progress), so the scan's network policy holds here too: a URL found in a page, feed or sitemap
served from a public address may not reach a private one, `file://` and other schemes are never fetched,
bodies are capped while streamed, and a slow server is cut off by the whole-fetch deadline.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore

from inkseal.errors import one_line
from inkseal.match.sources.fetch import REDIRECT_CODES, FetchError, Fetcher, looks_like_html
from inkseal.match.sources.html import PageLimits
from inkseal.match.sources.netpolicy import Resolver
from inkseal.match.sources.robots import robots_rules
from inkseal.match.sources.warcwrite import Exchange
from inkseal.monitor.settings import MonitorSettings

FETCHABLE = ("http", "https")


@dataclass
class Fetched:
    url: str  # the final URL, after redirects
    status: int  # 200, 304 (not modified), ...
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HostGate:
    """At most `concurrency` requests in flight per host, and requests to one host spaced by its delay
    (1 / rate_per_host, or robots.txt's Crawl-delay when that is longer)."""

    def __init__(self, rate_per_host: float, concurrency: int) -> None:
        self.interval = 1.0 / rate_per_host if rate_per_host > 0 else 0.0
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    def set_delay(self, host: str, seconds: float) -> None:
        with self._lock:
            self._delay[host] = seconds

    def _slot(self, host: str) -> threading.Semaphore:
        with self._lock:
            return self._slots.setdefault(host, threading.Semaphore(self.concurrency))

    def enter(self, host: str) -> None:
        self._slot(host).acquire()
        with self._lock:  # reserve the next start time for this host, then wait outside the lock
            gap = max(self.interval, self._delay.get(host, 0.0))
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + gap
        if start > now:
            time.sleep(start - now)

    def leave(self, host: str) -> None:
        self._slot(host).release()


class Robots:
    """robots.txt of each host, fetched once per run (urllib.robotparser: Allow/Disallow, Crawl-delay,
    Sitemap lines), its answer read by `match.sources.robots` (RFC 9309: a 4xx robots.txt means no rules; an
    unreachable one, 5xx, 429 or no answer, means nothing may be fetched this run)."""

    def __init__(self, client: PoliteClient) -> None:
        self.client = client
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._notes: dict[str, str] = {}
        self._info: dict[str, str] = {}
        self._lock = threading.Lock()

    def parser(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            known = self._parsers.get(origin)
        if known is not None:
            return known
        try:
            got = self.client.get(origin + "/robots.txt", found_on=None, check_robots=False,
                                  max_bytes=self.client.settings.robots_max_bytes, error_body=True)
            text = None if looks_like_html(got.body) else got.body.decode("utf-8", errors="replace")
            rules = robots_rules(got.status, text)
        except FetchError as exc:
            if "too large" in str(exc):  # read as no rules would be wrong too: say it
                rules = robots_rules(404, None)
                self._notes[origin] = f"robots.txt of {origin} is too large: ignored / {origin} 的 robots.txt 过大，已忽略"
            else:
                rules = robots_rules(None, None, one_line(exc))
        if rules.unreachable:
            self._notes[origin] = f"{origin}: {rules.reason}"
        rp = rules.parser
        delay = rp.crawl_delay(self.client.agent_token) if not (rp.allow_all or rp.disallow_all) else None
        if delay:
            cap = self.client.settings.max_crawl_delay_s
            if float(delay) > cap:
                self._info[origin] = (f"robots.txt of {origin} asks a Crawl-delay of {delay} s: capped at {cap:g} s "
                                      f"(max_crawl_delay_s) / 抓取间隔已按设置上限 {cap:g} 秒处理")
            self.client.gate.set_delay(parts.hostname or "", min(float(delay), cap))
        with self._lock:
            self._parsers[origin] = rp
        return rp

    def allowed(self, url: str) -> bool:
        return self.parser(url).can_fetch(self.client.agent_token, url)

    def sitemaps(self, url: str) -> list[str]:
        return list(self.parser(url).site_maps() or [])

    def notes(self) -> list[str]:
        return list(self._notes.values())

    def info(self) -> list[str]:
        return list(self._info.values())


class Disallowed(FetchError):
    """robots.txt disallows the URL for our user agent."""


class PoliteClient:
    """Thread-safe: each thread gets its own Fetcher; the gate and robots cache are shared."""

    def __init__(self, settings: MonitorSettings, *, allow_private: bool, resolver: Resolver | None = None,
                 dial: httpcore.NetworkBackend | None = None) -> None:
        self.settings = settings
        self.allow_private = allow_private
        self.resolver, self.dial = resolver, dial
        self.agent_token = settings.user_agent.split("/")[0].split()[0]
        self.gate = HostGate(settings.rate_per_host, settings.concurrency_per_host)
        self.robots = Robots(self)
        self._local = threading.local()
        self._all: list[Fetcher] = []
        self._lock = threading.Lock()
        self.requests = 0  # every request sent (robots.txt, sitemaps, pages, 304s included)
        self.received = 0  # bytes of every body received

    def _fetcher(self, max_bytes: int) -> Fetcher:
        cache = getattr(self._local, "fetchers", None)
        if cache is None:
            cache = self._local.fetchers = {}
        if max_bytes not in cache:
            f = Fetcher(max_bytes=max_bytes, timeout_s=self.settings.timeout_s, deadline_s=self.settings.deadline_s,
                        allow_private=self.allow_private, limits=PageLimits(), resolver=self.resolver, dial=self.dial)
            f.client.headers["User-Agent"] = self.settings.user_agent
            cache[max_bytes] = f
            with self._lock:
                self._all.append(f)
        return cache[max_bytes]

    def get(self, url: str, found_on: str | None, *, etag: str | None = None, last_modified: str | None = None,
            check_robots: bool = True, max_bytes: int | None = None, error_body: bool = False,
            exchanges: list[Exchange] | None = None) -> Fetched:
        """One page: redirects followed (each checked against the network policy and robots.txt), a loop or
        more than `max_redirects` refused; If-None-Match / If-Modified-Since sent when known. Raises
        FetchError (one line) for HTTP errors unless `error_body`. `exchanges`: each request and response
        (redirect hops too) is appended there."""
        fetcher = self._fetcher(max_bytes or self.settings.page_max_bytes)
        seen: set[str] = set()
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        for _hop in range(self.settings.max_redirects + 1):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in FETCHABLE:
                raise FetchError(f"not fetched: {scheme or 'no'} scheme ({url[:120]}) / 非 http(s) 链接，不抓取")
            if url in seen:
                raise FetchError(f"redirect loop at {url[:120]} / 重定向循环")
            seen.add(url)
            if check_robots and not self.robots.allowed(url):
                raise Disallowed(f"robots.txt disallows {url[:120]} / robots.txt 不允许抓取")
            host = urlsplit(url).hostname or ""
            self.gate.enter(host)
            try:
                with self._lock:
                    self.requests += 1
                status, resp_headers, body = fetcher.get_one(url, found_on, headers=headers, exchanges=exchanges)
                with self._lock:
                    self.received += len(body)
            finally:
                self.gate.leave(host)
            location = resp_headers.get("location")
            if status in REDIRECT_CODES and location:
                found_on, url = url, urljoin(url, location)  # the server chose it: checked as found there
                continue
            if status >= 400 and not error_body:
                raise FetchError(f"HTTP {status}")
            return Fetched(url, status, {k.lower(): v for k, v in resp_headers.items()}, body)
        raise FetchError(f"too many redirects (over {self.settings.max_redirects}) / 重定向次数过多")

    def close(self) -> None:
        with self._lock:
            for f in self._all:
                f.close()
            self._all.clear()


def http_date_ok(value: str | None) -> str | None:
    """A Last-Modified worth sending back: a parseable HTTP date, else None (some servers send junk)."""
    if not value:
        return None
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return value


_ZH = (("redirect", "重定向出错"), ("too large", "内容过大，未读完"), ("timed out", "请求超时"),
       ("cannot resolve", "无法解析主机名"), ("refused", "已拒绝：指向内网地址"),
       ("HTML where an image", "应为图片，实际是网页"), ("HTTP 4", "服务器返回错误（网页不存在或拒绝访问）"),
       ("HTTP 5", "服务器出错"), ("not fetched", "未抓取"))


def bilingual(line: str) -> str:
    """A problem line from the fetcher or the scan (English) with its Chinese, unless it has one."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in line):
        return line
    zh = next((z for key, z in _ZH if key in line), "抓取或读取失败")
    return f"{line} / {zh}"
