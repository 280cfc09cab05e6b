// Replays every golden trace the Kotlin core replays (android_demo/core/src/test/resources/golden,
// format: android_demo/core/GOLDEN_FORMAT.md) through the JS step loop with fake runners that
// return the recorded tensors: same model calls, kinds, actions, top-k, labels, scores (1e-9).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseManifest, Streamer } from "../src/core.js";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "../../core/src/test/resources/golden");
const TOL = 1e-9;
const files = readdirSync(GOLDEN).filter((f) => f.endsWith(".json")).sort();

function f32s(arr, where) {
  for (const v of arr) if (Math.fround(v) !== v) throw new Error(`${where}: ${v} is not exactly a float32`);
  return Float32Array.from(arr);
}
const close = (a, b, where) => assert.ok(Math.abs(a - b) <= TOL, `${where}: expected ${a}, got ${b}`);

function replay(m, steps, name) {
  const r = { cursor: -1, calls: [], h: new Float32Array(m.hidden), c: new Float32Array(m.hidden) };
  r.reset = () => { r.h = new Float32Array(m.hidden); r.c = new Float32Array(m.hidden); };
  r.frames = (i) => (size) => { r.cursor = i; r.calls.push(`frame:${size}`); return { size }; };
  const w = () => `${name} t=${r.cursor}`;
  r.runners = {
    policy: async ({ frame, h, c }) => {
      r.calls.push("policy");
      const pol = steps[r.cursor].policy;
      assert.ok(pol, `${w()}: the policy ran but the trace has policy = null`);
      assert.equal(frame.size, m.policyResolution, `${w()}: policy frame size`);
      assert.deepEqual(Array.from(h), Array.from(r.h), `${w()}: h fed to the policy is not the previous h'`);
      assert.deepEqual(Array.from(c), Array.from(r.c), `${w()}: c fed to the policy is not the previous c'`);
      const hh = pol.h ? f32s(pol.h, `${w()} policy.h`) : new Float32Array(m.hidden);
      const cc = pol.c ? f32s(pol.c, `${w()} policy.c`) : new Float32Array(m.hidden);
      r.h = hh.slice(); r.c = cc.slice();
      return { action_logits: f32s(pol.action_logits, `${w()} action_logits`),
        class_logits: f32s(pol.class_logits, `${w()} class_logits`), h: hh, c: cc };
    },
  };
  m.actions.slice(0, m.L - 1).forEach((a, i) => {
    r.runners[a.backbone] = async ({ frame }) => {
      r.calls.push(a.backbone);
      const bb = steps[r.cursor].backbone;
      assert.ok(bb, `${w()}: backbone ${a.backbone} ran but the trace has backbone = null`);
      assert.equal(bb.id, a.backbone, `${w()}: backbone id`);
      assert.equal(frame.size, m.resolutions[i], `${w()}: ${a.backbone} frame size`);
      return { class_logits: f32s(bb.class_logits, `${w()} backbone.class_logits`) };
    };
  });
  r.expectedCalls = (step) => {
    if (!step.policy) return [];
    const out = [`frame:${m.policyResolution}`, "policy"];
    if (step.backbone) {
      const a = m.actions.findIndex((x) => x.kind === "resolution" && x.backbone === step.backbone.id);
      assert.ok(a >= 0, `${name}: backbone id ${step.backbone.id} is not in the manifest`);
      out.push(`frame:${m.resolutions[a]}`, step.backbone.id);
    }
    return out;
  };
  return r;
}

test("golden traces exist", () => assert.ok(files.length >= 3, `expected golden traces in ${GOLDEN}`));

for (const file of files) {
  test(`golden ${file}`, async () => {
    const trace = JSON.parse(readFileSync(join(GOLDEN, file), "utf8"));
    assert.equal(trace.format, "arnet-golden-trace/1");
    const m = parseManifest(trace.manifest, `golden/${file}:manifest`);
    const o = trace.options || {};
    const opts = { window: o.window ?? null, topK: o.top_k ?? 3, margin: o.margin ?? 0.1, hold: o.hold ?? 2 };
    const rp = replay(m, trace.steps, file);
    const s = new Streamer(m, rp.runners, opts);
    s.lambda = o.lambda ?? 0;
    for (const [i, step] of trace.steps.entries()) {
      const w = `${file} t=${i}`;
      assert.equal(step.t, i, `${w}: steps[${i}].t`);
      if (step.clear) { s.clear(); rp.reset(); }
      rp.calls = [];
      const ev = await s.step(rp.frames(i));
      assert.deepEqual(rp.calls, rp.expectedCalls(step), `${w}: model calls`);
      const ex = step.expect;
      assert.equal(ev.kind, ex.kind, `${w}: kind`);
      assert.equal(ev.action, ex.action, `${w}: action`);
      assert.equal(ev.top.length, ex.top.length, `${w}: top size`);
      ex.top.forEach(([idx, sc], k) => {
        assert.equal(ev.top[k][0], idx, `${w}: top[${k}] index`);
        close(sc, ev.top[k][1], `${w}: top[${k}] score`);
      });
      assert.equal(ev.label, ex.label, `${w}: label`);
      if ("scores" in ex) {
        if (ex.scores === null) assert.equal(ev.scores, null, `${w}: scores`);
        else { assert.equal(ev.scores.length, ex.scores.length); ex.scores.forEach((v, k) => close(v, ev.scores[k], `${w}: scores[${k}]`)); }
      }
    }
    if (trace.clip && trace.clip.scores) {
      const rp2 = replay(m, trace.steps, `${file} clip`);
      const s2 = new Streamer(m, rp2.runners, opts);
      s2.lambda = o.lambda ?? 0;
      const got = await s2.predictClip(trace.steps.map((_, i) => rp2.frames(i)));
      assert.equal(got.length, trace.clip.scores.length);
      trace.clip.scores.forEach((v, k) => close(v, got[k], `${file}: clip.scores[${k}]`));
    }
  });
}
