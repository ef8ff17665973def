"""C2PA soft bindings of sealed files: find a file's manifest again from a copy whose metadata is gone
(migration 0014).

    soft_bindings   one row per (manifest, soft binding): alg + value, the work and file it belongs to, the
                    active manifest's label (urn:c2pa:...) and the SHA-256 of the manifest store's bytes,
                    which live in the object store beside the registered files

A stripped copy still carries the watermark; reading it (keyless, `seal.blindmark.read`) gives the value,
`matches(alg, value)` gives the manifest labels, `manifest(label)` the manifest store's bytes: the two
queries of the C2PA Soft Binding Resolution API (web/api_bindings.py, `inkseal binding`).

Values are compared in one canonical form (standard, padded base64 of the decoded bytes), so a value sent
URL-safe, unpadded or with '+' turned into ' ' by a form encoder finds the same rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from inkseal.errors import InksealError
from inkseal.registry.models import Base, utcnow
from inkseal.registry.store import Registry

# The soft-binding algorithms this registry resolves, with the size of their decoded value in bytes.
# "org.inkseal.blind.v2" is seal.blindmark.ALG (kept as text here: the registry does not import the
# image code; tests/test_h16_bindings.py checks the two agree). The keyed inkseal-wm/1 mark is not here:
# only the creator's key reads it, and the creator needs no resolver to know the work.
ALGORITHMS: dict[str, int] = {"org.inkseal.blind.v2": 8}
MAX_VALUE_CHARS = 200  # the column's size; any supported value is far shorter
MAX_RESULTS = 100


class BadBinding(InksealError):
    """An alg this registry does not resolve, or a value that is not what the alg's values look like."""


class SoftBinding(Base):
    __tablename__ = "soft_bindings"
    __table_args__ = (UniqueConstraint("manifest_label", "alg", "value", name="uq_soft_bindings_manifest_alg_value"),
                      Index("ix_soft_bindings_alg_value", "alg", "value"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alg: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(200))
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("work_files.id", ondelete="CASCADE"), index=True)
    manifest_label: Mapped[str] = mapped_column(String(200))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class BindingMatch:
    manifest_label: str
    work_id: int
    file_id: int
    created_at: datetime

    def as_dict(self) -> dict:
        return {"manifest_label": self.manifest_label, "work_id": self.work_id, "file_id": self.file_id,
                "created_at": self.created_at.isoformat()}


def check_alg(alg: str) -> str:
    if alg not in ALGORITHMS:
        shown = alg[:100].encode("unicode_escape").decode()
        raise BadBinding(f"unknown soft-binding algorithm {shown!r}: this registry resolves "
                         f"{', '.join(sorted(ALGORITHMS))} / 未知的软绑定算法 {shown!r}，本登记库支持："
                         f"{'、'.join(sorted(ALGORITHMS))}")
    return alg


def canonical_value(alg: str, value: str) -> str:
    """`value` as standard padded base64, after checking it decodes to the size `alg`'s values have."""
    size = ALGORITHMS[check_alg(alg)]
    # A space is a '+' that a form encoding turned into a space (so only other whitespace is trimmed).
    text = (value or "").replace(" ", "+").strip("\t\r\n")
    if len(text) > MAX_VALUE_CHARS:
        raise BadBinding(f"the value is {len(text)} characters long, more than any {alg} value / 值过长")
    text = text.replace("-", "+").replace("_", "/")  # URL-safe alphabet
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadBinding("the value is not base64 / 值不是 base64 编码") from None
    if len(raw) != size:
        raise BadBinding(f"the value decodes to {len(raw)} bytes; {alg} values are {size} bytes / "
                         f"值解码为 {len(raw)} 字节，该算法的值应为 {size} 字节")
    return base64.b64encode(raw).decode()


class SoftBindings:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def add(self, alg: str, value: str, work_id: int, file_id: int, manifest_label: str,
            manifest_bytes: bytes) -> None:
        """Record that the manifest `manifest_label` (its store's bytes given) binds `value` under `alg`.
        The same binding of the same manifest again changes nothing."""
        value = canonical_value(alg, value)
        if not manifest_label or len(manifest_label) > 200 or any(ord(c) < 32 for c in manifest_label):
            raise BadBinding("a manifest label of 1 to 200 printable characters is needed / "
                             "清单标签须为 1 至 200 个可打印字符")
        sha256 = self.registry.objects.put(manifest_bytes)  # before the row: a row never points at missing bytes

        def attempt() -> None:
            with self.registry.writing("bindings") as s:
                insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
                s.execute(insert(SoftBinding).values(
                    alg=alg, value=value, work_id=work_id, file_id=file_id, manifest_label=manifest_label,
                    manifest_sha256=sha256, created_at=utcnow()).on_conflict_do_nothing(
                    index_elements=["manifest_label", "alg", "value"]))
        self.registry.retrying("recording a soft binding", attempt)

    def matches(self, alg: str, value: str, limit: int = MAX_RESULTS) -> list[BindingMatch]:
        """The manifests binding exactly this value, newest first (one per manifest)."""
        value = canonical_value(alg, value)
        q = (select(SoftBinding.manifest_label, SoftBinding.work_id, SoftBinding.file_id, SoftBinding.created_at)
             .where(SoftBinding.alg == alg, SoftBinding.value == value)
             .order_by(SoftBinding.id.desc()).limit(max(1, min(int(limit), MAX_RESULTS))))
        with self.registry.session() as s:
            return [BindingMatch(*row) for row in s.execute(q)]

    def manifest(self, label: str) -> bytes | None:
        """The manifest store's bytes for the manifest `label`, or None when no binding names it."""
        if not label or len(label) > 200 or any(ord(c) < 32 for c in label):
            return None  # no stored label is like that (and PostgreSQL refuses a NUL in a query outright)
        with self.registry.session() as s:
            sha256 = s.scalar(select(SoftBinding.manifest_sha256).where(SoftBinding.manifest_label == label).limit(1))
        if sha256 is None:
            return None
        try:
            data = self.registry.objects.get(sha256)
        except OSError:
            return None  # the row outlived its bytes (a damaged home): as if unknown, never a traceback
        # The object store is content-addressed: bytes that no longer hash to their name are damaged.
        return data if hashlib.sha256(data).hexdigest() == sha256 else None
