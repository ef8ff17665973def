"""The append-only delta log beside an index's base file, and the watermark both are checked by.

A register/publish/remove appends a few records here instead of rewriting the whole base file
(1.2 GB at 100k works). Each record carries its own CRC-32, so a record cut short by a crash (or
any garbage after it) ends the log: everything before it is kept, the rest is dropped and
truncated by the next writer. Losing records is safe: the log is only a cache of the database,
and the watermark comparison at the next sync re-reads whatever the index is missing.

Hand-rolled rather than a library: a fixed-size record with a CRC is a dozen lines, and a
database or LMDB here would be a second store to keep consistent with the first.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"INKSDLT1"
_HEADER = struct.Struct("<8sII16s")  # magic, signal version, vector bytes, generation
_RECORD = struct.Struct("<BqI")  # op, fingerprint id, crc32(op, id, payload)
ADD, REMOVE = 1, 2

# A cheap, order-independent checksum of a set of ids that SQL can compute too: the sum of a
# multiplicative hash of each id modulo a prime (each term < 2**32, so the sum fits in int64).
HASH_MUL, HASH_MOD = 2654435761, 4294967291


@dataclass(frozen=True)
class Watermark:
    """What is indexed, in three numbers: how many ids, the highest, and a checksum of all of them."""

    count: int
    max_id: int
    checksum: int

    @classmethod
    def of_ids(cls, ids: np.ndarray) -> Watermark:
        if len(ids) == 0:
            return cls(0, 0, 0)
        ids = ids.astype(np.int64)
        return cls(len(ids), int(ids.max()), int(((ids * HASH_MUL) % HASH_MOD).sum()))


@dataclass
class DeltaRecords:
    adds: dict[int, bytes]  # id -> vector bytes (the last add of an id wins)
    removes: list[int]
    good_until: int  # file offset after the last good record
    count: int  # records read
    torn: bool = False  # bytes after the last good record (a crashed writer's half record, or garbage)


def header(signal_version: int, vector_bytes: int, generation: str) -> bytes:
    return _HEADER.pack(MAGIC, signal_version, vector_bytes, bytes.fromhex(generation))


def header_size() -> int:
    return _HEADER.size


def header_matches(data: bytes, signal_version: int, vector_bytes: int, generation: str) -> bool:
    return data[: _HEADER.size] == header(signal_version, vector_bytes, generation)


def encode(op: int, fid: int, payload: bytes = b"") -> bytes:
    head = struct.pack("<Bq", op, fid)
    return _RECORD.pack(op, fid, zlib.crc32(head + payload)) + payload


def read_records(path: Path, offset: int, vector_bytes: int) -> DeltaRecords:
    """Records from `offset` on, in order, up to the first torn or corrupt one."""
    out = DeltaRecords({}, [], offset, 0)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return out
    pos = 0
    while pos + _RECORD.size <= len(data):
        op, fid, crc = _RECORD.unpack_from(data, pos)
        size = vector_bytes if op == ADD else 0
        end = pos + _RECORD.size + size
        if op not in (ADD, REMOVE) or end > len(data):
            break
        payload = data[pos + _RECORD.size : end]
        if zlib.crc32(struct.pack("<Bq", op, fid) + payload) != crc:
            break
        if op == ADD:
            out.adds[fid] = payload
        else:
            out.adds.pop(fid, None)
            out.removes.append(fid)
        out.count += 1
        pos = end
    out.good_until = offset + pos
    out.torn = pos < len(data)
    return out
