"""The one shape every scan source produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class SuspectItem:
    kind: str  # file | page | warc | url
    source: str  # path or URL of the image itself (data: URIs are abbreviated)
    data: bytes | None = None
    error: str | None = None  # one-line reason when the item could not be read
    page_url: str | None = None
    location: dict = field(default_factory=dict)  # page title, DOM path, WARC offset, ...
    captured_at: datetime | None = None

    @property
    def label(self) -> str:
        where = self.location.get("dom_path") or self.location.get("warc_offset")
        return f"{self.source}" + (f" [{where}]" if where is not None and self.kind != "file" else "")
