"""Monitor settings: every limit of the crawler, the politeness defaults, and where digests are sent.

Read from `$INKSEAL_HOME/monitor.toml` (keys = the fields below), then `INKSEAL_MONITOR_<FIELD>`
environment variables (e.g. INKSEAL_MONITOR_RATE_PER_HOST=2). They live beside config.toml rather than
in it because config.toml refuses keys it does not know (a typo there is an error, not a silence).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from inkseal import __version__
from inkseal.errors import InksealError


@dataclass
class MonitorSettings:
    # Sent with every request of a monitor; robots.txt rules for this name (its first word) are obeyed.
    user_agent: str = f"inkseal-monitor/{__version__} (+https://github.com/inkseal; copy detection for artists)"
    # Politeness: requests per second to one host (0 = no limit), and requests in flight to one host.
    rate_per_host: float = 1.0
    concurrency_per_host: int = 2
    concurrency: int = 4  # requests in flight in all
    max_pages: int = 1_000  # default cap on pages a site monitor visits per run (`--max-pages`)
    max_listing_pages: int = 50  # pagination pages followed from the start page
    page_max_bytes: int = 5 * 1024 * 1024  # an HTML page (images are the scan's settings: max_bytes)
    timeout_s: float = 20.0
    deadline_s: float = 60.0
    max_redirects: int = 5
    max_crawl_delay_s: float = 60.0  # a robots.txt Crawl-delay above this is capped here (and said)
    robots_max_bytes: int = 512 * 1024  # Google reads the first 500 KiB
    # Sitemaps: the protocol's own limits are 50,000 URLs and 50 MB uncompressed per file.
    sitemap_max_bytes: int = 50 * 1024 * 1024  # after decompression
    sitemap_max_urls: int = 50_000  # per monitor run, over all sitemap files
    sitemap_max_files: int = 100
    sitemap_max_depth: int = 2  # index -> sitemap (an index inside an index inside an index is refused)
    feed_max_bytes: int = 10 * 1024 * 1024
    feed_max_entries: int = 5_000
    scan_batch: int = 50  # pages handed to one `scan` (the frontier is saved after each batch)
    recheck_cases: bool = True  # re-fetch the pages of known cases on this site each run
    allow_private_addresses: bool | None = None  # None: the main setting (config.toml) decides
    # Notifications.
    webhook_attempts: int = 5
    webhook_backoff_s: float = 2.0  # doubled after each failed attempt
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""  # better given as INKSEAL_MONITOR_SMTP_PASSWORD than written in a file
    mail_from: str = "inkseal@localhost"


def load_monitor_settings(home: Path) -> MonitorSettings:
    values: dict[str, object] = {}
    path = home / "monitor.toml"
    if path.is_file():
        try:
            with path.open("rb") as fh:
                values.update(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InksealError(f"cannot read {path}: {exc} / 无法读取 {path}") from None
    known = {f.name: f for f in fields(MonitorSettings)}
    for name in known:
        env = os.environ.get(f"INKSEAL_MONITOR_{name.upper()}")
        if env is not None and env != "":
            values[name] = env
    unknown = set(values) - set(known)
    if unknown:
        raise InksealError(f"unknown monitor setting(s) in {path}: {', '.join(sorted(unknown))} / "
                           f"{path} 中有未知的监控设置")
    out = MonitorSettings()
    for name, value in values.items():
        default = getattr(out, name)
        try:
            if isinstance(default, bool) or name == "allow_private_addresses":
                value = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                value = int(value)  # type: ignore[arg-type]
            elif isinstance(default, float):
                value = float(value)  # type: ignore[arg-type]
            else:
                value = str(value)
        except ValueError:
            raise InksealError(f"monitor setting {name}: {value!r} is not a {type(default).__name__} / "
                               f"监控设置 {name} 的值无效") from None
        setattr(out, name, value)
    return out
