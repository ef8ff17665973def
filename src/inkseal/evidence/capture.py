"""Where the copy was found, as evidence: the captured page and archive record, and their checks.

`collect_capture` (called by the pack builder) copies them into the pack and runs the checks.

A scan keeps, with each matched suspect, the evidence of its place (see SuspectItem.attachments):
the browser's full-page screenshot and rendered DOM, the saved page's HTML, the raw WARC record.
The pack copies them under suspect/, draws the screenshot with the copy outlined, and records
two checks that `evidence verify` re-runs offline from the pack's own files:

    warc        the WARC parses, its response for the suspect's URL (redirects followed) holds the
                suspect's exact bytes (SHA-256), and it has a record of the page the suspect was
                found on; records the capture's size caps cut or left out are named
                (a scan's own captures: see inkseal.match.sources.warcwrite)
    screenshot  the screenshot, at the box the browser reported for the image, shows the suspect
                (normalised cross-correlation of the two, in grey, at the box's size)
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import urljoin
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from inkseal.services import EvidenceContext

# attachment name -> file in the pack (".gz" is added to a gzipped WARC record)
ATTACHMENT_FILES = {
    "page_screenshot": "suspect/page-screenshot.png",
    "page_rendered_html": "suspect/page-rendered.html",
    "page_html": "suspect/page.html",
    "warc_record": "suspect/record.warc",
}
SCREENSHOT_NCC = 0.8
MAX_FIGURE_WIDTH = 1400


def attachment_path(name: str, data: bytes) -> str:
    path = ATTACHMENT_FILES.get(name, f"suspect/{name}.bin")
    return path + ".gz" if name == "warc_record" and data[:2] == b"\x1f\x8b" else path


def _box(box: list[float] | None, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    if not box:
        return None
    x, y, w, h = box
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(size[0], round(x + w)), min(size[1], round(y + h))
    return (x0, y0, x1, y1) if x1 - x0 >= 8 and y1 - y0 >= 8 else None


def marked_screenshot(shot_png: bytes, box: list[float] | None) -> Image.Image:
    """The page as the browser showed it, the copy outlined in red; long pages are cut around it."""
    shot = Image.open(io.BytesIO(shot_png)).convert("RGB")
    b = _box(box, shot.size)
    if b is not None:
        ImageDraw.Draw(shot).rectangle(b, outline=(220, 20, 20), width=max(4, shot.width // 250))
        top = max(0, b[1] - 700)
        shot = shot.crop((0, top, shot.width, min(shot.height, max(b[3] + 700, top + 1600))))
    if shot.width > MAX_FIGURE_WIDTH:
        shot = shot.resize((MAX_FIGURE_WIDTH, round(shot.height * MAX_FIGURE_WIDTH / shot.width)), Image.LANCZOS)
    return shot


def screenshot_agreement(shot_png: bytes, suspect_rgb: np.ndarray, box: list[float] | None) -> float | None:
    """NCC between the screenshot at `box` and the suspect drawn at that size; None if not comparable."""
    shot = np.asarray(Image.open(io.BytesIO(shot_png)).convert("L"), np.float32)
    b = _box(box, (shot.shape[1], shot.shape[0]))
    if b is None or box is None:
        return None
    if abs(box[2] - (b[2] - b[0])) > 2 or abs(box[3] - (b[3] - b[1])) > 2:
        return None  # the image runs off the captured page
    shown = shot[b[1]:b[3], b[0]:b[2]]
    grey = cv2.cvtColor(suspect_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    drawn = cv2.resize(grey, (shown.shape[1], shown.shape[0]), interpolation=cv2.INTER_AREA)
    a, d = shown - shown.mean(), drawn - drawn.mean()
    denom = float(np.sqrt((a * a).sum() * (d * d).sum()))
    return float((a * d).sum() / denom) if denom > 1e-6 else None


def check_screenshot(shot_png: bytes, suspect_rgb: np.ndarray, box: list[float] | None) -> tuple[bool, str]:
    try:
        ncc = screenshot_agreement(shot_png, suspect_rgb, box)
    except Exception as exc:  # noqa: BLE001 - an unreadable screenshot is a failed check
        return False, f"screenshot unreadable: {exc}"
    if ncc is None:
        return False, "the screenshot cannot be compared at the recorded box"
    return ncc >= SCREENSHOT_NCC, f"the page showed the suspect at {box} (agreement {ncc:.3f}, needs {SCREENSHOT_NCC})"


MAX_WARC_RECORDS = 1_000  # a capture holds a page, a picture, their redirects, a screenshot: a few dozen at most
MAX_REDIRECT_HOPS = 5


def check_warc(record: bytes, suspect_sha256: str, source: str, page_url: str | None = None) -> tuple[bool, str]:
    """The WARC (one record copied from an archive, or a scan's capture of a page and its picture)
    parses; the response (or resource) for the suspect's URL - redirects followed within the WARC -
    holds exactly the suspect's bytes (SHA-256); and when `page_url` is given (and differs), a
    response record names the page. Records cut or left out by the capture's size caps are named."""
    from warcio.archiveiterator import ArchiveIterator

    payloads: dict[str, tuple[str, str, str | None]] = {}  # URI -> (sha256, HTTP status, Location)
    cut: list[str] = []
    try:
        for n, rec in enumerate(ArchiveIterator(io.BytesIO(record))):
            if n >= MAX_WARC_RECORDS:
                return False, f"WARC holds over {MAX_WARC_RECORDS:,} records: not a capture"
            if rec.rec_type == "metadata":
                cut += [line for line in rec.content_stream().read(1 << 16).decode("utf-8", "replace").splitlines()[1:]
                        if line]
                continue
            if rec.rec_type not in ("response", "resource"):
                continue
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            status = rec.http_headers.get_statuscode() if rec.http_headers else "200"
            location = rec.http_headers.get_header("Location") if rec.http_headers else None
            if rec.rec_headers.get_header("WARC-Truncated"):
                cut.append(f"{uri}: payload truncated ({rec.rec_headers.get_header('WARC-Truncated')})")
            payloads.setdefault(uri, (hashlib.sha256(rec.content_stream().read()).hexdigest(), status or "", location))
    except Exception as exc:  # noqa: BLE001 - a damaged record is a failed check, named
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        return False, f"WARC record unreadable: {first}"
    uri, hops = source, 0
    while uri in payloads and payloads[uri][1][:1] == "3" and payloads[uri][2] and hops < MAX_REDIRECT_HOPS:
        uri, hops = urljoin(uri, payloads[uri][2]), hops + 1  # type: ignore[type-var]
    left_out = f"; left out or cut: {'; '.join(cut)}" if cut else ""
    if uri not in payloads:
        return False, f"no record for {source} in the WARC{left_out}"
    digest = payloads[uri][0]
    via = f" (redirected to {uri})" if uri != source else ""
    if digest != suspect_sha256:
        return False, f"record for {source}{via}: payload SHA-256 {digest[:16]}… ≠ the suspect {suspect_sha256[:16]}…"
    if page_url and page_url != source and page_url not in payloads:
        return False, f"record for {source}{via} = the suspect, but no record of the page {page_url}{left_out}"
    page = f", with the page {page_url}" if page_url and page_url != source else ""
    return True, f"record for {source}{via}, payload SHA-256 {digest[:16]}… = the suspect{page}{left_out}"


CAPTURE_FILES = ("figure_page", "page_screenshot", "page_rendered_html", "page_html", "warc_record")


def collect_capture(app: EvidenceContext, s: Any, suspect_rgb: np.ndarray, root: Path, files: dict[str, str],
                    localisation: dict) -> dict:
    """Copy where the suspect was found (screenshot, page, WARC record) and check it against the suspect."""
    attached = dict((s.location or {}).get("attachments") or {})
    blobs = {name: app.registry.objects.get(digest) for name, digest in attached.items()}
    page = (s.location or {}).get("page")  # suspects recorded before attachments: the saved page on disk
    if "page_html" not in blobs and page and Path(page).is_file() and Path(page).stat().st_size < 8 << 20:
        blobs["page_html"] = Path(page).read_bytes()
    for name, blob in blobs.items():
        files[name] = attachment_path(name, blob)
        (root / files[name]).parent.mkdir(parents=True, exist_ok=True)
        (root / files[name]).write_bytes(blob)
    checks: list[str] = []
    notes: list[str] = []
    notes_zh: list[str] = []
    box = (s.location or {}).get("box")
    outline = box
    if box is None and localisation.get("polygon_in_suspect"):  # the suspect is the screenshot itself
        xs, ys = zip(*localisation["polygon_in_suspect"], strict=True)
        outline = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    if "page_screenshot" in blobs:
        files["figure_page"] = "figures/page_screenshot_marked.png"
        (root / "figures").mkdir(exist_ok=True)
        marked_screenshot(blobs["page_screenshot"], outline).save(root / files["figure_page"])
        if box is None and (s.location or {}).get("shown_via") == "page-screenshot":
            notes.append("the suspect is the page's screenshot itself; the copy is outlined on it")
            notes_zh.append("被控图片即页面截图本身，复制部分已在截图上标出")
        else:
            ok, detail = check_screenshot(blobs["page_screenshot"], suspect_rgb, box)
            notes.append(detail)
            notes_zh.append("页面截图在记录位置显示的正是被控图片（已核对）" if ok else "页面截图无法在记录位置核对被控图片")
            if ok:  # only a check that holds now is one the verifier must see hold again
                checks.append("screenshot")
    if "warc_record" in blobs:
        ok, detail = check_warc(blobs["warc_record"], s.sha256, s.source, s.page_url)
        notes.append(detail)
        notes_zh.append(("WARC 记录的网址与内容与被控图片一致（SHA-256）" if ok else "WARC 记录与被控图片不一致")
                        + ("；为控制证据包大小，部分内容已截断或略去，记录中已注明" if "left out or cut" in detail else ""))
        if ok:
            checks.append("warc")
    return {"checks": checks, "notes": notes, "notes_zh": notes_zh, "box": box, "page_title": (s.location or {}).get("page_title")}
