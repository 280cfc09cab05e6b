// The manifest checks the page relies on: errors name the field, the bad value and what was expected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseManifest, ManifestError, Streamer } from "../src/core.js";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "../../core/src/test/resources/golden");
const base = () => JSON.parse(readFileSync(join(GOLDEN, "runtime_tiny_litert_fp32.json"), "utf8")).manifest;

test("a valid manifest parses", () => {
  const m = parseManifest(base());
  assert.equal(m.L, 4);
  assert.equal(m.policyResolution, m.resolutions[m.L - 1]);
});

const bad = [
  ["schema", (d) => { d.schema = 2; }, /manifest\.schema: expected 1 \(got 2\)/],
  ["labels", (d) => { d.labels = []; }, /manifest\.labels: expected a non-empty list/],
  ["resolutions order", (d) => { d.resolutions = [...d.resolutions].reverse(); }, /manifest\.resolutions: expected strictly decreasing/],
  ["action size", (d) => { d.actions[0].size = 7; }, /manifest\.actions\[0\]\.size: expected \d+ .*\(got 7\)/],
  ["resize", (d) => { d.normalization.resize = "bicubic"; }, /manifest\.normalization\.resize: expected "area" or "pyramid" \(got "bicubic"\)/],
  ["sha256", (d) => { d.artifacts[0].sha256 = "xyz"; }, /manifest\.artifacts\[0\]\.sha256: expected 64 lowercase hex digits \(got "xyz"\)/],
  ["file path", (d) => { d.artifacts[0].file = "../etc/passwd"; }, /manifest\.artifacts\[0\]\.file: expected a file name inside the model folder/],
  ["hidden", (d) => { delete d.policy.hidden; }, /manifest\.policy\.hidden: expected an integer >= 1 \(missing\)/],
  ["not an object", () => "[]", /manifest: expected a JSON object/],
];
for (const [what, mutate, re] of bad) {
  test(`rejects a bad ${what}`, () => {
    const d = base();
    const r = mutate(d);
    assert.throws(() => parseManifest(r === undefined ? d : JSON.parse(r)), (e) => e instanceof ManifestError && re.test(e.message));
  });
}

test("a Streamer without a backbone runner names it", () => {
  const m = parseManifest(base());
  assert.throws(() => new Streamer(m, { policy: async () => ({}) }), /no runner for artifact\(s\) backbone_/);
});
