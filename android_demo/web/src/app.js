// The phone page: rear camera (getUserMedia) -> centre square -> the manifest's resize rule ->
// the step loop (core.js) on LiteRT.js -> label, top-k, policy strip and stats (view.js, shared
// with the runtime's browser view). Every failure ends in a message on the page.
//
// URL options: ?precision=int8|fp32 (default int8), ?threads=0|1 (default: 1 where the page is
// cross-origin isolated), ?fast=1 (step as fast as the device can instead of every
// sampling.seconds_per_step), ?model=<folder URL> (default ./model/), ?record=1 (keep each
// decision step's centre square and model inputs for tests), ?mode=uniform (the Uniform baseline:
// the biggest backbone on every frame).
import { StreamView, renderStats } from "./view.js";
import { Streamer, UniformStreamer } from "./core.js";
import { centerSquareRGBA, frameViews } from "./frames.js";
import { loadFolder, makeRunner } from "./models.js";

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
const state = window.arnet = { status: "starting", events: [], error: null, frames: [], stats: {} };

function fail(where, err) {
  const msg = `${where}: ${err && err.message ? err.message : err}`;
  state.status = "error"; state.error = msg;
  const box = $("msg");
  box.hidden = false;
  box.textContent = msg;
  $("conn").textContent = "error"; $("conn").className = "badge down";
  console.warn(msg);
}
function setStatus(s) { state.status = s; $("conn").textContent = s; $("conn").className = `badge ${s === "live" ? "live" : ""}`; }

// WebAssembly SIMD: a module with one v128 op validates only where SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
export function hasSimd() {
  if (q.get("simulate_no_simd") === "1") return false;
  try { return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE); } catch { return false; }
}

async function readerFor() {
  const picked = $("picker").files;
  if (picked && picked.length) {
    const byName = new Map(Array.from(picked, (f) => [f.name, f]));
    return async (name) => {
      const f = byName.get(name);
      if (!f) throw new Error(`not in the picked folder (${byName.size} files)`);
      return new Uint8Array(await f.arrayBuffer());
    };
  }
  const base = new URL(q.get("model") || "./model/", location.href);
  return async (name) => {
    const r = await fetch(new URL(name, base));
    if (!r.ok) throw new Error(`HTTP ${r.status} for ${new URL(name, base).pathname}`);
    return new Uint8Array(await r.arrayBuffer());
  };
}

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
    throw new Error("this browser gives no camera here (getUserMedia needs HTTPS or localhost)");
  try {
    return await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" }, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    const why = { NotAllowedError: "camera permission was denied; allow the camera for this site and reload",
      NotFoundError: "no camera was found on this device", NotReadableError: "the camera is in use by another app" }[e.name];
    throw new Error(why ? `${why} (${e.name})` : `${e.name}: ${e.message}`);
  }
}

let stream = null, streamer = null, view = null, running = false;
// Lets the page render between steps without setTimeout's clamping of nested timers.
const yieldTask = () => new Promise((r) => { const ch = new MessageChannel(); ch.port1.onmessage = () => r(); ch.port2.postMessage(0); });

async function start() {
  $("msg").hidden = true; state.error = null;
  if (!hasSimd()) { fail("WebAssembly", new Error("this browser does not support WebAssembly SIMD, which LiteRT.js needs; use a current Chrome, Edge, Firefox or Safari")); return; }
  const precision = $("precision").value;
  const threads = q.has("threads") ? q.get("threads") === "1" : self.crossOriginIsolated === true;
  let folder;
  try { setStatus("loading model"); folder = await loadFolder(await readerFor(), precision); }
  catch (e) { fail("model", e); return; }
  const m = folder.manifest;
  let lite;
  try {
    const litert = await import("@litertjs/core");
    const wasmDir = new URL("./vendor/litertjs/core/wasm/", location.href).href;
    lite = await litert.loadLiteRt(wasmDir, { threads: threads && self.crossOriginIsolated === true });
    const runners = {};
    state.runners = {};
    for (const [id, a] of Object.entries(folder.artifacts)) {
      const r = await makeRunner(lite, a.spec, a.bytes, litert.Tensor);
      runners[id] = id === "policy" ? (x) => r.run({ frame: x.frame, h: x.h, c: x.c }) : (x) => r.run({ frame: x.frame });
      state.runners[id] = { run: runners[id], size: a.spec.resolution || m.resolutions[m.actions.findIndex((x) => x.backbone === id)] };
    }
    streamer = new (q.get("mode") === "uniform" ? UniformStreamer : Streamer)(m, runners);
    state.mode = q.get("mode") === "uniform" ? "uniform" : "adaptive";
  } catch (e) { fail("LiteRT.js", e); return; }
  $("model").textContent = `· ${m.name} · tflite ${precision} · ${threads && self.crossOriginIsolated ? "threads" : "1 thread"}`;
  state.manifest = m.doc; state.precision = precision;
  view = view || new StreamView($("stream"), { title: "camera", resolutions: m.resolutions });
  view.setResolutions(m.resolutions);
  try { setStatus("opening camera"); stream = await openCamera(); }
  catch (e) { fail("camera", e); return; }
  const video = $("video");
  video.srcObject = stream;
  await video.play().catch(() => {});
  running = true;
  setStatus("live");
  loop(m, video);
}

async function loop(m, video) {
  const canvas = document.createElement("canvas");
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const fast = q.get("fast") === "1", record = q.get("record") === "1";
  const period = 1000 * m.secondsPerStep;
  const t0 = performance.now();
  let shown = 0, gmacs = 0, n = 0, lastTime = 0;
  const lat = [];
  while (running) {
    if (!fast) {
      const wait = lastTime + period - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    lastTime = performance.now();
    if (!video.videoWidth) { await new Promise((r) => setTimeout(r, 20)); continue; }
    let square = null, rec = null;
    const b64 = (u8) => { let bin = ""; for (let i = 0; i < u8.length; i += 8192) bin += String.fromCharCode.apply(null, u8.subarray(i, i + 8192)); return btoa(bin); };
    const frames = (size) => {
      if (!square) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        g.drawImage(video, 0, 0);
        square = centerSquareRGBA(g.getImageData(0, 0, canvas.width, canvas.height));
        square.views = frameViews(square, m.resize);
        if (record) { rec = { step: streamer.t, size: square.size, rgb: b64(square.data), views: {} }; state.frames.push(rec); }
      }
      const v = square.views(size);
      if (rec && !rec.views[size]) rec.views[size] = b64(v.data);
      return v;
    };
    let ev;
    try { ev = await streamer.step(frames); }
    catch (e) { running = false; fail("step", e); return; }
    ev.t = (performance.now() - t0) / 1000;
    n += 1; gmacs += ev.gmacs;
    if (ev.kind !== "skipped") lat.push(ev.ms.step);
    if (lat.length > 200) lat.shift();
    state.events.push({ step: ev.step, t: ev.t, kind: ev.kind, action: ev.action, label: ev.label, top: ev.top, ms: ev.ms,
      ...(record ? { action_logits: ev.action_logits && Array.from(ev.action_logits), class_logits: ev.class_logits && Array.from(ev.class_logits) } : {}) });
    if (state.events.length > 5000) state.events.shift();
    view.event(ev);
    view.draw();
    shown = n / Math.max(1e-3, (performance.now() - t0) / 1000);
    const sorted = [...lat].sort((a, b) => a - b);
    const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
    state.stats = { fps: shown, p50_ms: pct(0.5), p95_ms: pct(0.95), gmacs_per_frame: gmacs / n, uniform_gmacs_per_frame: m.uniformCost, steps: n };
    renderStats($("stats"), state.stats);
    if (fast) await yieldTask();
  }
}

function stop() { running = false; state.status = "stopped"; if (stream) stream.getTracks().forEach((t) => t.stop()); stream = null; setStatus("stopped"); }

state.stop = stop;

// ms per call of each model on a fixed random frame (median of n, after 3 warm-up calls).
state.bench = async (n = 50) => {
  const out = {};
  for (const [id, r] of Object.entries(state.runners || {})) {
    const frame = { size: r.size, data: Uint8Array.from({ length: r.size * r.size * 3 }, (_, i) => (i * 37) % 256) };
    const hid = state.manifest.policy.hidden;
    const x = { frame, h: new Float32Array(hid), c: new Float32Array(hid) };
    const ts = [];
    for (let i = 0; i < n + 3; i++) { const t = performance.now(); await r.run(x); if (i >= 3) ts.push(performance.now() - t); }
    ts.sort((a, b) => a - b);
    out[id] = ts[ts.length >> 1];
  }
  return out;
};
if (q.get("precision")) {
  const sel = $("precision"), p = q.get("precision");
  if (![...sel.options].some((o) => o.value === p)) sel.add(new Option(p, p));
  sel.value = p;
}
$("start").addEventListener("click", () => { stop(); start(); });
$("clear").addEventListener("click", () => { if (streamer) { streamer.clear(); view.clear(); } });
$("picker").addEventListener("change", () => { stop(); start(); });
if ("serviceWorker" in navigator && q.get("sw") !== "0") navigator.serviceWorker.register("./sw.js").catch((e) => console.warn(`service worker: ${e.message}`));
window.addEventListener("error", (e) => fail("page", e.error || e.message));
window.addEventListener("unhandledrejection", (e) => fail("page", e.reason));
start();
