// Frame preprocessing as edge_runtime/preprocess.py (and the Kotlin core's ImageOps): centre
// square of the camera frame, then the manifest's normalization.resize rule, uint8 RGB HWC.
// "area" = OpenCV INTER_AREA (overlap-weighted box mean, round half to even); "pyramid" = 2x2
// halvings while >= 2x the target, then one INTER_LINEAR step.

const rint = (x) => { const r = Math.round(x); return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r; };
const clamp8 = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

// RGBA ImageData-like {data, width, height} -> {size, data: Uint8Array RGB} (centre square).
export function centerSquareRGBA(img) {
  const { width: w, height: h, data } = img;
  const s = Math.min(w, h), y0 = (h - s) >> 1, x0 = (w - s) >> 1;
  const out = new Uint8Array(s * s * 3);
  let o = 0;
  for (let y = 0; y < s; y++) {
    let i = ((y0 + y) * w + x0) * 4;
    for (let x = 0; x < s; x++, i += 4) { out[o++] = data[i]; out[o++] = data[i + 1]; out[o++] = data[i + 2]; }
  }
  return { size: s, data: out };
}

function areaTable(src, dst) {
  const scale = src / dst, tab = [];
  for (let d = 0; d < dst; d++) {
    const f0 = d * scale, f1 = (d + 1) * scale;
    const i0 = Math.min(Math.max(Math.floor(f0), 0), src - 1);
    const i1 = Math.max(Math.min(src, Math.ceil(f1 - 1e-12)), i0 + 1);
    const w = [];
    for (let k = 0; k < i1 - i0; k++) {
      const a = Math.max(f0, i0 + k), b = Math.min(f1, i0 + k + 1);
      w.push(Math.max(0, b - a) / scale);
    }
    tab.push([i0, w]);
  }
  return tab;
}

export function resizeArea(src, size) {
  if (src.size === size) return { size, data: src.data.slice() };
  const s = src.size, d = src.data, tab = areaTable(s, size);
  const tmp = new Float64Array(s * size * 3);
  for (let y = 0; y < s; y++) {
    const row = y * s * 3;
    for (let x = 0; x < size; x++) {
      const [i0, w] = tab[x];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < w.length; k++) { const p = row + (i0 + k) * 3; r += w[k] * d[p]; g += w[k] * d[p + 1]; b += w[k] * d[p + 2]; }
      const o = (y * size + x) * 3; tmp[o] = r; tmp[o + 1] = g; tmp[o + 2] = b;
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const [i0, w] = tab[y];
    for (let x = 0; x < size; x++) for (let ch = 0; ch < 3; ch++) {
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k] * tmp[((i0 + k) * size + x) * 3 + ch];
      out[(y * size + x) * 3 + ch] = clamp8(rint(acc));
    }
  }
  return { size, data: out };
}

function halve(src) {
  const n = src.size >> 1, s = src.size, d = src.data, out = new Uint8Array(n * n * 3);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) for (let ch = 0; ch < 3; ch++) {
    const p = ((2 * y) * s + 2 * x) * 3 + ch, q = p + s * 3;
    out[(y * n + x) * 3 + ch] = (d[p] + d[p + 3] + d[q] + d[q + 3] + 2) >> 2;
  }
  return { size: n, data: out };
}

function resizeLinear(src, size) {
  if (src.size === size) return { size, data: src.data.slice() };
  const s = src.size, d = src.data, scale = s / size, tab = [];
  for (let k = 0; k < size; k++) {
    const f = (k + 0.5) * scale - 0.5;
    let i = Math.floor(f), w = f - i;
    if (i < 0) { i = 0; w = 0; }
    if (i >= s - 1) { i = s - 1; w = 0; }
    tab.push([i, w]);
  }
  const px = (y, x, ch) => d[(y * s + x) * 3 + ch];
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const [y0, wy] = tab[y], y1 = Math.min(y0 + 1, s - 1);
    for (let x = 0; x < size; x++) {
      const [x0, wx] = tab[x], x1 = Math.min(x0 + 1, s - 1);
      for (let ch = 0; ch < 3; ch++) {
        const top = px(y0, x0, ch) * (1 - wx) + px(y0, x1, ch) * wx;
        const bot = px(y1, x0, ch) * (1 - wx) + px(y1, x1, ch) * wx;
        out[(y * size + x) * 3 + ch] = clamp8(rint(top * (1 - wy) + bot * wy));
      }
    }
  }
  return { size, data: out };
}

export function resizePyramid(src, size) {
  let img = src;
  while (img.size >= 2 * size) img = halve(img);
  return img.size === size ? img : resizeLinear(img, size);
}

export function resize(src, size, method) {
  if (method === "area") return resizeArea(src, size);
  if (method === "pyramid") return resizePyramid(src, size);
  throw new RangeError(`resize=${JSON.stringify(method)} is not one of ["area", "pyramid"]`);
}

// One sampled frame's views: resizes on demand, once per size.
export function frameViews(square, method) {
  const cache = new Map();
  return (size) => {
    if (!cache.has(size)) cache.set(size, resize(square, size, method));
    return cache.get(size);
  };
}
