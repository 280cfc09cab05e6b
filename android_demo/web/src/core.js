// The AR-Net step loop of docs/STREAMING.md for the browser (and node): manifest checks, the
// policy / skip / backbone decision with budget bias, the sliding window of class logits, top-k
// and the label hysteresis. No DOM and no LiteRT here: models are plain async runners, so node's
// test runner replays the golden traces (android_demo/core/src/test/resources/golden/) with fake
// runners, exactly as the Kotlin core does.

export class ManifestError extends Error {}

const isInt = (v) => Number.isInteger(v);
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function need(cond, path, msg, value) {
  if (!cond) {
    const got = value === undefined ? "missing" : `got ${JSON.stringify(value)}`.slice(0, 200);
    throw new ManifestError(`${path}: ${msg} (${got})`);
  }
}

const ROLES = ["policy", "backbone"], FORMATS = ["tflite", "onnx", "pte", "pt2"];
const BACKENDS = ["litert", "onnxruntime", "executorch", "torch"], PRECISIONS = ["fp32", "fp16", "int8"];
const LAYOUTS = ["NHWC", "NCHW", "NC", "N"], DTYPES = ["uint8", "int8", "float32", "float16", "int32", "int64"];
const INPUT_ROLES = ["frame", "h", "c"], OUTPUT_ROLES = ["action_logits", "class_logits", "h", "c"];

function checkTensor(t, p, roles, isInput) {
  need(t && typeof t === "object" && !Array.isArray(t), p, "expected an object", t);
  need(typeof t.name === "string" && t.name.length > 0, `${p}.name`, "expected a non-empty string", t.name);
  need(roles.includes(t.role), `${p}.role`, `expected one of ${JSON.stringify(roles)}`, t.role);
  need(Array.isArray(t.shape) && t.shape.length >= 1 && t.shape.every((v) => isInt(v) && v > 0), `${p}.shape`,
    "expected a non-empty list of positive integers", t.shape);
  need(DTYPES.includes(t.dtype), `${p}.dtype`, `expected one of ${JSON.stringify(DTYPES)}`, t.dtype);
  need(LAYOUTS.includes(t.layout), `${p}.layout`, `expected one of ${JSON.stringify(LAYOUTS)}`, t.layout);
  if (t.quant !== undefined && t.quant !== null) {
    need(typeof t.quant === "object" && isNum(t.quant.scale) && isInt(t.quant.zero_point), `${p}.quant`,
      "expected {\"scale\": number, \"zero_point\": integer}", t.quant);
  }
  if (isInput && t.role === "frame") {
    need(t.shape.length === 4 && (t.layout === "NHWC" || t.layout === "NCHW"), p, "a frame tensor needs a 4-D NHWC or NCHW shape",
      `${t.layout} [${t.shape}]`);
  }
}

// Checks the fields the step loop and the model loader use (docs/MANIFEST.md) and returns a
// normalised view. Errors name the field path, the value and what was expected.
export function parseManifest(doc, where = "manifest") {
  need(doc && typeof doc === "object" && !Array.isArray(doc), where, "expected a JSON object", doc);
  need(doc.schema === 1, `${where}.schema`, "expected 1", doc.schema);
  const labels = doc.labels;
  need(Array.isArray(labels) && labels.length >= 1 && labels.every((s) => typeof s === "string"),
    `${where}.labels`, "expected a non-empty list of strings", labels);
  const res = doc.resolutions;
  need(Array.isArray(res) && res.length >= 1 && res.every((s) => isInt(s) && s > 0), `${where}.resolutions`,
    "expected a non-empty list of positive integers", res);
  for (let i = 1; i < res.length; i++) need(res[i] < res[i - 1], `${where}.resolutions`, "expected strictly decreasing sizes", res);
  const skips = doc.skip_lengths;
  need(Array.isArray(skips) && skips.every((s) => isInt(s) && s >= 1), `${where}.skip_lengths`,
    "expected a list of integers >= 1", skips);
  for (let i = 1; i < skips.length; i++) need(skips[i] > skips[i - 1], `${where}.skip_lengths`, "expected strictly increasing lengths", skips);
  const L = res.length, M = skips.length, A = L + M;
  const actions = doc.actions;
  need(Array.isArray(actions) && actions.length === A, `${where}.actions`, `expected ${A} actions (${L} resolutions + ${M} skips)`, actions && actions.length);
  actions.forEach((a, i) => {
    const p = `${where}.actions[${i}]`;
    if (i < L) {
      need(a && a.kind === "resolution", `${p}.kind`, "expected \"resolution\"", a && a.kind);
      need(a.size === res[i], `${p}.size`, `expected ${res[i]} (resolutions[${i}])`, a.size);
      const bb = i === L - 1 ? "policy" : undefined;
      need(typeof a.backbone === "string" && (bb === undefined || a.backbone === bb), `${p}.backbone`,
        bb ? "expected \"policy\" for the lowest resolution" : "expected an artifact id", a.backbone);
    } else {
      need(a && a.kind === "skip", `${p}.kind`, "expected \"skip\"", a && a.kind);
      need(a.frames === skips[i - L], `${p}.frames`, `expected ${skips[i - L]} (skip_lengths[${i - L}])`, a.frames);
    }
  });
  const pol = doc.policy || {};
  need(isInt(pol.hidden) && pol.hidden >= 1, `${where}.policy.hidden`, "expected an integer >= 1", pol.hidden);
  need(pol.resolution === res[L - 1], `${where}.policy.resolution`, `expected ${res[L - 1]} (the lowest resolution)`, pol.resolution);
  const costs = doc.costs || {};
  need(isNum(costs.policy_step) && costs.policy_step >= 0, `${where}.costs.policy_step`, "expected a number >= 0", costs.policy_step);
  need(Array.isArray(costs.actions) && costs.actions.length === A && costs.actions.every((c) => isNum(c) && c >= 0),
    `${where}.costs.actions`, `expected ${A} numbers >= 0`, costs.actions);
  need(isNum(costs.uniform_per_frame) && costs.uniform_per_frame >= 0, `${where}.costs.uniform_per_frame`, "expected a number >= 0", costs.uniform_per_frame);
  const samp = doc.sampling || {};
  need(isInt(samp.frames_per_clip) && samp.frames_per_clip >= 1, `${where}.sampling.frames_per_clip`, "expected an integer >= 1", samp.frames_per_clip);
  need(isNum(samp.seconds_per_step) && samp.seconds_per_step > 0, `${where}.sampling.seconds_per_step`, "expected a number > 0", samp.seconds_per_step);
  const norm = doc.normalization;
  need(norm && typeof norm === "object" && !Array.isArray(norm), `${where}.normalization`, "expected an object", norm);
  for (const k of ["mean", "std"]) {
    need(Array.isArray(norm[k]) && norm[k].length === 3 && norm[k].every(isNum), `${where}.normalization.${k}`, "expected 3 numbers", norm[k]);
  }
  need(typeof norm.folded === "boolean", `${where}.normalization.folded`, "expected true or false", norm.folded);
  const resize = norm.resize === undefined ? "area" : norm.resize;
  need(resize === "area" || resize === "pyramid", `${where}.normalization.resize`, "expected \"area\" or \"pyramid\"", norm.resize);
  const arts = doc.artifacts;
  need(Array.isArray(arts), `${where}.artifacts`, "expected a list", arts);
  arts.forEach((a, i) => {
    const p = `${where}.artifacts[${i}]`;
    need(a && typeof a.id === "string", `${p}.id`, "expected a string", a && a.id);
    need(typeof a.file === "string" && a.file.length > 0 && !a.file.includes("/") && !a.file.includes(".."), `${p}.file`,
      "expected a file name inside the model folder", a.file);
    need(typeof a.sha256 === "string" && /^[0-9a-f]{64}$/.test(a.sha256), `${p}.sha256`, "expected 64 lowercase hex digits", a.sha256);
    const ids = ["policy", ...actions.slice(0, L - 1).map((x) => x.backbone)];
    need(ids.includes(a.id), `${p}.id`, `expected one of ${JSON.stringify(ids)}`, a.id);
    need(ROLES.includes(a.role), `${p}.role`, `expected one of ${JSON.stringify(ROLES)}`, a.role);
    need(FORMATS.includes(a.format), `${p}.format`, `expected one of ${JSON.stringify(FORMATS)}`, a.format);
    need(BACKENDS.includes(a.backend), `${p}.backend`, `expected one of ${JSON.stringify(BACKENDS)}`, a.backend);
    need(PRECISIONS.includes(a.precision), `${p}.precision`, `expected one of ${JSON.stringify(PRECISIONS)}`, a.precision);
    need(isInt(a.resolution) && a.resolution > 0, `${p}.resolution`, "expected a positive integer", a.resolution);
    need(isInt(a.bytes) && a.bytes >= 0, `${p}.bytes`, "expected an integer >= 0", a.bytes);
    for (const [side, allowed] of [["inputs", INPUT_ROLES], ["outputs", OUTPUT_ROLES]]) {
      need(Array.isArray(a[side]), `${p}.${side}`, "expected a list", a[side]);
      a[side].forEach((t, k) => checkTensor(t, `${p}.${side}[${k}]`, allowed, side === "inputs"));
      const want = a.role === "policy" ? (side === "inputs" ? ["c", "frame", "h"] : ["action_logits", "c", "class_logits", "h"])
        : (side === "inputs" ? ["frame"] : ["class_logits"]);
      const got = [...new Set(a[side].map((t) => t.role))].sort();
      need(JSON.stringify(got) === JSON.stringify(want), `${p}.${side}`, `a ${a.role} artifact needs ${side.slice(0, -1)} roles ${JSON.stringify(want)}`, got);
    }
  });
  need(typeof doc.name === "string", `${where}.name`, "expected a string", doc.name);
  return {
    doc, where, name: doc.name || "", labels, multiLabel: !!doc.multi_label, resolutions: res, skipLengths: skips,
    actions, L, M, A, hidden: pol.hidden, policyResolution: res[L - 1], costs, resize,
    framesPerClip: samp.frames_per_clip, secondsPerStep: samp.seconds_per_step, artifacts: arts,
    uniformCost: isNum(costs.uniform_per_frame) ? costs.uniform_per_frame : costs.policy_step + costs.actions[0],
    actionCost: (a) => costs.policy_step + costs.actions[a],
  };
}

// Indices by score descending, ties by lower index; at most k.
export function topK(scores, k) {
  const idx = Array.from(scores, (_, i) => i);
  idx.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
  return idx.slice(0, k);
}

// Argmax, lowest index on ties.
export function argmax(z) {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
  return best;
}

// b_a = cost_a / max cost, cost of a skip amortised over its frames (docs/STREAMING.md "Budget").
export function normalizedCosts(m, perStepCost = null) {
  const cost = m.actions.map((_, a) => {
    const base = perStepCost ? perStepCost[a] : m.actionCost(a);
    return a >= m.L ? base / m.skipLengths[a - m.L] : base;
  });
  const mx = Math.max(...cost);
  return mx > 0 ? cost.map((c) => c / mx) : cost.map(() => 0);
}

export function softmax(m) {
  let mx = -Infinity;
  for (const v of m) if (v > mx) mx = v;
  const e = m.map((v) => Math.exp(v - mx));
  let s = 0;
  for (const v of e) s += v;
  return e.map((v) => v / s);
}

export const toScores = (m, multiLabel) => (multiLabel ? m.map((v) => 1 / (1 + Math.exp(-v))) : softmax(m));

// The last W sampled frames' entries (null = empty) and their scores.
export class WindowScorer {
  constructor(window, numClasses, multiLabel) {
    if (!(isInt(window) && window >= 1)) throw new RangeError(`window: expected an integer >= 1, got ${window}`);
    this.window = window; this.numClasses = numClasses; this.multiLabel = multiLabel; this.entries = [];
  }
  push(entry) {
    if (entry && entry.length !== this.numClasses) throw new RangeError(`class logits: expected ${this.numClasses} values, got ${entry.length}`);
    this.entries.push(entry || null);
    while (this.entries.length > this.window) this.entries.shift();
  }
  clear() { this.entries = []; }
  mean() {
    let n = 0;
    const sum = new Array(this.numClasses).fill(0);
    for (const e of this.entries) if (e) { n++; for (let i = 0; i < this.numClasses; i++) sum[i] += e[i]; }
    return n === 0 ? null : sum.map((v) => v / n);
  }
  scores() { const m = this.mean(); return m && toScores(m, this.multiLabel); }
}

// Displayed-label hysteresis; a step without scores changes nothing.
export class Hysteresis {
  constructor(margin = 0.1, hold = 2) {
    if (!(isInt(hold) && hold >= 1)) throw new RangeError(`hold: expected an integer >= 1, got ${hold}`);
    this.margin = margin; this.hold = hold; this.clear();
  }
  clear() { this.displayed = -1; this.candidate = -1; this.count = 0; }
  update(scores) {
    if (!scores) return this.displayed;
    const top1 = topK(scores, 1)[0];
    if (this.displayed < 0) { this.displayed = top1; this.candidate = -1; this.count = 0; }
    else if (top1 === this.displayed) { this.candidate = -1; this.count = 0; }
    else if (scores[top1] - scores[this.displayed] >= this.margin) {
      if (top1 === this.candidate) this.count++; else { this.candidate = top1; this.count = 1; }
      if (this.count >= this.hold) { this.displayed = top1; this.candidate = -1; this.count = 0; }
    } else { this.candidate = -1; this.count = 0; }
    return this.displayed;
  }
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

// The step loop. `runners`: {policy: async ({frame, h, c}) => {action_logits, class_logits, h, c},
// <backbone id>: async ({frame}) => {class_logits}}; outputs are Float32Array (or arrays of float32
// values). `frames(size)`: the current sampled frame at that size (only called on decision steps).
export class Streamer {
  constructor(manifest, runners, { window = null, topK: k = 3, margin = 0.1, hold = 2 } = {}) {
    this.m = manifest;
    this.runners = runners;
    this.window = window === null || window === undefined ? manifest.framesPerClip : window;
    if (!(isInt(k) && k >= 1)) throw new RangeError(`top_k: expected an integer >= 1, got ${k}`);
    this.k = k;
    this.scorer = new WindowScorer(this.window, manifest.labels.length, manifest.multiLabel);
    this.hyst = new Hysteresis(margin, hold);
    this.lambda = 0;
    this.b = normalizedCosts(manifest);
    const missing = ["policy", ...manifest.actions.slice(0, manifest.L - 1).map((a) => a.backbone)].filter((id) => !runners[id]);
    if (missing.length) throw new Error(`no runner for artifact(s) ${missing.join(", ")}`);
    this.t = 0;
    this.clear();
  }

  clear() {
    this.h = new Float32Array(this.m.hidden); this.c = new Float32Array(this.m.hidden);
    this.skipRemaining = 0; this.skipAction = -1;
    this.scorer.clear(); this.hyst.clear();
  }

  async decide(frames) {
    const m = this.m, t0 = now(), ms = {};
    if (this.skipRemaining > 0) {
      this.skipRemaining -= 1;
      ms.step = now() - t0;
      return { kind: "skipped", action: this.skipAction, entry: null, low: null, logits: null, ms, backbone: null, lambda: this.lambda };
    }
    let rs = 0;
    const frameAt = async (size) => { const a = now(); const f = await frames(size); rs += now() - a; return f; };
    const low = await frameAt(m.policyResolution);
    const p0 = now();
    const out = await this.runners.policy({ frame: low, h: this.h, c: this.c });
    ms.policy = now() - p0;
    for (const k of ["action_logits", "class_logits", "h", "c"]) if (!out[k]) throw new Error(`policy returned no ${k}`);
    if (out.action_logits.length !== m.A) throw new Error(`policy action_logits: expected ${m.A} values, got ${out.action_logits.length}`);
    this.h = Float32Array.from(out.h); this.c = Float32Array.from(out.c);
    const lam = this.lambda;
    const z = Array.from(out.action_logits, (v, a) => v - lam * this.b[a]);
    const action = argmax(z);
    let kind, entry = null, backbone = null;
    if (action === m.L - 1) { kind = "resolution"; entry = Float32Array.from(out.class_logits); }
    else if (action < m.L - 1) {
      kind = "resolution";
      backbone = m.actions[action].backbone;
      const f = await frameAt(m.resolutions[action]);
      const b0 = now();
      const bo = await this.runners[backbone]({ frame: f });
      ms.backbone = now() - b0;
      if (!bo.class_logits) throw new Error(`${backbone} returned no class_logits`);
      entry = Float32Array.from(bo.class_logits);
    } else {
      kind = "skip";
      this.skipRemaining = m.skipLengths[action - m.L] - 1;
      this.skipAction = action;
    }
    ms.resize = rs;
    ms.step = now() - t0;
    return { kind, action, entry, low: Float32Array.from(out.class_logits), logits: Float32Array.from(out.action_logits), ms, backbone, lambda: lam };
  }

  // One sampled frame. Returns an event shaped like docs/EVENTS.md's (the fields view.js reads)
  // plus `scores`, `top` ([[index, score]]), `label_index`, `class_logits` (the window entry) and
  // `action_logits` (the policy's, null on a skipped frame).
  async step(frames) {
    const m = this.m;
    const d = await this.decide(frames);
    this.scorer.push(d.entry);
    const scores = this.scorer.scores();
    const top = scores ? topK(scores, this.k).map((i) => [i, scores[i]]) : [];
    const shown = this.hyst.update(scores);
    const act = m.actions[d.action];
    const ev = {
      step: this.t++, kind: d.kind, action: d.action,
      action_name: act.kind === "skip" ? `skip${act.frames}` : `res${act.size}`,
      label: shown >= 0 ? m.labels[shown] : null, label_index: shown,
      top_k: top.map(([i, s]) => [m.labels[i], s]), top, scores,
      gmacs: d.kind === "skipped" ? 0 : this.uniform ? m.uniformCost : m.actionCost(d.action),
      ms: d.ms, lambda: d.lambda, backbone: d.backbone, class_logits: d.entry, action_logits: d.logits,
    };
    if (d.kind === "resolution") ev.resolution = act.size; else ev.skip = act.frames;
    return ev;
  }

  // Offline clip prediction (docs/STREAMING.md "Offline parity"), with the all-skip fallback.
  async predictClip(frameSources) {
    if (!frameSources.length) throw new Error("predictClip: no frames");
    this.clear();
    const n = frameSources.length, C = this.m.labels.length;
    const clip = new WindowScorer(n, C, this.m.multiLabel), lows = new WindowScorer(n, C, this.m.multiLabel);
    for (const f of frameSources) { const d = await this.decide(f); clip.push(d.entry); lows.push(d.low); }
    this.clear();
    return clip.scores() || lows.scores();
  }
}

// The Uniform baseline on the same stream: the biggest backbone on every sampled frame, the same
// window, top-k and hysteresis (to compare fps and GMACs with the adaptive loop).
export class UniformStreamer extends Streamer {
  constructor(...args) { super(...args); this.uniform = true; }
  async decide(frames) {
    const m = this.m, t0 = now(), ms = {};
    const a = 0, id = m.actions[0].backbone;
    const r0 = now();
    const f = await frames(m.resolutions[0]);
    ms.resize = now() - r0;
    if (m.L === 1) {
      const out = await this.runners.policy({ frame: f, h: this.h, c: this.c });
      this.h = Float32Array.from(out.h); this.c = Float32Array.from(out.c);
      ms.step = now() - t0;
      return { kind: "resolution", action: a, entry: Float32Array.from(out.class_logits), low: null, logits: null, ms, backbone: null, lambda: 0 };
    }
    const b0 = now();
    const bo = await this.runners[id]({ frame: f });
    ms.backbone = now() - b0;
    ms.step = now() - t0;
    return { kind: "resolution", action: a, entry: Float32Array.from(bo.class_logits), low: null, logits: null, ms, backbone: id, lambda: 0 };
  }
}
