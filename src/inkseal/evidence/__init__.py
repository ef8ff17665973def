"""Evidence packs: from a stored match to proof anyone can check offline.

Lifecycle of the data:

    match row + suspect bytes ─┐   the version the copy derives from (Match.file_id): its signature,
    that version's file, ──────┼─> label and watermark  ─> facts, each with a proof level (facts.py):
    this work's journal        │                            verifiable / supported / missing / not applicable
    entries (subset + RFC 9162 ┘                            ─> damages (Art. 54 order) ─> drafts
    inclusion proofs), keys            scale of use: distinct places (cases) of this work on the site (cases.py)
                                        │
                                        ▼
    PACK/ files + evidence.json + report.html/pdf ─> MANIFEST.sha256 ─> MANIFEST.sig (Ed25519) [+ .tsr]
                                        │
    inkseal evidence verify PACK  <─────┘  (no registry, no network: hashes, signature, inclusion proofs,
                                            C2PA, watermark re-decode when the key is included, per fact)

Private by default: never another work's journal entries; the clean original, the pre-watermark pixels
and the watermark key only with --include-originals / --include-watermark-key; --for platform writes a
redacted pack (no journal, no damages, no demand letter).
"""
