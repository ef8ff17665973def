"""The journal as a verifiable log: canonical entries, Merkle leaves, signed checkpoints.

    entry payload  canonical JSON (sorted keys, no spaces, UTF-8) of
                   {"v": 1, "seq": n, "kind": ..., "time": ..., "work_id": ..., "data": {...}}
    leaf           RFC 9162 leaf hash of the payload bytes
    entry sig      Ed25519 over "inkseal-journal-entry/v1\\n<seq>\\n<leaf hex>\\n" - names a tampered entry
    checkpoint     Ed25519 over "inkseal-journal-checkpoint/v1\\n<size>\\n<root hex>\\n<time>\\n<key id>\\n"
    key rotation   an entry of kind "note" whose data is {"key_rotation": {"previous_key_id", "new_key_id",
                   "new_public_key" (PEM), "new_key_signature"}}; the entry is signed by the previous key, and
                   new_key_signature is the new key's Ed25519 signature over
                   "inkseal-journal-key-rotation/v1\\n<previous key id>\\n<new key id>\\n" (proof of possession)

Whose key: the journal is one chain of authority. The first signature (entry or checkpoint) names the
starting key; every later signature must be by the key in force at that point of the log, and the key
changes only at a rotation entry signed by the key it replaces. A verifier that pins a key (one it got
from the author, not from the journal) also requires that key to be in the chain. Without a pin, a valid
journal proves only that whoever holds the starting key wrote all of it in this order - anyone can make a
new key and sign a whole forged journal with it. A pinned checkpoint (size, root, signed by the chain)
detects a journal whose tail was cut off or whose history was rewritten since that checkpoint.

A `Bundle` is the whole journal in one self-contained form (database rows or an exported JSONL
file); `verify_bundle` needs nothing else - no registry, no network - and reports the first bad entry.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from inkseal.journal import merkle
from inkseal.journal.keys import key_id, load_public, verify_signature

FORMAT = "inkseal-journal"
VERSION = 1


class NotCanonical(ValueError):
    """A value canonical JSON cannot carry (NaN, ±Infinity): store it as a string instead."""


def canonical(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8. NaN and ±Infinity are refused by design: JSON has no such numbers,
    and a value that other parsers read differently cannot be signed (importers store them as strings)."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except ValueError as exc:
        if "JSON compliant" in str(exc):
            raise NotCanonical("canonical JSON cannot hold NaN or Infinity; store such a value as a string "
                               "/ 规范 JSON 不能包含 NaN 或无穷大，请以字符串保存") from None
        raise


def rotation_message(previous_kid: str, new_kid: str) -> bytes:
    return f"inkseal-journal-key-rotation/v1\n{previous_kid}\n{new_kid}\n".encode()


def load_checkpoint(text: str) -> CheckpointRecord:
    """A pinned checkpoint: one checkpoint line (`journal checkpoint --save`), or a whole exported journal
    (its largest checkpoint). Raises ValueError when the text holds no checkpoint."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1:
        row = _strict(lines[0], LINE_FIELDS["checkpoint"])
        if row.get("type") != "checkpoint":
            raise ValueError("not a checkpoint line")
        token = row.get("timestamp_token")
        return CheckpointRecord(int(row["size"]), row["root_hash"], row["signed_at"], row["key_id"],
                                row["public_key"], row["signature"],
                                base64.b64decode(token, validate=True) if token else None, row.get("tsa_url"))
    bundle = Bundle.from_jsonl(text if text.endswith("\n") else text + "\n")
    if not bundle.checkpoints:
        raise ValueError("the file holds no checkpoint")
    return max(bundle.checkpoints, key=lambda c: c.size)


def checkpoint_line(c: CheckpointRecord) -> str:
    return canonical({"type": "checkpoint", "size": c.size, "root_hash": c.root_hash, "signed_at": c.signed_at,
                      "key_id": c.key_id, "public_key": c.public_key, "signature": c.signature,
                      "tsa_url": c.tsa_url, "timestamp_token": base64.b64encode(c.timestamp_token).decode()
                      if c.timestamp_token else None}).decode()


def entry_message(seq: int, leaf_hex: str) -> bytes:
    return f"inkseal-journal-entry/v1\n{seq}\n{leaf_hex}\n".encode()


def checkpoint_message(size: int, root_hex: str, signed_at: str, kid: str) -> bytes:
    return f"inkseal-journal-checkpoint/v1\n{size}\n{root_hex}\n{signed_at}\n{kid}\n".encode()


@dataclass
class EntryRecord:
    seq: int
    payload: str
    leaf_hash: str
    key_id: str | None = None
    signature: str | None = None

    def data(self) -> dict:
        return json.loads(self.payload)


@dataclass
class CheckpointRecord:
    size: int
    root_hash: str
    signed_at: str
    key_id: str
    public_key: str
    signature: str
    timestamp_token: bytes | None = None
    tsa_url: str | None = None


@dataclass
class Bundle:
    entries: list[EntryRecord]
    checkpoints: list[CheckpointRecord]
    public_keys: dict[str, str] = field(default_factory=dict)  # key id -> PEM

    def to_jsonl(self) -> str:
        """One canonical JSON object per line: a header, the entries, then the checkpoints."""
        lines = [canonical({"format": FORMAT, "version": VERSION, "public_keys": self.public_keys}).decode()]
        for e in self.entries:
            lines.append(canonical({"type": "entry", "seq": e.seq, "payload": e.payload, "leaf_hash": e.leaf_hash,
                                    "key_id": e.key_id, "signature": e.signature}).decode())
        for c in self.checkpoints:
            lines.append(checkpoint_line(c))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> Bundle:
        """Parse an exported journal; raises ValueError naming the line (and entry) that is unreadable."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        else:
            raise ValueError("journal file does not end with a newline: truncated or altered")
        if not lines:
            raise ValueError("empty journal file")
        try:
            header = _strict(lines[0], HEADER_FIELDS)
        except ValueError as exc:
            raise ValueError(f"line 1 (header) is unreadable: {exc}") from None
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError("line 1 is not an inkseal journal header")
        bundle = cls([], [], dict(header.get("public_keys") or {}))
        for no, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or row.get("type") not in LINE_FIELDS:
                    raise ValueError("unknown record type")
                _strict(line, LINE_FIELDS[row["type"]])
                if row["type"] == "entry":
                    bundle.entries.append(EntryRecord(int(row["seq"]), row["payload"], row["leaf_hash"],
                                                      row.get("key_id"), row.get("signature")))
                elif row["type"] == "checkpoint":
                    token = row.get("timestamp_token")
                    bundle.checkpoints.append(CheckpointRecord(
                        int(row["size"]), row["root_hash"], row["signed_at"], row["key_id"], row["public_key"],
                        row["signature"], base64.b64decode(token, validate=True) if token else None, row.get("tsa_url")))
                else:
                    raise ValueError(f"unknown record type {row['type']!r}")
            except (ValueError, KeyError, TypeError) as exc:
                hint = f" (after entry {bundle.entries[-1].seq})" if bundle.entries else ""
                raise ValueError(f"line {no}{hint} is unreadable: {exc}") from None
        return bundle


HEADER_FIELDS = {"format", "version", "public_keys"}
LINE_FIELDS = {
    "entry": {"type", "seq", "payload", "leaf_hash", "key_id", "signature"},
    "checkpoint": {"type", "size", "root_hash", "signed_at", "key_id", "public_key", "signature", "tsa_url",
                   "timestamp_token"},
}


def _strict(line: str, fields: set[str]) -> dict:
    """Parse a line that must be exactly the canonical form of an object with exactly `fields`:
    any edit, even one that keeps the meaning (spacing, key order, escapes), is a change."""
    row = json.loads(line)
    if not isinstance(row, dict) or set(row) != fields:
        raise ValueError("unexpected or missing fields")
    if canonical(row).decode() != line:
        raise ValueError("not in canonical form")
    return row


@dataclass
class Problem:
    seq: int | None  # the entry concerned, if one
    message: str


@dataclass
class VerifyReport:
    entries: int
    checkpoints: int
    signed_size: int  # entries covered by a valid signed checkpoint
    root_hash: str
    problems: list[Problem] = field(default_factory=list)
    timestamps: list[dict] = field(default_factory=list)
    key_chain: list[str] = field(default_factory=list)  # key ids in force, oldest first (rotations in between)
    pinned_key: str | None = None  # the key id the verifier was told to trust, if any
    pinned_checkpoint: int | None = None  # size of the pinned checkpoint checked against, if any

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def trusted_key(self) -> str | None:
        """The key the journal starts with (the fingerprint to compare with the author's)."""
        return self.key_chain[0] if self.key_chain else None

    @property
    def current_key(self) -> str | None:
        return self.key_chain[-1] if self.key_chain else None

    @property
    def first_bad_entry(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints,
                "signed_size": self.signed_size, "root_hash": self.root_hash,
                "first_bad_entry": self.first_bad_entry, "timestamps": self.timestamps,
                "key_chain": self.key_chain, "trusted_key": self.trusted_key, "pinned_key": self.pinned_key,
                "pinned_checkpoint": self.pinned_checkpoint,
                "problems": [{"entry": p.seq, "message": p.message} for p in self.problems]}


def _b64(s: str | None) -> bytes | None:
    if not s:
        return None
    try:
        return base64.b64decode(s, validate=True)
    except ValueError:
        return None


def _rotation(payload: dict) -> dict | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    rot = data.get("key_rotation") if isinstance(data, dict) and payload.get("kind") == "note" else None
    return rot if isinstance(rot, dict) else None


class _Authority:
    """The key in force while walking the log: set by the first signature, changed only by a rotation
    entry that the key in force signed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.chain: list[str] = []
        self.problems = problems

    def check(self, kid: str | None, seq: int | None, what: str) -> bool:
        if not kid:
            return True
        if not self.chain:
            self.chain.append(kid)
            return True
        if kid != self.chain[-1]:
            self.problems.append(Problem(seq, f"{what} is signed by key {kid[:16]}…, but the key in force is "
                                              f"{self.chain[-1][:16]}… and no rotation signed by it hands over "
                                              "(a key change inside the journal)"))
            return False
        return True


def verify_bundle(bundle: Bundle, timestamp_checker: Any = None, *, pinned_key: str | None = None,
                  pinned_checkpoint: CheckpointRecord | None = None) -> VerifyReport:
    """Check every entry, every checkpoint, the proofs between them, and that one chain of keys signed
    it all (see "Whose key" above); with `pinned_key` (a key id) that key must be in the chain; with
    `pinned_checkpoint`, the journal must still hold that checkpoint's entries, unchanged."""
    problems: list[Problem] = []
    entries = sorted(bundle.entries, key=lambda e: e.seq)
    leaves: list[bytes] = []
    keys = {kid: pem for kid, pem in bundle.public_keys.items()}
    for cp in bundle.checkpoints:
        if keys.setdefault(cp.key_id, cp.public_key) != cp.public_key:
            problems.append(Problem(None, f"checkpoint of size {cp.size} carries a different key than {cp.key_id[:16]}…"))
    for e in entries:  # rotation entries carry both public keys; a key is data - trust comes from the chain
        try:
            rot = _rotation(json.loads(e.payload))
        except ValueError:
            rot = None
        if rot and isinstance(rot.get("previous_key_id"), str) and isinstance(rot.get("previous_public_key"), str):
            keys.setdefault(rot["previous_key_id"], rot["previous_public_key"])
    public = {}
    for kid, pem in keys.items():
        try:
            pk = load_public(pem)
        except Exception:
            problems.append(Problem(None, f"public key {kid[:16]}… is unreadable"))
            continue
        if key_id(pk) != kid:
            problems.append(Problem(None, f"public key does not match its id {kid[:16]}…"))
            continue
        public[kid] = pk

    authority = _Authority(problems)
    checkpoints = sorted(bundle.checkpoints, key=lambda c: c.size)
    cp_keys_at: dict[int, list[CheckpointRecord]] = {}
    for cp in checkpoints:
        cp_keys_at.setdefault(cp.size, []).append(cp)

    def checkpoints_at(size: int) -> None:  # a checkpoint of size n is signed after entry n-1
        for cp in cp_keys_at.get(size, []):
            authority.check(cp.key_id, None, f"checkpoint of size {cp.size}")

    for expected, e in enumerate(entries):
        if e.seq != expected:
            problems.append(Problem(expected, f"entry {expected} is missing (next stored entry is {e.seq})"))
            break
        checkpoints_at(expected)
        raw = e.payload.encode("utf-8")
        leaf = merkle.leaf_hash(raw)
        leaves.append(leaf)
        data: Any = None
        try:
            data = json.loads(e.payload)
            if canonical(data) != raw:
                problems.append(Problem(e.seq, f"entry {e.seq}: payload is not in canonical form (edited)"))
            elif data.get("seq") != e.seq:
                problems.append(Problem(e.seq, f"entry {e.seq}: payload says seq {data.get('seq')}"))
        except ValueError:
            problems.append(Problem(e.seq, f"entry {e.seq}: payload is not valid JSON"))
        if leaf.hex() != e.leaf_hash:
            problems.append(Problem(e.seq, f"entry {e.seq}: content does not match its hash"))
        signed_ok = False
        if e.signature or e.key_id:
            sig, pk = _b64(e.signature), public.get(e.key_id or "")
            if sig is None or pk is None or not verify_signature(pk, sig, entry_message(e.seq, leaf.hex())):
                problems.append(Problem(e.seq, f"entry {e.seq}: author signature is invalid"))
            else:
                signed_ok = authority.check(e.key_id, e.seq, f"entry {e.seq}")
        rot = _rotation(data) if isinstance(data, dict) else None
        if rot is not None:
            _rotate(rot, e, signed_ok, authority, public, problems)
    checkpoints_at(len(leaves))

    signed_size = 0
    previous: CheckpointRecord | None = None
    timestamps = []
    for i, cp in enumerate(checkpoints):
        label = f"checkpoint {i + 1} (size {cp.size})"
        pk = public.get(cp.key_id)
        sig = _b64(cp.signature)
        if pk is None or sig is None or not verify_signature(
                pk, sig, checkpoint_message(cp.size, cp.root_hash, cp.signed_at, cp.key_id)):
            problems.append(Problem(None, f"{label}: signature is invalid"))
            continue
        if cp.size > len(leaves):
            problems.append(Problem(len(leaves), f"{label}: signs {cp.size} entries but only {len(leaves)} are intact"))
            continue
        if merkle.root(leaves[: cp.size]).hex() != cp.root_hash:
            # Which entry? The first in range whose own hash or signature failed, else the range's start.
            start = previous.size if previous else 0
            named = [p.seq for p in problems if p.seq is not None and start <= p.seq < cp.size]
            problems.append(Problem(min(named) if named else start,
                                    f"{label}: root does not match entries {start}..{cp.size - 1}"))
            continue
        if previous is not None:
            proof = merkle.consistency_proof(previous.size, leaves[: cp.size])
            if not merkle.verify_consistency(previous.size, cp.size, bytes.fromhex(previous.root_hash),
                                             bytes.fromhex(cp.root_hash), proof):
                problems.append(Problem(None, f"{label}: not an append-only extension of the previous checkpoint"))
        if cp.timestamp_token and timestamp_checker is not None:
            timestamps.append(timestamp_checker(cp))
        signed_size, previous = cp.size, cp

    if previous is not None:  # every entry under the latest checkpoint proves its inclusion
        r = bytes.fromhex(previous.root_hash)
        for idx in range(previous.size):
            proof = merkle.inclusion_proof(idx, leaves[: previous.size])
            if not merkle.verify_inclusion(idx, previous.size, leaves[idx], proof, r):
                problems.append(Problem(idx, f"entry {idx}: inclusion proof fails"))
                break
    if len(leaves) > signed_size:
        problems_unsigned = [e.seq for e in entries[signed_size:len(leaves)] if not e.signature]
        if problems_unsigned:
            problems.append(Problem(None, f"entries {problems_unsigned[0]}..{problems_unsigned[-1]} are not covered "
                                          "by any signature yet: run `inkseal journal checkpoint`"))
    if pinned_key is not None and pinned_key not in authority.chain:
        signer = ", ".join(k[:16] + "…" for k in authority.chain) or "no key"
        problems.append(Problem(None, f"signed by {signer}, not by the pinned key {pinned_key[:16]}… "
                                      "(a journal signed by someone else)"))
    if pinned_checkpoint is not None:
        _check_pinned_checkpoint(pinned_checkpoint, leaves, authority.chain, problems)
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyReport(len(entries), len(bundle.checkpoints), signed_size, merkle.root(leaves).hex(), problems,
                        timestamps, authority.chain, pinned_key,
                        pinned_checkpoint.size if pinned_checkpoint is not None else None)


def _rotate(rot: dict, e: EntryRecord, signed_ok: bool, authority: _Authority, public: dict,
            problems: list[Problem]) -> None:
    """Apply a key-rotation entry: valid only when the key in force signed it and the new key proves
    possession; then the new key is in force from the next entry on."""
    where = f"entry {e.seq}: key rotation"
    if not signed_ok or not e.key_id or e.key_id != (authority.chain[-1] if authority.chain else None):
        problems.append(Problem(e.seq, f"{where} is not signed by the key in force"))
        return
    try:
        new_pk = load_public(str(rot["new_public_key"]))
        new_kid = key_id(new_pk)
        proof = _b64(str(rot.get("new_key_signature") or ""))
        if rot.get("previous_key_id") != e.key_id or rot.get("new_key_id") != new_kid:
            raise ValueError("names the wrong keys")
        if proof is None or not verify_signature(new_pk, proof, rotation_message(e.key_id, new_kid)):
            raise ValueError("the new key's proof of possession is invalid")
    except Exception as exc:  # noqa: BLE001 - any malformed rotation is a named problem, never a crash
        problems.append(Problem(e.seq, f"{where} is invalid: {exc}"))
        return
    public.setdefault(new_kid, new_pk)
    if new_kid != authority.chain[-1]:
        authority.chain.append(new_kid)


def _pin_is_trusted(pin: CheckpointRecord, chain: list[str], problems: list[Problem]) -> bool:
    """The pinned checkpoint's own signature, by a key of this journal's chain."""
    try:
        pk = load_public(pin.public_key)
        good = key_id(pk) == pin.key_id and verify_signature(
            pk, _b64(pin.signature) or b"", checkpoint_message(pin.size, pin.root_hash, pin.signed_at, pin.key_id))
    except Exception:  # noqa: BLE001 - an unreadable pin is a failed check
        good = False
    if not good:
        problems.append(Problem(None, f"the pinned checkpoint (size {pin.size}) has an invalid signature"))
    elif pin.key_id not in chain:
        problems.append(Problem(None, f"the pinned checkpoint is signed by {pin.key_id[:16]}…, "
                                      "a key this journal's chain does not contain"))
    return good and pin.key_id in chain


def _check_pinned_checkpoint(pin: CheckpointRecord, leaves: list[bytes], chain: list[str],
                             problems: list[Problem]) -> None:
    if not _pin_is_trusted(pin, chain, problems):
        return
    if len(leaves) < pin.size:
        problems.append(Problem(len(leaves), f"the journal holds {len(leaves)} entries but the pinned checkpoint "
                                             f"covers {pin.size}: entries were cut off (truncated journal)"))
    elif merkle.root(leaves[: pin.size]).hex() != pin.root_hash:
        problems.append(Problem(None, f"the journal's first {pin.size} entries differ from the pinned checkpoint "
                                      "(history rewritten)"))


# -- a subset of the journal: one work's entries, each with its RFC 9162 inclusion proof ------------------
#
# An evidence pack must not carry other works' entries (their prompts are the creator's private process).
# The subset holds the chosen entries, the key-rotation entries (no work data; they carry the chain of
# keys), and ONE signed checkpoint; each entry carries its inclusion proof against that checkpoint's root.
# Anyone can check it without the rest of the journal: the payload hashes to the leaf, the leaf's audit
# path leads to the signed root, and the checkpoint signature is by the key in force.

SUBSET_FORMAT = "inkseal-journal-subset"
SUBSET_HEADER_FIELDS = {"format", "version", "public_keys", "tree_size", "checkpoint", "selection"}
SUBSET_ENTRY_FIELDS = {"type", "seq", "payload", "leaf_hash", "key_id", "signature", "inclusion_proof"}


@dataclass
class Subset:
    entries: list[EntryRecord]
    proofs: dict[int, list[str]]  # seq -> audit path (hex), RFC 9162 2.1.3
    checkpoint: CheckpointRecord
    public_keys: dict[str, str]
    selection: str  # what was selected, e.g. "work 3"

    def to_jsonl(self) -> str:
        cp = json.loads(checkpoint_line(self.checkpoint))
        lines = [canonical({"format": SUBSET_FORMAT, "version": VERSION, "public_keys": self.public_keys,
                            "tree_size": self.checkpoint.size, "checkpoint": cp,
                            "selection": self.selection}).decode()]
        for e in self.entries:
            lines.append(canonical({"type": "entry", "seq": e.seq, "payload": e.payload, "leaf_hash": e.leaf_hash,
                                    "key_id": e.key_id, "signature": e.signature,
                                    "inclusion_proof": self.proofs[e.seq]}).decode())
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> Subset:
        lines = text.split("\n")
        if not lines or lines[-1] != "" or len(lines) < 2:
            raise ValueError("journal subset file is empty or does not end with a newline: truncated or altered")
        lines.pop()
        header = _strict(lines[0], SUBSET_HEADER_FIELDS)
        if header.get("format") != SUBSET_FORMAT or header.get("version") != VERSION:
            raise ValueError("line 1 is not an inkseal journal subset header")
        cp_row = header["checkpoint"]
        _strict(canonical(cp_row).decode(), LINE_FIELDS["checkpoint"])
        cp = load_checkpoint(canonical(cp_row).decode())
        if cp.size != header["tree_size"]:
            raise ValueError("the header's tree size is not the checkpoint's")
        entries, proofs = [], {}
        for no, line in enumerate(lines[1:], start=2):
            try:
                row = _strict(line, SUBSET_ENTRY_FIELDS)
                if row["type"] != "entry" or not isinstance(row["inclusion_proof"], list):
                    raise ValueError("not an entry with an inclusion proof")
                entries.append(EntryRecord(int(row["seq"]), row["payload"], row["leaf_hash"], row["key_id"],
                                           row["signature"]))
                proofs[int(row["seq"])] = [str(p) for p in row["inclusion_proof"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"line {no} is unreadable: {exc}") from None
        return cls(entries, proofs, cp, dict(header["public_keys"] or {}), str(header["selection"]))


def is_subset(text: str) -> bool:
    first = text.split("\n", 1)[0]
    try:
        return json.loads(first).get("format") == SUBSET_FORMAT
    except (ValueError, AttributeError):
        return False


def export_subset(bundle: Bundle, seqs: set[int], selection: str) -> Subset:
    """The entries `seqs` (plus key rotations) with inclusion proofs against the latest checkpoint.
    Entries after that checkpoint cannot be proven included: checkpoint the journal first."""
    if not bundle.checkpoints:
        raise ValueError("the journal has no signed checkpoint: run `inkseal journal checkpoint` first")
    cp = max(bundle.checkpoints, key=lambda c: c.size)
    ordered = sorted(bundle.entries, key=lambda e: e.seq)[: cp.size]
    leaves = [bytes.fromhex(e.leaf_hash) for e in ordered]
    chosen = []
    for e in ordered:
        try:
            rotation = _rotation(json.loads(e.payload)) is not None
        except ValueError:
            rotation = False
        if e.seq in seqs or rotation:
            chosen.append(e)
    proofs = {e.seq: [p.hex() for p in merkle.inclusion_proof(e.seq, leaves)] for e in chosen}
    keys = dict(bundle.public_keys)
    keys.setdefault(cp.key_id, cp.public_key)
    return Subset(chosen, proofs, cp, keys, selection)


def verify_subset(sub: Subset, timestamp_checker: Any = None, *, pinned_key: str | None = None,
                  pinned_checkpoint: CheckpointRecord | None = None) -> VerifyReport:
    """Check each entry of a subset (canonical payload, leaf hash, signature by the key in force at its
    place, inclusion proof) and the checkpoint it is proven against (signature, key in force at the end).

    `pinned_checkpoint`: a tree head kept elsewhere. A subset carries no consistency proof, so it is
    checked only where it can be: a pin of the same size must have the same root (else history was
    rewritten), a larger pin means the subset's checkpoint is older; a smaller pin cannot be related to
    it and is not counted as checked."""
    problems: list[Problem] = []
    cp = sub.checkpoint
    keys = dict(sub.public_keys)
    public: dict[str, Any] = {}
    for kid, pem in keys.items():
        try:
            pk = load_public(pem)
            if key_id(pk) == kid:
                public[kid] = pk
        except Exception:  # noqa: BLE001 - an unreadable key signs nothing
            pass
    # The chain of keys: the rotations included in the subset, in order; without any, the checkpoint's key.
    entries = sorted(sub.entries, key=lambda e: e.seq)
    rotations = []
    for e in entries:
        try:
            rot = _rotation(json.loads(e.payload))
        except ValueError:
            rot = None
        if rot:
            rotations.append((e.seq, rot))
    chain = [rotations[0][1].get("previous_key_id")] if rotations else [cp.key_id]
    handover: list[tuple[int, str]] = []  # (seq after which, new key)
    for seq, rot in rotations:
        new_pem = rot.get("new_public_key")
        try:
            new_pk = load_public(str(new_pem))
            proof = _b64(str(rot.get("new_key_signature") or ""))
            ok = (key_id(new_pk) == rot.get("new_key_id") and rot.get("previous_key_id") == chain[-1]
                  and proof is not None and verify_signature(new_pk, proof, rotation_message(chain[-1], key_id(new_pk))))
        except Exception:  # noqa: BLE001 - a malformed rotation is a named problem
            ok = False
        if not ok:
            problems.append(Problem(seq, f"entry {seq}: key rotation is invalid"))
            continue
        public.setdefault(key_id(new_pk), new_pk)
        chain.append(key_id(new_pk))
        handover.append((seq, key_id(new_pk)))

    def key_at(seq: int) -> str:
        kid = chain[0]
        for after, new in handover:
            if seq > after:
                kid = new
        return kid

    root = bytes.fromhex(cp.root_hash)
    seen: set[int] = set()
    for e in entries:
        if e.seq in seen or not 0 <= e.seq < cp.size:
            problems.append(Problem(e.seq, f"entry {e.seq}: repeated, or outside the checkpoint's {cp.size} entries"))
            continue
        seen.add(e.seq)
        raw = e.payload.encode("utf-8")
        leaf = merkle.leaf_hash(raw)
        try:
            data = json.loads(e.payload)
            if canonical(data) != raw or data.get("seq") != e.seq:
                problems.append(Problem(e.seq, f"entry {e.seq}: payload edited (not canonical, or wrong seq)"))
        except (ValueError, AttributeError):
            problems.append(Problem(e.seq, f"entry {e.seq}: payload is not valid JSON"))
        if leaf.hex() != e.leaf_hash:
            problems.append(Problem(e.seq, f"entry {e.seq}: content does not match its hash"))
        if e.signature or e.key_id:
            sig, pk = _b64(e.signature), public.get(e.key_id or "")
            if sig is None or pk is None or not verify_signature(pk, sig, entry_message(e.seq, leaf.hex())):
                problems.append(Problem(e.seq, f"entry {e.seq}: author signature is invalid"))
            elif e.key_id != key_at(e.seq):
                problems.append(Problem(e.seq, f"entry {e.seq}: signed by {str(e.key_id)[:16]}…, not the key in force"))
        try:
            path = [bytes.fromhex(p) for p in sub.proofs.get(e.seq, [])]
        except ValueError:
            path = None
        if path is None or not merkle.verify_inclusion(e.seq, cp.size, leaf, path, root):
            problems.append(Problem(e.seq, f"entry {e.seq}: inclusion proof against the checkpoint fails"))
    pk = public.get(cp.key_id)
    sig = _b64(cp.signature)
    if pk is None or sig is None or not verify_signature(
            pk, sig, checkpoint_message(cp.size, cp.root_hash, cp.signed_at, cp.key_id)):
        problems.append(Problem(None, f"checkpoint (size {cp.size}): signature is invalid"))
    elif cp.key_id != chain[-1]:
        problems.append(Problem(None, f"checkpoint signed by {cp.key_id[:16]}…, not the key in force {str(chain[-1])[:16]}…"))
    if pinned_key is not None and pinned_key not in chain:
        problems.append(Problem(None, f"signed by {', '.join(str(k)[:16] + '…' for k in chain)}, not by the pinned "
                                      f"key {pinned_key[:16]}…"))
    pin_checked = None
    if pinned_checkpoint is not None and _pin_is_trusted(pinned_checkpoint, [str(k) for k in chain], problems):
        if cp.size < pinned_checkpoint.size:
            problems.append(Problem(None, f"the subset's checkpoint ({cp.size} entries) is older than the pinned "
                                          f"one ({pinned_checkpoint.size})"))
        elif cp.size == pinned_checkpoint.size:
            pin_checked = pinned_checkpoint.size
            if cp.root_hash != pinned_checkpoint.root_hash:
                problems.append(Problem(None, f"the checkpoint of {cp.size} entries differs from the pinned one "
                                              "(history rewritten)"))
    timestamps = [timestamp_checker(cp)] if cp.timestamp_token and timestamp_checker is not None else []
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyReport(len(entries), 1, cp.size if not problems else 0, cp.root_hash, problems, timestamps,
                        [str(k) for k in chain], pinned_key, pin_checked)
