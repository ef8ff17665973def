"""Fonts with CJK coverage for everything inkseal draws (signatures, figures, reports).

Debian's fonts-wqy-microhei (installed by scripts/ensure-system-deps.sh) or Noto CJK when present;
DejaVu or Pillow's bundled font otherwise (Latin only: Chinese would show as boxes).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def font_path() -> str | None:
    for path in (*CJK_FONTS, *LATIN_FONTS):
        if Path(path).exists():
            return path
    return None


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
