"""Importers: one per generator tool, auto-detected from what the file carries.

Each importer is a function `(RawMetadata) -> list[Generation]` registered in IMPORTERS with a
detector. A file can carry several formats (a ComfyUI graph *and* an A1111-style `parameters`):
every importer that recognises the file contributes. A file nobody recognises is still journaled,
as a file without parameters.
"""

from __future__ import annotations

from collections.abc import Callable

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
    problems = list(meta.problems)
    claimed: set[str] = set()
    for name, importer in IMPORTERS:
        try:
            gens = importer(meta)
        except Exception as exc:  # hostile metadata: that importer gives up, the others go on
            problems.append(f"{name} metadata unreadable: {type(exc).__name__}: {exc}")
            continue
        for g in gens:
            if g.source_key in claimed and g.source_key:
                continue  # e.g. SwarmUI's `parameters` JSON is not also an A1111 infotext
            claimed.add(g.source_key)
            found.append(g)
    return found, problems


def import_file(data: bytes) -> tuple[RawMetadata, list[Generation], list[str]]:
    meta = read_metadata(data)
    gens, problems = import_metadata(meta)
    return meta, gens, problems
