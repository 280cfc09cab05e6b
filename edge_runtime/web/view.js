// The reusable parts of the live view: a stream panel (label, top-k bars, action, policy strip)
// and a stats table. They take plain objects only: events as docs/EVENTS.md defines them, and a
// flat stats object (below). No network code here: the browser view feeds them from the runtime's
// Server-Sent Events (app.js); the phone demo can feed them from its own loop.

const SKIP = "#ff9f1a", SKIPPED = "#5a4a30";
const RES = ["#2f6bff", "#22a7c9", "#2fbf71", "#a4d65e", "#e0e060", "#c080ff"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(d);

// Colour of one frame in the policy strip: a resolution by its rank (largest first), a skip
// decision orange, a frame inside a skip dark.
export function actionColor(ev, resolutions) {
  if (ev.kind === "skip") return SKIP;
  if (ev.kind === "skipped") return SKIPPED;
  const sizes = (resolutions && resolutions.length) ? resolutions : [ev.resolution];
  const i = sizes.indexOf(ev.resolution);
  return RES[Math.max(0, i) % RES.length];
}

export function actionText(ev) {
  if (ev.kind === "resolution") return `resolution ${ev.resolution}px`;
  if (ev.kind === "skip") return `skip ${ev.skip} frame(s)`;
  return `skipped (skip ${ev.skip})`;
}

// One stream: label, top-k with score bars, the action of the last frame and a strip of the
// last `stripLength` frames' actions. `view.event(ev)` per event, `view.clear()` after a reset.
export class StreamView {
  constructor(root, { title = "", stripLength = 120, resolutions = [] } = {}) {
    this.root = root;
    this.resolutions = resolutions;
    this.stripLength = stripLength;
    root.classList.add("arnet-stream");
    this.title = root.appendChild(el("h2", "arnet-title", title));
    this.label = root.appendChild(el("div", "arnet-label", "(collecting)"));
    this.topk = root.appendChild(el("ol", "arnet-topk"));
    this.action = root.appendChild(el("div", "arnet-action", "–"));
    this.strip = root.appendChild(el("canvas", "arnet-strip"));
    this.strip.width = stripLength;
    this.strip.height = 1;
    this.legend = root.appendChild(el("div", "arnet-legend"));
    this.colors = [];
    this.count = 0;
    this.setResolutions(resolutions);
  }

  setResolutions(resolutions) {
    this.resolutions = resolutions || [];
    this.legend.textContent = "";
    const item = (c, t) => { const i = el("i"); i.style.background = c; this.legend.append(i, t); };
    this.resolutions.forEach((r, k) => item(RES[k % RES.length], `${r}px`));
    item(SKIP, "skip");
    item(SKIPPED, "skipped");
  }

  event(ev) {
    const label = ev.label === null || ev.label === undefined ? "(collecting)" : ev.label;
    if (this.label.textContent !== label) this.label.textContent = label;
    this.label.dataset.label = label;
    const top = ev.top_k || [];
    if (top.length) this.topk.textContent = "";   // frames without scores keep the last top-k
    for (const [name, score] of top) {
      const li = el("li");
      const bar = li.appendChild(el("span", "bar"));
      bar.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
      const txt = li.appendChild(el("span", "txt"));
      txt.append(el("span", "", String(name)), el("span", "", fmt(score, 2)));
      this.topk.appendChild(li);
    }
    this.action.textContent = `${actionText(ev)} · step ${ev.step}` +
      (ev.lambda !== undefined ? ` · λ ${fmt(ev.lambda, 2)}` : "");
    this.colors.push(actionColor(ev, this.resolutions));
    if (this.colors.length > this.stripLength) this.colors.shift();
    this.count += 1;
    this.strip.dataset.count = String(this.count);
    this.strip.dataset.last = ev.action_name;
    this.dirty = true;
  }

  // Draw the strip (call once per animation frame, not per event).
  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const g = this.strip.getContext("2d");
    g.fillStyle = "#000";
    g.fillRect(0, 0, this.stripLength, 1);
    const off = this.stripLength - this.colors.length;
    this.colors.forEach((c, k) => { g.fillStyle = c; g.fillRect(off + k, 0, 1, 1); });
  }

  clear() {
    this.colors = [];
    this.label.textContent = "(collecting)";
    this.label.dataset.label = "";
    this.topk.textContent = "";
    this.dirty = true;
    this.draw();
  }
}

// The stats table. `stats` is flat; every field optional (missing = not shown or "–"):
//   fps (frames shown per second), capacity_fps, p50_ms, p95_ms, gmacs_per_frame,
//   uniform_gmacs_per_frame, lambda, target_fps, target_mw, power_mw, battery_pct, steps
export function renderStats(root, stats) {
  const rows = [
    ["fps", `${fmt(stats.fps)}` + (stats.capacity_fps ? ` (max ${fmt(stats.capacity_fps, 0)})` : "")],
    ["ms p50 / p95", `${fmt(stats.p50_ms, 2)} / ${fmt(stats.p95_ms, 2)}`],
    ["GMACs/frame", `${fmt(stats.gmacs_per_frame, 3)}` + (stats.uniform_gmacs_per_frame ?
      ` vs Uniform ${fmt(stats.uniform_gmacs_per_frame, 3)} (${fmt(100 * stats.gmacs_per_frame / stats.uniform_gmacs_per_frame, 0)}%)` : "")],
  ];
  if (stats.target_fps || stats.target_mw || stats.lambda !== undefined && stats.lambda !== null) {
    const tgt = stats.target_fps ? `${fmt(stats.target_fps)} fps` : stats.target_mw ? `${fmt(stats.target_mw, 0)} mW` : "none";
    rows.push(["budget λ", `${fmt(stats.lambda, 2)} (target ${tgt})`]);
  }
  if (stats.power_mw !== undefined && stats.power_mw !== null) rows.push(["power", `${fmt(stats.power_mw / 1000, 2)} W`]);
  if (stats.battery_pct !== undefined && stats.battery_pct !== null) rows.push(["battery", `${fmt(stats.battery_pct, 0)} %`]);
  if (stats.steps !== undefined) rows.push(["frames", String(stats.steps)]);
  let dl = root.querySelector("dl.arnet-stats");
  if (!dl) { dl = root.appendChild(el("dl", "arnet-stats")); }
  dl.textContent = "";
  for (const [k, v] of rows) {
    dl.append(el("dt", "", k));
    const dd = el("dd", "", v);
    dd.dataset.stat = k.split(" ")[0].toLowerCase();
    dl.append(dd);
  }
}
