"""The blind mark's message and its channel code (see blindmark.py for the whole design).

Message (64 bits): the work id (ID_BITS) XOR a keyed mask, then the id's keyed MAC (MAC_BITS), both
HMAC-SHA256 under the creator's blind key. Channel: the rate-1/3, constraint-7 convolutional code
(generators 133, 171, 165 octal, as in LTE), decoded by soft-decision Viterbi.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

import numpy as np

MSG_BITS = 64
ID_BITS = 28   # 268 million works per key: far more than one creator or installation registers
MAC_BITS = 36  # what the false-positive bound rests on: 2^-36 per message per key


@functools.lru_cache(maxsize=4096)  # a platform reads against many keys: one HMAC per key, not per candidate
def _mask(key: bytes) -> int:
    digest = hmac.new(key, b"inkseal blind v2 id mask", hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - ID_BITS)


def _mac(key: bytes, work_id: int) -> int:
    digest = hmac.new(key, b"inkseal blind v2 mac" + int(work_id).to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - MAC_BITS)


def message(key: bytes, work_id: int) -> bytes:
    """The 64-bit message: the id XOR a keyed mask (ID_BITS), then the id's keyed MAC (MAC_BITS)."""
    if not 0 <= int(work_id) < 2 ** ID_BITS:
        raise ValueError(f"work id out of range for the blind mark ({ID_BITS} bits)")
    return (((int(work_id) ^ _mask(key)) << MAC_BITS) | _mac(key, work_id)).to_bytes(8, "big")


def identify(msg: bytes, key: bytes) -> int | None:
    """The work id `msg` names under `key`, or None when its MAC does not hold."""
    value = int.from_bytes(msg[:8], "big")
    wid = (value >> MAC_BITS) ^ _mask(key)
    return wid if hmac.compare_digest(_mac(key, wid).to_bytes(5, "big"),
                                      (value & ((1 << MAC_BITS) - 1)).to_bytes(5, "big")) else None


def binding_value(msg: bytes) -> str:
    """The message as the C2PA soft-binding value: standard, padded base64."""
    return base64.b64encode(msg).decode()


# -- convolutional code -----------------------------------------------------------------------------
_K = 7
_GENS = (0o133, 0o171, 0o165)
_STATES = 1 << (_K - 1)
CODED_BITS = (MSG_BITS + _K - 1) * len(_GENS)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


# out[state, u] -> the 3 coded bits for input u from `state` (the previous 6 inputs, newest lowest)
_OUT = np.array([[[_parity(((s << 1) | u) & g) for g in _GENS] for u in (0, 1)] for s in range(_STATES)], np.int8)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    state, out = 0, []
    for u in [*map(int, bits), *([0] * (_K - 1))]:
        out.extend(_OUT[state, u])
        state = ((state << 1) | u) & (_STATES - 1)
    return np.array(out, np.int8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi for a batch: soft (B, CODED_BITS), > 0 meaning 1. Returns (B, MSG_BITS).
    Hand-written (30 lines, vectorised over the batch and the 64 states): the Python codecs on PyPI
    decode one sequence at a time in Python loops, too slow for 8 candidates in a 0.1 s read."""
    b = soft.shape[0]
    steps = soft.shape[1] // 3
    sym = soft.reshape(b, steps, 3)
    signs = 2.0 * _OUT.astype(np.float64) - 1.0                     # (64, 2, 3)
    ns = np.arange(_STATES)
    u = ns & 1
    prev = np.stack([ns >> 1, (ns >> 1) | (1 << (_K - 2))], 1)      # (64, 2) predecessors of each state
    metric = np.full((b, _STATES), -np.inf)
    metric[:, 0] = 0.0
    choice = np.zeros((steps, b, _STATES), np.int8)
    # every step's branch metrics at once: (B, steps, 64 states, 2 predecessors)
    branches = (sym.reshape(b * steps, 3) @ signs[prev, u[:, None]].reshape(-1, 3).T).reshape(b, steps, _STATES, 2)
    for t in range(steps):
        cand = metric[:, prev] + branches[:, t]
        pick = cand[..., 1] > cand[..., 0]
        choice[t] = pick
        metric = np.where(pick, cand[..., 1], cand[..., 0])
    state = np.zeros(b, np.int64)  # the tail drives the encoder back to state 0
    bits = np.zeros((b, steps), np.int8)
    rows = np.arange(b)
    for t in range(steps - 1, -1, -1):
        bits[:, t] = state & 1
        state = prev[state, choice[t, rows, state]]
    return bits[:, :MSG_BITS]


# -- layout -----------------------------------------------------------------------------------------
