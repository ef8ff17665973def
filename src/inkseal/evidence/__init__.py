"""Evidence packs: from a stored match to proof anyone can check offline.

Lifecycle of the data:

    match row + suspect bytes ─┐
    work files, sealed file, ──┼─> facts (Li v. Liu checklist) ─> damages (Art. 54 order) ─> drafts
    journal bundle, keys ──────┘        │
                                        ▼
    PACK/ files + evidence.json + report.html/pdf ─> MANIFEST.sha256 ─> MANIFEST.sig (Ed25519) [+ .tsr]
                                        │
    inkseal evidence verify PACK  <─────┘  (no registry, no network: hashes, signature, journal proofs,
                                            C2PA, watermark re-decode, per fact)
"""
