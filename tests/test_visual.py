"""The side-by-side figure speaks the report's language (issue 10: Chinese means Chinese, figures included)."""

from __future__ import annotations

import re

import numpy as np

from inkseal.match.visual import _region_label, render_match

LOC = {"regions": {"signature": {"box": [200, 150, 290, 190], "status": "cut"}},
       "polygon_in_original": [[0, 0], [150, 0], [150, 140], [0, 140]],
       "polygon_in_suspect": [[0, 0], [150, 0], [150, 140], [0, 140]]}


def test_region_labels_per_language() -> None:
    assert _region_label("signature", "cut", "zh") == "署名：被裁掉"
    assert _region_label("signature", "altered", "en") == "signature: altered"
    assert not re.search(r"[A-Za-z]", _region_label("signature", "intact", "zh"))
    assert "署名" in _region_label("signature", "cut", None) and "signature" in _region_label("signature", "cut", None)


def test_figure_differs_by_language() -> None:
    rgb = np.full((200, 300, 3), 120, np.uint8)
    zh, en = (np.asarray(render_match(rgb, rgb, LOC, "", lang=lang)) for lang in ("zh", "en"))
    assert zh.shape == en.shape and (zh != en).any()
