"""Build the phone web app into one static folder: the page, view.js + style.css of the
runtime's browser view (edge_runtime/web), LiteRT.js from node_modules (installed from
package-lock.json by run_tests.sh / npm ci), and a model folder with the manifest and the .tflite
files of the chosen precisions, each checked against the manifest's sha256.

    python android_demo/web/build.py --model artifacts/demo --out build/phone_web [--precision int8,fp32]
    python android_demo/web/serve.py build/phone_web          # then open http://localhost:8443/

Standard library only (runs in any of the project's Pythons)."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent.parent
PAGE = ["index.html", "app.webmanifest", "sw.js", "icon.svg", "phone.css"]
SHARED = [ROOT / "edge_runtime/web/view.js", ROOT / "edge_runtime/web/style.css"]
LITERT = WEB / "node_modules/@litertjs"
WASM = ["litert_wasm_internal", "litert_wasm_compat_internal", "litert_wasm_threaded_internal"]


class BuildError(RuntimeError):
    pass


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def copy_model(model: Path, out: Path, precisions: list[str]) -> list[str]:
    mpath = model / "manifest.json"
    if not mpath.is_file():
        raise BuildError(f"--model {model}: no manifest.json there (expected an export folder, artifacts/<name>)")
    doc = json.loads(mpath.read_text())
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for prec in precisions:
        arts = [a for a in doc.get("artifacts", []) if a.get("format") == "tflite" and a.get("precision") == prec]
        if not arts:
            have = sorted({a.get("precision") for a in doc.get("artifacts", []) if a.get("format") == "tflite"})
            raise BuildError(f"--precision {prec}: the manifest of {model} has no tflite {prec} artifacts (has {have})")
        for a in arts:
            src = model / a["file"]
            if not src.is_file():
                raise BuildError(f"{src}: missing (manifest artifact {a['id']} {prec})")
            got = sha256(src)
            if got != a["sha256"]:
                raise BuildError(f"{src}: sha256 {got} does not match the manifest's {a['sha256']}")
            shutil.copyfile(src, out / a["file"])
            files.append(a["file"])
    shutil.copyfile(mpath, out / "manifest.json")
    return ["manifest.json"] + files


def build(model: Path | None, out: Path, precisions: list[str]) -> Path:
    if not (LITERT / "core/dist/index.js").is_file():
        raise BuildError(f"{LITERT}/core not installed: run bash android_demo/web/run_tests.sh (npm ci from package-lock.json)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    listed = []
    for name in PAGE:
        shutil.copyfile(WEB / name, out / name)
        listed.append(name)
    for p in sorted((WEB / "src").glob("*.js")) + SHARED:
        shutil.copyfile(p, out / p.name)
        listed.append(p.name)
    vend = out / "vendor/litertjs"
    (vend / "core/dist").mkdir(parents=True)
    (vend / "core/wasm").mkdir(parents=True)
    (vend / "wasm-utils/dist").mkdir(parents=True)
    shutil.copyfile(LITERT / "core/dist/index.js", vend / "core/dist/index.js")
    shutil.copyfile(LITERT / "wasm-utils/dist/index.js", vend / "wasm-utils/dist/index.js")
    listed += ["vendor/litertjs/core/dist/index.js", "vendor/litertjs/wasm-utils/dist/index.js"]
    for stem in WASM:
        for ext in (".js", ".wasm"):
            shutil.copyfile(LITERT / "core/wasm" / (stem + ext), vend / "core/wasm" / (stem + ext))
            listed.append(f"vendor/litertjs/core/wasm/{stem}{ext}")
    if model is not None:
        listed += [f"model/{f}" for f in copy_model(model, out / "model", precisions)]
    version = hashlib.sha256("".join(f"{f}:{sha256(out / f)}" for f in listed).encode()).hexdigest()[:16]
    listed = ["./", *listed, "files.json"]
    (out / "files.json").write_text(json.dumps({"version": version, "files": listed}, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="export folder (artifacts/<name>) to bundle; leave out to pick one on the phone")
    ap.add_argument("--out", type=Path, default=ROOT / "build/phone_web")
    ap.add_argument("--precision", default="int8,fp32", help="comma-separated tflite precisions to bundle (default int8,fp32)")
    a = ap.parse_args(argv)
    try:
        out = build(a.model, a.out, [p for p in a.precision.split(",") if p])
    except BuildError as e:
        print(f"build.py: {e}", file=sys.stderr)
        return 2
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
