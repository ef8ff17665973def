"""inkseal blind v2: a tiled watermark read without the original, after crops, scaling and screenshots.

Why a second mark: inkseal-wm/1 (`watermark.py`) is tied to the sealed frame and to a per-work key, so
without the registered original it reads only the untouched frame, and a reader must try every work's
key. This mark is built for the reader who has neither: a platform, a court expert, a batch audit.

Message (64 bits): the work id (ID_BITS = 28) XOR a keyed mask, then a keyed MAC of the id (MAC_BITS =
36; HMAC-SHA256 under the creator's blind key, one per account or installation, derived from its
watermark master key). Without the key the message is an opaque 64-bit value: anyone can read it and
look it up (it is the C2PA soft-binding value, `ALG`), nobody can tell which work it names or make a
valid one. With the key one read names the work: unmask the id, recompute the MAC. The false-positive
probability is (messages checked) x (keys tried) x 2^-36, whatever the number of works sealed.

Channel: the message is protected by the rate-1/3, constraint-7 convolutional code (generators 133,
171, 165 octal, as in LTE), decoded by soft-decision Viterbi. The 210 coded bits are spread over a tile
of 32 x 32 cells (~4.9 cells each), plus a known pilot on every cell (PILOT_GAIN: 14 % of the energy)
that finds the tile's phase. Layout, signs and pilot are public: reading the opaque value needs no
key, as a soft binding must. The tile repeats over the picture on a canonical grid (long side 512,
cells of 4 canonical px), is upsampled smoothly, weighted by a texture mask and added along one chroma
direction (DIRECTION, ~Cb): measured on Kodak, the host's own chroma interferes far less than its
luminance (the mark read on 8/8 photos cropped to 30 % where luminance read 4/8, at the same PSNR);
JPEG's 4:2:0 chroma halving is why cells must stay >= ~2 px after scaling, and a grayscale copy
keeps nothing (said as the reason, never as "no mark").

Synchronisation without the original:
    1. residual: a difference of Gaussians around the cell size (the host's low frequencies out),
       normalised by local energy; clipped pixels left out;
    2. lattice: the linear autocorrelation of the residual (Wiener-Khinchin via scipy.fft, spectrum
       whitened, JPEG's 8-px grid notched) has peaks on the tile's lattice whatever was cropped; a comb
       over period and tilt along each axis, then over aspect for the other vector, scores bases by the
       peaks on all their lattice points (scale, aspect and small rotation in one), refined on harmonics;
    3. rank: each candidate basis (and its doubles and square completions: a crop may show half the
       period, or one axis only) is folded cheaply and ranked by the known pilot's correlation;
    4. fold: every residual pixel is added into a 64 x 64 tile (2 bins per cell) at its lattice phase;
    5. phase: the pilot's cyclic cross-correlation (one FFT) gives the 4,096 offsets' scores; the best
       CANDIDATES are decoded; with keys, the first message whose MAC holds ends the read, otherwise the
       next lattice is tried, and last the pilot's and the autocorrelation's first lattices rescaled by up
       to +-2 %; a `thorough` read (one picture) also scans upright square periods with the pilot.
Localisation: the named message's pattern is rebuilt at every pixel and correlated with the residual
block by block (half a tile); blocks above 4 standard deviations are where the mark is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from inkseal.seal.blindcode import (CODED_BITS, ID_BITS, MAC_BITS, MSG_BITS, binding_value, conv_encode,  # noqa: F401
                                    identify, message, viterbi)
from inkseal.seal.blindsync import LATTICES_TRIED, MIN_OVERLAP, MIN_PERIOD, candidate_lattices
from inkseal.seal.watermark import aligned_difference

ALG = "org.inkseal.blind.v2"
CANON = 512
CELL = 4
TILE = 32
BINS = 2
TARGET_PSNR = 43.2
WORK_PIXELS = 640 * 640  # suspects larger than this are read at this area (cost flat; cells stay >= ~2 px)
LATTICE_CELLS = (2.5,)  # residual band(s) the lattice is searched in (cell size guesses, px)
CANDIDATES = 8   # decoded offsets per lattice: the false-positive bound counts them
# The message and its code are in blindcode.py, the lattice search in blindsync.py.

# -- layout -----------------------------------------------------------------------------------------


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Public: which coded bit each cell carries (balanced) and its sign."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(b"inkseal blind v2 layout").digest()[:8], "big"))
    bit_of = (rng.permutation(TILE * TILE) % CODED_BITS).reshape(TILE, TILE)
    sign = rng.choice(np.array([-1.0, 1.0]), size=(TILE, TILE))
    pilot = rng.choice(np.array([-1.0, 1.0]), size=(TILE, TILE))
    return bit_of, sign, pilot


BIT_OF, SIGN, PILOT = _layout()
PILOT_GAIN = 0.4  # share of each cell's amplitude spent on the known pilot that finds the tile's phase
# cells x coded-bits matrix: soft bits = cells @ _SPREAD
_SPREAD = np.zeros((TILE * TILE, CODED_BITS))
_SPREAD[np.arange(TILE * TILE), BIT_OF.ravel()] = SIGN.ravel()


def tile(msg: bytes) -> np.ndarray:
    coded = conv_encode(np.unpackbits(np.frombuffer(msg, np.uint8)))
    return (SIGN * (2.0 * coded[BIT_OF] - 1.0) + PILOT_GAIN * PILOT).astype(np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


# The colour direction the mark is added along (unit RGB vector) and the channel the reader projects on.
DIRECTION = np.array([-0.169, -0.331, 0.5]) / np.linalg.norm([-0.169, -0.331, 0.5])


def _channel(rgb: np.ndarray) -> np.ndarray:
    d = DIRECTION / float(DIRECTION @ DIRECTION)
    return (rgb[..., 0] * d[0] + rgb[..., 1] * d[1] + rgb[..., 2] * d[2]).astype(np.float32)


def _texture(y: np.ndarray) -> np.ndarray:
    mean = cv2.blur(y, (9, 9))
    std = np.sqrt(np.maximum(cv2.blur(y * y, (9, 9)) - mean * mean, 0))
    return np.clip(std / 12.0, 0.35, 2.5).astype(np.float32)


def pattern(msg: bytes, h: int, w: int) -> np.ndarray:
    """The mark's field at image size h x w: the tile repeated on the canonical grid, cubic-smoothed."""
    cells_per_px = CANON / max(h, w) / CELL
    xs = ((np.arange(w, dtype=np.float32) + 0.5) * cells_per_px - 0.5) % TILE
    ys = ((np.arange(h, dtype=np.float32) + 0.5) * cells_per_px - 0.5) % TILE
    mx, my = np.meshgrid(xs, ys)
    return cv2.remap(tile(msg), mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_WRAP)


def embed(rgb: np.ndarray, key: bytes, work_id: int, psnr: float = TARGET_PSNR) -> np.ndarray:
    return embed_message(rgb, message(key, work_id), psnr)


def embed_message(rgb: np.ndarray, msg: bytes, psnr: float = TARGET_PSNR) -> np.ndarray:
    return np.clip(np.rint(rgb.astype(np.float32) + mark_field(rgb, msg, psnr)), 0, 255).astype(np.uint8)


def mark_field(rgb: np.ndarray, msg: bytes, psnr: float = TARGET_PSNR) -> np.ndarray:
    """The mark as a float RGB offset (h, w, 3) whose RMS per sample gives `psnr` (before rounding)."""
    h, w = rgb.shape[:2]
    delta = pattern(msg, h, w) * _texture(_luma(rgb))
    target_rms = 255.0 / (10 ** (psnr / 20))  # per RGB sample: the mark's RMS along DIRECTION is sqrt(3) x this
    delta *= np.sqrt(3.0) * target_rms / max(1e-6, float(np.sqrt((delta ** 2).mean())))
    return delta[..., None] * DIRECTION.astype(np.float32)


# -- reading ----------------------------------------------------------------------------------------
@dataclass
class Candidate:
    message: bytes
    sync: float          # sync score of its offset, in standard deviations over all offsets
    agreement: float     # share of coded-bit correlations that agree with the re-encoded message
    offset: tuple[int, int] = (0, 0)  # the tile's phase in fold bins (dy, dx)


@dataclass
class BlindRead:
    candidates: list[Candidate] = field(default_factory=list)
    lattice: tuple[tuple[float, float], tuple[float, float]] | None = None  # tile vectors, suspect px
    scale: float | None = None      # suspect px per sealed px, if the sealed frame's long side is known
    region: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in suspect px where the mark is
    heat: np.ndarray | None = None  # local correlation z-scores, one per block of block_px
    block_px: float | None = None
    reason: str | None = None       # why nothing could be read
    checked: int = 0                # candidate messages checked against keys (the bound counts them)
    named: tuple[str, int, bytes] | None = None  # (key name, work id, message) when a key's MAC held in the read
    work: tuple[np.ndarray, tuple[np.ndarray, np.ndarray], float] | None = field(default=None, repr=False)
    # (residual at the work size, the lattice basis there, work px per suspect px): what `localise` reuses

    @property
    def message(self) -> bytes | None:
        return self.candidates[0].message if self.candidates else None

    @property
    def value(self) -> str | None:
        return binding_value(self.message) if self.message else None

    def as_dict(self) -> dict:
        return {"alg": ALG, "value": self.value, "lattice": self.lattice, "region": self.region,
                "candidates": [{"value": binding_value(c.message), "sync": round(c.sync, 2),
                                "agreement": round(c.agreement, 3)} for c in self.candidates],
                "reason": self.reason}


@dataclass
class Identification:
    work_id: int
    key_name: str
    message: bytes
    false_positive_probability: float


def _residual(y: np.ndarray, cell_px: float, usable: np.ndarray) -> np.ndarray:
    """Band-pass (difference of Gaussians) around the cell size: the host's low frequencies, where
    almost all its energy is, stay out; measured on Kodak it keeps ~2x the mark-to-host correlation
    of a median or Gaussian high-pass."""
    s = max(0.6, cell_px)
    r = cv2.GaussianBlur(y, (0, 0), 0.25 * s) - cv2.GaussianBlur(y, (0, 0), 0.75 * s)
    # Edges and text leave large residuals that are not the mark: normalise by the local energy.
    energy = np.sqrt(cv2.GaussianBlur(r * r, (0, 0), 6) + 1.0)
    r = r / energy
    return np.clip(r, -3, 3) * usable


def _bins(h: int, w: int, basis: tuple[np.ndarray, np.ndarray], step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's phase on the lattice as tile bins (column, row), for a picture of h x w read every
    `step`-th pixel. 16-bit fixed point in 32-bit words: the sums may wrap modulo 2^32 harmlessly, since only
    the bits for the bin within the tile are kept (TILE*BINS is a power of two). Exact to 1/65536 of a bin,
    and ~20x the float version at 640^2 (the arrays stay in cache)."""
    m = np.array([[basis[0][0], basis[1][0]], [basis[0][1], basis[1][1]]]) / step
    inv = np.linalg.inv(m) * (TILE * BINS * 65536)
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)

    def words(v: np.ndarray) -> np.ndarray:
        return (np.rint(v).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)

    alpha = words(inv[0, 1] * ys)[:, None] + words(inv[0, 0] * xs)[None, :]
    beta = words(inv[1, 1] * ys)[:, None] + words(inv[1, 0] * xs)[None, :]
    n = TILE * BINS
    alpha >>= 16
    alpha &= n - 1
    beta >>= 16
    beta &= n - 1
    return alpha.view(np.int32), beta.view(np.int32)


def _fold(r: np.ndarray, basis: tuple[np.ndarray, np.ndarray], step: int = 1) -> np.ndarray:
    """Every residual pixel (every `step`-th in each direction) added into its bin of the tile, by its
    phase on the lattice: (TILE*BINS)^2 bin means."""
    r = r[::step, ::step]
    n = TILE * BINS
    bi, bj = _bins(*r.shape, basis, step)
    bj *= n
    bj += bi
    sums, counts = np.zeros(n * n), np.zeros(n * n)
    # In bands of ~32k pixels: bincount casts its inputs to int64/float64, and casting a whole 640^2
    # picture at once costs 4x the counting itself (fresh pages for every temporary; measured).
    rows = max(1, 32768 // max(1, r.shape[1]))
    for y0 in range(0, r.shape[0], rows):
        idx = bj[y0:y0 + rows].ravel().astype(np.intp)
        sums += np.bincount(idx, weights=r[y0:y0 + rows].ravel().astype(np.float64), minlength=n * n)
        counts += np.bincount(idx, minlength=n * n)
    return (sums / np.maximum(counts, 1)).reshape(n, n)


def _cell_sums(folded: np.ndarray) -> np.ndarray:
    """box[u, v]: the sum of the BINS x BINS bins from (u, v) on, i.e. a cell's value if it starts there."""
    p = np.pad(folded, ((0, BINS - 1), (0, BINS - 1)), mode="wrap")
    n = folded.shape[0]
    return sum(p[dy:dy + n, dx:dx + n] for dy in range(BINS) for dx in range(BINS))


_PILOT_BINS = np.zeros((TILE * BINS, TILE * BINS))
_PILOT_BINS[::BINS, ::BINS] = PILOT
_PILOT_FFT = np.conj(np.fft.fft2(_PILOT_BINS))


def _pilot_scores(folded: np.ndarray) -> np.ndarray:
    """The pilot's correlation at every cyclic offset (dy, dx) in bins, as z-scores: one FFT
    cross-correlation of the cell sums with the known pilot."""
    corr = np.real(np.fft.ifft2(np.fft.fft2(_cell_sums(folded)) * _PILOT_FFT))
    # corr[o] = sum_ij PILOT[i, j] * box[BINS*i + o]; the conj() above makes it a correlation, not a convolution
    return (corr - np.median(corr)) / (corr.std() + 1e-12)


def _decode_fold(folded: np.ndarray) -> list[Candidate]:
    """The CANDIDATES offsets where the pilot correlates best, each decoded (soft Viterbi)."""
    n = TILE * BINS
    box = _cell_sums(folded)
    z = _pilot_scores(folded).ravel()
    top = np.argsort(-z)[:CANDIDATES]
    offs = np.stack([top // n, top % n], 1)
    ci = np.arange(TILE) * BINS
    rows = (ci[None, :, None] + offs[:, 0, None, None]) % n
    cols = (ci[None, None, :] + offs[:, 1, None, None]) % n
    cells = box[rows, cols].reshape(len(top), TILE * TILE)
    amp = (cells @ PILOT.ravel()) / (TILE * TILE)  # the pilot's amplitude per cell at each offset
    payload = cells - amp[:, None] * PILOT.ravel()[None, :]
    soft = payload @ _SPREAD
    msgs = viterbi(soft)
    out = []
    for i, bits in enumerate(msgs):
        coded = 2.0 * conv_encode(bits) - 1.0
        agree = float((np.sign(soft[i]) == coded).mean())
        out.append(Candidate(np.packbits(bits).tobytes(), float(z[top[i]]), agree, (int(offs[i, 0]), int(offs[i, 1]))))
    return out


SCALE_STEPS = (-0.02, -0.01, -0.005, 0.0, 0.005, 0.01, 0.02)


def _first_named(cands: list[Candidate], keys: dict[str, bytes],
                 expect: set[bytes] | None) -> tuple[str, int, bytes] | None:
    """The first candidate whose MAC holds under one of `keys` (key name, work id, message), or that is
    one of the `expect`ed messages (no key: name "", id -1)."""
    for c in cands:
        for name, key in keys.items():
            wid = identify(c.message, key)
            if wid is not None:
                return name, wid, c.message
        if expect and c.message in expect:
            return "", -1, c.message
    return None


def _as_rgb8(img: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """8-bit RGB, or why not: RGBA is put over white (screenshots), 16-bit is scaled down."""
    a = np.asarray(img)
    if a.ndim == 2:
        return None, ("grayscale picture: the blind mark is carried in colour / 灰度图片：盲水印位于色度，无法读取")
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        return None, "not an RGB picture / 不是 RGB 图片"
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif a.dtype != np.uint8:
        return None, "not an 8-bit RGB picture / 不是 8 位 RGB 图片"
    if a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255.0
        a = np.clip(np.rint(a[..., :3] * alpha + 255.0 * (1 - alpha)), 0, 255).astype(np.uint8)
    return a, None


def _cell_px(basis: tuple[np.ndarray, np.ndarray]) -> float:
    return float(np.sqrt(abs(np.linalg.det(np.stack(basis))))) / TILE


def read(rgb: np.ndarray, keys: dict[str, bytes] | None = None, expect: set[bytes] | None = None,
         thorough: bool = False) -> BlindRead:
    """Read the mark without the original. With `keys`, every decoded candidate is checked against
    them as it comes (see `identify_read`): a later lattice is tried when an earlier one names nothing.
    With `expect` (messages, e.g. the soft binding a signed manifest names), the same for an exact match:
    that needs no key at all, so anyone can re-check it. `thorough` (one picture, not a batch): when the
    autocorrelation's lattices name nothing, scan every square period with the pilot too (~0.5 s more)."""
    if expect is not None and keys is None:
        keys = {}
    rgb, why = _as_rgb8(rgb)
    if rgb is None:
        return BlindRead(reason=why)
    h0, w0 = rgb.shape[:2]
    if min(h0, w0) < 48:
        return BlindRead(reason="too small to carry the mark / 图片太小，无法承载水印")
    f = 1.0
    if h0 * w0 > WORK_PIXELS:  # read at a bounded size: cost stays flat, cells stay >= ~2 px
        f = float(np.sqrt(WORK_PIXELS / (h0 * w0)))
        rgb = cv2.resize(rgb, (max(1, round(w0 * f)), max(1, round(h0 * f))), interpolation=cv2.INTER_AREA)
    y = _channel(rgb)
    # Blown highlights and crushed shadows were clipped after marking: they carry nothing.
    lo = cv2.min(cv2.min(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    hi = cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    usable = ((lo > 3) & (hi < 252)).astype(np.float32)
    if float(y.std()) < 0.5:
        if float(_luma(rgb).std()) >= 0.5:
            return BlindRead(reason="no colour: the blind mark is carried in colour and cannot be read from a "
                                    "grayscale copy / 无彩色：盲水印位于色度，无法从灰度副本读取")
        return BlindRead(reason="flat picture: nothing can carry a mark / 画面平坦，不可能带有水印")
    residuals: dict[float, np.ndarray] = {}

    def residual(cell_px: float) -> np.ndarray:
        key = round(max(0.6, cell_px) * 4) / 4
        if key not in residuals:
            residuals[key] = _residual(y, key, usable)
        return residuals[key]

    scored: list[tuple[float, np.ndarray, np.ndarray]] = []
    for cell_guess in LATTICE_CELLS:
        scored += candidate_lattices(residual(cell_guess))
    bases: list[tuple[np.ndarray, np.ndarray]] = []
    for rank, (_score, a, b) in enumerate(sorted(scored, key=lambda q: -q[0])):
        # In a small crop the autocorrelation often sees half the period (more teeth): the doubles are
        # candidates too. The known pilot then ranks them all, far more surely than the autocorrelation.
        # A seal's tile is square: one axis seen well (the other may show a single weak period in a
        # crop) gives the other by a quarter turn. Below the top 3, only the square completions: in a
        # 30 % crop of a large picture each axis shows one period, and the right one can rank 4th.
        square_a, square_b = np.array([b[1], -b[0]]), np.array([-a[1], a[0]])
        variants = ((a, b), (2 * a, b), (a, 2 * b), (2 * a, 2 * b), (a, square_b), (square_a, b)) if rank < 3 \
            else ((a, square_b), (square_a, b))
        for cand in variants:
            if all(np.linalg.norm(cand[0] - q[0]) + np.linalg.norm(cand[1] - q[1]) > 2 for q in bases):
                bases.append(cand)
    step = 2 if y.size > 200_000 else 1
    # ranked on the lattice search's own residual (one band for all: cheap), decoded on each one's own band
    search_r = residual(LATTICE_CELLS[0])

    def pilot_z(basis: tuple[np.ndarray, np.ndarray], every: int = step) -> float:
        """How strongly the known pilot shows when the search residual is folded on `basis` (cheap)."""
        return float(_pilot_scores(_fold(search_r, basis, every)).max())

    ranked = sorted(bases, key=lambda basis: -pilot_z(basis))
    checked = 0

    def decode_at(basis: tuple[np.ndarray, np.ndarray]) -> BlindRead:
        """Fold on `basis`, decode its best offsets; with keys or expected messages, check them now."""
        nonlocal checked
        r = residual(_cell_px(basis))
        cands = sorted(_decode_fold(_fold(r, basis)), key=lambda c: -c.agreement)
        lat = tuple((float(v[0] / f), float(v[1] / f)) for v in basis)
        this = BlindRead(cands, lat, work=(r, basis, f))  # type: ignore[arg-type]
        if keys is not None:
            checked += len(cands)
            this.named = _first_named(cands, keys, expect)
        return this

    def better(this: BlindRead, best: BlindRead | None) -> bool:
        return best is None or this.named is not None or this.candidates[0].agreement > best.candidates[0].agreement

    best: BlindRead | None = None
    for basis in ranked[:LATTICES_TRIED]:
        this = decode_at(basis)
        if better(this, best):
            best = this
        if this.named is not None or (keys is None and this.candidates[0].agreement > 0.9):
            break
    if best is not None and best.named is None and best.candidates[0].agreement < 0.9:
        # The period estimate can be off by a percent or two (a weak, blurred peak): over tens of tiles that
        # is a whole cell. Last try: the lattice the pilot ranks first and the one the autocorrelation ranks
        # first (when the pilot is weak, it is the surer of the two: a 1024² 30 % crop and a x0.5 copy were
        # lost on the pilot's choice alone), each rescaled in small steps and ranked by the pilot again.
        for a, b in ranked[:1] + [q for q in bases[:1] if q is not ranked[0]]:
            near = [(a * (1 + da), b * (1 + db)) for da in SCALE_STEPS for db in SCALE_STEPS if da or db]
            this = decode_at(max(near, key=pilot_z))
            if better(this, best):
                best = this
            if this.named is not None:
                break
    if thorough and keys is not None and (best is None or best.named is None):
        # Small, subsampled copies can leave the autocorrelation too weak to show the lattice while the
        # pilot still finds it: try every upright square period (the common case: crops, scaling, JPEG).
        h, w = y.shape

        def pilot_at(t: float) -> float:
            return pilot_z((np.array([t, 0.0]), np.array([0.0, t])), 2)

        coarse = np.exp(np.arange(np.log(MIN_PERIOD), np.log((1 - MIN_OVERLAP) * max(h, w)), 0.01))
        zs = np.array([pilot_at(t) for t in coarse])
        fine = {float(t * (1 + d)) for t in coarse[np.argsort(-zs)[:5]] for d in np.arange(-0.01, 0.0101, 0.0025)}
        for t in sorted(fine, key=lambda t: -pilot_at(t))[:3]:
            this = decode_at((np.array([t, 0.0]), np.array([0.0, t])))
            if this.named is not None:
                best = this
                break
    if best is None:
        return BlindRead(reason="no tile lattice found / 未找到水印的平铺网格")
    best.checked = checked if keys is not None else len(best.candidates)
    return best


def localise(result: BlindRead, msg: bytes, offset: tuple[int, int]) -> BlindRead:
    """Where the mark with message `msg` is: the expected pattern is rebuilt at every pixel from the
    lattice and phase, and correlated with the residual block by block (blocks of half a tile). A
    block counts when its correlation is > 4 standard deviations of an unmarked block's."""
    if result.work is None:
        return result
    r, basis, f = result.work
    h, w = r.shape
    m = np.stack(basis)
    n = TILE * BINS
    bi, bj = _bins(h, w, basis)
    ci = ((bi - offset[1]) % n) // BINS
    cj = ((bj - offset[0]) % n) // BINS
    expected = tile(msg)[cj, ci].astype(np.float32)
    block = max(8, int(round(np.sqrt(abs(np.linalg.det(m))) / 2)))
    bh, bw = min(block, h), min(block, w)  # a picture smaller than a block is one block
    gh, gw = h // bh, w // bw
    cell_px = np.sqrt(abs(np.linalg.det(m))) / TILE

    def block_sums(a: np.ndarray) -> np.ndarray:  # whole blocks only, as (gh, gw) sums
        return a[:gh * bh, :gw * bw].reshape(gh, bh, gw, bw).sum((1, 3), dtype=np.float64)

    denom = np.sqrt(block_sums(r * r) * block_sums(expected * expected))
    # ~one independent sample per cell: the z of a correlation over k samples is corr * sqrt(k)
    k = max(1.0, bh * bw / max(1.0, cell_px * cell_px))
    heat = np.where(denom > 1e-9, block_sums(r * expected) / np.maximum(denom, 1e-9) * np.sqrt(k), 0.0)
    heat = heat.astype(np.float32)
    hot = np.argwhere(heat > 4.0)
    region = None
    if len(hot):
        (y0, x0), (y1, x1) = hot.min(0), hot.max(0) + 1
        region = (int(x0 * bw / f), int(y0 * bh / f), int(min(w, x1 * bw) / f), int(min(h, y1 * bh) / f))
    result.heat, result.region = heat, region
    result.block_px = block / f
    return result


def find(rgb: np.ndarray, keys: dict[str, bytes], thorough: bool = False) -> tuple[BlindRead, Identification | None]:
    """One read for every work under `keys` (name -> blind key): the work id, and where its mark is."""
    result = read(rgb, keys, thorough=thorough)
    ident = identify_read(result, keys)
    if ident is None and result.reason is None:
        result.reason = ("no mark that any of these keys names / 没有这些密钥可识别的水印" if result.candidates
                         else "no mark found / 未发现水印")
    if ident is not None:
        cand = next(c for c in result.candidates if c.message == ident.message)
        localise(result, ident.message, cand.offset)
    return result, ident


def identify_read(read_result: BlindRead, keys: dict[str, bytes]) -> Identification | None:
    """Try every candidate message under every key; the first whose MAC holds names the work."""
    # The bound counts every message checked (all lattices tried) under every key, not the works:
    # a message either carries a key's MAC or not, whatever the number of ids behind the key.
    tried = max(1, read_result.checked or len(read_result.candidates)) * max(1, len(keys))
    if read_result.named is not None and read_result.named[0] in keys:  # found during the read: not again
        name, wid, msg = read_result.named
        return Identification(wid, name, msg, min(1.0, tried * 2.0 ** -MAC_BITS))
    for cand in read_result.candidates:
        for name, key in keys.items():
            wid = identify(cand.message, key)
            if wid is not None:
                return Identification(wid, name, cand.message, min(1.0, tried * 2.0 ** -MAC_BITS))
    return None


def read_informed(suspect: np.ndarray, reference: np.ndarray, affine: np.ndarray) -> BlindRead:
    """Read the mark with the original: `reference` is the sealed file's pre-mark pixels, `affine` maps the
    suspect onto it (the matcher's). The host is subtracted after a brightness/contrast fit, so what is
    left is the marks; the lattice is the sealed frame's own. Stronger than the blind read wherever the
    copy keeps the chroma (after JPEG's 4:2:0 at a quarter scale it does not: the wm/1 layer reads there)."""
    suspect, why = _as_rgb8(suspect)
    reference, why_ref = _as_rgb8(reference)
    if suspect is None or reference is None:
        return BlindRead(reason=why or why_ref)
    aligned = aligned_difference(_channel(suspect), _channel(reference), affine)
    if aligned is None:
        return BlindRead(reason="the copy overlaps too little of the original / 副本与原图重叠太少")
    diff, valid = aligned
    h, w = reference.shape[:2]
    period = TILE * CELL * max(h, w) / CANON  # the sealed frame's own tile: no lattice to search
    basis = (np.array([period, 0.0]), np.array([0.0, period]))
    residual = (np.clip(diff, -8, 8) * valid).astype(np.float32)  # overlays and text are outliers, not evidence
    cands = sorted(_decode_fold(_fold(residual, basis)), key=lambda c: -c.agreement)
    result = BlindRead(cands, ((period, 0.0), (0.0, period)))
    result.checked = len(cands)
    return result
