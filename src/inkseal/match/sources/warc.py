"""Every image response (and resource record) in a WARC or WARC.gz archive, via warcio.

Images are recognised by Content-Type or, when that lies or is missing, by their magic bytes.
Each image item carries its whole WARC record (headers and payload, gzip member and all) as an
attachment, so the evidence pack holds the record itself, checkable with any WARC tool.
A broken record ends the archive with one error item (a gzip member or WARC header that cannot be
parsed leaves no reliable way to find the next record); everything read before it stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from inkseal.match.sources.base import SuspectItem
from inkseal.errors import one_line

MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x00")


def _is_image(content_type: str, head: bytes) -> bool:
    if content_type.lower().startswith("image/"):
        return True
    return any(head.startswith(m) for m in MAGIC[:-1]) or (head[4:8] == b"ftyp" and b"avif" in head[8:32])


def iter_warc(path: Path, *, max_bytes: int) -> Iterator[SuspectItem]:
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield SuspectItem(kind="warc", source=str(path), error=f"cannot open archive: {exc.strerror or exc}")
        return
    with fh, path.open("rb") as raw:  # `raw`: a second handle to copy whole records out
        it = ArchiveIterator(fh, check_digests=False)
        try:
            for record in it:
                if record.rec_type not in ("response", "resource"):
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                date = record.rec_headers.get_header("WARC-Date")
                ctype = (record.http_headers.get_header("Content-Type") if record.http_headers else None) or \
                    record.rec_headers.get_header("Content-Type") or ""
                if record.http_headers is not None:
                    status = record.http_headers.get_statuscode()
                    if status and not status.startswith("2"):
                        continue
                stream = record.content_stream()
                data = stream.read(max_bytes + 1)
                offset = it.get_record_offset()
                if not _is_image(ctype, data[:32]):
                    continue
                item = SuspectItem(kind="warc", source=uri or f"{path}@{offset}", page_url=None,
                                   location={"warc": str(path), "warc_offset": offset, "content_type": ctype,
                                             "warc_record_id": record.rec_headers.get_header("WARC-Record-ID")})
                try:
                    item.captured_at = datetime.fromisoformat(date.replace("Z", "+00:00")) if date else None
                except ValueError:
                    item.location["warc_date"] = date
                # warcio stops quietly at the end of a truncated record; count what is missing.
                while record.raw_stream.read(1 << 16):
                    pass
                missing = int(getattr(record.raw_stream, "limit", 0) or 0)
                if missing > 0:
                    item.error = f"truncated WARC record: {missing:,} bytes missing"
                elif len(data) > max_bytes:
                    item.error = f"record too large: over {max_bytes:,} bytes"
                else:
                    item.data = data
                    it.read_to_end(record)
                    length = it.get_record_length()
                    if length and length <= max_bytes + (1 << 20):
                        raw.seek(offset)
                        item.attachments["warc_record"] = raw.read(length)
                yield item
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            msg = one_line(exc)
            yield SuspectItem(kind="warc", source=str(path), error=f"broken WARC record, rest of archive skipped: {msg}")
        except Exception as exc:  # zlib.error and friends from truncated gzip members
            yield SuspectItem(kind="warc", source=str(path), error=f"broken WARC archive: {type(exc).__name__}: {exc}")
