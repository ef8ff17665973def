"""Fingerprints of a file to register, computed here or in worker processes (`register --jobs N`).

Bulk registration splits the work the way SQLite wants it: the expensive part (decoding, SSCD on
the whole picture and five crops, PDQ, ORB) runs in N worker processes, each loading the models
once; the main process is the one writer, storing each file as its result arrives, in input order.
A kill loses at most the files in flight: each registered file is one transaction, and a re-run
skips bytes already registered before handing them to a worker.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from inkseal.errors import BadImage, InksealError
from inkseal.imaging import LoadedImage, load_image, read_limited
from inkseal.match.regions import reference_crops
from inkseal.signals import ORBSignal, PDQSignal, SSCDSignal

Fingerprints = list[tuple[str, int, str, bytes]]


def compute(sscd: SSCDSignal, pdq: PDQSignal, orb: ORBSignal, image: LoadedImage) -> Fingerprints:
    """Every stored fingerprint of one picture: SSCD of the whole and of each reference crop, PDQ, ORB."""
    rgb = image.rgb
    out = []
    for variant, (x0, y0, x1, y1) in reference_crops(image.width, image.height):
        emb = sscd.compute(rgb[y0:y1, x0:x1])
        out.append((sscd.name, sscd.version, variant, sscd.serialize(emb)))
    out.append((pdq.name, pdq.version, "full", pdq.serialize(pdq.compute(rgb))))
    out.append((orb.name, orb.version, "full", orb.serialize(orb.compute(rgb))))
    return out


@dataclass
class Prepared:
    """A file read, checked and fingerprinted, ready for the writer; or the one-line reason it is not."""

    path: Path
    data: bytes = b""
    sha256: str = ""
    fmt: str = ""
    width: int = 0
    height: int = 0
    notes: list[str] = field(default_factory=list)
    fingerprints: Fingerprints = field(default_factory=list)
    error: str | None = None


def prepare(path: Path, sscd: SSCDSignal, pdq: PDQSignal, orb: ORBSignal, max_bytes: int,
            max_pixels: int) -> Prepared:
    try:
        data = read_limited(path, max_bytes)
        image = load_image(data, max_pixels=max_pixels, name=str(path))
        return Prepared(path, data, image.sha256, image.format, image.width, image.height, image.notes,
                        compute(sscd, pdq, orb, image))
    except (BadImage, InksealError) as exc:
        return Prepared(path, error=str(exc))
    except OSError as exc:
        return Prepared(path, error=f"cannot read file: {exc.strerror or exc}")


# -- worker processes ------------------------------------------------------------------------------
_worker: dict = {}


def _init_worker(sscd_model: str, max_bytes: int, max_pixels: int) -> None:
    # One ONNX thread per worker: N workers on N cores, no oversubscription.
    _worker.update(signals=(SSCDSignal(sscd_model, threads=1), PDQSignal(), ORBSignal()),
                   max_bytes=max_bytes, max_pixels=max_pixels)


def _prepare_in_worker(path: Path) -> Prepared:
    return prepare(path, *_worker["signals"], _worker["max_bytes"], _worker["max_pixels"])


def prepare_parallel(paths: list[Path], jobs: int, sscd_model: str, max_bytes: int,
                     max_pixels: int) -> Iterator[Prepared]:
    """Prepared files in input order, computed by `jobs` processes; at most a few in flight per worker
    (results hold the file's bytes, so the queue stays bounded whatever the folder's size)."""
    # spawn, not fork: the parent holds ONNX Runtime and OpenMP thread pools a fork would copy mid-state.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(sscd_model, max_bytes, max_pixels)) as pool:
        pending: deque[tuple[Path, Future[Prepared]]] = deque()
        todo = iter(paths)
        try:
            while True:
                while len(pending) < 3 * jobs and (nxt := next(todo, None)) is not None:
                    pending.append((nxt, pool.submit(_prepare_in_worker, nxt)))
                if not pending:
                    return
                result = pending[0][1].result()
                pending.popleft()
                yield result
        except BrokenProcessPool:  # a worker was killed: every file not yet stored is reported, none lost
            for path in [p for p, _f in pending] + list(todo):
                yield Prepared(path, error="the fingerprinting process died (out of memory?); run the same "
                                           "command again to go on / 指纹计算进程意外退出，请重新运行以继续")
