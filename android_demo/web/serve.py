"""Serve a built phone web app (build.py's folder) with the headers its threaded WebAssembly
needs (cross-origin isolation: COOP/COEP), over HTTP on localhost or HTTPS with a certificate.

    python android_demo/web/serve.py build/phone_web [--host 127.0.0.1] [--port 8443] [--cert c.pem --key k.pem]

A phone opens it over USB with `adb reverse tcp:8443 tcp:8443` then http://localhost:8443/ (a
secure context), or over the same network with --host 0.0.0.0 and --cert/--key (browsers give the
camera only to HTTPS pages and localhost). Standard library only."""

from __future__ import annotations

import argparse
import functools
import http.server
import ssl
import sys
from pathlib import Path


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".webmanifest": "application/manifest+json",
                      ".tflite": "application/octet-stream", ".svg": "image/svg+xml"}

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, fmt: str, *args) -> None:
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(fmt, *args)


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8443, cert: Path | None = None,
                key: Path | None = None, verbose: bool = False) -> http.server.ThreadingHTTPServer:
    if not (folder / "index.html").is_file():
        raise SystemExit(f"serve.py: {folder} has no index.html (build it first: python android_demo/web/build.py --model ... --out {folder})")
    srv = http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(folder)))
    srv.verbose = verbose  # type: ignore[attr-defined]
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--cert", type=Path)
    ap.add_argument("--key", type=Path)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    srv = make_server(a.folder, a.host, a.port, a.cert, a.key, a.verbose)
    print(f"serving {a.folder} on {'https' if a.cert else 'http'}://{a.host}:{srv.server_address[1]}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
