"""The one shape every scan source produces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Attachment = bytes | Callable[[], bytes]


@dataclass
class SuspectItem:
    kind: str  # file | page | warc | url
    source: str  # path or URL of the image itself (data: URIs are abbreviated)
    data: bytes | None = None
    error: str | None = None  # one-line reason when the item could not be read
    page_url: str | None = None
    location: dict = field(default_factory=dict)  # page title, DOM path, WARC offset, ...
    captured_at: datetime | None = None
    # Evidence of where it was found, kept with the match: the page's screenshot and rendered or
    # saved HTML, the raw WARC record. Name -> bytes (the same bytes object is shared by a page's items),
    # or a function making them, called only for an item the scan keeps: a capture WARC costs 12-15 ms per
    # picture, and most pictures on a page are not copies.
    attachments: dict[str, Attachment] = field(default_factory=dict)

    def attachment_bytes(self) -> dict[str, bytes]:
        return {name: blob() if callable(blob) else blob for name, blob in self.attachments.items()}

    @property
    def label(self) -> str:
        where = self.location.get("dom_path") or self.location.get("warc_offset")
        return f"{self.source}" + (f" [{where}]" if where is not None and self.kind != "file" else "")
