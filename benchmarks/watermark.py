"""Watermark benchmark: what an inkseal seal adds (blind v2 + inkseal-wm/1, `marks.add_marks`) against
invisible-watermark (dwtDct, dwtDctSvd, rivaGan) and blind-watermark, on the same images with the
same attacks. One command:

    .venv/bin/python benchmarks/watermark.py [--images 24] [--large 6] [--quick] [--no-write]

Images: the Kodak photos at native size, plus the first `--large` stretched to 1024x1024 (the embed
and decode time targets). Columns:
    inkseal blind v2          no original, no affine: `blindmark.find` with the creator's blind key;
                              it detects when it names the right work id with a reported
                              false-positive probability <= the FPR (the MAC decides, not a bit count).
    inkseal-wm/1 informed     with the registered original and the attack's own affine.
    peers                     embedded on the clean image at their defaults; the attack's affine is
                              undone for them before decoding (help blind v2 does not get); they
                              detect when their decoded bits beat the binomial threshold at the FPR.
Payload: 64 bits (rivaGan: its fixed 32). Needs `make bench` (invisible-watermark, blind-watermark).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).parent))
from attacks import load_rgb  # noqa: E402
from doc_tables import write_section  # noqa: E402

from inkseal.seal import blindmark, marks  # noqa: E402
from inkseal.seal import watermark as wm  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KEY = b"benchmark watermark key ........"       # per-work inkseal-wm/1 key
BLIND_KEY = b"benchmark blind v2 creator key .."  # the creator's blind v2 key
FPRS = (1e-3, 1e-6)
RANDOM_KEYS = 1000  # keys each unmarked image is read against in the false-detection test
BLIND, INFORMED = "inkseal blind v2", "inkseal informed"
MAC_BITS = getattr(blindmark, "MAC_BITS", 32)  # the blind message's MAC length: the bound rests on it


def threshold(n: int, fpr: float = 1e-6) -> int:
    """Fewest agreeing bits of n that a fair coin reaches with probability <= fpr."""
    for k in range(n + 1):
        if sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n <= fpr:
            return k
    return n + 1


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255 ** 2 / max(1e-9, float(np.mean((a.astype(float) - b.astype(float)) ** 2))))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. SSIM on luminance, 11x11 Gaussian window (sigma 1.5)."""
    x, y = (cv2.cvtColor(i, cv2.COLOR_RGB2GRAY).astype(np.float64) for i in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return float((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))).mean())


def jpeg(a: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB"))


# -- attacks: (suspect, affine suspect -> original) --------------------------------------------
def _scale(y: np.ndarray, fx: float, fy: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = y.shape[:2]
    nw, nh = max(1, round(w * fx)), max(1, round(h * fy))
    interp = cv2.INTER_AREA if fx * fy < 1 else cv2.INTER_CUBIC
    out = jpeg(cv2.resize(y, (nw, nh), interpolation=interp), 90)
    return out, np.array([[w / nw, 0, 0], [0, h / nh, 0]], float)


def _crop(y: np.ndarray, area: float, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    h, w = y.shape[:2]
    s = area ** 0.5
    cw, ch = int(w * s), int(h * s)
    cx, cy = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return jpeg(y[cy:cy + ch, cx:cx + cw], 90), np.array([[1, 0, cx], [0, 1, cy]], float)


def _rotate(y: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = y.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    out = cv2.warpAffine(y, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return jpeg(out, 90), cv2.invertAffineTransform(m)


def _page_screenshot(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = y.shape[:2]
    page = np.full((int(h * 1.6), int(w * 1.4), 3), 246, np.uint8)
    dw, dh = int(w * 0.8), int(h * 0.8)
    x0, y0 = int(w * .3), int(h * .4)
    page[y0:y0 + dh, x0:x0 + dw] = cv2.resize(y, (dw, dh), interpolation=cv2.INTER_AREA)
    cv2.putText(page, "article text around the picture", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
    return jpeg(page, 85), np.array([[w / dw, 0, -x0 * w / dw], [0, h / dh, -y0 * h / dh]], float)


PHONE_W = 1170  # an iPhone 12-15 screenshot's width in px


def phone_screenshot(y: np.ndarray, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """A social app's post as a phone screenshot: status bar, header with avatar and name, the
    picture scaled to the screen width, action icons and comments below; saved as PNG or JPEG 85."""
    h, w = y.shape[:2]
    s = PHONE_W / w
    ph = round(h * s)
    top, below = 300, 520
    shot = np.full((top + ph + below, PHONE_W, 3), 255, np.uint8)
    ink, grey = (20, 20, 20), (140, 140, 140)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(shot, "9:41", (70, 95), font, 2.0, ink, 4, cv2.LINE_AA)                     # status bar
    cv2.rectangle(shot, (1000, 55), (1090, 95), ink, 3)
    cv2.rectangle(shot, (1006, 61), (1070, 89), ink, -1)
    cv2.rectangle(shot, (1092, 68), (1098, 82), ink, -1)
    for i in range(4):
        cv2.rectangle(shot, (860 + i * 22, 95 - 10 * (i + 1)), (874 + i * 22, 95), ink, -1)
    cv2.circle(shot, (95, 225), 55, (200, 120, 60), -1, cv2.LINE_AA)                       # header
    cv2.circle(shot, (95, 225), 58, (230, 60, 120), 4, cv2.LINE_AA)
    cv2.putText(shot, "ink.artist", (175, 215), font, 1.4, ink, 3, cv2.LINE_AA)
    cv2.putText(shot, "Original audio", (175, 262), font, 1.0, grey, 2, cv2.LINE_AA)
    for i in range(3):
        cv2.circle(shot, (1060 + i * 24, 225), 7, ink, -1, cv2.LINE_AA)
    shot[top:top + ph] = cv2.resize(y, (PHONE_W, ph), interpolation=cv2.INTER_LINEAR)
    a = top + ph + 75                                                                        # actions
    cv2.circle(shot, (70, a - 12), 22, ink, 5, cv2.LINE_AA)
    cv2.circle(shot, (106, a - 12), 22, ink, 5, cv2.LINE_AA)
    cv2.fillPoly(shot, [np.array([[48, a], [128, a], [88, a + 42]])], ink, cv2.LINE_AA)
    cv2.circle(shot, (210, a), 36, ink, 5, cv2.LINE_AA)
    cv2.polylines(shot, [np.array([[290, a - 32], [370, a - 10], [300, a + 34]])], True, ink, 5, cv2.LINE_AA)
    cv2.rectangle(shot, (1060, a - 36), (1110, a + 36), ink, 5)
    cv2.putText(shot, "12,408 likes", (40, a + 130), font, 1.3, ink, 3, cv2.LINE_AA)
    cv2.putText(shot, "ink.artist  new piece, all by hand", (40, a + 200), font, 1.2, ink, 2, cv2.LINE_AA)
    cv2.putText(shot, "View all 318 comments", (40, a + 270), font, 1.1, grey, 2, cv2.LINE_AA)
    cv2.putText(shot, "2 hours ago", (40, a + 330), font, 0.9, grey, 2, cv2.LINE_AA)
    if fmt == "jpeg":
        shot = jpeg(shot, 85)
    else:  # PNG is lossless: a round trip through the encoder changes nothing, so none is made
        shot = np.ascontiguousarray(shot)
    return shot, np.array([[1 / s, 0, 0], [0, 1 / s, -top / s]], float)


def attacks(y: np.ndarray, rng: random.Random) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    h, w = y.shape[:2]
    eye = np.array([[1, 0, 0], [0, 1, 0]], float)
    pil = Image.fromarray(y)
    crop50 = _crop(y, 0.5, rng)
    out = {
        "none": (y, eye),
        "crop 50% area (JPEG 90)": crop50,
        "crop 30% area (JPEG 90)": _crop(y, 0.3, rng),
        "signature-corner crop (JPEG 90)": (jpeg(y[: int(h * .8), : int(w * .8)], 90), eye),
        "scale x0.25 (JPEG 90)": _scale(y, 0.25, 0.25),
        "scale x0.5 (JPEG 90)": _scale(y, 0.5, 0.5),
        "scale x2 (JPEG 90)": _scale(y, 2.0, 2.0),
        "aspect: width x1.3 (JPEG 90)": _scale(y, 1.3, 1.0),
        "rotation 3° (reflect, JPEG 90)": _rotate(y, 3.0),
        "rotation 5° (reflect, JPEG 90)": _rotate(y, 5.0),
        "JPEG q50": (jpeg(y, 50), eye),
        "brightness +30%": (np.asarray(ImageEnhance.Brightness(pil).enhance(1.3)), eye),
        "brightness -30%": (np.asarray(ImageEnhance.Brightness(pil).enhance(0.7)), eye),
        "contrast +30%": (np.asarray(ImageEnhance.Contrast(pil).enhance(1.3)), eye),
        "contrast -30%": (np.asarray(ImageEnhance.Contrast(pil).enhance(0.7)), eye),
        "screenshot in page (JPEG 85)": _page_screenshot(y),
        "phone-app screenshot, 1170 px (PNG)": phone_screenshot(y, "png"),
        "phone-app screenshot, 1170 px (JPEG 85)": phone_screenshot(y, "jpeg"),
    }
    cc = y[: int(h * .8), : int(w * .8)]
    ccs = cv2.resize(cc, (cc.shape[1] // 2, cc.shape[0] // 2), interpolation=cv2.INTER_AREA)
    out["corner crop + x0.5 + JPEG 50"] = (jpeg(ccs, 50), np.array([[cc.shape[1] / ccs.shape[1], 0, 0],
                                                                  [0, cc.shape[0] / ccs.shape[0], 0]], float))
    cx, cy = int(crop50[1][0, 2]), int(crop50[1][1, 2])
    ch, cw = crop50[0].shape[:2]
    cr = np.asarray(ImageEnhance.Brightness(Image.fromarray(y[cy:cy + ch, cx:cx + cw])).enhance(1.3))
    out["crop 50% + bright +30% + JPEG 60"] = (jpeg(cr, 60), crop50[1])
    return out


def realign(suspect: np.ndarray, affine: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return cv2.warpAffine(suspect, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# -- peers ----------------------------------------------------------------------------------------
class IW:
    def __init__(self, method: str, bits: int) -> None:
        from imwatermark import WatermarkDecoder, WatermarkEncoder

        self.method, self.bits, self.name = method, bits, f"invisible-watermark {method}"
        self.enc_cls, self.dec_cls = WatermarkEncoder, WatermarkDecoder
        if method == "rivaGan":
            WatermarkEncoder.loadModel()
            WatermarkDecoder.loadModel()

    def embed(self, rgb: np.ndarray, payload: np.ndarray) -> np.ndarray:
        enc = self.enc_cls()
        enc.set_watermark("bits", [int(b) for b in payload])
        return np.ascontiguousarray(enc.encode(np.ascontiguousarray(rgb[..., ::-1]), self.method)[..., ::-1])

    def decode(self, rgb: np.ndarray) -> np.ndarray:
        return np.asarray(self.dec_cls("bits", self.bits).decode(np.ascontiguousarray(rgb[..., ::-1]), self.method)).astype(np.int8)


class BW:
    name, bits = "blind-watermark", 64

    def embed(self, rgb: np.ndarray, payload: np.ndarray) -> np.ndarray:
        from blind_watermark import WaterMark

        b = WaterMark(password_img=1, password_wm=1)
        b.read_img(img=np.ascontiguousarray(rgb[..., ::-1]))
        b.read_wm(payload.astype(bool), mode="bit")
        out = b.embed()
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., ::-1])

    def decode(self, rgb: np.ndarray) -> np.ndarray:
        from blind_watermark import WaterMark

        r = WaterMark(password_img=1, password_wm=1).extract(embed_img=np.ascontiguousarray(rgb[..., ::-1]),
                                                            wm_shape=self.bits, mode="bit")
        return (np.asarray(r) > 0.5).astype(np.int8)


# -- ours -----------------------------------------------------------------------------------------
def msg_bits(msg: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(msg, np.uint8))


def blind_cell(sus: np.ndarray, wid: int) -> tuple[float, list[bool], float]:
    """(bit accuracy, detected at each FPR, decode s). The best candidate is the message the MAC
    names when the key holds for one, else the candidate with the highest code agreement."""
    t = time.perf_counter()
    read, ident = blindmark.find(sus, {"creator": BLIND_KEY})
    dt = time.perf_counter() - t
    best = ident.message if ident is not None else read.message
    truth = msg_bits(blindmark.message(BLIND_KEY, wid))
    acc = float((msg_bits(best) == truth).mean()) if best else 0.5  # nothing read: a coin's score
    hit = ident is not None and ident.work_id == wid
    return acc, [hit and ident.false_positive_probability <= f for f in FPRS], dt


def random_keys(n: int, seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {f"random-{i}": rng.bytes(32) for i in range(n)}


def unmarked_set(kodak_paths: list[Path], flowers: int) -> list[tuple[str, np.ndarray]]:
    out = [(p.stem, load_rgb(p)) for p in kodak_paths]
    out.append(("flat grey", np.full((512, 768, 3), 128, np.uint8)))
    out.append(("pure noise", np.random.default_rng(3).integers(0, 256, (512, 768, 3), dtype=np.uint8)))
    kinds = sorted(p for p in (DATA / "flowers").iterdir() if p.is_dir())
    for i in range(flowers):
        files = sorted(kinds[i % len(kinds)].glob("*.jpg"))
        if files:
            out.append((f"flowers/{files[i // len(kinds)].parent.name}", load_rgb(files[i // len(kinds)])))
    return out


def false_detections(images: list[tuple[str, np.ndarray]], n_keys: int) -> tuple[int, int, float, float, float]:
    """Every unmarked image read once by blind v2 against n_keys random keys: (false identifications,
    reads, sum of the analytic bounds, largest single bound, mean s per read)."""
    keys = random_keys(n_keys, seed=11)
    false, bound_sum, bound_max, secs = 0, 0.0, 0.0, 0.0
    for _name, x in images:
        t = time.perf_counter()
        read, ident = blindmark.find(x, keys)
        secs += time.perf_counter() - t
        false += ident is not None
        bound = min(1.0, max(1, read.checked) * n_keys * 2.0 ** -MAC_BITS) if read.candidates else 0.0
        bound_sum += bound
        bound_max = max(bound_max, bound)
    return false, len(images), bound_sum, bound_max, secs / max(1, len(images))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--large", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="4 images (3 native, 1 at 1024²), for checks")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--partial", help="rewrite the table into this file after every picture")
    ap.add_argument("--skip", action="append", default=[], help="leave out a peer by method (e.g. rivaGan); said in the text")
    args = ap.parse_args()
    if args.quick:
        args.images, args.large = 3, 1

    rng = random.Random(7)
    kodak_paths = sorted((DATA / "kodak").glob("*.png"))
    kodak = [load_rgb(p) for p in kodak_paths[: args.images]]
    large = [("1024²", cv2.resize(x, (1024, 1024), interpolation=cv2.INTER_CUBIC)) for x in kodak[: args.large]]
    # Interleaved (a 1024² picture after every few native ones), so a partial run is a fair sample.
    every = max(1, len(kodak) // max(1, len(large)))
    images: list[tuple[str, np.ndarray]] = []
    for i, x in enumerate(kodak):
        images.append(("native", x))
        if (i + 1) % every == 0 and large:
            images.append(large.pop(0))
    images += large
    unmarked = unmarked_set(kodak_paths[: args.images] if args.quick else kodak_paths, 2 if args.quick else 6)
    fd = false_detections(unmarked, RANDOM_KEYS)
    kinds = (sum(n.startswith("kodim") for n, _ in unmarked), sum(n.startswith("flowers/") for n, _ in unmarked))
    print(f"blind v2 false detections: {fd[0]} of {fd[1]} reads x {RANDOM_KEYS} keys "
          f"(bound {fd[2]:.1e}, {fd[4]:.2f} s per read)", flush=True)
    # built only when not skipped: rivaGan loads its ONNX model in the constructor
    makers = {"invisible-watermark dwtDct": lambda: IW("dwtDct", 64), "invisible-watermark dwtDctSvd": lambda: IW("dwtDctSvd", 64),
              "invisible-watermark rivaGan": lambda: IW("rivaGan", 32), BW.name: BW}
    peers = [make() for name, make in makers.items() if not any(k in name for k in args.skip)]
    rows = [BLIND, INFORMED] + [p.name for p in peers]
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    det: dict[str, dict[str, dict[float, list[bool]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    quality: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    false_alarms: dict[str, dict[float, int]] = defaultdict(lambda: defaultdict(int))
    devnull = open(os.devnull, "w")  # noqa: SIM115 - blind-watermark prints progress
    for idx, (size, x) in enumerate(images):
        h, w = x.shape[:2]
        wid = 1000 + idx
        t = time.perf_counter()
        y = marks.add_marks(x, KEY, BLIND_KEY, wid)  # what `inkseal seal` puts in the pixels
        et = time.perf_counter() - t
        for r in (BLIND, INFORMED):  # one seal carries both layers: one quality, one embed time
            quality[r]["psnr"].append(psnr(x, y))
            quality[r]["ssim"].append(ssim(x, y))
            quality[r][f"embed s ({size})"].append(et)
        expected = wm.codeword(KEY, wid)
        for name, (sus, aff) in attacks(y, rng).items():
            a, hits, dt = blind_cell(sus, wid)
            quality[BLIND][f"decode s ({size}, all attacks)"].append(dt)
            acc[BLIND][name].append(a)
            for f, hit in zip(FPRS, hits, strict=True):
                det[BLIND][name][f].append(hit)
            t = time.perf_counter()
            d = wm.detect_informed(sus, x, aff, KEY, [wid])
            fpp = d.false_positive_probability if d.work_id == wid else 1.0
            if fpp > 1e-6:  # informed mode reads both layers: the blind one too, with the original
                named = blindmark.identify_read(blindmark.read_informed(sus, x, aff), {"creator": BLIND_KEY})
                if named is not None and named.work_id == wid:
                    fpp = min(fpp, named.false_positive_probability)
            quality[INFORMED][f"decode s ({size}, all attacks)"].append(time.perf_counter() - t)
            acc[INFORMED][name].append(float((d.bits == expected).mean()))
            for f in FPRS:
                det[INFORMED][name][f].append(fpp <= f)
        if size == "1024²":
            quality[BLIND]["decode s (1024², unattacked)"].append(blind_cell(y, wid)[2])
            t = time.perf_counter()
            wm.detect_informed(y, x, np.eye(2, 3), KEY, [wid])
            quality[INFORMED]["decode s (1024², unattacked)"].append(time.perf_counter() - t)
        fa = wm.detect_informed(jpeg(x, 85), x, np.eye(2, 3), KEY, [wid])
        for f in FPRS:
            false_alarms[INFORMED][f] += fa.false_positive_probability <= f
        for m in peers:
            payload = np.array([random.Random(idx * 7 + m.bits).randint(0, 1) for _ in range(m.bits)], np.int8)
            t = time.perf_counter()
            with contextlib.redirect_stdout(devnull):
                ym = m.embed(x, payload)
            quality[m.name][f"embed s ({size})"].append(time.perf_counter() - t)
            quality[m.name]["psnr"].append(psnr(x, ym))
            quality[m.name]["ssim"].append(ssim(x, ym))
            ks = {f: threshold(m.bits, f) for f in FPRS}
            for name, (sus, aff) in attacks(ym, rng).items():
                t = time.perf_counter()
                with contextlib.redirect_stdout(devnull):
                    bits = m.decode(realign(sus, aff, (h, w)))
                dt = time.perf_counter() - t
                quality[m.name][f"decode s ({size}, all attacks)"].append(dt)
                if name == "none" and size == "1024²":
                    quality[m.name]["decode s (1024², unattacked)"].append(dt)
                agree = int((bits == payload).sum())
                acc[m.name][name].append(agree / m.bits)
                for f in FPRS:
                    det[m.name][name][f].append(agree >= ks[f])
            with contextlib.redirect_stdout(devnull):
                agree = int((m.decode(x) == payload).sum())
            for f in FPRS:
                false_alarms[m.name][f] += agree >= ks[f]
        print(f"{idx + 1}/{len(images)}", flush=True)
        if args.partial:  # a long run on a shared machine: keep what is measured so far
            Path(args.partial).write_text("\n".join(section(args, images[: idx + 1], rows, acc, det, quality,
                                                            false_alarms, (*fd, kinds))) + "\n")

    lines = section(args, images, rows, acc, det, quality, false_alarms, (*fd, kinds))
    print("\n".join(lines))
    if not args.no_write:
        write_section("watermark", lines)


def section(args, images, rows, acc, det, quality, false_alarms, fd) -> list[str]:  # noqa: ANN001
    n_false, n_reads, bound_sum, bound_max, fd_secs, (n_kodak, n_flowers) = fd
    lines = [
        "## Watermark (`benchmarks/watermark.py`)", "",
        f"{len(images)} images ({sum(s == 'native' for s, _ in images)} Kodak at native size, "
        f"{sum(s != 'native' for s, _ in images)} stretched to 1024²), each sealed with "
        "`marks.add_marks` (what `inkseal seal` adds: blind v2 + inkseal-wm/1). Cells: bit accuracy / TPR at FPR "
        "1e-3 / TPR at FPR 1e-6. **inkseal blind v2** gets neither the original nor the attack's geometry: one "
        "`blindmark.find` with the creator's blind key; it detects when it names the right work id with a reported "
        f"false-positive probability ≤ the FPR (its {MAC_BITS}-bit MAC: candidates × 2^-{MAC_BITS} per read "
        "with one key); its bit accuracy is "
        "the 64-bit message of its best candidate (the one the MAC names, else the highest code agreement). Blind v2 "
        "replaces the former \"inkseal-wm/1 (blind)\" column. **inkseal informed** reads with the registered "
        "original and the attack's own affine: the per-work wm/1 layer (its bit accuracy is shown), and when that "
        "is not read at FPR 1e-6, the blind layer too (`blindmark.read_informed`: host subtracted, the sealed "
        "frame's own lattice). The peers are embedded on the clean picture at their defaults and get "
        "the attack's affine undone before decoding (help blind v2 does not get); they detect on binomial thresholds "
        f"({threshold(64, 1e-3)} and {threshold(64, 1e-6)} of 64 bits, {threshold(32, 1e-3)} and "
        f"{threshold(32, 1e-6)} of 32 for rivaGan). Crops are at a random position; \"phone-app screenshot\" is a "
        "1170-px-wide post (status bar, header with avatar and name, the picture at screen width, action icons and "
        "comments). Targets (issue 16): blind bit accuracy ≥ 0.99 and TPR ≥ 0.99 at FPR ≤ 1e-6 on every attack, "
        "PSNR ≥ 42 dB, decode ≤ 0.1 s at 1024². TrustMark (Adobe) is not in the table: its PyPI package ships no "
        "model weights and downloads them from cai-watermark.adobe.net on first use, which this offline run cannot "
        "do, and no other PyPI package carries them."
        + (f" Left out of this run: {', '.join(args.skip)} (`--skip`): rivaGan decodes at chance here even "
           "unattacked (0.54-0.58 bit accuracy in every earlier run) and costs half the run's time." if args.skip else ""),
        "",
        "| attack | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for a in acc[rows[0]]:
        cells = [f"{np.mean(acc[r][a]):.3f} / {np.mean(det[r][a][FPRS[0]]):.2f} / {np.mean(det[r][a][FPRS[1]]):.2f}"
                 for r in rows]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += ["", "| quality and speed (shared 2 cores, indicative) | " + " | ".join(rows) + " |",
              "|---|" + "---|" * len(rows)]
    fmt = {"psnr": "{:.2f}", "ssim": "{:.4f}"}
    for q in ("psnr", "ssim", "embed s (native)", "embed s (1024²)", "decode s (native, all attacks)",
              "decode s (1024², all attacks)", "decode s (1024², unattacked)"):
        cells = [fmt.get(q, "{:.3f}").format(np.mean(quality[r][q])) if quality[r].get(q) else "-" for r in rows]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    n = len(images)
    cells = [f"{n_false} of {n_reads} × {RANDOM_KEYS:,} keys"]
    cells += [f"{false_alarms[r][FPRS[0]]} / {false_alarms[r][FPRS[1]]} of {n}" for r in rows[1:]]
    lines.append("| false detections on unmarked images (at FPR 1e-3 / 1e-6) | " + " | ".join(cells) + " |")
    lines += ["", f"Blind v2 false detections: {n_reads} unmarked pictures ({n_kodak} Kodak photos, a flat grey, pure "
              f"noise, {n_flowers} tf_flowers photos), each read once with "
              f"`blindmark.find` against {RANDOM_KEYS:,} random keys: {n_false} false identifications; the analytic "
              f"bound (candidates checked × keys × 2^-{MAC_BITS}, summed over the reads) expects {bound_sum:.1e}, "
              f"at most {bound_max:.1e} for one read; {fd_secs:.2f} s per read with {RANDOM_KEYS:,} keys. "
              "The other columns' false detections are one read per benchmark picture, unmarked "
              "(inkseal-wm/1: the original after JPEG 85, against its own key)."]
    return lines


if __name__ == "__main__":
    main()
