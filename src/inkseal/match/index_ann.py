"""An approximate candidate search beside the exact index (`index_backend = "faiss-hnsw"`).

The exact flat index stays the store of record (its base + delta lifecycle is unchanged); an HNSW
graph over the same vectors proposes candidates, and every candidate is re-scored exactly against
the flat index's own vector, so a score is never an approximation - only which candidates are
looked at is. Removed ids stay in the graph as tombstones until the next compaction rebuilds it
(HNSW cannot delete); a re-added id is re-scored with its current vector, so stale graph entries
can only propose, never decide. The graph is saved with each generation; a missing or unreadable
graph file is rebuilt from the flat vectors.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

HNSW_M = 32  # links per node: recall ~1 at efSearch >= 2k on SSCD vectors at these sizes
EF_CONSTRUCTION = 80
OVERSAMPLE = 8  # candidates fetched per result wanted, before exact re-ranking
MIN_CANDIDATES = 128


class HnswCandidates:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.graph = self._empty()
        self.tombstones: set[int] = set()

    def _empty(self):  # type: ignore[no-untyped-def]
        hnsw = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = EF_CONSTRUCTION
        return faiss.IndexIDMap(hnsw)

    # -- lifecycle, driven by SignalIndex ----------------------------------------------------------
    def build(self, flat) -> None:  # type: ignore[no-untyped-def]
        """From scratch, from the exact index's vectors (a new generation, or a lost graph file)."""
        self.graph, self.tombstones = self._empty(), set()
        n = int(flat.ntotal)
        if n:
            ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
            for start in range(0, n, 65536):
                stop = min(n, start + 65536)
                self.graph.add_with_ids(flat.index.reconstruct_n(start, stop - start), ids[start:stop])

    def load(self, path: Path, flat) -> None:  # type: ignore[no-untyped-def]
        try:
            graph = faiss.read_index(str(path))
            if graph.d != self.dim:
                raise ValueError("dimension changed")
            self.graph, self.tombstones = graph, set()
        except Exception:
            self.build(flat)  # missing or unreadable: the flat vectors are the truth

    def save(self, path: Path) -> None:
        """Called at compaction, when the graph holds no tombstones (see SignalIndex)."""
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        faiss.write_index(self.graph, str(tmp))
        os.replace(tmp, path)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.graph.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self.tombstones.difference_update(ids.tolist())

    def remove(self, ids: np.ndarray) -> None:
        self.tombstones.update(ids.tolist())

    # -- search --------------------------------------------------------------------------------------
    def search(self, flat, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        """Top-k by exact inner product among the graph's candidates; -1 / -inf where fewer exist."""
        want = max(MIN_CANDIDATES, OVERSAMPLE * k) + len(self.tombstones)
        want = min(want, int(self.graph.ntotal))
        faiss.downcast_index(self.graph.index).hnsw.efSearch = max(2 * want, 64)
        _d, cand = self.graph.search(np.ascontiguousarray(queries, dtype=np.float32), want)
        sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (q, found) in enumerate(zip(queries, cand)):
            uniq = [int(i) for i in dict.fromkeys(found.tolist()) if i >= 0 and i not in self.tombstones]
            vecs, kept = [], []
            for fid in uniq:
                try:
                    vecs.append(flat.reconstruct(fid))  # the exact, current vector of this id
                    kept.append(fid)
                except RuntimeError:
                    continue  # not in the exact index (removed behind the graph's back)
            if not kept:
                continue
            scores = np.stack(vecs) @ q
            order = np.argsort(-scores)[:k]
            sims[row, : len(order)] = scores[order]
            ids[row, : len(order)] = np.asarray(kept, dtype=np.int64)[order]
        return sims, ids
