"""A client of a C2PA Soft Binding Resolution API (another inkseal desk's /api/v1/c2pa, or any service of the
spec): the same two questions `registry.bindings.SoftBindings` answers locally, asked over HTTP.

    matches(alg, value, limit)  GET {base}/matches/byBinding?alg=&value=&maxResults=  -> [{"manifest_label", ...}]
    manifest(label)             GET {base}/manifests/{label}                        -> bytes | None (404)

Every failure (unreachable, not the spec's answer, an error status) is one `ResolverError` line, with the
server's own message when it sent one ({"error": {"en", "zh"}} from inkseal; `detail`/`error` text otherwise).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from inkseal import __version__
from inkseal.errors import InksealError, one_line

TIMEOUT_S = 60.0
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # a manifest store without thumbnails is a few KB; ingredients add some


class ResolverError(InksealError):
    pass


def _reason(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text.strip().splitlines()[0][:200] if r.text.strip() else r.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "en" in error:
        return f"{error['en']} / {error.get('zh', '')}".strip(" /")[:300]
    text = error or (body.get("detail") if isinstance(body, dict) else None) or r.reason_phrase
    return one_line(Exception(str(text)))[:300]


class RemoteResolver:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = TIMEOUT_S) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ResolverError(f"the resolver's address must start with http:// or https://: {base_url[:200]!r} / "
                                "解析服务地址须以 http:// 或 https:// 开头")
        headers = {"User-Agent": f"inkseal/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(headers=headers, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> httpx.Response:
        try:
            return self._client.get(self.base_url + path, params=params or None)
        except httpx.HTTPError as exc:
            raise ResolverError(f"{self.base_url}: {one_line(exc, with_type=True)[:200]} / 无法连接解析服务") from None

    def matches(self, alg: str, value: str, limit: int = 100) -> list[dict[str, Any]]:
        r = self._get("/matches/byBinding", alg=alg, value=value, maxResults=max(1, int(limit)))
        if r.status_code != 200:
            raise ResolverError(f"{self.base_url}: HTTP {r.status_code}: {_reason(r)}")
        try:
            found = r.json()["matches"]
            return [{"manifest_label": str(m["manifestId"]), "similarity_score": m.get("similarityScore"),
                     **({"endpoint": str(m["endpoint"])} if m.get("endpoint") else {})} for m in found]
        except (ValueError, KeyError, TypeError):
            raise ResolverError(f"{self.base_url}: not a soft-binding resolution answer / 不是软绑定解析服务的应答") \
                from None

    def manifest(self, label: str) -> bytes | None:
        url = f"{self.base_url}/manifests/{quote(label, safe=':')}"
        try:
            with self._client.stream("GET", url) as r:
                if r.status_code == 404:
                    return None
                if r.status_code != 200:
                    r.read()
                    raise ResolverError(f"{self.base_url}: HTTP {r.status_code}: {_reason(r)}")
                data = bytearray()
                for chunk in r.iter_bytes():  # streamed: a hostile server's endless body stops at the limit
                    data += chunk
                    if len(data) > MAX_MANIFEST_BYTES:
                        raise ResolverError(f"{self.base_url}: the manifest is larger than {MAX_MANIFEST_BYTES:,} "
                                            "bytes / 清单过大")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise ResolverError(f"{self.base_url}: {one_line(exc, with_type=True)[:200]} / 无法连接解析服务") from None
