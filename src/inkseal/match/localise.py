"""Localisation: which part of the original appears in the suspect, where, and what is missing.

Given the verified affine (suspect -> reference), the suspect is warped into the reference frame
and the two are compared cell by cell (a grid over the reference). Each cell is
    in      - present in the suspect and its content agrees (normalised cross-correlation, so
              brightness, contrast and colour changes do not count as differences);
    cut     - not shown: outside the suspect's frame (cropped away), or outside the picture's own
              visible box inside a screenshot or a page (where the app's bars, the caption or the
              page text sit instead);
    covered - inside the visible picture but the content differs over at least two neighbouring
              cells: something lies on top (a caption, a sticker, paint over a signature). A lone
              disagreeing cell is detail lost to resizing, not an overlay.
From the cells come: the visible polygon of the original, the same polygon in suspect
coordinates, the share of the original that is visible, which zones (corners, edges) are gone,
and for every named region of the registered file (e.g. "signature") whether it survived.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inkseal.match.agreement import local_ncc

WORK_SIDE = 512
GRID = 24  # cells along the longer side
NCC_MATCH = 0.45
FLAT_STD = 6.0  # grey levels; below this a cell is judged by its mean instead of its texture
FLAT_TOL = 18.0

ZONES = {
    "top-left": (0, 0), "top": (1, 0), "top-right": (2, 0),
    "left": (0, 1), "center": (1, 1), "right": (2, 1),
    "bottom-left": (0, 2), "bottom": (1, 2), "bottom-right": (2, 2),
}


@dataclass
class Localisation:
    visible_fraction: float
    polygon_in_original: list[list[float]]
    polygon_in_suspect: list[list[float]]
    missing_zones: dict[str, dict[str, float]]  # zone -> {"missing": f, "cut": f, "covered": f}
    cut_sides: dict[str, float]  # side -> share of the original's width/height cut away there
    regions: dict[str, dict[str, object]]  # name -> {"box", "status", "cut", "covered", "present"}
    cell_states: list[str]  # row-major grid codes: i(n) c(ut) v(covered)
    grid: tuple[int, int]

    def as_dict(self) -> dict:
        return {
            "visible_fraction": round(self.visible_fraction, 4),
            "polygon_in_original": self.polygon_in_original,
            "polygon_in_suspect": self.polygon_in_suspect,
            "missing_zones": self.missing_zones,
            "cut_sides": self.cut_sides,
            "regions": self.regions,
            "grid": list(self.grid),
            "cells": "".join(self.cell_states),
        }


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def localise(suspect_rgb: np.ndarray, reference_rgb: np.ndarray, affine: np.ndarray,
             named_regions: dict[str, list[float]] | None = None) -> Localisation:
    rh, rw = reference_rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(rh, rw))
    ww, wh = max(1, round(rw * s)), max(1, round(rh * s))
    ref = cv2.resize(_gray(reference_rgb), (ww, wh), interpolation=cv2.INTER_AREA)
    a = np.vstack([affine, [0, 0, 1]])
    a_small = np.diag([s, s, 1.0]) @ a  # suspect pixel -> working-reference pixel
    sus = _gray(suspect_rgb)
    warped = cv2.warpAffine(sus, a_small[:2], (ww, wh), flags=cv2.INTER_AREA, borderValue=0)
    inside = cv2.warpAffine(np.ones_like(sus), a_small[:2], (ww, wh), flags=cv2.INTER_NEAREST, borderValue=0)
    # Compare at the coarser of the two resolutions: when the suspect was shrunk, its detail is
    # gone, so the reference is blurred to match instead of calling every fine texture "covered".
    ref_px_per_suspect_px = float(np.sqrt(abs(np.linalg.det(a_small[:2, :2]))))
    ref_b = cv2.GaussianBlur(ref, (0, 0), max(1.2, 0.7 * ref_px_per_suspect_px))
    war_b = cv2.GaussianBlur(warped, (0, 0), 1.2)

    m = inside > 0.5

    gx = GRID if ww >= wh else max(4, round(GRID * ww / wh))
    gy = GRID if wh > ww else max(4, round(GRID * wh / ww))
    # Per-cell statistics over the overlap only, vectorised: INTER_AREA down to the grid size
    # averages each cell, and dividing masked sums by the mask's mean restricts them to the overlap.
    def cell_mean(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (gx, gy), interpolation=cv2.INTER_AREA)

    frac_in = cell_mean(inside)
    w_in = np.maximum(frac_in, 1e-6)
    mr, mw = cell_mean(ref_b * inside) / w_in, cell_mean(war_b * inside) / w_in
    vr = np.maximum(cell_mean(ref_b * ref_b * inside) / w_in - mr * mr, 0)
    vw = np.maximum(cell_mean(war_b * war_b * inside) / w_in - mw * mw, 0)
    cov = cell_mean(ref_b * war_b * inside) / w_in - mr * mw
    rs, ws = np.sqrt(vr), np.sqrt(vw)
    ncc = cov / (rs * ws + 1e-6)
    # Intensity fit (suspect ~ g * ref + o) for judging flat cells, over the textured cells that agree:
    # on a screenshot the overlap also holds the page around the picture, which would skew a global fit.
    agreeing = (frac_in >= 0.5) & (rs >= FLAT_STD) & (ncc > NCC_MATCH)
    fit_r, fit_w = (mr[agreeing], mw[agreeing]) if agreeing.sum() >= 6 else (ref_b[m], war_b[m])
    g, o = np.polyfit(fit_r, fit_w, 1) if len(fit_r) > 5 and np.ptp(fit_r) > 1 else (1.0, 0.0)
    flat_ok = (np.abs(mw - (g * mr + o)) < FLAT_TOL) & (ws < FLAT_STD * 2.5)
    ok = np.where(rs < FLAT_STD, flat_ok, ncc > NCC_MATCH)
    states = np.where(frac_in < 0.5, "c", np.where(ok, "i", "v")).astype("<U1")

    # Where does the picture itself end inside the suspect? On a screenshot or a page the frame holds
    # the app's bars, captions and page text around the picture; that part of the original is not
    # shown (cut), not hidden under something (covered). The picture's visible box is found from the
    # pixel agreement at working resolution, so its edges are exact to a few pixels.
    agree_px = _pixel_agreement(ref_b, war_b, m, g, o)
    box = _visible_box(states, agree_px, m)
    cell_w, cell_h = rw / gx, rh / gy
    if box is not None:
        bx0, by0, bx1, by1 = (v / s for v in box)  # working -> reference pixels
        cx = (np.arange(gx) + 0.5) * cell_w
        cy = (np.arange(gy) + 0.5) * cell_h
        in_box = (cy[:, None] >= by0) & (cy[:, None] <= by1) & (cx[None, :] >= bx0) & (cx[None, :] <= bx1)
        states = np.where(in_box, states, "c")
    # A lone disagreeing cell is detail lost to resizing and JPEG, not an overlay: something lying on
    # top (a caption, a sticker, paint over a signature) spans at least two neighbouring cells.
    cov = states == "v"
    pair = np.zeros_like(cov)
    pair[:, 1:] |= cov[:, :-1]
    pair[:, :-1] |= cov[:, 1:]
    pair[1:, :] |= cov[:-1, :]
    pair[:-1, :] |= cov[1:, :]
    states = np.where(cov & ~pair, "i", states)

    inv = np.linalg.inv(a)
    pts = []
    for j, i in zip(*np.nonzero(states == "i"), strict=True):
        x0, y0 = i * cell_w, j * cell_h
        pts += [(x0, y0), (x0 + cell_w, y0), (x0, y0 + cell_h), (x0 + cell_w, y0 + cell_h)]
    ref_rect = np.float32([[0, 0], [rw, 0], [rw, rh], [0, rh]])
    frame = _clip(_frame_in_reference(a, suspect_rgb.shape[1], suspect_rgb.shape[0]), ref_rect)
    if box is not None:
        frame = _clip(frame, np.float32([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]]))
    in_frame = states != "c"
    visible = float((states == "i").mean())
    if pts and in_frame.any() and (states[in_frame] == "i").mean() >= 0.8:
        poly = frame  # the picture's own edges (a crop, a screenshot) are the exact boundary
        # exact area of the frame, less the covered cells inside it
        visible = float(cv2.contourArea(frame)) / (rw * rh) * float((states[in_frame] == "i").mean())
    elif pts:
        # Part of the frame shows something else (a pasted region, a patch): outline what matched.
        poly = _clip(cv2.convexHull(np.float32(pts)).reshape(-1, 2), frame)
    else:
        poly = np.zeros((0, 2), np.float32)
    poly_s = (inv[:2, :2] @ poly.T + inv[:2, 2:3]).T if len(poly) else poly

    zones = {}
    for name, (zx, zy) in ZONES.items():
        block = states[zy * gy // 3:(zy + 1) * gy // 3, zx * gx // 3:(zx + 1) * gx // 3]
        if block.size == 0:
            continue
        cut, cov = float((block == "c").mean()), float((block == "v").mean())
        if cut + cov >= 0.5:
            zones[name] = {"missing": round(cut + cov, 3), "cut": round(cut, 3), "covered": round(cov, 3)}

    regions: dict[str, dict[str, object]] = {}
    for name, box in (named_regions or {}).items():
        if not (isinstance(box, list | tuple) and len(box) == 4):
            continue  # not a box (e.g. the watermark's record)
        x0, y0, x1, y1 = box
        i0, i1 = int(np.floor(x0 / cell_w)), int(np.ceil(x1 / cell_w))
        j0, j1 = int(np.floor(y0 / cell_h)), int(np.ceil(y1 / cell_h))
        block = states[max(0, j0):min(gy, j1), max(0, i0):min(gx, i1)]
        if block.size == 0:
            continue
        cut, cov = float((block == "c").mean()), float((block == "v").mean())
        status = "cut" if cut >= 0.5 else "altered" if cut + cov >= 0.5 else "intact"
        regions[name] = {"box": [round(v, 1) for v in box], "status": status,
                         "cut": round(cut, 3), "covered": round(cov, 3), "present": round(1 - cut - cov, 3)}

    cut_sides: dict[str, float] = {}
    if len(poly):
        x0, y0 = poly.min(axis=0)
        x1, y1 = poly.max(axis=0)
        for side, share in (("left", x0 / rw), ("right", 1 - x1 / rw), ("top", y0 / rh), ("bottom", 1 - y1 / rh)):
            if share >= 0.03:
                cut_sides[side] = round(float(share), 3)

    return Localisation(
        visible_fraction=visible,
        polygon_in_original=[[round(float(x), 1), round(float(y), 1)] for x, y in poly],
        polygon_in_suspect=[[round(float(x), 1), round(float(y), 1)] for x, y in poly_s],
        missing_zones=zones,
        cut_sides=cut_sides,
        regions=regions,
        cell_states=list(states.ravel()),
        grid=(gx, gy),
    )


def _pixel_agreement(ref_b: np.ndarray, war_b: np.ndarray, inside: np.ndarray, g: float, o: float) -> np.ndarray:
    """Per working pixel: does the suspect show this part of the original?"""
    ncc, ref_std = local_ncc(ref_b, war_b, 9)
    flat_ok = np.abs(war_b - (g * ref_b + o)) < FLAT_TOL
    return inside & np.where(ref_std < FLAT_STD, flat_ok, ncc > NCC_MATCH)


def _run(profile: np.ndarray, gap: int) -> tuple[int, int] | None:
    """The longest run of True, bridging gaps of up to `gap` (a caption line, a sticker's edge)."""
    idx = np.flatnonzero(profile)
    if not len(idx):
        return None
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k]) + 1


def _step(profile: np.ndarray, lo: int, hi: int, rising: bool, k: int) -> int:
    """Where in [lo, hi) the profile steps from low to high (rising) or high to low: the picture's edge."""
    best, best_x = -np.inf, (lo + hi) // 2
    n = len(profile)
    for x in range(max(lo, 1), min(hi, n)):
        left = profile[max(0, x - k):x].mean()
        right = profile[x:min(n, x + k)].mean() if x < n else 0.0
        d = (right - left) if rising else (left - right)
        if d > best:
            best, best_x = d, x
    return best_x


def _visible_box(states: np.ndarray, agree: np.ndarray, inside: np.ndarray) -> tuple[float, float, float, float] | None:
    """The rectangle of the original that the suspect shows, in working pixels (None: nothing agrees).

    Coarse: rows and columns of grid cells where most cells in the frame agree (the longest run).
    Fine: each edge is moved, within a cell and a half, to where the pixel agreement steps down -
    inside the picture most pixels agree, beyond its edge (page, app bars, caption) few do."""
    gy, gx = states.shape
    h, w = agree.shape
    ok = states == "i"
    framed = states != "c"
    if ok.sum() < 4:
        return None
    cols = ok.sum(0) / np.maximum(framed.sum(0), 1)
    rows = ok.sum(1) / np.maximum(framed.sum(1), 1)
    cx, cy = _run(cols >= 0.5, 1), _run(rows >= 0.5, 1)
    if cx is None or cy is None:
        return None
    cw, ch = w / gx, h / gy
    x0, x1, y0, y1 = cx[0] * cw, cx[1] * cw, cy[0] * ch, cy[1] * ch
    band_y = agree[int(y0):int(np.ceil(y1))]
    band_x = agree[:, int(x0):int(np.ceil(x1))]
    colp = band_y.mean(0) if band_y.size else np.zeros(w)
    rowp = band_x.mean(1) if band_x.size else np.zeros(h)
    kx, ky = max(2, int(cw / 2)), max(2, int(ch / 2))
    fx0 = _step(colp, int(x0 - 1.5 * cw), int(x0 + 1.5 * cw), True, kx) if cx[0] > 0 else 0
    fx1 = _step(colp, int(x1 - 1.5 * cw), int(x1 + 1.5 * cw), False, kx) if cx[1] < gx else w
    fy0 = _step(rowp, int(y0 - 1.5 * ch), int(y0 + 1.5 * ch), True, ky) if cy[0] > 0 else 0
    fy1 = _step(rowp, int(y1 - 1.5 * ch), int(y1 + 1.5 * ch), False, ky) if cy[1] < gy else h
    if fx1 <= fx0 or fy1 <= fy0:
        return float(x0), float(y0), float(x1), float(y1)
    return float(fx0), float(fy0), float(fx1), float(fy1)


def _frame_in_reference(a: np.ndarray, sw: int, sh: int) -> np.ndarray:
    corners = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    mapped = (a[:2, :2] @ corners.T + a[:2, 2:3]).T
    return cv2.convexHull(mapped.astype(np.float32)).reshape(-1, 2)


def _clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Intersection of two convex polygons."""
    if len(subject) < 3 or len(clip) < 3:
        return np.zeros((0, 2), np.float32)
    area, inter = cv2.intersectConvexConvex(np.float32(subject), np.float32(clip))
    if inter is None or area <= 0:
        return np.zeros((0, 2), np.float32)
    return inter.reshape(-1, 2)
