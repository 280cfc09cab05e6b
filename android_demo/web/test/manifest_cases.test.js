// The page's manifest checks against edge_runtime.manifest on the 99 mutated manifests the Kotlin
// core is held to (manifest_cases.json): the same accept / reject, and the same field path at the
// start of the error, except where noted below.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseManifest } from "../src/core.js";

const FILE = join(dirname(fileURLToPath(import.meta.url)), "../../core/src/test/resources/manifest_cases.json");

// JSON.parse gives 1.0 and 1 the same number: an int-typed field written as a float is accepted.
const FLOAT_AS_INT = new Set(["schema float", "resolution float", "sampling frames_per_clip float", "tensor quant zero_point float"]);
// Stricter than Python on purpose: booleans are not numbers here, and a policy without state
// (hidden 0) cannot stream, which the page is for.
const STRICTER = (name) => name.includes("(python quirk)") || name === "policy hidden zero accepted";

function apply(base, ops) {
  let doc = structuredClone(base);
  for (const o of ops) {
    if (o.op === "replace_root") { doc = structuredClone(o.value); continue; }
    let t = doc;
    for (const k of o.path.slice(0, -1)) t = t[k];
    const last = o.path[o.path.length - 1];
    if (o.op === "set") t[last] = structuredClone(o.value);
    else if (o.op === "del") { if (Array.isArray(t)) t.splice(last, 1); else delete t[last]; }
    else if (o.op === "append") t[last].push(structuredClone(o.value));
    else throw new Error(`unknown op ${o.op}`);
  }
  return doc;
}

const { base, cases } = JSON.parse(readFileSync(FILE, "utf8"));
test("manifest_cases.json has cases", () => assert.ok(cases.length >= 90));
for (const c of cases) {
  test(`manifest case: ${c.name}`, () => {
    let err = null;
    try { parseManifest(apply(base, c.ops), "manifest.json"); } catch (e) { err = e.message; }
    if (FLOAT_AS_INT.has(c.name)) return assert.equal(err, null);
    if (STRICTER(c.name)) return assert.notEqual(err, null, "expected a rejection");
    if (c.error === null) return assert.equal(err, null);
    assert.ok(err !== null, `accepted; Python says ${c.python_message}`);
    assert.ok(err.startsWith(c.error), `expected an error at ${c.error}, got: ${err}`);
  });
}
