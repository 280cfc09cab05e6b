// The page's frame preprocessing against OpenCV (resize_cases.json, written by the Python runtime's
// preprocess with cv2; the Kotlin core is held to the same bound): centre square + area or pyramid
// resize within 1 grey level, at least 95% of values exact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { centerSquareRGBA, resize } from "../src/frames.js";

const CASES = join(dirname(fileURLToPath(import.meta.url)), "../../core/src/test/resources/resize_cases.json");

function formulaRGBA(h, w) {
  const data = new Uint8ClampedArray(h * w * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    for (let ch = 0; ch < 3; ch++) data[(y * w + x) * 4 + ch] = ((x * 37 + y * 91 + ch * 53) ^ (x * y + 7 * ch)) & 255;
    data[(y * w + x) * 4 + 3] = 255;
  }
  return { width: w, height: h, data };
}

test("resize matches OpenCV within 1 grey level", () => {
  const { cases } = JSON.parse(readFileSync(CASES, "utf8"));
  assert.ok(cases.length > 0);
  let total = 0, exact = 0;
  for (const c of cases) {
    const h = Number(c.height), w = Number(c.width), s = Number(c.size), method = c.method || "area";
    const out = resize(centerSquareRGBA(formulaRGBA(h, w)), s, method);
    const want = Buffer.from(c.rgb_b64, "base64");
    assert.equal(out.data.length, want.length, `${h}x${w} -> ${s} ${method}: size`);
    let worst = 0;
    for (let k = 0; k < want.length; k++) {
      const d = Math.abs(want[k] - out.data[k]);
      worst = Math.max(worst, d);
      if (d === 0) exact++;
      total++;
    }
    assert.ok(worst <= 1, `${h}x${w} -> ${s} (${method}): max |diff| ${worst} > 1`);
  }
  assert.ok(exact >= 0.95 * total, `only ${exact} of ${total} values exact`);
});

test("an unknown resize rule is named", () => {
  assert.throws(() => resize({ size: 4, data: new Uint8Array(48) }, 2, "bicubic"), /resize="bicubic" is not one of \["area", "pyramid"\]/);
});
