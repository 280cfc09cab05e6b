// The browser view's data source: the runtime's Server-Sent Events (/api/live), the MJPEG stream
// (/stream.mjpg) and the controls (POST /api/target, /api/clear, /api/pause). Rendering is
// view.js's, from plain event objects.
import { StreamView, renderStats } from "./view.js";

const token = new URLSearchParams(location.search).get("token") || "";
const withToken = (path) => token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
const $ = (id) => document.getElementById(id);
const views = [];
let paused = false;
let lastSeq = 0;   // the newest event shown

function statsOf(st) {
  const s = st || {};
  const step = (s.latency_ms || {}).step || {};
  const budget = s.budget || {};
  const last = (s.last_events || []).filter(Boolean);
  const ev = last.length ? last[last.length - 1] : {};
  return {
    fps: s.fps, capacity_fps: s.capacity_fps, p50_ms: step.p50_ms, p95_ms: step.p95_ms,
    gmacs_per_frame: s.gmacs_per_frame, uniform_gmacs_per_frame: s.uniform_gmacs_per_frame,
    lambda: ev.lambda !== undefined ? ev.lambda : budget.lambda, target_fps: budget.target_fps,
    target_mw: budget.target_mw, power_mw: ev.power_mw, battery_pct: ev.battery_pct, steps: s.steps,
  };
}

function setup(st) {
  $("model").textContent = st.model ? `· ${st.model} · ${st.backend} ${st.precision}` : "";
  const box = $("streams");
  (st.sources || []).forEach((uri, i) => {
    if (views[i]) return;
    const root = box.appendChild(document.createElement("div"));
    root.className = "card";
    root.id = `stream-${i}`;
    views[i] = new StreamView(root, { title: `[${i}] ${uri}`, resolutions: st.resolutions || [] });
  });
}

function onStatus(st) {
  setup(st);
  paused = !!st.paused;
  $("pause").textContent = paused ? "resume" : "pause";
  const badge = $("conn");
  badge.textContent = st.ended ? "ended" : paused ? "paused" : "live";
  badge.className = `badge ${st.ended ? "down" : paused ? "paused" : "live"}`;
  renderStats($("stats"), statsOf(st));
  $("target-kind").querySelector('option[value="mw"]').disabled = !st.power;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Token": token },
                                body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $("control-msg").textContent = r.ok ? "" : (j.error || `error ${r.status}`);
  return r.ok;
}

function connect() {
  const es = new EventSource(withToken("api/live"));
  es.onmessage = (m) => {
    const d = JSON.parse(m.data);
    if (d.status) onStatus(d.status);
    const evs = d.events || [];
    const first = d.seq - evs.length + 1;       // events are numbered consecutively up to seq
    if (d.seq < lastSeq) lastSeq = first - 1;   // numbers went back: a new run (live.py restarted)
    evs.forEach((ev, k) => {
      if (first + k > lastSeq && views[ev.stream]) views[ev.stream].event(ev);
    });
    lastSeq = Math.max(lastSeq, d.seq || 0);
  };
  es.onerror = () => {
    const b = $("conn");
    b.textContent = "disconnected";
    b.className = "badge down";
  };
}

function video() {
  const img = $("video");
  img.onerror = async () => {
    const r = await fetch(withToken("stream.mjpg"), { method: "HEAD" }).catch(() => null);
    const msg = $("video-msg");
    msg.hidden = false;
    msg.textContent = r && r.status === 503 ? "too many viewers: the stream is refused (try again later)"
                                            : "the stream is not available";
  };
  img.src = withToken("stream.mjpg");
}

function controls() {
  $("target-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = parseFloat($("target-value").value);
    if (!(v > 0)) { $("control-msg").textContent = "enter a positive number"; return; }
    post("api/target", { [$("target-kind").value]: v });
  });
  $("target-off").addEventListener("click", () => post("api/target", { fps: null }));
  $("pause").addEventListener("click", () => post("api/pause", { paused: !paused }));
  $("clear").addEventListener("click", async () => { if (await post("api/clear", {})) views.forEach((v) => v.clear()); });
}

function frame() {
  views.forEach((v) => v && v.draw());
  requestAnimationFrame(frame);
}

fetch(withToken("api/status")).then((r) => r.json()).then((st) => { if (!st.error) onStatus(st); });
controls();
video();
connect();
requestAnimationFrame(frame);
