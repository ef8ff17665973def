"""A compressed candidate index for large registries (`index_backend = "faiss-ivfpq"`).

At 1M works the exact index holds 6M float32 vectors of 512 dims (12.3 GB in RAM). This backend keeps
only product-quantised codes in RAM: FAISS IVF-PQ, 64 bytes of code + an 8-byte id per vector
(~0.45 GB at 6M), so only *which* candidates are looked at is approximate. Every candidate is
re-scored exactly with its full vector, read back from the database (one SQL query per search: the
fingerprint rows of the candidate ids), so a score is never an approximation, and an id whose row is
gone (removed behind the index's back) simply drops out.

The coarse quantiser and the PQ codebooks are trained on a random sample of the database's vectors
when the registry first reaches TRAIN_MIN vectors, and again when it has grown so much that the
number of lists no longer fits (`needs_training`); below TRAIN_MIN the exact flat index is kept
(training on a few thousand vectors makes no sense and exact search is cheap there). SignalIndex
keeps the base + delta lifecycle unchanged: IVF supports add_with_ids and remove_ids.
"""

from __future__ import annotations

import math

import faiss
import numpy as np
from sqlalchemy import select

from inkseal.registry.models import Fingerprint
from inkseal.registry.store import Registry
from inkseal.signals.base import SignalType

TRAIN_MIN = 50_000  # vectors; below this the flat exact index is kept (tests lower it)
TRAIN_SAMPLE_PER_LIST = 40  # k-means wants >= 39 points per list...
TRAIN_SAMPLE_MIN = 256 * 40  # ...and so does each PQ codebook of 256 centroids (tests lower it)
TRAIN_SAMPLE_MAX = 65_536  # bounds training time (minutes on one busy core at 1M) and RAM
TRAIN_ITERATIONS = 10  # k-means iterations (PQ default 25: little gain for 2.5x the time)
MAX_LISTS = 4096  # 6M vectors get 2048 lists of ~3k: NPROBE lists scanned per query stay a few ms
PQ_BYTES = 64  # sub-quantisers of 8 bits: 8 dims each at 512 dims
# Measured at 100k works (600k vectors, 1024 lists; benchmarks/scale_1m.py): recall@16 vs exact of the 24
# Kodak copy queries 0.83 / 0.92 / 0.97 at nprobe 32 / 64 / 128 (x16 candidates; 0.98 at 128 with x32),
# the copied work's own fingerprints and the top-1 found in every case; p50 7-8 ms, mostly the re-rank's
# SQL fetch. At 1M (2048 lists) each list is ~3x longer: 64 keeps the scan within the 20 ms budget.
NPROBE = 64  # lists visited per query
OVERSAMPLE = 16  # candidates re-ranked exactly per result wanted (one SQL query fetches their vectors)
MIN_CANDIDATES = 128


def lists_for(n: int) -> int:
    """Number of inverted lists: a power of two near sqrt(n) (the usual IVF rule), within [16, MAX_LISTS]."""
    return int(min(MAX_LISTS, max(16, 2 ** round(math.log2(max(math.sqrt(max(n, 1)), 1))))))


def is_ivf(index) -> bool:  # type: ignore[no-untyped-def]
    return isinstance(index, faiss.IndexIVF)


def needs_training(index, count: int) -> bool:  # type: ignore[no-untyped-def]
    """True when the registry (`count` vectors) should get a newly trained IVF index: it has reached
    TRAIN_MIN while still flat, or has outgrown the lists it was trained with (twice the lists wanted:
    the registry has grown ~4x since, so retraining costs O(N) amortised)."""
    if count < TRAIN_MIN:
        return False
    return not is_ivf(index) or lists_for(count) >= 2 * index.nlist


def train(registry: Registry, signal: SignalType, count: int, seed: int = 0) -> faiss.IndexIVFPQ:
    """An empty IVF-PQ index trained on a random sample of the database's vectors of `signal`."""
    nlist = lists_for(count)
    ids = np.asarray(registry.fingerprint_ids(signal.name), dtype=np.int64)
    take = min(len(ids), max(TRAIN_SAMPLE_PER_LIST * nlist, TRAIN_SAMPLE_MIN), TRAIN_SAMPLE_MAX)
    chosen = np.sort(np.random.default_rng(seed).choice(ids, size=take, replace=False))
    sample = np.stack([signal.as_index_vector(signal.deserialize(r.data))
                       for r in registry.fingerprints(signal.name, chosen.tolist())]).astype(np.float32)
    quantizer = faiss.IndexFlatIP(signal.dim)
    index = faiss.IndexIVFPQ(quantizer, signal.dim, nlist, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = index.pq.cp.niter = TRAIN_ITERATIONS
    # One thread, as everywhere in inkseal: on the shared 2-core machine two OpenMP threads trained
    # 2.8x slower than one (56 s vs 20 s for 10k vectors), spinning against the other processes.
    index.train(np.ascontiguousarray(sample))
    return index


def ids_of(index: faiss.IndexIVF) -> np.ndarray:
    """Every id stored in the inverted lists (IVF has no id map of its own)."""
    inv = index.invlists
    parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
             for i in range(index.nlist) if inv.list_size(i)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _vectors(registry: Registry, signal: SignalType, ids: list[int]) -> dict[int, np.ndarray]:
    """Full vectors of these fingerprint ids, in one query; ids whose row is gone are absent."""
    if not ids:
        return {}
    with registry.session() as s:
        rows = s.execute(select(Fingerprint.id, Fingerprint.data)
                         .where(Fingerprint.signal == signal.name, Fingerprint.id.in_(ids))).all()
    return {int(i): signal.as_index_vector(signal.deserialize(d)).astype(np.float32) for i, d in rows}


def search(index: faiss.IndexIVF, registry: Registry, signal: SignalType, queries: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by exact inner product among the IVF-PQ candidates; -inf / -1 where fewer exist."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    want = min(int(index.ntotal), max(MIN_CANDIDATES, OVERSAMPLE * k))
    index.nprobe = min(NPROBE, index.nlist)
    _approx, cand = index.search(queries, want)
    vectors = _vectors(registry, signal, sorted({int(i) for i in cand.ravel() if i >= 0}))
    sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (q, found) in enumerate(zip(queries, cand)):
        kept = [i for i in dict.fromkeys(found.tolist()) if i in vectors]
        if not kept:
            continue
        scores = np.stack([vectors[i] for i in kept]) @ q
        order = np.argsort(-scores, kind="stable")[:k]
        sims[row, : len(order)] = scores[order]
        ids[row, : len(order)] = np.asarray(kept, dtype=np.int64)[order]
    return sims, ids
