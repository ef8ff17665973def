"""Settings: defaults, then `$INKSEAL_HOME/config.toml`, then environment variables.

    INKSEAL_HOME        data folder (default ./.inkseal)
    INKSEAL_DB_URL      SQLAlchemy URL; default sqlite:///$INKSEAL_HOME/registry.sqlite
    INKSEAL_LANG        en | zh (messages)
    INKSEAL_SSCD_MODEL  sscd_distilled | sscd
    INKSEAL_CHROMIUM    Chromium/Chrome executable for `scan --browser` (default: found on PATH)
    INKSEAL_ALLOW_PRIVATE_ADDRESSES  1 to let URLs found inside public pages reach private addresses

config.toml keys mirror the fields of `Settings` (e.g. `db_url = "postgresql+psycopg://..."`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Settings:
    home: Path = field(default_factory=lambda: Path(".inkseal"))
    db_url: str = ""
    lang: str = "en"
    sscd_model: str = "sscd_distilled"
    # Largest image we decode, in pixels; larger files are refused as decompression bombs.
    max_pixels: int = 64_000_000
    # Largest file we read from disk or the network, in bytes.
    max_bytes: int = 64 * 1024 * 1024
    # A verdict is a match when the expected number of false matches at its strength is below this.
    max_false_matches: float = 1e-3
    http_timeout_s: float = 20.0
    # Whole-fetch deadline (connect + headers + body); a server trickling bytes is cut off here.
    http_deadline_s: float = 60.0
    # URLs *found inside* a page/feed/sitemap served from a public address are refused when they
    # resolve to loopback, private, link-local or metadata addresses (SSRF), unless this is true.
    # URLs the user names are fetched wherever they point.
    allow_private_addresses: bool = False
    # Bounded work per page: at most this many pictures, srcset entries and style bytes are read.
    max_page_images: int = 5_000
    max_srcset_entries: int = 64
    max_style_bytes: int = 1_000_000
    threads: int = 2
    chromium: str = ""
    # Vector index backend: faiss-flat (exact, default), faiss-hnsw (approximate + exact re-rank), faiss-ivfpq
    # (compressed IVF-PQ codes in RAM for large registries, candidates re-ranked exactly from the database; exact flat
    # below 50k vectors), milvus (URI below).
    index_backend: str = "faiss-flat"
    milvus_uri: str = ""
    # The creator's contact details for takedown notices (Art. 14 信息网络传播权保护条例, 17 U.S.C. §512(c)(3)).
    contact_name: str = ""
    contact_email: str = ""
    contact_address: str = ""
    contact_phone: str = ""

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'registry.sqlite').resolve()}"

    @property
    def objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


_ENV = {
    "INKSEAL_DB_URL": "db_url",
    "INKSEAL_LANG": "lang",
    "INKSEAL_SSCD_MODEL": "sscd_model",
    "INKSEAL_CHROMIUM": "chromium",
    "INKSEAL_ALLOW_PRIVATE_ADDRESSES": "allow_private_addresses",
    "INKSEAL_INDEX_BACKEND": "index_backend",
    "INKSEAL_MILVUS_URI": "milvus_uri",
    "INKSEAL_CONTACT_NAME": "contact_name",
    "INKSEAL_CONTACT_EMAIL": "contact_email",
    "INKSEAL_CONTACT_ADDRESS": "contact_address",
    "INKSEAL_CONTACT_PHONE": "contact_phone",
}


def load_settings(home: str | Path | None = None, **overrides: object) -> Settings:
    home_path = Path(home or os.environ.get("INKSEAL_HOME") or ".inkseal")
    values: dict[str, object] = {}
    toml_path = home_path / "config.toml"
    if toml_path.is_file():
        with toml_path.open("rb") as fh:
            values.update(tomllib.load(fh))
    for env, key in _ENV.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    if "lang" not in values and os.environ.get("LANG", "").lower().startswith("zh"):
        values["lang"] = "zh"
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Settings)}
    unknown = set(values) - set(known) - {"home"}
    if unknown:
        raise ValueError(f"unknown setting(s) in {toml_path}: {', '.join(sorted(unknown))}")
    settings = Settings(home=home_path, **{k: v for k, v in values.items() if k != "home"})  # type: ignore[arg-type]
    if isinstance(settings.allow_private_addresses, str):
        settings.allow_private_addresses = settings.allow_private_addresses.strip().lower() in ("1", "true", "yes", "on")
    for name in ("max_pixels", "max_bytes", "threads", "max_page_images", "max_srcset_entries", "max_style_bytes"):
        setattr(settings, name, int(getattr(settings, name)))
    for name in ("max_false_matches", "http_timeout_s", "http_deadline_s"):
        setattr(settings, name, float(getattr(settings, name)))
    return settings
