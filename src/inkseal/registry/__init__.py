"""The registry keeps authors, works, the files of each work, their fingerprints, scans and matches.

Lifecycle of the data (the database is the single source of truth):

    register FILE ──> objects/<sha256>          (content-addressed copy of the bytes)
                 └──> work_files row ──> fingerprints rows (one per signal and variant)
                                              │
                                              └──> index/<signal>.faiss  (derived; rebuilt or
                                                   re-synced from the fingerprints table at open)
    scan SOURCE ──> suspects row ──> matches row (one sighting) ──> cases row (one per work and place:
                                     re-scans update first/last/times seen; see registry.places)
    case status: new → confirmed → notice_sent → removed / still_online → settled → closed
                 (also ignored, whitelisted; see registry.statuses) ── re-checks ──> case_checks rows
                 whitelisted ──> allowances rows (later scans stay quiet)
    remove WORK ──> rows deleted (cascade) ──> index entries removed; objects kept if shared;
                    its id is never given to another work (SQLite AUTOINCREMENT, PostgreSQL sequence)
"""

from inkseal.registry.store import Registry

__all__ = ["Registry"]
