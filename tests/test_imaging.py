"""Every odd mode decodes to RGB; every broken file fails alone with a one-line reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from badfiles import broken, odd_modes
from inkseal.errors import BadImage
from inkseal.imaging import load_image

SD_BAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "sd-tools" / "bad_images"


@pytest.mark.parametrize("name", sorted(odd_modes()))
def test_odd_modes_decode_to_rgb(name: str) -> None:
    img = load_image(odd_modes()[name])
    assert img.rgb.dtype == np.uint8 and img.rgb.ndim == 3 and img.rgb.shape[2] == 3
    if name.startswith("animated"):
        assert img.frames == 3 and any("first frame" in n for n in img.notes)
    if name == "exif-rotated.jpg":
        assert (img.width, img.height) == (240, 320)  # orientation applied
    if name == "gray16.png":
        assert img.rgb.max() > 200  # scaled, not clipped to black/white
    if name == "alpha.png":
        assert img.rgb[0, 0].tolist() == [255, 255, 255]  # fully transparent corner -> white page


@pytest.mark.parametrize("name", sorted(broken()))
def test_broken_files_fail_with_one_line(name: str) -> None:
    with pytest.raises(BadImage) as exc:
        load_image(broken()[name])
    msg = str(exc.value)
    assert msg and "\n" not in msg
    expected = {"empty.png": "empty", "bomb.png": "decompression bomb", "truncated.png": "truncated",
                "not-an-image.png": "not a recognised image"}
    if name in expected:
        assert expected[name] in msg


def test_bomb_refused_before_decoding() -> None:
    from badfiles import png_bomb

    # 10 billion pixels would need 30 GB; the refusal must come from the header alone.
    with pytest.raises(BadImage, match="decompression bomb"):
        load_image(png_bomb(100_000, 100_000), max_pixels=1_000_000)
    # a limit is a limit: just over it is refused too
    with pytest.raises(BadImage, match="decompression bomb"):
        load_image(png_bomb(1001, 1000), max_pixels=1_000_000)


@pytest.mark.parametrize("path", sorted(SD_BAD.glob("*")), ids=lambda p: p.name)
def test_sd_tools_bad_images(path: Path) -> None:
    """Real oddities from SD tools: empty files fail cleanly; text chunks after IDAT still decode."""
    data = path.read_bytes()
    if path.name == "text_after_idat.png":
        assert load_image(data).width > 0
    else:
        try:
            img = load_image(data)
        except BadImage as exc:
            assert "\n" not in str(exc)
        else:
            assert img.rgb.size > 0


def test_truncated_images_fail_even_after_weasyprint_is_imported() -> None:
    """WeasyPrint flips Pillow's process-wide LOAD_TRUNCATED_IMAGES on import; we must not follow."""
    import weasyprint  # noqa: F401

    with pytest.raises(BadImage, match="truncated"):
        load_image(broken()["truncated.png"])
