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
                "not-an-image.png": "not a recognised image", "tiny-1x1.png": "too small",
                "line-1000x1.gif": "too small", "line-1x1000.png": "too small", "sliver-2x400.png": "too small",
                "elongated-21x1.png": "too elongated", "tiff-missing-dimensions.tif": "Missing dimensions",
                "truncated-animated.gif": "corrupt image"}
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
    """Real oddities from SD tools: empty files fail cleanly; text chunks after IDAT are still read.
    (These fixtures are 1x1 crops: too small to compare, so refused as pictures, with one line.)"""
    data = path.read_bytes()
    if path.name == "text_after_idat.png":
        from inkseal.journal.metadata import read_metadata

        with pytest.raises(BadImage, match="too small to compare: 1x1"):
            load_image(data)
        assert read_metadata(data).texts  # the text chunks after IDAT still count for the journal
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


@pytest.mark.parametrize("name", ["line-1000x1.gif", "line-1x1000.png"])
def test_one_pixel_lines_refused_from_the_header(name: str) -> None:
    """A 1000x1 GIF or PNG (a hundred bytes) cost 5-8 GB and crashed ORB: refused before decoding."""
    import tracemalloc

    data = broken()[name]
    assert len(data) < 300
    tracemalloc.start()
    try:
        with pytest.raises(BadImage, match="too small to compare"):
            load_image(data)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # well under a megabyte: nothing was decoded or upscaled


def test_geometry_limits_are_inclusive_where_documented() -> None:
    from badfiles import png_bytes
    from PIL import Image

    assert load_image(png_bytes(Image.new("RGB", (3, 3)))).width == 3  # 3 px on a side is enough
    assert load_image(png_bytes(Image.new("RGB", (600, 30)))).width == 600  # exactly 20:1 is kept
    with pytest.raises(BadImage, match="too elongated"):
        load_image(png_bytes(Image.new("RGB", (601, 30))))


def test_signals_survive_degenerate_arrays() -> None:
    """Defence in depth: region crops can be slivers even when whole pictures are refused."""
    from inkseal.signals import ORBSignal, PDQSignal, SSCDSignal

    for shape in [(1, 1000, 3), (1000, 1, 3), (2, 2, 3), (4, 400, 3)]:
        rgb = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
        assert len(ORBSignal().compute(rgb)) == 0
        assert len(PDQSignal().compute(rgb)[0]) == 32
        assert SSCDSignal().compute(rgb).shape == (512,)


def test_read_limited_refuses_before_reading(tmp_path: Path) -> None:
    from inkseal.imaging import read_limited

    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * 2000)
    with pytest.raises(BadImage, match="file too large"):
        read_limited(big, 1000)
    assert read_limited(big, 2000) == b"\0" * 2000


def test_gif_canvas_bomb_costs_no_memory_even_to_open() -> None:
    """Pillow allocates a GIF's canvas while opening it: its own bomb check must stay on."""
    import subprocess
    import sys

    code = ("import resource, sys; sys.path[:0] = sys.argv[1:]\n"
            "from badfiles import gif_canvas_bomb\n"
            "from inkseal.errors import BadImage\n"
            "from inkseal.imaging import load_image\n"
            "from inkseal.journal.metadata import read_metadata\n"
            "data = gif_canvas_bomb()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    load_image(data)\nexcept BadImage as exc:\n    print('refused:', exc)\n"
            "meta = read_metadata(data)\n"
            "print('problems:', meta.problems)\n"
            "print('growth_mb:', (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    here = Path(__file__).parent
    out = subprocess.run([sys.executable, "-c", code, str(here), str(here.parent / "src")], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "refused: decompression bomb refused" in out, out
    growth = int(out.split("growth_mb:")[1])
    assert growth < 100, out  # 60000 x 60000 would be 3.4 GB
