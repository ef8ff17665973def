"""Where a fetched URL may point (SSRF policy), and fetching that holds to it.

The rule, in one sentence: a URL the user named is fetched wherever it points; a URL that came
*from the network* - an `<img>`/srcset/CSS reference inside a page, or a redirect's `Location` -
may reach a non-public address (loopback, private, link-local, unique-local, multicast, reserved,
cloud metadata) only when the page or redirect it came from was itself served from a non-public
address. So a hostile public page cannot make inkseal (or Chromium) request 127.0.0.1, the LAN or
169.254.169.254, while a test page or the demo on 127.0.0.1 linking to 127.0.0.1 keeps working.
Cloud-metadata addresses are refused to every found URL, even from private pages.
`allow_private_addresses = true` (INKSEAL_ALLOW_PRIVATE_ADDRESSES=1) turns the check off.

Addresses are classified after DNS resolution, and each host is resolved once per scan: the
connection is then made to exactly the addresses that were checked (`PinnedBackend`), so a DNS
answer that changes between the check and the connect (DNS rebinding) cannot slip through.
A host counts as public when any of its addresses is public; a found URL is refused when any of
its addresses is not.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the host resolves to (strings); the seam tests use to give a test
# host name a public address without a public network.
Resolver = Callable[[str, int], list[str]]

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}  # AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba


class RefusedAddress(Exception):
    """A found URL pointing somewhere the policy forbids; the message is the one-line reason."""


class ResolveError(Exception):
    pass


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveError(f"cannot resolve host {host}: {getattr(exc, 'strerror', None) or exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_class(ip: IPAddress) -> str | None:
    """None for a public address, else what kind of non-public address it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip in METADATA:
        return "cloud-metadata"
    for name, hit in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                      ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified)):
        if hit:
            return name
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private or not ip.is_global:  # RFC 1918, 100.64/10, documentation ranges, ...
        return "private"
    return None


class NetPolicy:
    def __init__(self, *, allow_private: bool = False, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or system_resolver
        self._pinned: dict[str, list[IPAddress]] = {}

    def addresses(self, host: str, port: int = 0) -> list[IPAddress]:
        """The host's addresses, resolved once and then reused (pinned) for the rest of the scan."""
        host = host.strip("[]").lower()
        if host not in self._pinned:
            try:
                self._pinned[host] = [ipaddress.ip_address(host)]
            except ValueError:
                found = []
                for a in self.resolver(host, port):
                    try:
                        found.append(ipaddress.ip_address(a.split("%")[0]))  # drop an IPv6 zone id
                    except ValueError:
                        continue
                if not found:
                    raise ResolveError(f"cannot resolve host {host}: no usable address")
                self._pinned[host] = found
        return self._pinned[host]

    def is_public_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # a saved file, about:blank ...: not served from the public network
        return any(address_class(a) is None for a in self.addresses(parts.hostname, parts.port or 0))

    def check(self, url: str, found_on: str | None) -> None:
        """Raise RefusedAddress when `url`, found on `found_on` (None: named by the user), may not be fetched."""
        if found_on is None or self.allow_private:
            return
        parts = urlsplit(url)
        if not parts.hostname:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        classes = [(a, address_class(a)) for a in self.addresses(parts.hostname, port)]
        bad = [(a, c) for a, c in classes if c is not None]
        if not bad:
            return
        addr, kind = next(((a, c) for a, c in bad if c == "cloud-metadata"), bad[0])
        if kind != "cloud-metadata" and not self.is_public_url(found_on):
            return  # a private page may link to private addresses (tests, the demo, an intranet)
        where = "a page" if kind == "cloud-metadata" else "a public page"
        raise RefusedAddress(f"refused: {_short(url)} was found on {where} and points to a {kind} address "
                             f"({addr}); set allow_private_addresses to fetch it")


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[:limit] + "..."


class Deadline:
    """The whole-fetch deadline shared by every socket read and write of one fetch.

    httpx's timeouts apply per read, so a server sending one byte every few seconds never trips
    them; capping each read's timeout at the time left does."""

    def __init__(self) -> None:
        self.until: float | None = None

    def start(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def stop(self) -> None:
        self.until = None

    @property
    def expired(self) -> bool:
        return self.until is not None and time.monotonic() >= self.until

    def bound(self, timeout: float | None) -> float | None:
        if self.until is None:
            return timeout
        left = self.until - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the whole-fetch deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
        # TLS still verifies the certificate against the host *name*; only the socket is pinned.
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.bound(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):  # type: ignore[no-untyped-def]
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses the policy resolved (and checked) for a host, never re-resolving it.
    `dial`: the backend that opens sockets (httpcore's own by default)."""

    def __init__(self, policy: NetPolicy, deadline: Deadline, dial: httpcore.NetworkBackend | None = None) -> None:
        self.policy, self.deadline = policy, deadline
        self.dial = dial or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        try:
            addresses = self.policy.addresses(host, port)
        except ResolveError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        last: Exception | None = None
        for addr in addresses:
            try:
                stream = self.dial.connect_tcp(str(addr), port, timeout=self.deadline.bound(timeout),
                                               local_address=local_address, socket_options=socket_options)
                return _DeadlineStream(stream, self.deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last = exc
        raise httpcore.ConnectError(str(last) if last else f"cannot connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # type: ignore[no-untyped-def]
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PinnedTransport(httpx.BaseTransport):
    """httpx over an httpcore pool whose sockets come from `PinnedBackend` (httpx's own transport
    takes no network backend, hence this thin adapter)."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend,
                                             max_connections=10, max_keepalive_connections=10)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        req = httpcore.Request(method=request.method,
                               url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                                                port=request.url.port, target=request.url.raw_path),
                               headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _mapped():
            resp = self._pool.handle_request(req)
        return httpx.Response(status_code=resp.status, headers=resp.headers, stream=_Body(resp.stream),
                              extensions=resp.extensions)

    def close(self) -> None:
        self._pool.close()


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self):  # type: ignore[no-untyped-def]
        with _mapped():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close:
            close()


class _mapped:  # noqa: N801 - used as `with _mapped():`
    """httpcore's exceptions as httpx's, so callers catch one family."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if exc is None or not isinstance(exc, httpcore.TimeoutException | httpcore.NetworkError |
                                         httpcore.ProtocolError | httpcore.UnsupportedProtocol):
            return False
        if isinstance(exc, httpcore.TimeoutException):
            raise httpx.TimeoutException(str(exc)) from None
        if isinstance(exc, httpcore.ConnectError):
            raise httpx.ConnectError(str(exc)) from None
        if isinstance(exc, httpcore.NetworkError):
            raise httpx.NetworkError(str(exc)) from None
        raise httpx.ProtocolError(str(exc)) from None
