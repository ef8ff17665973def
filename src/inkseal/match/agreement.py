"""Do the pixels agree? The check that separates a copy of *this picture* from another picture of the same subject.

Keypoints alone are fooled by look-alikes: two drawings of one character share a tattoo, a hair clip
or a logo, and a few dozen ORB inliers on that detail verify under one affine although the rest of
the two pictures has nothing in common. A copy - whole, cropped, pasted onto another background,
shown in a page - agrees with the registered file pixel for pixel over the part it shows.

So, after geometric verification, the suspect is warped into the registered file's frame (at a
small working size) and compared there with a local normalised cross-correlation (brightness,
contrast and colour changes do not count; a different drawing does). Only textured pixels count:
flat backgrounds agree between any two drawings on white paper. From the agreement map:

    agree_area   share of the registered file's textured pixels that the suspect shows and that agree
                 (a pasted character keeps its own area even when the background around it changed)
    agree_share  share of the textured overlap that agrees (low when most of what lies under the
                 affine is another picture)
    patch_ncc    correlation over the agreeing pixels taken together, after a global gain/offset fit
    layout       correlation of the two pictures at thumbnail scale over the overlap: the shared
                 composition of a derivative (img2img, same-seed render) even where details differ
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 256
WINDOW = 7  # local NCC window, working pixels (~3 % of the picture's side)
TEXTURE_STD = 5.0  # grey levels; flatter windows carry no evidence either way
LOCAL_NCC = 0.7
LAYOUT_SIDE = 24
FINE_SIDE = 512
FINE_WINDOW = 5
FINE_TEXTURE_STD = 6.0


@dataclass
class Agreement:
    overlap: float  # share of the registered file inside the suspect's frame
    agree_area: float
    agree_share: float
    patch_ncc: float
    layout: float
    fine_ncc: float = 0.0  # median local NCC at full detail over the textured overlap (fine_agreement)
    region_ncc: float = 0.0  # the same over the coarsely agreeing part only

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) if rgb.ndim == 3 else rgb.astype(np.float32)


def warp_into_reference(suspect_rgb: np.ndarray, ref_shape: tuple[int, int], affine: np.ndarray,
                        side: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The suspect in the reference frame at `side` pixels: (warped grey, inside mask, scale, suspect px size).

    The suspect is shrunk first when it is larger than the working frame (warpAffine alone would
    alias); the last value is how many working pixels one suspect pixel spans (detail finer than
    that is gone from the suspect, so the reference is blurred to match by the callers).
    """
    rh, rw = ref_shape
    s = min(1.0, side / max(rh, rw))
    ww, wh = max(1, round(rw * s)), max(1, round(rh * s))
    a = np.diag([s, s, 1.0]) @ np.vstack([affine, [0, 0, 1]])  # suspect pixel -> working pixel
    px = float(np.sqrt(abs(np.linalg.det(a[:2, :2]))))
    sus = _gray(suspect_rgb)
    if px < 0.9:  # the suspect is more detailed than the working frame: pre-shrink it
        h, w = sus.shape
        nw, nh = max(1, round(w * px)), max(1, round(h * px))
        sus = cv2.resize(sus, (nw, nh), interpolation=cv2.INTER_AREA)
        a = a @ np.diag([w / nw, h / nh, 1.0])
    warped = cv2.warpAffine(sus, a[:2], (ww, wh), flags=cv2.INTER_LINEAR, borderValue=0)
    inside = cv2.warpAffine(np.ones_like(sus), a[:2], (ww, wh), flags=cv2.INTER_NEAREST, borderValue=0)
    return warped, inside > 0.5, s, px


def local_ncc(ref: np.ndarray, war: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel NCC over a window, and the reference's local standard deviation."""
    k = (window, window)
    mr, mw = cv2.blur(ref, k), cv2.blur(war, k)
    vr = np.maximum(cv2.blur(ref * ref, k) - mr * mr, 0)
    vw = np.maximum(cv2.blur(war * war, k) - mw * mw, 0)
    cov = cv2.blur(ref * war, k) - mr * mw
    return cov / (np.sqrt(vr * vw) + 1e-3), np.sqrt(vr)


def measure(suspect_rgb: np.ndarray, reference_rgb: np.ndarray, affine: np.ndarray, fine: bool = True) -> Agreement:
    rh, rw = reference_rgb.shape[:2]
    warped, inside, s, px = warp_into_reference(suspect_rgb, (rh, rw), affine, WORK_SIDE)
    wh, ww = warped.shape
    ref = cv2.resize(_gray(reference_rgb), (ww, wh), interpolation=cv2.INTER_AREA)
    ref_b = cv2.GaussianBlur(ref, (0, 0), max(1.0, 0.7 * px))  # as blurred as the suspect's own pixels
    war_b = cv2.GaussianBlur(warped, (0, 0), 1.0)
    # Frame edges and border fill would read as disagreement: look only well inside the frame.
    core = cv2.erode(inside.astype(np.uint8), np.ones((WINDOW + 2, WINDOW + 2), np.uint8)) > 0
    ncc, ref_std = local_ncc(ref_b, war_b)
    textured = ref_std >= TEXTURE_STD
    n_textured = max(1, int(textured.sum()))
    overlap_t = textured & core
    agree = overlap_t & (ncc >= LOCAL_NCC)
    n_agree = int(agree.sum())
    patch_ncc = _corr(ref_b[agree], war_b[agree]) if n_agree >= 20 else 0.0
    layout = 0.0
    if core.sum() >= 0.05 * core.size:
        # Thumbnail-scale correlation over the overlap (the mask-weighted mean of each cell).
        lw, lh = (LAYOUT_SIDE, max(2, round(LAYOUT_SIDE * wh / ww))) if ww >= wh else \
            (max(2, round(LAYOUT_SIDE * ww / wh)), LAYOUT_SIDE)
        m = core.astype(np.float32)
        cover = cv2.resize(m, (lw, lh), interpolation=cv2.INTER_AREA)
        keep = cover > 0.6
        if keep.sum() >= 12:
            r = cv2.resize(ref * m, (lw, lh), interpolation=cv2.INTER_AREA)[keep] / cover[keep]
            w = cv2.resize(warped * m, (lw, lh), interpolation=cv2.INTER_AREA)[keep] / cover[keep]
            layout = _corr(r, w)
    fine_ncc, region_ncc = fine_agreement(suspect_rgb, reference_rgb, affine, agree) \
        if fine and n_agree >= 20 else (0.0, 0.0)
    return Agreement(
        overlap=float(inside.mean()),
        agree_area=n_agree / n_textured,
        agree_share=n_agree / max(1, int(overlap_t.sum())),
        patch_ncc=patch_ncc,
        layout=layout,
        fine_ncc=fine_ncc,
        region_ncc=region_ncc,
    )


def fine_agreement(suspect_rgb: np.ndarray, reference_rgb: np.ndarray, affine: np.ndarray,
                   agree: np.ndarray) -> tuple[float, float]:
    """Median local NCC at the finest detail both pictures hold, over the whole textured overlap.

    A copy agrees at every scale its resolution allows; another photograph of the same label, or
    another drawing of the same character, agrees in outline but not in detail: parallax, lighting
    and the hand differ by a pixel or two, which a 5-pixel window at full detail sees. Measured on
    the hard-negative calibration half: look-alikes <= 0.67; attacked copies >= 0.87 (Kodak and
    calibration-half pictures under every attack family).

    Second value: the same median over only the part that agreed coarsely (`agree`). A region pasted
    onto another background agrees almost perfectly there (>= 0.97 on most pasted characters) while
    the rest of its overlap is foreign; look-alikes reached 0.96 at most."""
    rh, rw = reference_rgb.shape[:2]
    warped, inside, _s, px = warp_into_reference(suspect_rgb, (rh, rw), affine, FINE_SIDE)
    if px > 1.05:  # one suspect pixel spans several working pixels: work at the suspect's own scale
        warped, inside, _s, px = warp_into_reference(suspect_rgb, (rh, rw), affine, max(64, int(FINE_SIDE / px)))
    wh, ww = warped.shape
    ref = cv2.GaussianBlur(cv2.resize(_gray(reference_rgb), (ww, wh), interpolation=cv2.INTER_AREA), (0, 0), 0.8)
    war = cv2.GaussianBlur(warped, (0, 0), 0.8)
    ncc, ref_std = local_ncc(ref, war, FINE_WINDOW)
    core = cv2.erode(inside.astype(np.uint8), np.ones((FINE_WINDOW + 2, FINE_WINDOW + 2), np.uint8)) > 0
    sel = core & (ref_std >= FINE_TEXTURE_STD)
    region = sel & (cv2.resize(agree.astype(np.uint8), (ww, wh), interpolation=cv2.INTER_NEAREST) > 0)
    whole = float(np.median(ncc[sel])) if sel.sum() >= 50 else 0.0
    return whole, float(np.median(ncc[region])) if region.sum() >= 50 else 0.0


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    d = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / d) if d > 1e-6 else 0.0


def frame_affine(suspect_shape: tuple[int, int], ref_shape: tuple[int, int], mirrored: bool = False) -> np.ndarray:
    """The suspect's frame stretched onto the reference's frame: the alignment a derivative keeps."""
    sh, sw = suspect_shape
    rh, rw = ref_shape
    a = np.array([[rw / sw, 0.0, 0.0], [0.0, rh / sh, 0.0]])
    if mirrored:
        a = np.array([[-rw / sw, 0.0, rw - rw / sw], [0.0, rh / sh, 0.0]])
    return a
