"""Importers: one per generator tool, auto-detected from what the file carries.

Each importer is a function `(RawMetadata) -> list[Generation]` registered in IMPORTERS with a
detector. A file can carry several formats (a ComfyUI graph *and* an A1111-style `parameters`):
every importer that recognises the file contributes. A file nobody recognises is still journaled,
as a file without parameters.
"""

from __future__ import annotations

from collections.abc import Callable

from inkseal.errors import InksealError, one_line, printable
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
from inkseal.journal.importers.labels import implicit_labels, import_label_only
from inkseal.journal.importers.services import (
    import_civitai,
    import_draw_things,
    import_gradio,
    import_krea,
    import_midjourney,
    import_ruined_fooocus,
)
from inkseal.journal.metadata import RawMetadata, read_metadata

__all__ = ["Generation", "import_file", "import_metadata", "claimed_keys", "IMPORTERS"]

Importer = Callable[[RawMetadata], list[Generation]]

# Order matters only for which result is listed first; more specific formats come first.
IMPORTERS: list[tuple[str, Importer]] = [
    ("Civitai", import_civitai),
    ("ComfyUI", import_comfyui),
    ("RuinedFooocus", import_ruined_fooocus),
    ("SwarmUI", import_swarmui),
    ("Fooocus", import_fooocus),
    ("NovelAI", import_novelai),
    ("InvokeAI", import_invokeai),
    ("Stability Matrix", import_stability_matrix),
    ("TensorArt", import_tensorart),
    ("Easy Diffusion", import_easy_diffusion),
    ("AUTOMATIC1111", import_a1111),
    ("AUTOMATIC1111 stealth", import_a1111_stealth),
    ("Draw Things", import_draw_things),
    ("Midjourney", import_midjourney),
    ("Krea", import_krea),
    ("Gradio", import_gradio),
    ("C2PA", import_c2pa),
]


def import_metadata(meta: RawMetadata) -> tuple[list[Generation], list[str]]:
    """All generations the file describes, and one-line problems met on the way."""
    found: list[Generation] = []
    problems = [printable(p, 300) for p in meta.problems]
    claimed: set[str] = set()
    for name, importer in IMPORTERS:
        try:
            gens = [g.normalise() for g in importer(meta)]
        except InksealError as exc:  # bad JSON, too deep, too large: the importer's own one-line reason
            problems.append(f"{name} metadata unreadable: {one_line(exc, limit=300)}")
            continue
        except MemoryError:
            problems.append(f"{name} metadata unreadable: needs more memory than is available")
            continue
        except Exception as exc:  # noqa: BLE001 - a shape no importer expects (a list where a dict
            # belongs ...): that importer gives up with one line, the others go on, the file is still journaled
            problems.append(f"{name} metadata has an unexpected shape ({type(exc).__name__}): {one_line(exc, limit=300)}")
            continue
        for g in gens:
            if g.source_key in claimed and g.source_key:
                continue  # e.g. SwarmUI's `parameters` JSON is not also an A1111 infotext
            claimed.add(g.source_key)
            found.append(g)
    # problems importers noted on the way (an XMP packet refused ...), each once
    problems += [q for q in map(lambda q: printable(q, 300), meta.problems) if q not in problems]
    try:
        labels = implicit_labels(meta)
        problems += [printable(f"GB 45438 label in {x['carrier']} unreadable: {x['error']}", 300) for x in labels
                     if "error" in x]
        if not found:
            found = [g.normalise() for g in import_label_only(meta)]
        elif labels:
            for g in found:  # GB 45438 labels are recorded with the generation they came with
                g.extra["implicit_labels"] = labels
    except Exception as exc:  # noqa: BLE001 - a label of any shape: one line, the generations stand
        problems.append(f"GB 45438 label unreadable ({type(exc).__name__}): {one_line(exc, limit=300)}")
    return found, problems


# text keys an importer reads beside its source key (so they are not listed as unclaimed raw extras)
USED_WITH = {
    "prompt": ("workflow",), "parameters": ("fooocus_scheme", "workflow", "prompt", "exif:MakerNote", "exif:Software"),
    "Comment": ("Title", "Description", "Software", "Source", "Generation time"),
    "invokeai_metadata": ("invokeai_graph", "invokeai_workflow"), "parameters-json": ("smproj", "parameters"),
    "Description": ("Author", "Creation Time"),
}


def claimed_keys(gens: list[Generation]) -> set[str]:
    keys = {"AIGC", "TC260:AIGC"}
    for g in gens:
        keys.add(g.source_key)
        keys.update(USED_WITH.get(g.source_key, ()))
    return keys


def import_file(data: bytes) -> tuple[RawMetadata, list[Generation], list[str]]:
    meta = read_metadata(data)
    gens, problems = import_metadata(meta)
    return meta, gens, problems
