"""inkseal: an artist's seal for AI-generated images.

The story, and the package folders that follow it:

    journal/   record the creative process        (authorship evidence)
    seal/      publish with signature and labels   (visible + invisible marks)
    registry/  keep the works, their files and fingerprints
    signals/   one plug-in per kind of fingerprint (SSCD, PDQ, ORB local features)
    match/     suspect -> candidates -> geometric verification -> verdict
    evidence/  turn a match into a court-ready pack

`inkseal.app.Inkseal` is the one application object; the CLI is a thin layer over it.
"""

__version__ = "0.1.0"

from inkseal.app import Inkseal  # noqa: E402

__all__ = ["Inkseal", "__version__"]
