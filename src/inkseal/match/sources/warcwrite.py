"""A WARC of what was fetched, so that a found copy holds as evidence: the bytes as served.

Every HTTP exchange a scan makes for a page and its pictures (each redirect hop too) is kept as an
`Exchange`; `page_warc` turns a page's exchanges into request + response records once, and
`picture_warc` appends one picture's records (and the browser's screenshot as a `resource`
record), giving each suspect its own small WARC.gz: the page, the picture, their headers and capture
times. Written with warcio (its record builder computes the digests); each record is its own gzip
member, as WARC.gz readers expect, compressed at level 1 because picture bytes barely compress and
every picture of a page gets its WARC before the scan knows which one matches.

Size caps keep a huge page from bloating the evidence pack: a page body over MAX_PAGE_BODY is cut
and marked `WARC-Truncated: length` (the WARC standard's mark); a screenshot over MAX_SCREENSHOT is
left out. Whatever was cut or left out is listed in a final `metadata` record and in the check.
Bodies are stored decoded (httpx undoes Content-Encoding): the response headers say so, so that the
payload digest is the digest of the suspect's bytes.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from inkseal import __version__

MAX_PAGE_BODY = 4 << 20
MAX_SCREENSHOT = 16 << 20
_REWRITTEN = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass
class Exchange:
    """One HTTP request and its response, as the fetcher saw them."""

    url: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    http_version: str = "HTTP/1.1"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Records:
    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.notes: list[str] = []

    def _write(self, record) -> None:  # type: ignore[no-untyped-def]
        plain = io.BytesIO()
        WARCWriter(plain, gzip=False).write_record(record)
        self.out.write(gzip.compress(plain.getvalue(), compresslevel=1))

    def exchange(self, ex: Exchange, max_body: int | None) -> None:
        writer = WARCWriter(io.BytesIO(), gzip=False)  # only its record builder is used
        date = _iso(ex.at)
        parts = urlsplit(ex.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        has_host = any(k.lower() == "host" for k, _v in ex.request_headers)
        req_headers = StatusAndHeaders(f"GET {target} {ex.http_version}",
                                       [*([] if has_host else [("Host", parts.netloc)]), *ex.request_headers],
                                       is_http_request=True)
        request = writer.create_warc_record(ex.url, "request", payload=io.BytesIO(b""), http_headers=req_headers,
                                            warc_headers_dict={"WARC-Date": date})
        body, warc_extra = ex.body, {"WARC-Date": date}
        if max_body is not None and len(body) > max_body:
            body = body[:max_body]
            warc_extra["WARC-Truncated"] = "length"
            self.notes.append(f"{ex.url}: body cut at {max_body:,} of {len(ex.body):,} bytes")
        headers = [(k, v) for k, v in ex.response_headers if k.lower() not in _REWRITTEN]
        encoding = next((v for k, v in ex.response_headers if k.lower() == "content-encoding"), None)
        if encoding:
            headers.append(("X-Inkseal-Stored-Decoded", encoding))
        headers.append(("Content-Length", str(len(body))))
        resp_headers = StatusAndHeaders(f"{ex.status} {ex.reason or 'OK'}".strip(), headers, protocol=ex.http_version)
        response = writer.create_warc_record(ex.url, "response", payload=io.BytesIO(body), http_headers=resp_headers,
                                             warc_headers_dict=warc_extra)
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        self._write(request)
        self._write(response)

    def resource(self, uri: str, data: bytes, content_type: str, at: datetime) -> None:
        writer = WARCWriter(io.BytesIO(), gzip=False)
        self._write(writer.create_warc_record(uri, "resource", payload=io.BytesIO(data), warc_content_type=content_type,
                                              warc_headers_dict={"WARC-Date": _iso(at)}))

    def metadata(self, uri: str) -> None:
        if not self.notes:
            return
        writer = WARCWriter(io.BytesIO(), gzip=False)
        text = ("left out or cut to keep the capture small:\n" + "\n".join(self.notes) + "\n").encode()
        self._write(writer.create_warc_record(uri, "metadata", payload=io.BytesIO(text),
                                              warc_content_type="text/plain; charset=utf-8"))


def page_warc(page_url: str, exchanges: list[Exchange]) -> tuple[bytes, list[str]]:
    """A warcinfo record and the page's exchanges (its redirects, then the page), gzipped; what was cut."""
    rec = _Records()
    info = WARCWriter(io.BytesIO(), gzip=False)
    rec._write(info.create_warcinfo_record("inkseal-capture.warc.gz",
                                           {"software": f"inkseal/{__version__}", "format": "WARC File Format 1.1",
                                            "description": f"capture of {page_url} and the pictures scanned on it"}))
    for ex in exchanges:
        rec.exchange(ex, MAX_PAGE_BODY)
    return rec.out.getvalue(), rec.notes


def picture_warc(page_part: bytes, page_notes: list[str], page_url: str | None, exchanges: list[Exchange],
                 screenshot: tuple[bytes, datetime] | None = None) -> bytes:
    """`page_part` (from page_warc; b"" for a picture fetched on its own) followed by the picture's
    exchanges, the screenshot as a resource record, and a metadata record listing what was cut."""
    rec = _Records()
    if not page_part:
        rec._write(WARCWriter(io.BytesIO(), gzip=False).create_warcinfo_record(
            "inkseal-capture.warc.gz", {"software": f"inkseal/{__version__}", "format": "WARC File Format 1.1"}))
    rec.notes.extend(page_notes)
    for ex in exchanges:
        rec.exchange(ex, None)  # the picture is never cut: it is the evidence (the fetcher capped it already)
    if screenshot is not None and page_url:
        shot, at = screenshot
        if len(shot) <= MAX_SCREENSHOT:
            rec.resource(f"{page_url}#page-screenshot", shot, "image/png", at)
        else:
            rec.notes.append(f"page screenshot left out: {len(shot):,} bytes (over {MAX_SCREENSHOT:,})")
    rec.metadata(page_url or (exchanges[0].url if exchanges else "urn:inkseal:capture"))
    return page_part + rec.out.getvalue()
