"""A local HTTP server for download tests (Range requests honoured, every request recorded) and
Omniglot-like zips in the original layout (``images_background/Alphabet/characterNN/XXXX_YY.png``).
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def omniglot_zip(folder: str, images: np.ndarray, first_id: int) -> bytes:
    """A zip of ``images`` (chars, drawers, H, W) bool, True = background, as 1-bit PNGs named
    like the originals: character ids from ``first_id``, drawers from 1. The same images give
    the same bytes (fixed time stamps), so the loader's cache, keyed by content, finds them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for c in range(images.shape[0]):
            char_id = first_id + c
            alphabet = f"Alphabet_{c // 20 + 1}"
            for d in range(images.shape[1]):
                png = io.BytesIO()
                Image.fromarray(images[c, d]).convert("1").save(png, format="PNG")
                character = f"character{c % 20 + 1:02d}"
                name = f"{folder}/{alphabet}/{character}/{char_id:04d}_{d + 1:02d}.png"
                info = zipfile.ZipInfo(name, date_time=(2015, 12, 1, 0, 0, 0))
                z.writestr(info, png.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class ArchiveServer:
    """Serves ``files`` (name -> bytes) at http://127.0.0.1:PORT/NAME from a thread."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes=") and ranged.endswith("-"):
                    start = int(ranged[6:-1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/python"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ArchiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
