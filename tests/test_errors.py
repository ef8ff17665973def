"""One line for a user, whatever an exception carries: the first line of its message, control characters
(a corrupt file's bytes, a terminal escape planted in metadata) shown as spaces, cut where asked."""

from __future__ import annotations

from inkseal.errors import one_line, printable


def test_one_line_is_the_first_line_with_control_characters_as_spaces() -> None:
    exc = ValueError("bad \x1b[31mred\x1b[0m\x00 byte\tend\nsecond line")
    assert one_line(exc) == "bad  [31mred [0m  byte end"
    assert one_line(exc, limit=5) == "bad  "
    assert one_line(exc, with_type=True).startswith("ValueError: bad  [31m")
    assert one_line(KeyError()) == "KeyError" and one_line(RuntimeError("  "), with_type=True) == "RuntimeError"
    assert printable("水印\u202eabc\x07", 4) == "水印 a"  # a bidi override and a bell are not shown
