// Loading a model folder for the browser: the manifest (checked by core.js), every artifact the
// step loop needs for one precision, each sha256-checked against the manifest before it runs, and
// LiteRT.js runners that bind inputs and outputs by the manifest's roles.
import { parseManifest, ManifestError } from "./core.js";

export class ModelError extends Error {}

export async function sha256Hex(bytes) {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

// `read(name)` -> Promise<Uint8Array> (fetch of a bundled folder, or a File picked on the phone).
export async function loadFolder(read, precision) {
  let doc;
  try { doc = JSON.parse(new TextDecoder().decode(await read("manifest.json"))); }
  catch (e) { throw new ModelError(`manifest.json: not readable JSON (${e.message})`); }
  const m = parseManifest(doc);
  const needIds = ["policy", ...m.actions.slice(0, m.L - 1).map((a) => a.backbone)];
  const arts = {};
  for (const id of needIds) {
    const a = m.artifacts.find((x) => x.id === id && x.format === "tflite" && x.precision === precision);
    if (!a) {
      const have = [...new Set(m.artifacts.filter((x) => x.format === "tflite").map((x) => x.precision))];
      throw new ModelError(`manifest.artifacts: no tflite ${precision} artifact for '${id}' (tflite precisions here: ${JSON.stringify(have)})`);
    }
    let bytes;
    try { bytes = await read(a.file); } catch (e) { throw new ModelError(`${a.file}: cannot read it (${e.message})`); }
    const got = await sha256Hex(bytes);
    if (got !== a.sha256) throw new ModelError(`${a.file}: sha256 ${got} does not match the manifest's ${a.sha256}; the file was changed or is incomplete`);
    arts[id] = { spec: a, bytes };
  }
  return { manifest: m, artifacts: arts };
}

// A runner for one artifact: async (inputs by role) -> outputs by role (Float32Array).
// Frames are uint8 RGB HWC, fed as the model's input dtype (normalisation is folded into the models).
export async function makeRunner(liteRt, spec, bytes, Tensor, accelerator = "wasm") {
  const model = await liteRt.loadAndCompile(bytes, { accelerator });
  const ins = model.getInputDetails(), outs = model.getOutputDetails();
  if (ins.length !== spec.inputs.length) throw new ModelError(`${spec.file}: the model has ${ins.length} inputs, the manifest lists ${spec.inputs.length}`);
  if (outs.length !== spec.outputs.length) throw new ModelError(`${spec.file}: the model has ${outs.length} outputs, the manifest lists ${spec.outputs.length}`);
  const size = (shape) => Array.from(shape).reduce((a, b) => a * b, 1);
  // inputs by name, then by position; outputs by the manifest's order (names are not kept in int8 graphs)
  const inOrder = spec.inputs.map((s, i) => { const k = ins.findIndex((d) => d.name === s.name); return k >= 0 ? k : i; });
  spec.inputs.forEach((s, i) => {
    const d = ins[inOrder[i]];
    if (size(d.shape) !== size(s.shape)) throw new ModelError(`${spec.file}: input '${s.name}' has shape [${d.shape}], the manifest says [${s.shape}]`);
  });
  const outOrder = spec.outputs.map((s, i) => { const k = outs.findIndex((d) => d.name === s.name); return k >= 0 ? k : i; });
  spec.outputs.forEach((s, i) => {
    const d = outs[outOrder[i]];
    if (size(d.shape) !== size(s.shape)) throw new ModelError(`${spec.file}: output '${s.name}' (${s.role}) has shape [${d.shape}], the manifest says [${s.shape}]`);
  });
  const run = async (byRole) => {
    const tensors = new Array(ins.length);
    spec.inputs.forEach((s, i) => {
      const v = byRole[s.role];
      const d = ins[inOrder[i]];
      const src = s.role === "frame" ? v.data : v;
      const Typed = { float32: Float32Array, uint8: Uint8Array, int32: Int32Array }[d.dtype];
      if (!Typed) throw new ModelError(`${spec.file}: input '${s.name}' is ${d.dtype}; expected float32, uint8 or int32`);
      const data = Typed.from(src);
      tensors[inOrder[i]] = new Tensor(data, Array.from(d.shape));
    });
    const res = await model.run(tensors);
    const out = {};
    spec.outputs.forEach((s, i) => { out[s.role] = Float32Array.from(res[outOrder[i]].toTypedArray()); });
    for (const t of tensors) t.delete();
    for (const t of res) t.delete();
    return out;
  };
  return { run, model };
}

export { ManifestError };
