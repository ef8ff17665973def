"""Importers: one per generator tool, auto-detected from what the file carries.

Each importer is a function `(RawMetadata) -> list[Generation]` registered in IMPORTERS with a
detector. A file can carry several formats (a ComfyUI graph *and* an A1111-style `parameters`):
every importer that recognises the file contributes. A file nobody recognises is still journaled,
as a file without parameters.
"""

from __future__ import annotations

from collections.abc import Callable

from inkseal.errors import InksealError
from inkseal.journal.importers.a1111 import import_a1111, import_a1111_stealth
from inkseal.journal.importers.base import Generation
from inkseal.journal.importers.c2pa_reader import import_c2pa
from inkseal.journal.importers.comfyui import import_comfyui
from inkseal.journal.importers.others import (
    import_easy_diffusion,
    import_fooocus,
    import_invokeai,
    import_novelai,
    import_stability_matrix,
    import_swarmui,
    import_tensorart,
)
from inkseal.journal.metadata import RawMetadata, read_metadata

__all__ = ["Generation", "import_file", "IMPORTERS"]

Importer = Callable[[RawMetadata], list[Generation]]

# Order matters only for which result is listed first; more specific formats come first.
IMPORTERS: list[tuple[str, Importer]] = [
    ("ComfyUI", import_comfyui),
    ("SwarmUI", import_swarmui),
    ("Fooocus", import_fooocus),
    ("NovelAI", import_novelai),
    ("InvokeAI", import_invokeai),
    ("Stability Matrix", import_stability_matrix),
    ("TensorArt", import_tensorart),
    ("Easy Diffusion", import_easy_diffusion),
    ("AUTOMATIC1111", import_a1111),
    ("AUTOMATIC1111 stealth", import_a1111_stealth),
    ("C2PA", import_c2pa),
]


def import_metadata(meta: RawMetadata) -> tuple[list[Generation], list[str]]:
    """All generations the file describes, and one-line problems met on the way."""
    found: list[Generation] = []
    problems = [_one_line(p) for p in meta.problems]
    claimed: set[str] = set()
    for name, importer in IMPORTERS:
        try:
            gens = [g.normalise() for g in importer(meta)]
        except InksealError as exc:  # bad JSON, too deep, too large: the importer's own one-line reason
            problems.append(f"{name} metadata unreadable: {_line(exc)}")
            continue
        except MemoryError:
            problems.append(f"{name} metadata unreadable: needs more memory than is available")
            continue
        except Exception as exc:  # noqa: BLE001 - a shape no importer expects (a list where a dict
            # belongs ...): that importer gives up with one line, the others go on, the file is still journaled
            problems.append(f"{name} metadata has an unexpected shape ({type(exc).__name__}): {_line(exc)}")
            continue
        for g in gens:
            if g.source_key in claimed and g.source_key:
                continue  # e.g. SwarmUI's `parameters` JSON is not also an A1111 infotext
            claimed.add(g.source_key)
            found.append(g)
    return found, problems


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _one_line(text.splitlines()[0]) if text else type(exc).__name__


def _one_line(text: str) -> str:
    """A problem is shown as one line: control characters (from a corrupt file's bytes) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text)[:300]


def import_file(data: bytes) -> tuple[RawMetadata, list[Generation], list[str]]:
    meta = read_metadata(data)
    gens, problems = import_metadata(meta)
    return meta, gens, problems
