"""From a suspect image to verdicts: candidates -> geometric verification -> score -> localisation.

    suspect pixels
      ├─ SSCD embedding of the whole image and of each proposed picture region ─┐
      └─ PDQ hash in 8 orientations ───────────────────────────────────────────┤
                                                      FAISS top-k per query ───┴─> candidate files
    for each candidate (best first, at most MAX_VERIFY):
      ORB features of the suspect (or of the region that found it; mirrored on a second try)
      ─> RANSAC affine onto the registered file ─> inliers
    keypoint score = -log10(expected false matches) from the calibrated tails (match/calibration.py)
    pixel agreement of the warped suspect over the overlap (match/agreement.py) -> pixel score
    tier (match/tiers.py): copy (both scores at -log10(max_false_matches), pixels agree at full
    detail, or a pasted region agrees near-perfectly), derivative (same composition, other pixels),
    or nothing; score = the weaker of the two; copies and derivatives are localised (match/localise.py)

One suspect can yield several verdicts (a collage, a page with several works): every candidate
work is verified on its own.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

import cv2
import numpy as np
from sqlalchemy import select

from inkseal.imaging import LoadedImage, load_image
from inkseal.match import tiers
from inkseal.match.agreement import frame_affine, measure
from inkseal.match.calibration import Calibration
from inkseal.match.index import SignalIndex
from inkseal.match.localise import Localisation, localise
from inkseal.match.regions import suspect_proposals
from inkseal.match.verify import Verification, mirror_affine, verify
from inkseal.registry.models import WorkFile
from inkseal.registry.store import Registry
from inkseal.signals.orb import LocalFeatures, ORBSignal
from inkseal.signals.pdq import PDQSignal
from inkseal.signals.sscd import SSCDSignal

TOP_K = 10
MAX_VERIFY = 6
COS_FLOOR = 0.08  # below this SSCD says "unrelated"; such candidates are verified only on a PDQ hit
DECISIVE_INLIERS = 40  # far above anything unrelated images reached in calibration (max 15)
CLEAN_RATIO = 0.6  # inliers / putative matches of a clean verification (true copies: 0.84-0.91)
SECOND_WORK_COSINE = 0.3  # once one work is certain, weaker candidates are not worth verifying
PDQ_CANDIDATE = 64  # loose Hamming radius for proposing candidates (matching uses geometry)

Box = tuple[int, int, int, int]


@dataclass
class Candidate:
    file_id: int
    work_id: int
    cosine: float = -1.0
    box: Box | None = None  # the suspect region whose embedding found it (None = whole image)
    pdq_distance: int | None = None
    pdq_orientation: str | None = None
    sha256: str = ""  # of the registered file: the key of every per-file cache


@dataclass
class Verdict:
    work_id: int
    file_id: int
    score: float
    is_match: bool
    cosine: float
    inliers: int
    mirrored: bool
    pdq_distance: int | None = None
    affine: list[list[float]] | None = None
    localisation: Localisation | None = None
    extra: dict = field(default_factory=dict)
    tier: str | None = None  # "copy", "derivative" or None (not reported)

    def scores(self) -> dict:
        return {
            "score": round(self.score, 2), "sscd_cosine": round(self.cosine, 4), "inliers": self.inliers,
            "mirrored": self.mirrored, "pdq_distance": self.pdq_distance, "affine": self.affine, **self.extra,
        }


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key, make):  # type: ignore[no-untyped-def]
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class Matcher:
    def __init__(self, registry: Registry, sscd: SSCDSignal, pdq: PDQSignal, orb: ORBSignal,
                 sscd_index: SignalIndex, pdq_index: SignalIndex, calibration: Calibration,
                 max_false_matches: float = 1e-3, max_pixels: int = 64_000_000) -> None:
        self.registry, self.sscd, self.pdq, self.orb = registry, sscd, pdq, orb
        self.sscd_index, self.pdq_index = sscd_index, pdq_index
        self.calibration = calibration
        self.min_score = -math.log10(max_false_matches)
        self.max_pixels = max_pixels
        self._ref_features = _LRU(512)
        self._ref_pixels = _LRU(48)  # decoded registered files for localisation (~1 MB each at 768x512)

    # -- candidates -----------------------------------------------------------------------------
    def candidates(self, rgb: np.ndarray, extra: int = 0) -> list[Candidate]:
        h, w = rgb.shape[:2]
        boxes: list[Box | None] = [None, *suspect_proposals(rgb)]
        found: dict[int, Candidate] = {}
        owners: dict[int, tuple[int, int]] = {}
        if len(self.sscd_index):
            crops = [rgb if b is None else rgb[b[1]:b[3], b[0]:b[2]] for b in boxes]
            queries = np.stack([self.sscd.compute(c) for c in crops])
            sims, ids = self.sscd_index.search(queries, TOP_K + 6 * extra)
            owners.update(self.registry.fingerprint_owners({int(i) for i in ids.ravel() if i >= 0}))
            for qi, box in enumerate(boxes):
                for sim, fid in zip(sims[qi], ids[qi], strict=True):
                    if fid < 0 or int(fid) not in owners:
                        continue
                    file_id, work_id = owners[int(fid)]
                    c = found.setdefault(file_id, Candidate(file_id, work_id))
                    if sim > c.cosine:
                        c.cosine, c.box = float(sim), box
        if len(self.pdq_index):
            variants = self.pdq.compute_dihedral(rgb)
            dists, ids = self.pdq_index.search(np.stack([v for _n, v in variants]), 5)
            hit_ids = {int(i) for i, d in zip(ids.ravel(), dists.ravel(), strict=True) if i >= 0 and d <= PDQ_CANDIDATE}
            pdq_owners = self.registry.fingerprint_owners(hit_ids)
            for (name, _v), drow, irow in zip(variants, dists, ids, strict=True):
                for d, fid in zip(drow, irow, strict=True):
                    if fid < 0 or d > PDQ_CANDIDATE or int(fid) not in pdq_owners:
                        continue
                    file_id, work_id = pdq_owners[int(fid)]
                    c = found.setdefault(file_id, Candidate(file_id, work_id))
                    if c.pdq_distance is None or d < c.pdq_distance:
                        c.pdq_distance, c.pdq_orientation = int(d), name
        ranked = sorted(found.values(), key=lambda c: (c.pdq_distance is None, -c.cosine))
        kept = [c for c in ranked if c.cosine >= COS_FLOOR or c.pdq_distance is not None][:MAX_VERIFY + extra]
        shas = self._file_shas([c.file_id for c in kept])
        for c in kept:
            c.sha256 = shas.get(c.file_id, "")
        return [c for c in kept if c.sha256]  # a file removed since the index was read is no candidate

    def _file_shas(self, file_ids: list[int]) -> dict[int, str]:
        """One query per suspect for what every per-file cache is keyed by (one per lookup cost a third
        of a scan's time)."""
        if not file_ids:
            return {}
        with self.registry.session() as s:
            rows = s.execute(select(WorkFile.id, WorkFile.sha256).where(WorkFile.id.in_(file_ids)))
            return {file_id: sha256 for file_id, sha256 in rows}

    # -- verification ---------------------------------------------------------------------------
    # Caches are keyed by (file id, SHA-256): a cache keyed by id alone would, after a removal whose
    # id is handed out again, verify against the removed picture.
    def _reference(self, c: Candidate) -> LocalFeatures | None:
        def load() -> LocalFeatures | None:
            blob = self.registry.local_features(c.file_id, self.orb, max_pixels=self.max_pixels)
            return self.orb.deserialize(blob) if blob else None

        return self._ref_features.get_or((c.file_id, c.sha256), load)

    def _reference_rgb(self, file_id: int, sha256: str) -> np.ndarray | None:
        """The registered file's pixels; None when its stored bytes are gone (a damaged or partly copied home):
        such a candidate cannot be checked pixel for pixel, so it is never a copy."""
        try:
            return self._ref_pixels.get_or((file_id, sha256), lambda: load_image(
                self.registry.objects.get(sha256), max_pixels=self.max_pixels).rgb)
        except FileNotFoundError:
            return None  # not cached: bytes put back later are read then

    def _reference_pixels(self, file_id: int) -> tuple[np.ndarray | None, dict]:
        # Regions are read afresh: a signed version published since (same size) adds its signature box.
        wf = self.registry.file(file_id)
        regions = dict(wf.regions or {})
        if not regions:  # regions drawn on a sibling file of the same size apply here too
            for sib in self.registry.work(wf.work_id).files:
                if (sib.width, sib.height) == (wf.width, wf.height) and sib.regions:
                    regions.update(sib.regions)
        return self._reference_rgb(file_id, wf.sha256), regions

    def match(self, image: LoadedImage | np.ndarray, *, localise_matches: bool = True,
              keep_non_matches: bool = False, exclude_works: Collection[int] = (),
              only_works: Collection[int] | None = None) -> list[Verdict]:
        """Copies and derivatives of registered works in the image (`tier` says which), best first.

        `exclude_works`: works to leave out, as if not registered (benchmarks query a registered picture
        against the others). `only_works`: the works of one account on a shared installation; the others
        are left out *before* verification, so another account's picture can neither take a candidate's
        place nor be preferred as the source of a copy that is then hidden (the search looks deeper
        instead; an index partitioned by account is the way at platform scale)."""
        rgb = image.rgb if isinstance(image, LoadedImage) else image
        deeper = len(exclude_works) + (MAX_VERIFY if only_works is not None else 0)
        cands = [c for c in self.candidates(rgb, deeper) if c.work_id not in exclude_works
                 and (only_works is None or c.work_id in only_works)][:MAX_VERIFY + len(exclude_works)]
        feats: dict[tuple[Box | None, bool], LocalFeatures] = {}

        def suspect_features(box: Box | None, mirror: bool) -> LocalFeatures:
            key = (box, mirror)
            if key not in feats:
                crop = rgb if box is None else rgb[box[1]:box[3], box[0]:box[2]]
                feats[key] = self.orb.compute(crop[:, ::-1] if mirror else crop)
            return feats[key]

        tries = 0
        raw: list[tuple[Candidate, Verification | None, bool, np.ndarray | None]] = []
        decided: set[int] = set()  # works already verified beyond doubt
        for c in cands:
            if c.work_id in decided:
                continue  # another file of the same work (original / published) adds nothing
            if decided and c.cosine < SECOND_WORK_COSINE and c.pdq_distance is None:
                continue  # a second work in the same suspect must look like one (collage regions do)
            ref = self._reference(c)
            best: tuple[Verification | None, bool, np.ndarray | None] = (None, False, None)
            if ref is not None:
                for box in dict.fromkeys([c.box, None]):  # the region that found it, then the whole image
                    # Both orientations, always: symmetric pictures (facades, faces) verify both ways
                    # and only the count of inliers tells which one is the copy.
                    for mirror in (False, True):
                        if mirror and best[0] is not None and best[0].inliers >= 2 * DECISIVE_INLIERS \
                                and best[0].inliers >= CLEAN_RATIO * best[0].putative:
                            break  # a wrong orientation never verifies this cleanly (benchmarks: <= 43, ratio <= 0.4)
                        sf = suspect_features(box, mirror)
                        tries += 1
                        v = verify(sf, ref)
                        if v is None or (best[0] is not None and v.inliers <= best[0].inliers):
                            continue
                        a = mirror_affine(v.affine, sf.width) if mirror else v.affine
                        if box is not None:  # crop coordinates -> suspect coordinates
                            a = a @ np.array([[1, 0, -box[0]], [0, 1, -box[1]], [0, 0, 1.0]])
                        best = (v, mirror, a)
                    if best[0] is not None and best[0].inliers >= DECISIVE_INLIERS:
                        break  # decisive already; skip the other region
            raw.append((c, *best))
            if best[0] is not None and best[0].inliers >= DECISIVE_INLIERS:
                decided.add(c.work_id)

        n_refs = len(self.sscd_index)
        by_work: dict[int, Verdict] = {}
        for c, v, mirror, a in raw:
            inliers = v.inliers if v else 0
            score = self.calibration.score(cosine=c.cosine, n_refs=n_refs, inliers=inliers, n_verified=max(1, tries))
            verdict = Verdict(
                work_id=c.work_id, file_id=c.file_id, score=score, is_match=False,
                cosine=c.cosine, inliers=inliers, mirrored=mirror, pdq_distance=c.pdq_distance,
                affine=None if a is None else [[round(float(x), 5) for x in row] for row in a],
                extra={"region": list(c.box) if c.box else None},
            )
            self._judge(rgb, verdict, v, max(1, tries), c.sha256)
            prev = by_work.get(c.work_id)
            if prev is None or _rank(verdict) > _rank(prev):
                by_work[c.work_id] = verdict
        shas = {c.file_id: c.sha256 for c in cands}
        self._one_source_per_area(rgb.shape[:2], list(by_work.values()), shas)
        verdicts = sorted(by_work.values(), key=lambda v: _rank(v), reverse=True)
        if localise_matches:
            for v in verdicts:
                # Only a verified alignment says what is visible or cut: a derivative found frame to frame
                # has none (its affine is a failed keypoint attempt), so it gets no localisation.
                if v.affine is not None and "keypoint_score" in v.extra:
                    ref_rgb, regions = self._reference_pixels(v.file_id)
                    if ref_rgb is not None:
                        v.localisation = localise(rgb, ref_rgb, np.array(v.affine), regions)
        return verdicts if keep_non_matches else [v for v in verdicts if v.tier]

    def _one_source_per_area(self, suspect_shape: tuple[int, int], verdicts: list[Verdict],
                             shas: dict[int, str]) -> None:
        """Where two registered pictures both pass as copies of the same part of the suspect, the one
        its pixels agree with best is the copy; the other is demoted (`explained_by`) unless it agrees
        as well, within SOURCE_TIE (then both stay, each naming the other in `indistinct_from`: at the
        suspect's resolution the two cannot be told apart, and the report says so).

        Burst shots and same-seed twins agree with each other's copies almost as well as the
        original does; a collage shows each work in its own part of the picture, and keeps them all."""
        copies = sorted((v for v in verdicts if v.tier == "copy"), key=_pixel_evidence, reverse=True)
        if len(copies) < 2:
            return
        areas = {v.file_id: _footprint(suspect_shape, v, self._reference_rgb(v.file_id, shas[v.file_id]).shape[:2])  # type: ignore[union-attr]
                 for v in copies}  # a copy's pixels were read: they are there
        kept: list[Verdict] = []
        for v in copies:
            rivals = [k for k in kept if _shared(areas[k.file_id], areas[v.file_id]) >= SAME_AREA]
            best = rivals[0] if rivals else None
            if best is not None and _pixel_evidence(best) - _pixel_evidence(v) > SOURCE_TIE:
                v.tier, v.is_match = None, False
                v.extra["tier"] = None
                v.extra["explained_by"] = {"work_id": best.work_id, "file_id": best.file_id}
                continue
            for k in rivals:
                k.extra.setdefault("indistinct_from", []).append(v.work_id)
                v.extra.setdefault("indistinct_from", []).append(k.work_id)
            kept.append(v)

    # -- the verdict ------------------------------------------------------------------------------
    def _judge(self, rgb: np.ndarray, verdict: Verdict, v: Verification | None, n_verified: int, sha256: str) -> None:
        """Tier a candidate: `copy`, `derivative` or nothing (see match/tiers.py for the rules)."""
        geo = verdict.score >= self.min_score and verdict.affine is not None
        if not geo and verdict.cosine < tiers.DERIVATIVE_COSINE:
            return  # neither verified nor similar enough to be an edit: no pixels need reading
        ref_rgb = self._reference_rgb(verdict.file_id, sha256)
        if ref_rgb is None:
            verdict.extra["unchecked"] = "the registered file's stored bytes are missing / 已登记文件的存储内容缺失"
            return
        agreement = None
        if verdict.affine is not None:
            agreement = measure(rgb, ref_rgb, np.array(verdict.affine))
        framed = None
        if verdict.cosine >= tiers.DERIVATIVE_COSINE:  # an edit keeps the frame: compare frame to frame
            framed = measure(rgb, ref_rgb, frame_affine(rgb.shape[:2], ref_rgb.shape[:2], verdict.mirrored), fine=False)
        keypoint_score = pixel_score = verdict.score
        if agreement is not None and geo:
            # The keypoint score answers "could an unrelated picture do this?"; the pixel score "could a
            # picture that is not a copy - another of the same subject, or an unrelated one - pass the
            # verification and agree this well?" (its tail is fitted on both). Either can be the false
            # match, so the score shown is the weaker of the two.
            pixel_score = self.calibration.pixel_score(agreement=tiers.pixel_statistic(agreement),
                                                       n_verified=n_verified)
            verdict.extra["keypoint_score"] = round(keypoint_score, 2)
            verdict.extra["pixel_score"] = round(pixel_score, 2)
            verdict.score = min(keypoint_score, pixel_score)
            verdict.extra["pixel_margin"] = round(tiers.pixel_margin(agreement), 3)
        tier = tiers.decide(score=keypoint_score, min_score=self.min_score, cosine=verdict.cosine,
                            agreement=agreement if geo else None, framed=framed, pixel_score=pixel_score)
        verdict.tier = tier
        verdict.is_match = tier == "copy"
        if tier == "copy" and pixel_score < self.min_score:
            # Decided by the pasted-region test, whose null is not calibrated: no false-match rate is claimed.
            verdict.extra["copy_by"] = "region"
        verdict.extra["tier"] = tier
        verdict.extra["margin"] = round(verdict.score - self.min_score, 2)
        if agreement is not None:
            verdict.extra["agreement"] = agreement.as_dict()
        if framed is not None:
            verdict.extra["framed_layout"] = round(framed.layout, 4)


SOURCE_TIE = 0.02  # fine agreement within this of the best: not told apart (JPEG noise alone moves it ~0.005)
SAME_AREA = 0.5  # two copies cover the same part of the suspect when they share half the smaller footprint
FOOTPRINT_SIDE = 64


def _pixel_evidence(v: Verdict) -> float:
    return tiers.pixel_evidence(v.extra.get("agreement"))


def _footprint(suspect_shape: tuple[int, int], v: Verdict, ref_shape: tuple[int, int]) -> np.ndarray:
    """The part of the suspect that shows the registered picture, as a small mask."""
    sh, sw = suspect_shape
    k = FOOTPRINT_SIDE / max(sh, sw)
    mask = np.zeros((max(1, round(sh * k)), max(1, round(sw * k))), np.uint8)
    rh, rw = ref_shape
    to_suspect = np.linalg.inv(np.vstack([np.array(v.affine, dtype=np.float64), [0, 0, 1]]))
    corners = np.array([[0, 0, 1], [rw, 0, 1], [rw, rh, 1], [0, rh, 1]], dtype=np.float64) @ to_suspect.T
    cv2.fillConvexPoly(mask, np.round(corners[:, :2] * k).astype(np.int32), 1)
    return mask.astype(bool)


def _shared(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, min(int(a.sum()), int(b.sum())))


def _rank(v: Verdict) -> tuple[int, float, int]:
    return ({"copy": 2, "derivative": 1}.get(v.tier or "", 0), v.score, v.inliers)
