"""Localisation: which part of the original appears in the suspect, where, and what is missing.

Given the verified affine (suspect -> reference), the suspect is warped into the reference frame
and the two are compared cell by cell (a grid over the reference). Each cell is
    in      - present in the suspect and its content agrees (normalised cross-correlation, so
              brightness, contrast and colour changes do not count as differences);
    cut     - outside the suspect's frame (cropped away);
    covered - inside the frame but the content differs (an overlay, a patch, page background
              where a picture was cropped inside a page, or a painted-over signature).
From the cells come: the visible polygon of the original, the same polygon in suspect
coordinates, the share of the original that is visible, which zones (corners, edges) are gone,
and for every named region of the registered file (e.g. "signature") whether it survived.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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

    # Global intensity fit (suspect ~ g * ref + o) over the overlap, for judging flat cells.
    m = inside > 0.5
    if m.sum() > 50:
        g, o = np.polyfit(ref_b[m], war_b[m], 1)
    else:
        g, o = 1.0, 0.0

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
    flat_ok = (np.abs(mw - (g * mr + o)) < FLAT_TOL) & (ws < FLAT_STD * 2.5)
    ok = np.where(rs < FLAT_STD, flat_ok, ncc > NCC_MATCH)
    states = np.where(frac_in < 0.5, "c", np.where(ok, "i", "v")).astype("<U1")

    inv = np.linalg.inv(a)
    cell_w, cell_h = rw / gx, rh / gy
    pts = []
    for j, i in zip(*np.nonzero(states == "i"), strict=True):
        x0, y0 = i * cell_w, j * cell_h
        pts += [(x0, y0), (x0 + cell_w, y0), (x0, y0 + cell_h), (x0 + cell_w, y0 + cell_h)]
    ref_rect = np.float32([[0, 0], [rw, 0], [rw, rh], [0, rh]])
    frame = _clip(_frame_in_reference(a, suspect_rgb.shape[1], suspect_rgb.shape[0]), ref_rect)
    in_frame = states != "c"
    visible = float((states == "i").mean())
    if pts and in_frame.any() and (states[in_frame] == "i").mean() >= 0.9:
        poly = frame  # a plain crop: the suspect's own frame is the exact boundary
        # exact area of the frame, less the few covered cells inside it
        visible = float(cv2.contourArea(frame)) / (rw * rh) * float((states[in_frame] == "i").mean())
    elif pts:
        # Part of the frame shows something else (page background, a patch): outline what matched.
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
