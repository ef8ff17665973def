"""Write a benchmark's section into docs/benchmarks.md between its own markers, leaving the rest."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, lines: list[str], doc: Path = DOC) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = "\n".join([start, *lines, end]) + "\n"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end + "\n", 1)[-1]
    else:
        text = text.rstrip() + "\n\n" + block
    doc.write_text(text)
