"""The browser view of a live run (``live.py --serve [HOST:]PORT``): a small web app inside the
runtime process, standard library only (``http.server``), for headless boards.

Routes (a fixed whitelist; anything else is 404, no file paths are ever read from a request):

=============================  ====  =====================================================
``/``                          GET   the page (``edge_runtime/web/index.html``)
``/app.js`` ``/view.js``       GET   the page's scripts (``view.js``: the reusable parts)
``/style.css``                 GET   its style sheet
``/stream.mjpg``               GET   the overlaid stream (one image, a grid for several
                                     streams) as MJPEG; counts as a viewer
``/api/live``                  GET   Server-Sent Events about ten times a second, one
                                     message for every viewer: ``events`` (the newest, at
                                     most 120), ``seq`` (the last one's number) and
                                     ``status`` when it changed; counts as a viewer
``/api/status``                GET   the run's summary so far and the view's state (JSON,
                                     docs/EVENTS.md)
``/api/events?since=N``        GET   the recent events (docs/EVENTS.md) after sequence N
``/api/target``                POST  ``{"fps": F}`` or ``{"mw": P}`` (``null``: no target)
``/api/clear``                 POST  ``{}`` every stream, or ``{"stream": i}``
``/api/pause``                 POST  ``{"paused": true|false}`` (no body: toggle)
=============================  ====  =====================================================

Security: the default host is 127.0.0.1. Any other host needs a token (``--serve-token``, or one
generated and printed at start); with a token, every request (page, scripts, streams, JSON) must
carry it, as ``?token=``, the header ``X-Token`` (or ``Authorization: Bearer``), or, for GET, the
strict same-site cookie the page sets when it is opened with the token; the controls are POST
only and need the token in the request itself (header or query), never the cookie. On loopback
without a token, requests must name a loopback ``Host`` (no DNS rebinding from a web page).
Source URIs are shown without their credentials.

Cost to the pipeline: the run's loop only hands over references to its latest frames and events
(``publish``) and wakes nothing but the encoder, and that only when it waits for a tick. One
encoder thread draws the overlay (on frames scaled down to ``max_width``) and encodes JPEG, at
most ``max_fps`` times a second and only while a stream viewer is connected; every viewer is sent
the newest image when it is ready for one, so a slow or stalled viewer gets fewer frames and
never slows the run (a viewer stalled for ``write_timeout_s`` is disconnected). The event stream
is one message per 0.1 s made once for all viewers. At most ``max_viewers`` MJPEG and as many
event streams at a time; the next gets 503.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

WEB_DIR = Path(__file__).resolve().parent / "web"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/view.js": ("view.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
GET_ROUTES = set(STATIC) | {"/stream.mjpg", "/api/live", "/api/status", "/api/events"}
POST_ROUTES = {"/api/target", "/api/clear", "/api/pause"}
BOUNDARY = "arnetframe"


class ServeError(ValueError):
    """A bad ``--serve`` option (exit 2)."""


def parse_bind(spec: str) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); the host defaults to 127.0.0.1; ``[::1]:8080`` for IPv6."""
    s = str(spec).strip()
    host, port = "127.0.0.1", s
    if s.startswith("["):
        end = s.find("]")
        if end < 0 or not s[end + 1:].startswith(":"):
            raise ServeError(f"--serve {spec!r}: expected [HOST:]PORT, e.g. 8080, 0.0.0.0:8080 or [::1]:8080")
        host, port = s[1:end], s[end + 2:]
    elif ":" in s:
        host, port = s.rsplit(":", 1)
    try:
        p = int(port)
    except ValueError:
        p = -1
    if not 0 <= p <= 65535 or not host:
        raise ServeError(f"--serve {spec!r}: expected [HOST:]PORT with a port 0..65535 "
                         "(0 = any free port), e.g. 8080, 0.0.0.0:8080 or [::1]:8080")
    return host, p


def redact(uri: str) -> str:
    """A source URI as shown to viewers: credentials (``rtsp://user:pass@cam``) replaced by ``***``."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", str(uri))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _num(v: Any, what: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{what} must be a positive number or null, got {v!r}")
    return float(v)


class LiveView:
    """The state a run shares with its viewers, and the commands they send back.

    The run's loop calls :meth:`publish` once per tick and :meth:`apply` (controls) between ticks;
    HTTP threads read snapshots and queue commands. ``render(frames, events, rate)`` returns the
    BGR image to show (the overlay, a grid for several streams)."""

    def __init__(self, uris: list[str], render: Callable[[dict, dict, Any], Any],
                 info: dict | None = None, *, max_viewers: int = 4, max_fps: float = 15.0,
                 history: int = 512, jpeg_quality: int = 75, has_power: bool = False,
                 max_width: int = 960) -> None:
        if int(max_viewers) < 1:
            raise ServeError(f"--serve-max-viewers must be >= 1, got {max_viewers}")
        self.uris = [redact(u) for u in uris]
        self.render, self.info = render, dict(info or {})
        self.max_viewers, self.max_fps = int(max_viewers), float(max_fps)
        self.jpeg_quality, self.has_power = int(jpeg_quality), bool(has_power)
        self.max_width = int(max_width)    # wider frames are scaled down before drawing
        self.cond = threading.Condition()     # the state; only the encoder waits on it
        self.jpeg_cond = threading.Condition()   # a new image: what the stream viewers wait on
        self._encoder_waiting = False
        self.seq = 0                       # events published so far
        self.events: deque = deque(maxlen=int(history))   # (seq, StepEvent): dicts only when read
        self.status_version = 0            # bumped when the status or the pause state changes
        self._bcast_lock = threading.Lock()
        self._bcast: tuple = (0, b"", 0.0)    # the shared event-stream message: (number, bytes, time)
        self._bcast_seq = 0                # the last event it carried
        self._bcast_version = -1           # the status version it carried
        self.frames: dict = {}             # stream -> latest RGB frame
        self.last_ev: dict = {}            # stream -> latest StepEvent
        self.rate: float | None = None
        self.tick_id = 0
        self.jpeg: bytes | None = None
        self.jpeg_id = 0
        self.viewers = {"mjpeg": 0, "sse": 0}
        self.refused = 0
        self.paused = False
        self.ended = False
        self.commands: deque = deque()
        self._status: dict = {}
        self._status_t = 0.0
        self._wanted_t = 0.0               # when /api/status was last asked for
        self._encoder: threading.Thread | None = None
        self.frames_encoded = 0

    # ------------------------------------------------------------ the run's side
    def publish(self, evs: dict, frames: dict, rate: float | None) -> None:
        """One tick: references only (no copies, no drawing, no encoding here)."""
        with self.cond:
            for e in evs.values():
                self.seq += 1
                self.events.append((self.seq, e))
            self.last_ev.update(evs)
            for i, f in frames.items():
                if f is not None:
                    self.frames[i] = f
            self.rate = rate
            self.tick_id += 1
            if self._encoder_waiting:            # one wake-up for the one thread that wants it
                self.cond.notify()

    def apply(self, engine: Any) -> list[str]:
        """Run the queued controls on ``engine`` (the run's thread, between ticks); what was done."""
        done = []
        while self.commands:
            name, arg = self.commands.popleft()
            if name == "clear":
                engine.clear(arg)
                with self.cond:
                    for i in ([arg] if arg is not None else list(self.last_ev)):
                        self.last_ev.pop(i, None)
            elif name == "target":
                set_target(engine, *arg)
            done.append(name)
        return done

    def set_status(self, status: dict) -> None:
        with self.cond:
            self._status = status
            self.status_version += 1
            self._status_t = time.monotonic()

    def status_due(self, every_s: float = 0.5) -> bool:
        """Whether the run should refresh the status: every ``every_s`` while someone watches
        (an event stream, or /api/status asked for in the last 10 s)."""
        now = time.monotonic()
        wanted = self.viewers["sse"] > 0 or self._status_t == 0.0 or now - self._wanted_t < 10.0
        return wanted and now - self._status_t >= every_s

    def end(self) -> None:
        with self.cond:
            self.ended = True
            self.status_version += 1
            self.cond.notify_all()
        with self.jpeg_cond:
            self.jpeg_cond.notify_all()

    # ------------------------------------------------------------ the viewers' side
    def status(self) -> dict:
        self._wanted_t = time.monotonic()
        with self.cond:
            st = dict(self.info)
            st.update(self._status)
            last_ev = dict(self.last_ev)
        last = {i: e.to_dict() for i, e in last_ev.items()}
        if isinstance(st.get("streams"), list):   # the run's summary: no credentials in its URIs
            st["streams"] = [dict(d, source=dict(d["source"], uri=redact(d["source"]["uri"])))
                             if isinstance(d.get("source"), dict) and "uri" in d["source"] else d
                             for d in st["streams"]]
        st.update(paused=self.paused, ended=self.ended, viewers=dict(self.viewers),
                  max_viewers=self.max_viewers, refused_viewers=self.refused, power=self.has_power,
                  fps=self.rate, sources=self.uris,
                  last_events=[last.get(i) for i in range(len(self.uris))])
        return st

    def recent(self, since: int = 0, limit: int = 512) -> tuple[int, list]:
        """(the newest event number, up to ``limit`` newest events after ``since`` as dicts); the
        run's lock is held only to pick them, never while converting."""
        picked = []
        with self.cond:
            seq = self.seq
            for s, e in reversed(self.events):
                if s <= since or len(picked) >= limit:
                    break
                picked.append(e)
        return seq, [e.to_dict() for e in reversed(picked)]

    def sse_message(self, every_s: float = 0.1) -> tuple[int, bytes]:
        """The newest event-stream message, shared by every viewer: made at most every
        ``every_s`` by whichever viewer asks first, from the events since the previous one (the
        newest 120) and the status when it changed; (its number, its bytes). ``seq`` in it is the
        number of its last event (events are numbered consecutively), so a page skips events it
        already has."""
        with self._bcast_lock:
            mid, payload, t = self._bcast
            now = time.monotonic()
            if now - t < every_s and not self.ended:
                return mid, payload
            seq, evs = self.recent(self._bcast_seq, limit=120)
            d: dict = {"events": evs, "seq": seq}
            if self.status_version != self._bcast_version:
                self._bcast_version = self.status_version
                d["status"] = self.status()
            if evs or "status" in d:
                self._bcast_seq = seq
                mid, payload = mid + 1, b"data: " + json.dumps(d).encode() + b"\n\n"
            self._bcast = (mid, payload, now)
            return mid, payload

    def acquire(self, kind: str) -> bool:
        with self.cond:
            if self.viewers[kind] >= self.max_viewers:
                self.refused += 1
                return False
            self.viewers[kind] += 1
            if kind == "mjpeg" and (self._encoder is None or not self._encoder.is_alive()):
                self._encoder = threading.Thread(target=self._encode_loop, name="arnet-serve-jpeg",
                                                 daemon=True)
                self._encoder.start()
            return True

    def release(self, kind: str) -> None:
        with self.cond:
            self.viewers[kind] -= 1
            self.cond.notify_all()   # the encoder stops with the last stream viewer

    def _encode_loop(self) -> None:
        """Draw and encode the newest tick while a stream viewer is connected, <= max_fps."""
        import cv2
        done_tick = -1
        period = 1.0 / self.max_fps if self.max_fps > 0 else 0.0
        while True:
            with self.cond:
                while not self.ended and self.viewers["mjpeg"] > 0 and self.tick_id == done_tick:
                    self._encoder_waiting = True
                    self.cond.wait(1.0)
                    self._encoder_waiting = False
                if self.ended or self.viewers["mjpeg"] <= 0:
                    self._encoder = None
                    return
                done_tick = self.tick_id
                frames, evs, rate = dict(self.frames), dict(self.last_ev), self.rate
            t0 = time.monotonic()
            img = None
            try:
                frames = {i: _fit_width(f, self.max_width) for i, f in frames.items()}
                img = self.render(frames, evs, rate) if frames else None
            except Exception:   # a frame being replaced under us: skip it, take the next
                img = None
            if img is not None:
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
                if ok:
                    with self.jpeg_cond:
                        self.jpeg = buf.tobytes()
                        self.jpeg_id += 1
                        self.frames_encoded += 1
                        self.jpeg_cond.notify_all()
            rest = period - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)


def _fit_width(frame: Any, max_width: int) -> Any:
    """``frame`` scaled down to ``max_width`` pixels wide (aspect kept) when wider: a 1080p camera's
    view costs a 960 px image to draw, encode and send."""
    h, w = frame.shape[:2]
    if w <= max_width:
        return frame
    import cv2
    return cv2.resize(frame, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)


def set_target(engine: Any, fps: float | None, mw: float | None) -> None:
    """Set (or with both None, drop) the budget's target on a running engine; λ carries on from
    where it is, and restarts at 0 when the target is dropped."""
    b = engine.budget
    if b is None:
        if fps is None and mw is None:
            return
        from edge_runtime.budget import BudgetController
        engine.budget = BudgetController.for_model(engine.manifest, backend=engine.backend_name,
                                                   precision=engine.precision, target_fps=fps, target_mw=mw)
        return
    b.target_fps, b.target_mw = fps, mw
    if fps is None and mw is None:
        b.reset()


class _Handler(BaseHTTPRequestHandler):
    server_version = "arnet-live"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    view: LiveView
    token: str | None
    write_timeout_s: float = 10.0

    def log_message(self, fmt: str, *args: Any) -> None:   # no request log on stderr
        pass

    # ------------------------------------------------------------ helpers
    def _send(self, code: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any, extra: dict | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", extra)

    def _error(self, code: int, msg: str, extra: dict | None = None) -> None:
        self._json(code, {"error": msg}, extra)

    def _allowed(self, query: dict) -> bool:
        """The token (when set) or, without one, a loopback Host header."""
        tok = self.token
        if tok is None:
            host = (self.headers.get("Host") or "").strip()
            name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
            if name and not is_loopback(name):
                self._error(403, f"Host {host!r} refused: this server listens on loopback only")
                return False
            return True
        given = self.headers.get("X-Token") or (query.get("token") or [""])[0]
        auth = self.headers.get("Authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given and self.command != "POST":   # the page's own requests (scripts, image, events)
            given = self._cookie()
        if not given:
            self._error(401, "a token is required: add ?token=... to the address (printed by "
                             "live.py at start) or send the X-Token header")
            return False
        if not hmac.compare_digest(given.encode(), tok.encode()):
            self._error(403, "wrong token")
            return False
        return True

    def _cookie_name(self) -> str:
        return f"arnet_token_{self.server.server_address[1]}"

    def _cookie(self) -> str:
        from http.cookies import CookieError, SimpleCookie
        c = SimpleCookie()
        try:
            c.load(self.headers.get("Cookie") or "")
        except CookieError:
            return ""
        m = c.get(self._cookie_name())
        return m.value if m is not None else ""

    def _route(self, allowed: set) -> tuple[str, dict] | None:
        u = urlsplit(self.path)
        query = parse_qs(u.query)
        if u.path not in GET_ROUTES | POST_ROUTES:
            self._error(404, f"no such page: {u.path[:80]!r}")
            return None
        if not self._allowed(query):
            return None
        if u.path not in allowed:
            self._error(405, f"{self.command} is not allowed on {u.path}",
                        {"Allow": "POST" if u.path in POST_ROUTES else "GET"})
            return None
        return u.path, query

    # ------------------------------------------------------------ GET
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        r = self._route(GET_ROUTES)
        if r is None:
            return
        path, query = r
        if path in STATIC:
            name, ctype = STATIC[path]
            extra = {}
            if self.token is not None and name == "index.html":
                # the page's scripts, image and event stream then carry the token by themselves;
                # the controls still need it in the X-Token header (no cross-site POST rides on it)
                extra["Set-Cookie"] = (f"{self._cookie_name()}={self.token}; Path=/; HttpOnly; "
                                       "SameSite=Strict")
            self._send(200, (WEB_DIR / name).read_bytes(), ctype, extra)
        elif path == "/api/status":
            self._json(200, self.view.status())
        elif path == "/api/events":
            try:
                since = int((query.get("since") or ["0"])[0])
            except ValueError:
                self._error(400, f"since must be an integer event number, got {query.get('since')[0]!r}")
                return
            seq, evs = self.view.recent(since)
            self._json(200, {"seq": seq, "events": evs})
        elif self.command == "HEAD":   # a stream's availability, without streaming
            kind = "mjpeg" if path == "/stream.mjpg" else "sse"
            full = self.view.viewers[kind] >= self.view.max_viewers
            self._send(503 if full else 200, b"", "text/plain")
        elif path == "/stream.mjpg":
            self._stream("mjpeg", self._mjpeg)
        elif path == "/api/live":
            self._stream("sse", self._sse)

    def _stream(self, kind: str, body: Callable[[], None]) -> None:
        v = self.view
        if not v.acquire(kind):
            self._error(503, f"too many viewers: at most {v.max_viewers} at a time "
                             "(live.py --serve-max-viewers); try again when one leaves", {"Retry-After": "5"})
            return
        try:
            self.connection.settimeout(self.write_timeout_s)   # a stalled viewer is dropped
            body()
        except (OSError, ValueError):   # the viewer left or stalled
            pass
        finally:
            v.release(kind)
            self.close_connection = True

    def _mjpeg(self) -> None:
        v = self.view
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = -1
        while True:
            with v.jpeg_cond:
                while v.jpeg_id == sent and not v.ended:
                    v.jpeg_cond.wait(1.0)
                if v.ended and v.jpeg_id == sent:
                    return
                jpg, sent = v.jpeg, v.jpeg_id
            if jpg is None:
                continue
            self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpg)}"
                             f"\r\n\r\n".encode() + jpg + b"\r\n")
            self.wfile.flush()

    def _sse(self) -> None:
        v = self.view
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        seq, evs = v.recent(0, limit=120)      # a new viewer: the status and the newest events
        self._sse_write({"status": v.status(), "events": evs, "seq": seq})
        sent = 0   # the current shared message too: the page skips the events it already has
        while True:   # polls the shared message; never woken by the run's ticks
            mid, payload = v.sse_message()
            if mid != sent and payload:
                self.wfile.write(payload)
                self.wfile.flush()
                sent = mid
            if v.ended and mid == sent:
                return
            time.sleep(0.05)

    def _sse_write(self, d: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(d).encode() + b"\n\n")
        self.wfile.flush()

    # ------------------------------------------------------------ POST
    def do_POST(self) -> None:
        r = self._route(POST_ROUTES)
        if r is None:
            return
        path, _ = r
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if not 0 <= n <= 4096:
            self._error(400, "the body must be a JSON object of at most 4096 bytes")
            return
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw.decode() or "{}")
        except (ValueError, UnicodeDecodeError):
            self._error(400, "the body is not JSON; send e.g. {\"fps\": 10}")
            return
        if not isinstance(body, dict):
            self._error(400, "the body must be a JSON object")
            return
        v = self.view
        try:
            if path == "/api/target":
                unknown = sorted(set(body) - {"fps", "mw"})
                if unknown or len(body) > 1:
                    raise ValueError(f"expected one of {{\"fps\": F}}, {{\"mw\": P}}, {{\"fps\": null}}; "
                                     f"got {sorted(body)}")
                fps = _num(body.get("fps"), "fps")
                mw = _num(body.get("mw"), "mw")
                if mw is not None and not v.has_power:
                    self._error(409, "a power target needs a power reading, and this device reports "
                                     "none (or --no-power is set); set a target fps instead")
                    return
                v.commands.append(("target", (fps, mw)))
                self._json(200, {"ok": True, "target_fps": fps, "target_mw": mw})
            elif path == "/api/clear":
                s = body.get("stream")
                if s is not None and (isinstance(s, bool) or not isinstance(s, int)
                                      or not 0 <= s < len(v.uris)):
                    raise ValueError(f"stream must be one of 0..{len(v.uris) - 1} or null, got {s!r}")
                v.commands.append(("clear", s))
                self._json(200, {"ok": True, "stream": s})
            elif path == "/api/pause":
                p = body.get("paused", not v.paused)
                if not isinstance(p, bool):
                    raise ValueError(f"paused must be true or false, got {p!r}")
                v.paused = p
                with v.cond:
                    v.status_version += 1
                self._json(200, {"ok": True, "paused": p})
        except ValueError as e:
            self._error(400, str(e))


class ViewServer:
    """The HTTP server of a :class:`LiveView`, in a daemon thread."""

    def __init__(self, view: LiveView, host: str = "127.0.0.1", port: int = 8080,
                 token: str | None = None, write_timeout_s: float = 10.0) -> None:
        if token is not None and not token.strip():
            raise ServeError("--serve-token must not be empty")
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(16)
            self.generated = True
        else:
            self.generated = False
        self.view, self.host, self.token = view, host, token
        handler = type("Handler", (_Handler,), {"view": view, "token": token,
                                                "write_timeout_s": float(write_timeout_s)})
        server_cls = ThreadingHTTPServer
        if ":" in host:
            import socket
            server_cls = type("Server6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        try:
            self.httpd = server_cls((host, port), handler)
        except OSError as e:
            raise ServeError(f"--serve {host}:{port}: cannot listen there ({e.strerror or e})") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="arnet-serve",
                                        kwargs={"poll_interval": 0.2}, daemon=True)

    def url(self, shown_host: str | None = None, token: bool = True) -> str:
        h = shown_host or self.host
        if h in ("0.0.0.0", "::", ""):
            h = "<this-device's-address>"
        if ":" in h and not h.startswith("<"):
            h = f"[{h}]"
        return f"http://{h}:{self.port}/" + (f"?token={self.token}" if self.token and token else "")

    def start(self) -> "ViewServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self.view.end()
        self.httpd.shutdown()
        self.httpd.server_close()
