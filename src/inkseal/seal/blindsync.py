"""Finding the blind mark's tile lattice in a copy, without the original (see blindmark.py).

The linear autocorrelation of the residual has peaks on the tile's lattice whatever was cropped; a comb
over period and tilt along each axis, then over aspect for the other vector, scores candidate bases by
the peaks on all their lattice points (scale, aspect and small rotation in one), refined on harmonics.
The reader then ranks these candidates by the known pilot (blindmark.read).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.fft  # real-input FFTs on every core: ~5x OpenCV's complex DFT for the autocorrelation

LATTICES_TRIED = 4  # lattices decoded per read (each adds its candidate messages to the bound)


def _autocorrelation(r: np.ndarray) -> np.ndarray:
    """Linear (zero-padded) autocorrelation of the residual as z-scores, centred (lag 0 at the middle).
    A lag's sum runs over the overlap of the picture with its shifted self, so its noise grows with
    sqrt(overlap): dividing by that makes a long lag in a small crop as comparable as a short one."""
    h, w = r.shape
    fh = cv2.getOptimalDFTSize(int(h * (2 - MIN_OVERLAP)) + 1)
    fw = cv2.getOptimalDFTSize(int(w * (2 - MIN_OVERLAP)) + 1)
    padded = np.zeros((fh, fw), np.float32)
    padded[:h, :w] = r - r.mean()
    spec = scipy.fft.rfft2(padded, workers=-1)
    mag = np.abs(spec).astype(np.float32)
    white = mag / (cv2.GaussianBlur(mag, (0, 0), 3) + 1e-6)  # the host's spectral slope stops dominating
    # JPEG's 8 x 8 block grid puts lines in the spectrum at multiples of 1/8 cycle per pixel (peaks
    # every 8 px in the autocorrelation, stronger than the mark after JPEG 50): notch them out.
    for k in range(1, 8):
        row = round(k * fh / 8)
        white[max(0, row - 1):row + 2, :] = 0
    for k in range(1, 5):
        col = round(k * fw / 8)
        white[:, max(0, col - 1):col + 2] = 0
    a = scipy.fft.irfft2(white * white, s=(fh, fw), workers=-1).astype(np.float32)
    my, mx = min(h - 1, fh - h), min(w - 1, fw - w)  # the lags the padding keeps free of wrap-around
    a = np.concatenate([a[-my:], a[:my + 1]], 0) if my else a[:1]
    a = np.concatenate([a[:, -mx:], a[:, :mx + 1]], 1) if mx else a[:, :1]
    ly = (h - np.abs(np.arange(-my, my + 1))).astype(np.float32)
    lx = (w - np.abs(np.arange(-mx, mx + 1))).astype(np.float32)
    a = a / np.sqrt(np.maximum(np.outer(ly, lx), 1.0))
    core = a[my // 2:my + my // 2 + 1:3, mx // 2:mx + mx // 2 + 1:3]  # robust scale: well-overlapped lags
    med = float(np.median(core))
    return ((a - med) / (1.4826 * float(np.median(np.abs(core - med))) + 1e-12)).astype(np.float32)


def _peak_at(a: np.ndarray, c: tuple[int, int], v: np.ndarray, reach: int = 2) -> tuple[np.ndarray, float] | None:
    """The sub-pixel local maximum of `a` near lag v (x, y), searched within +-reach px."""
    h, w = a.shape
    x, y = int(round(c[1] + v[0])), int(round(c[0] + v[1]))
    if not (reach + 1 <= x < w - reach - 1 and reach + 1 <= y < h - reach - 1):
        return None
    win = a[y - reach:y + reach + 1, x - reach:x + reach + 1]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    py, px = y - reach + iy, x - reach + ix
    dx = (a[py, px + 1] - a[py, px - 1]) / (2 * (2 * a[py, px] - a[py, px + 1] - a[py, px - 1]) + 1e-12)
    dy = (a[py + 1, px] - a[py - 1, px]) / (2 * (2 * a[py, px] - a[py + 1, px] - a[py - 1, px]) + 1e-12)
    dx, dy = min(0.5, max(-0.5, float(dx))), min(0.5, max(-0.5, float(dy)))  # scalars: np.clip costs 30x
    return np.array([px - c[1] + dx, py - c[0] + dy]), float(a[py, px])


MIN_PERIOD = 40        # px: a 32-cell tile read at 0.3x of a 512-px picture is 38 px
CORE_RADIUS = 32       # px: lags this short show the residual filter's own lobes, not the tile
MIN_OVERLAP = 0.25     # a lag must leave at least this share of the picture overlapping itself


def _comb(zd: np.ndarray, c: tuple[int, int], teeth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Score of lattice hypotheses: teeth (..., K, 2) lags (x, y); sum of clipped z over the valid teeth
    / sqrt(their number). The fundamental wins: its multiples have fewer teeth, its divisors miss peaks."""
    h, w = zd.shape
    xi = np.clip(np.rint(c[1] + teeth[..., 0]).astype(np.int64), 0, w - 1)
    yi = np.clip(np.rint(c[0] + teeth[..., 1]).astype(np.int64), 0, h - 1)
    valid = valid & (np.hypot(teeth[..., 0], teeth[..., 1]) >= CORE_RADIUS)
    return _teeth_score(zd[yi, xi], valid)


def _teeth_score(vals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Sum of the valid teeth's values / sqrt(their number), over the last axis; -inf with no valid tooth."""
    n = valid.sum(-1)
    return np.where(n > 0, np.where(valid, vals, 0.0).sum(-1) / np.sqrt(np.maximum(n, 1)), -np.inf)


RAY_STEP = 1 / 16  # px between a ray's samples: a tooth's lag is rounded to this along its ray, then to the pixel


def _ray_comb(zd: np.ndarray, c: tuple[int, int], dirs: np.ndarray, periods: np.ndarray, k: np.ndarray,
              lim_x: float, lim_y: float) -> np.ndarray:
    """`_comb` for teeth on rays from the centre (tooth k of period p along unit vector d is the lag k*p*d),
    as (tilt, period) scores: each ray is sampled once, then every period reads its teeth from that short
    profile. The same teeth as building every 2-D tooth (a lag may round to the next pixel where it lies
    within 1/32 px of a half), at a fifth of the cost; on Kodak the best period and tilt were the same."""
    h, w = zd.shape
    with np.errstate(divide="ignore"):
        reach = np.minimum(lim_x / np.abs(dirs[:, 0]), lim_y / np.abs(dirs[:, 1]))  # (T,) the lag stays in view
    d = np.arange(int(np.ceil(reach.max() / RAY_STEP)) + 1) * RAY_STEP
    xi = np.clip(np.rint(c[1] + d[None, :] * dirs[:, 0, None]).astype(np.intp), 0, w - 1)
    yi = np.clip(np.rint(c[0] + d[None, :] * dirs[:, 1, None]).astype(np.intp), 0, h - 1)
    profile = zd[yi, xi]                                          # (T, S)
    dist = periods[:, None] * k[None, :]                          # (P, K)
    sample = np.minimum(np.rint(dist / RAY_STEP).astype(np.intp), len(d) - 1)
    valid = (dist[None] <= reach[:, None, None]) & (dist[None] >= CORE_RADIUS)  # (T, P, K)
    return _teeth_score(profile[:, sample], valid)


def candidate_lattices(r: np.ndarray, max_tilt_deg: float = 8.0) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Candidate tile bases (a ~ +x, b ~ +y), best first: a comb search over period and tilt for a,
    then over aspect for b (teeth on every lattice point, diagonals included), refined on harmonics."""
    z = _autocorrelation(r)
    h, w = r.shape
    c = (z.shape[0] // 2, z.shape[1] // 2)
    # Peaks must stand out of their neighbourhood. The picture's borders put a cross in its spectrum,
    # hence ridges along the lag axes, where the tile's peaks lie: each lag row and column loses its
    # median first. The local baseline is a mean of clipped values, so a peak does not lift its own.
    # (every 4th lag: every 8th lands on JPEG's 8-px block lags and lost 5 of the 6 1024² 30 % crops and a JPEG-50 copy, measured)
    z = z - np.median(z[:, ::4], axis=1, keepdims=True)
    z = z - np.median(z[::4, :], axis=0, keepdims=True)
    # The comb reads each tooth as the best of 3 x 3 lags (for rounding), which lifts noise too: the
    # baseline is taken on that same dilated map, so a tooth on no peak scores ~0 and divisors of the
    # period (half their teeth on nothing) lose to it.
    dil = cv2.dilate(z, np.ones((3, 3), np.uint8))
    baseline = cv2.blur(np.clip(dil, -8.0, 8.0), (21, 21))
    zd = np.clip(dil - baseline, -3.0, 300.0)
    lim_x, lim_y = (1 - MIN_OVERLAP) * w, (1 - MIN_OVERLAP) * h
    periods = np.exp(np.arange(np.log(MIN_PERIOD), np.log(max(MIN_PERIOD + 1, max(lim_x, lim_y))), 0.004))
    tilts = np.radians(np.arange(-max_tilt_deg, max_tilt_deg + 0.1, 1.0))
    k = np.arange(1, 25)
    aspects = np.exp(np.arange(np.log(0.6), np.log(1.7), 0.01))
    half_plane = np.array([(i, j) for j in range(0, 13) for i in range(-12, 13) if j > 0 or i > 0], np.float64)

    def in_view(t: np.ndarray) -> np.ndarray:
        return (np.abs(t[..., 0]) <= lim_x) & (np.abs(t[..., 1]) <= lim_y)

    def axis_picks(dirs: np.ndarray) -> list[np.ndarray]:
        """The 3 best distinct period vectors along `dirs` (one per tilt), by comb over their multiples.
        Both axes are searched: in a crop, one of them may show a single period, the other several."""
        score = _ray_comb(zd, c, dirs, periods, k, lim_x, lim_y).T  # (period, tilt)
        picked: list[np.ndarray] = []
        for flat in np.argsort(-score.ravel())[:200]:
            ti, ai = np.unravel_index(flat, score.shape)
            v = periods[ti] * dirs[ai]
            if all(np.linalg.norm(v - q) > 0.03 * np.linalg.norm(q) for q in picked):
                picked.append(v)
            if len(picked) == 3:
                break
        return picked

    def lattice_teeth(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return half_plane[..., 0, None] * a[..., None, :] + half_plane[..., 1, None] * b[..., None, :]

    def partners(v: np.ndarray, turn: np.ndarray, first: bool) -> list[np.ndarray]:
        """The 2 best second vectors for `v`, along v turned by 90 degrees, over a range of aspects."""
        others = aspects[:, None] * turn[None, :]
        t = lattice_teeth(np.broadcast_to(v, others.shape), others) if first else lattice_teeth(others, np.broadcast_to(v, others.shape))
        score = _comb(zd, c, t, in_view(t))
        return [others[i] for i in np.argsort(-score)[:2]]

    along_x = np.stack([np.cos(tilts), np.sin(tilts)], 1)
    along_y = np.stack([-np.sin(tilts), np.cos(tilts)], 1)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for a in axis_picks(along_x):
        pairs += [(a, b) for b in partners(a, np.array([-a[1], a[0]]), True)]
    for b in axis_picks(along_y):
        pairs += [(a, b) for a in partners(b, np.array([b[1], -b[0]]), False)]
    scored = []
    for a, b in pairs:
        t = lattice_teeth(a, b)
        scored.append((float(_comb(zd, c, t, in_view(t))), a, b))
    scored.sort(key=lambda q: -q[0])
    out: list[tuple[float, np.ndarray, np.ndarray]] = []
    for score, a, b in scored:
        if all(np.linalg.norm(a - q[1]) + np.linalg.norm(b - q[2]) > 2.0 for q in out):
            out.append((score, a, b))
    return [(score, _refine(z, c, a), _refine(z, c, b)) for score, a, b in out[:LATTICES_TRIED + 2]]


def _refine(z: np.ndarray, c: tuple[int, int], v: np.ndarray) -> np.ndarray:
    """Least squares over the harmonics k*v that are still peaks: precision grows with k."""
    num, den = np.zeros(2), 0.0
    for k in range(1, 40):
        p = _peak_at(z, c, v * k, reach=3)
        if p is None:
            break
        if p[1] < 3.0:
            continue
        num += k * p[0]
        den += k * k
        v = num / den
    return v
