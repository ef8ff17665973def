"""Helpers for the training-data audit tests and benchmark: a real HTTP site on 127.0.0.1 that carries each
opt-out signal on its own path, and image files carrying each embedded signal.

Site paths (each signal alone, so precision and recall can be told per signal):
    /clean/N.jpg     nothing                        /gptblock/N.jpg  robots.txt: GPTBot, CCBot disallowed
    /aitxt/N.jpg     ai.txt disallows it            /tdmjson/N.jpg   /.well-known/tdmrep.json reserves it
    /tdmhdr/N.jpg    tdm-reservation: 1 header      /noai/N.jpg      X-Robots-Tag: noai
    /blocked/N.jpg   robots.txt disallows every agent (so: not fetched, and an AI opt-out)
    /html/N.jpg      an HTML page                   /slow/N.jpg      answers after `slow_s` (a timeout)
    /gone/N.jpg      404
"""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, PngImagePlugin

from inkseal.seal.xmp import insert_xmp

ROBOTS = """User-agent: GPTBot
Disallow: /gptblock/

User-agent: CCBot
Disallow: /gptblock/

User-agent: *
Disallow: /blocked/
"""
AI_TXT = """# Spawning ai.txt
User-Agent: *
Disallow: /aitxt/
Allow: /
"""
TDMREP = [{"location": "/tdmjson/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/tdm-policy.json"}]
SIGNAL_PATHS = {"gptblock": "robots", "aitxt": "ai_txt", "tdmjson": "tdmrep", "tdmhdr": "tdmrep",
                "noai": "x_robots_tag", "blocked": "robots"}
PATHS = ("clean", "gptblock", "aitxt", "tdmjson", "tdmhdr", "noai", "blocked", "html", "slow", "gone")


class OptOutSite:
    """Serves `images[n % len(images)]` under every path prefix, with that prefix's signal."""

    def __init__(self, images: list[bytes], slow_s: float = 3.0, robots_status: int = 200) -> None:
        self.images, self.slow_s, self.robots_status = images, slow_s, robots_status
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> OptOutSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                headers: dict[str, str] = {}
                path = self.path.split("?", 1)[0]
                prefix = path.strip("/").split("/", 1)[0]
                status, ctype, body = 200, "image/jpeg", b""
                if path == "/robots.txt":  # an error answer (robots_status) still carries the rules' text
                    status, ctype, body = site.robots_status, "text/plain", ROBOTS.encode()
                elif path == "/ai.txt":
                    ctype, body = "text/plain", AI_TXT.encode()
                elif path == "/.well-known/tdmrep.json":
                    ctype, body = "application/json", json.dumps(TDMREP).encode()
                elif prefix in PATHS and prefix != "gone":
                    try:
                        n = int(path.rsplit("/", 1)[-1].split(".", 1)[0])
                    except ValueError:
                        n = 0
                    body = site.images[n % len(site.images)]
                    if prefix == "tdmhdr":
                        headers["tdm-reservation"] = "1"
                    elif prefix == "noai":
                        headers["X-Robots-Tag"] = "noai, noimageai"
                    elif prefix == "html":
                        ctype, body = "text/html", b"<!doctype html><html><body>Sign in</body></html>"
                    elif prefix == "slow":
                        time.sleep(site.slow_s)
                else:
                    status, ctype, body = 404, "text/plain", b"not found"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the slow path): nothing to answer

        return Handler


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def with_iptc(im: Image.Image, value: str = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING") -> bytes:
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
           f'<plus:DataMining>{value}</plus:DataMining></rdf:Description></rdf:RDF></x:xmpmeta>')
    return insert_xmp(jpeg(im), "JPEG", xmp.encode())


def with_tc260(im: Image.Image) -> bytes:
    """A PNG whose tEXt chunk `AIGC` holds a GB 45438 implicit label (a carrier other than XMP)."""
    label = {"Label": "1", "ContentProducer": "001191110108MA01KP2T5U00000", "ProduceID": "gen-42",
             "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", json.dumps({"AIGC": label}))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


_CREDS = None


def with_c2pa(im: Image.Image, use: str = "notAllowed") -> bytes:
    """A JPEG signed with a C2PA manifest whose cawg.training-mining entries say `use`."""
    global _CREDS
    from inkseal.seal.c2pa_sign import ManifestInput, sign
    from inkseal.seal.certs import make_credentials

    if _CREDS is None:
        _CREDS = make_credentials("Audit Test Creator")
    return sign(jpeg(im), "JPEG", ManifestInput(title="test", software_agent="inkseal tests", training_use=use),
                _CREDS.chain_pem, _CREDS.leaf_key_pem)
