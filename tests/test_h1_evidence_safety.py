"""Reports are documents: the renderer reads nothing outside its folder. Also the helpers that
tests/test_evidence.py uses to attack packs built by its demo (hostile page, forged and malformed packs)."""

from __future__ import annotations

import base64
import http.server
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from inkseal.cli import app as cli
from inkseal.evidence.pack import manifest_lines
from inkseal.evidence.safe_render import UnsafeReport, check_html, write_pdf
from inkseal.journal.keys import public_pem


class Listener:
    """A real HTTP server on 127.0.0.1 that counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(b"\x89PNG\r\n\x1a\n")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def listener() -> Iterator[Listener]:
    ear = Listener()
    yield ear
    ear.close()


def hostile(port: int) -> str:
    return (f'<script>alert(1)</script><link rel="attachment" href="file:///etc/passwd">'
            f'<img src="http://127.0.0.1:{port}/img"><div style="background:url(http://127.0.0.1:{port}/css)">'
            f'</div><style>@import url(http://127.0.0.1:{port}/import);</style>url(file:///etc/hostname)')


def embedded_files(pdf: Path) -> int:
    out = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])  # "N embedded files"


def cli_run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


# -- 1. reports are documents, not programs --------------------------------------------------------------
def test_renderer_reads_nothing_outside_the_report_folder(tmp_path: Path, listener: Listener) -> None:
    page = f"<html><body><p>x</p>{hostile(listener.port)}</body></html>"
    with pytest.raises(UnsafeReport):
        check_html(page, tmp_path)
    # The control: WeasyPrint's own fetcher embeds /etc/passwd and calls the listener - the check can fail.
    from weasyprint import HTML

    HTML(string=page, base_url=str(tmp_path)).write_pdf(tmp_path / "unsafe.pdf")
    assert embedded_files(tmp_path / "unsafe.pdf") >= 1 and listener.hits
    listener.hits.clear()
    refused = write_pdf(page, tmp_path, tmp_path / "safe.pdf")
    assert embedded_files(tmp_path / "safe.pdf") == 0
    assert listener.hits == []
    assert any("etc/passwd" in u for u in refused) and any(str(listener.port) in u for u in refused)


def resign(pack: Path, private: Ed25519PrivateKey) -> None:
    (pack / "journal" / "public_key.pem").write_text(public_pem(private.public_key()))
    manifest = manifest_lines(pack)
    (pack / "MANIFEST.sha256").write_text(manifest)
    (pack / "MANIFEST.sig").write_text(base64.b64encode(private.sign(manifest.encode())).decode() + "\n")


def zip_of(pack: Path, target: Path, extra: list[tuple[str, bytes]] = (), first: list[tuple[str, bytes]] = ()) -> Path:  # type: ignore[assignment]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in first:
            z.writestr(name, data)
        for p in sorted(pack.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(pack).as_posix())
        for name, data in extra:
            z.writestr(name, data)
    return target
