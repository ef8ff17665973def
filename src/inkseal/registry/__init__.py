"""The registry keeps authors, works, the files of each work, their fingerprints, scans and matches.

Lifecycle of the data (the database is the single source of truth):

    register FILE ──> objects/<sha256>          (content-addressed copy of the bytes)
                 └──> work_files row ──> fingerprints rows (one per signal and variant)
                                              │
                                              └──> index/<signal>.faiss  (derived; rebuilt or
                                                   re-synced from the fingerprints table at open)
    scan SOURCE ──> suspects row ──> matches row (status: new → confirmed | ignored | whitelisted)
                                        whitelisted ──> allowances row (later scans stay quiet)
    remove WORK ──> rows deleted (cascade) ──> index entries removed; objects kept if shared
"""

from inkseal.registry.store import Registry

__all__ = ["Registry"]
