"""The creation journal: tamper-evident authorship evidence.

Lifecycle of the data:

    tool output (PNG/JPEG/WebP with parameters)  ──import / watch──┐
    inkseal generate (diffusers, every step hashed) ───────────────┤
    curation (selected, rejected, edited, published) ──────────────┤
                                                                   ▼
    journal_entries  canonical JSON payload -> RFC 9162 leaf -> Ed25519 entry signature
          │ (append-only; seq is the leaf index; never updated, never deleted; assigned under
          │  the registry's "journal" write lock, so several processes may append at once)
          ▼
    journal_checkpoints  signed (size, root) tree heads, optional RFC 3161 timestamp
          │
          ├── journal verify     recompute leaves, roots, proofs, signatures: name the first bad entry
          ├── journal export     one self-contained JSONL bundle, verifiable offline
          └── journal statement  HTML + PDF authorship statement citing the entries
"""

from inkseal.journal.service import Journal

__all__ = ["Journal"]
