"""edge_runtime.profile: per-device ms per action, with an injected fake backend and a fake clock
(no real artifacts, no engine). Torch-free, fast."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from edge_runtime.budget import BudgetController
from edge_runtime.manifest import Manifest, load_manifest, sha256_file
from edge_runtime.profile import (PROFILE_NAME, ProfileError, derive_action_costs, load_profile,
                                  main, profile_model, write_profile)

HIDDEN = 8
RES = [224, 168, 112, 84]
SKIPS = [1, 2, 4]
# fake per-network latency (ms) by precision
MS = {"fp32": {"policy": 3.0, "backbone_224": 20.0, "backbone_168": 10.0, "backbone_112": 5.0},
      "int8": {"policy": 1.0, "backbone_224": 8.0, "backbone_168": 4.0, "backbone_112": 2.0}}


def _t(name, role, shape, dtype="float32", layout="NC"):
    return {"name": name, "role": role, "shape": shape, "dtype": dtype, "layout": layout}


def write_model(folder, precisions=("fp32",)):
    """An AR-Net-Lite shaped manifest with dummy artifact files (the fake backend never reads them)."""
    folder.mkdir(parents=True, exist_ok=True)
    arts = []
    for prec in precisions:
        for aid, s in [("policy", 84), ("backbone_224", 224), ("backbone_168", 168), ("backbone_112", 112)]:
            f = f"{aid}_{prec}.tflite"
            (folder / f).write_bytes(f"{aid}-{prec}".encode() * 7)
            frame = _t("frame", "frame", [1, s, s, 3], "uint8", "NHWC")
            if aid == "policy":
                ins = [frame, _t("h", "h", [1, HIDDEN]), _t("c", "c", [1, HIDDEN])]
                outs = [_t("a", "action_logits", [1, 7]), _t("l", "class_logits", [1, 2]),
                        _t("h1", "h", [1, HIDDEN]), _t("c1", "c", [1, HIDDEN])]
            else:
                ins, outs = [frame], [_t("l", "class_logits", [1, 2])]
            arts.append({"id": aid, "role": "policy" if aid == "policy" else "backbone", "resolution": s,
                         "format": "tflite", "backend": "litert", "precision": prec, "file": f,
                         "sha256": sha256_file(folder / f), "bytes": (folder / f).stat().st_size,
                         "inputs": ins, "outputs": outs})
    acts = [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if s != 84 else "policy"}
            for s in RES] + [{"kind": "skip", "frames": f} for f in SKIPS]
    Manifest.from_dict({
        "schema": 1, "name": "toy", "labels": ["a", "b"], "resolutions": RES, "skip_lengths": SKIPS,
        "actions": acts, "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True},
        "policy": {"resolution": 84, "hidden": HIDDEN},
        "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25},
        "costs": {"policy_step": 0.2, "actions": [1.0, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0],
                  "uniform_per_frame": 1.0},
        "artifacts": arts}).save(folder)
    return load_manifest(folder)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class FakeBackend:
    """Advances the fake clock by the network's latency; checks the inputs it is given."""

    def __init__(self, log, clock, path, artifact, options, outlier_every=0):
        self.log, self.clock, self.art, self.options = log, clock, artifact, options
        self.path = path
        self.calls = 0
        self.outlier_every = outlier_every
        self.closed = False

    def input_specs(self):
        return self.art.inputs

    def run(self, inputs):
        s = self.art.resolution
        assert set(inputs) == ({"frame", "h", "c"} if self.art.role == "policy" else {"frame"})
        assert inputs["frame"].dtype == np.uint8 and inputs["frame"].shape == (1, s, s, 3)
        if self.art.role == "policy":
            assert inputs["h"].dtype == np.float32 and inputs["h"].shape == (1, HIDDEN)
        self.calls += 1
        ms = MS[self.art.precision][self.art.id]
        if self.outlier_every and self.calls % self.outlier_every == 0:
            ms *= 50  # a hiccup (GC, thermal, another process)
        self.clock.t += ms / 1000.0
        return {"class_logits": np.zeros((1, 2), np.float32)}

    def close(self):
        self.closed = True


def make_factory(clock, outlier_every=0):
    made = []

    def factory(name, path, artifact, options):
        assert name == "litert" and path.is_file()
        b = FakeBackend(made, clock, path, artifact, options, outlier_every)
        made.append(b)
        return b
    return factory, made


# ----------------------------------------------------------------------------- measuring
def test_profile_model_measures_and_derives(tmp_path):
    m = write_model(tmp_path / "model")
    clock = FakeClock()
    factory, made = make_factory(clock, outlier_every=5)
    e = profile_model(m, "litert", "fp32", threads=2, repeats=9, warmup=2,
                      backend_factory=factory, clock=clock)
    assert [b.art.id for b in made] == ["policy", "backbone_224", "backbone_168", "backbone_112"]
    assert all(b.calls == 11 and b.closed for b in made)   # 2 warm-up + 9 timed, then closed
    assert all(b.options.threads == 2 for b in made)
    # the median ignores the hiccups (every 5th call is 50x slower)
    assert e["ms"] == pytest.approx(MS["fp32"])
    assert e["ms_stats"]["policy"]["max"] == pytest.approx(150.0)
    assert e["ms_per_decision"] == pytest.approx([23.0, 13.0, 8.0, 3.0, 3.0, 3.0, 3.0])
    assert e["ms_per_action"] == pytest.approx([23.0, 13.0, 8.0, 3.0, 3.0, 1.5, 0.75])
    assert e["ms_per_gmac"] == pytest.approx({"policy": 15.0, "backbone_224": 20.0,
                                              "backbone_168": 20.0, "backbone_112": 20.0})
    assert e["actions"] == ["res224", "res168", "res112", "res84", "skip1", "skip2", "skip4"]
    dev = e["device"]
    assert dev["backend"] == "litert" and dev["precision"] == "fp32" and dev["threads"] == 2
    assert dev["cpu_count"] >= 1 and dev["platform"]
    assert e["artifacts_sha256"]["policy"] == m.find("policy", "litert", "fp32").sha256
    json.dumps(e)  # JSON-ready


def test_derive_action_costs_lowest_branch_is_policy_only(tmp_path):
    m = write_model(tmp_path / "model")
    dec, act = derive_action_costs(m, {"policy": 2.0, "backbone_224": 10.0, "backbone_168": 6.0,
                                       "backbone_112": 4.0})
    assert dec == [12.0, 8.0, 6.0, 2.0, 2.0, 2.0, 2.0] and act == [12.0, 8.0, 6.0, 2.0, 2.0, 1.0, 0.5]


def test_profile_inputs_are_seeded_random_frames(tmp_path):
    m = write_model(tmp_path / "model")
    seen = []

    class Recorder(FakeBackend):
        def run(self, inputs):
            seen.append(inputs["frame"].copy())
            return super().run(inputs)

    def factory(name, path, art, opt):
        return Recorder([], FakeClock(), path, art, opt)
    profile_model(m, "litert", "fp32", repeats=3, warmup=0, backend_factory=factory, seed=1)
    first = [f.copy() for f in seen]
    seen.clear()
    profile_model(m, "litert", "fp32", repeats=3, warmup=0, backend_factory=factory, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, seen))
    assert first[0].std() > 50  # random uint8 content, not a constant frame


# ----------------------------------------------------------------------------- CLI + file
def test_main_writes_profile_beside_manifest_and_budget_uses_it(tmp_path, capsys):
    d = tmp_path / "model"
    write_model(d, precisions=("fp32", "int8"))
    clock = FakeClock()
    factory, _ = make_factory(clock)
    assert main(["--model", str(d), "--repeats", "5", "--threads", "3"],
                backend_factory=factory, clock=clock) == 0
    out = capsys.readouterr()
    assert "backbone_224" in out.out and "skip4" in out.out and "wrote" in out.err
    doc = json.loads((d / PROFILE_NAME).read_text())
    assert doc["schema"] == 1 and doc["model"] == "toy" and len(doc["entries"]) == 1
    assert doc["entries"][0]["precision"] == "fp32" and doc["entries"][0]["threads"] == 3
    assert not list(d.glob(".profile.json.*"))  # atomic write left no temp file
    # a second precision is added, re-profiling one replaces it
    assert main(["--model", str(d), "--precision", "int8", "--repeats", "3"],
                backend_factory=factory, clock=clock) == 0
    capsys.readouterr()
    assert main(["--model", str(d), "--precision", "int8", "--repeats", "4", "--json"],
                backend_factory=factory, clock=clock) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["repeats"] == 4
    doc = json.loads((d / PROFILE_NAME).read_text())
    assert sorted((e["precision"], e["repeats"]) for e in doc["entries"]) == [("fp32", 5), ("int8", 4)]
    m = load_manifest(d)
    assert load_profile(d, precision="int8", manifest=m)["ms_per_decision"] == \
        pytest.approx([9.0, 5.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    c = BudgetController.for_model(m, precision="fp32", target_fps=30.0)
    assert c.cost_source == "measured"
    np.testing.assert_allclose(c.normalised_costs(), np.array([23, 13, 8, 3, 3, 1.5, 0.75]) / 23)


def test_main_dry_run_and_errors(tmp_path, capsys):
    d = tmp_path / "model"
    write_model(d)
    clock = FakeClock()
    factory, _ = make_factory(clock)
    assert main(["--model", str(d), "--dry-run"], backend_factory=factory, clock=clock) == 0
    assert not (d / PROFILE_NAME).exists()
    assert main(["--model", str(d), "--backend", "onnxruntime"], backend_factory=factory) == 2
    assert "no artifacts for backend 'onnxruntime'" in capsys.readouterr().err
    assert main(["--model", str(d), "--precision", "int8"], backend_factory=factory) == 2
    assert "precision='int8'" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "nope")], backend_factory=factory) == 2
    assert "no manifest" in capsys.readouterr().err
    (d / "backbone_168_fp32.tflite").write_bytes(b"tampered")
    assert main(["--model", str(d)], backend_factory=factory, clock=clock) == 2
    assert "sha256 mismatch" in capsys.readouterr().err
    assert main(["--model", str(d), "--repeats", "0"], backend_factory=factory) == 2


def test_main_reports_backend_errors(tmp_path, capsys):
    from edge_runtime.backends import BackendError
    d = tmp_path / "model"
    write_model(d)

    def broken(name, path, art, opt):
        raise BackendError("litert: no engine installed; pip install ai-edge-litert")
    assert main(["--model", str(d)], backend_factory=broken) == 2
    assert "pip install ai-edge-litert" in capsys.readouterr().err


def test_default_factory_is_the_backends_registry(tmp_path, monkeypatch):
    import edge_runtime.backends as backends
    m = write_model(tmp_path / "model")
    clock = FakeClock()
    calls = []

    def create_backend(name, path, artifact, options=None):
        calls.append((name, artifact.id, options.threads, options.normalization["folded"]))
        return FakeBackend([], clock, path, artifact, options)
    monkeypatch.setattr(backends, "create_backend", create_backend)
    profile_model(m, "litert", "fp32", threads=4, repeats=1, warmup=0, clock=clock)
    assert calls[0] == ("litert", "policy", 4, True) and len(calls) == 4


def test_load_profile_staleness_and_errors(tmp_path):
    d = tmp_path / "model"
    m = write_model(d)
    assert load_profile(d) is None  # no file yet
    clock = FakeClock()
    factory, _ = make_factory(clock)
    write_profile(d, m, profile_model(m, "litert", "fp32", repeats=1, warmup=0,
                                      backend_factory=factory, clock=clock))
    assert load_profile(d / "manifest.json", manifest=m)["backend"] == "litert"
    assert load_profile(d, backend="onnxruntime") is None
    # re-exported artifact: the profile is stale -> warning, fall back to GMACs
    raw = json.loads((d / "manifest.json").read_text())
    raw["artifacts"][1]["sha256"] = "0" * 64
    m2 = Manifest.from_dict(raw)
    m2.root = d
    with pytest.warns(UserWarning, match="changed since it was measured"):
        assert load_profile(d, manifest=m2) is None
    with pytest.warns(UserWarning, match="re-run"):
        assert BudgetController.for_model(m2).cost_source == "gmacs"
    raw["name"] = "other"
    with pytest.warns(UserWarning, match="measured for model 'toy'"):
        assert load_profile(d, manifest=Manifest.from_dict(raw)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_profile(d, manifest=m) is not None
    (d / PROFILE_NAME).write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(d)
    (d / PROFILE_NAME).write_text(json.dumps({"schema": 1, "model": "toy",
                                              "entries": [{"backend": "litert", "precision": "fp32",
                                                           "ms_per_decision": [1, "x"],
                                                           "ms_per_action": [1]}]}))
    with pytest.raises(ProfileError, match=r"entries\[0\]\.ms_per_decision"):
        load_profile(d)
    (d / PROFILE_NAME).write_text(json.dumps({"schema": 9, "entries": []}))
    with pytest.raises(ProfileError, match="schema"):
        load_profile(d)
    # a broken file is replaced by the next profiling run
    write_profile(d, m, profile_model(m, "litert", "fp32", repeats=1, warmup=0,
                                      backend_factory=factory, clock=clock))
    assert load_profile(d, manifest=m) is not None
