"""Manifest schema: round trip, field-naming errors, sha256 checks (torch-free)."""

import copy
import json

import pytest

from edge_runtime.manifest import (Manifest, ManifestError, atomic_write_bytes, load_manifest,
                                   sha256_file)


def make_manifest_dict(tmp_path):
    files = {}
    for name in ("policy.tflite", "b64.tflite"):
        (tmp_path / name).write_bytes(name.encode() * 10)
        files[name] = sha256_file(tmp_path / name)

    def t(name, role, shape, dtype="float32", layout="NC"):
        return {"name": name, "role": role, "shape": shape, "dtype": dtype, "layout": layout}

    return {
        "schema": 1, "name": "toy", "labels": ["a", "b", "c"], "multi_label": False,
        "resolutions": [64, 32], "skip_lengths": [2],
        "actions": [{"kind": "resolution", "size": 64, "backbone": "backbone_64"},
                    {"kind": "resolution", "size": 32, "backbone": "policy"},
                    {"kind": "skip", "frames": 2}],
        "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True},
        "policy": {"resolution": 32, "hidden": 8, "state": ["h", "c"]},
        "costs": {"unit": "GMACs", "policy_step": 0.1, "actions": [0.5, 0.0, 0.0],
                  "uniform_per_frame": 0.5},
        "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25},
        "artifacts": [
            {"id": "policy", "role": "policy", "resolution": 32, "format": "tflite", "backend": "litert",
             "precision": "fp32", "file": "policy.tflite", "sha256": files["policy.tflite"], "bytes": 130,
             "inputs": [t("frame", "frame", [1, 32, 32, 3], "uint8", "NHWC"), t("h", "h", [1, 8]),
                        t("c", "c", [1, 8])],
             "outputs": [t("o0", "action_logits", [1, 3]), t("o1", "class_logits", [1, 3]),
                         t("o2", "h", [1, 8]), t("o3", "c", [1, 8])]},
            {"id": "backbone_64", "role": "backbone", "resolution": 64, "format": "tflite",
             "backend": "litert", "precision": "fp32", "file": "b64.tflite", "sha256": files["b64.tflite"],
             "bytes": 100, "inputs": [t("frame", "frame", [1, 64, 64, 3], "uint8", "NHWC")],
             "outputs": [t("o0", "class_logits", [1, 3])]},
        ],
    }


def test_roundtrip_and_queries(tmp_path):
    d = make_manifest_dict(tmp_path)
    m = Manifest.from_dict(d)
    path = m.save(tmp_path)
    m2 = load_manifest(tmp_path, verify=True)
    assert m2.to_dict() == m.to_dict() == json.loads(path.read_text())
    assert m2.action_cost(0) == pytest.approx(0.6) and m2.uniform_cost == 0.5
    assert m2.find("backbone_64", "litert", "fp32").file == "b64.tflite"
    with pytest.raises(ManifestError, match=r"no artifact 'policy' for backend='onnxruntime'.*litert"):
        m2.find("policy", "onnxruntime", "fp32")


@pytest.mark.parametrize("mutate,field,msg", [
    (lambda d: d.pop("labels"), "labels", "missing"),
    (lambda d: d.update(schema=2), "schema", "unsupported schema version 2"),
    (lambda d: d.update(resolutions=[32, 64]), "resolutions", "strictly decreasing"),
    (lambda d: d["actions"].pop(), "actions", "expected 2 resolution"),
    (lambda d: d["costs"].update(actions=[1]), "costs.actions", "one per action"),
    (lambda d: d["artifacts"][0].update(precision="int4"), "artifacts[0].precision", "'int4' is not one of"),
    (lambda d: d["artifacts"][0]["inputs"].pop(), "artifacts[0].inputs", "needs input roles"),
    (lambda d: d["artifacts"][1].update(sha256="xyz"), "artifacts[1].sha256", "64 lowercase hex"),
    (lambda d: d["artifacts"][1]["inputs"][0].update(shape=[1, -3]), "artifacts[1].inputs[0].shape",
     "positive integers"),
    (lambda d: d["policy"].update(resolution=64), "policy.resolution", "lowest resolution"),
    (lambda d: d["sampling"].update(seconds_per_step=0), "sampling.seconds_per_step", "> 0"),
    (lambda d: d["normalization"].update(resize="bicubic"), "normalization.resize",
     "expected one of ['area', 'pyramid'], got 'bicubic'"),
    (lambda d: d["artifacts"][1].update(validation={"status": "ok", "missed": []}),
     "artifacts[1].validation.status", "'ok' is not one of ['passed', 'failed']"),
    (lambda d: d["artifacts"][1].update(validation={"missed": []}), "artifacts[1].validation.status", "missing"),
    (lambda d: d["artifacts"][0].update(validation={"status": "failed", "missed": "top1 = 80"}),
     "artifacts[0].validation.missed", "expected a list of strings"),
    (lambda d: d["artifacts"][0].update(validation={"status": "failed", "missed": [0.5]}),
     "artifacts[0].validation.missed", "expected a list of strings"),
    (lambda d: d["artifacts"][0].update(validation="failed"), "artifacts[0].validation", "expected an object"),
    (lambda d: d.update(validation={"pipelines": {"litert/fp32": {"passed": "no"}}}),
     "validation.pipelines['litert/fp32'].passed", "expected a boolean"),
])
def test_errors_name_the_field(tmp_path, mutate, field, msg):
    d = copy.deepcopy(make_manifest_dict(tmp_path))
    mutate(d)
    (tmp_path / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(ManifestError) as e:
        load_manifest(tmp_path)
    assert f"manifest.json.{field}" in str(e.value) and msg in str(e.value)


def test_resize_rule_defaults_to_area(tmp_path):
    d = copy.deepcopy(make_manifest_dict(tmp_path))
    d["normalization"].pop("resize", None)
    (tmp_path / "manifest.json").write_text(json.dumps(d))
    assert load_manifest(tmp_path).resize == "area"
    d["normalization"]["resize"] = "pyramid"
    (tmp_path / "manifest.json").write_text(json.dumps(d))
    assert load_manifest(tmp_path).normalization["resize"] == "pyramid"


def test_not_json_and_missing(tmp_path):
    with pytest.raises(ManifestError, match="no manifest here"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path)


def test_sha256_mismatch_and_missing_file(tmp_path):
    Manifest.from_dict(make_manifest_dict(tmp_path)).save(tmp_path)
    (tmp_path / "b64.tflite").write_bytes(b"corrupted")
    with pytest.raises(ManifestError, match="sha256 mismatch for artifact 'backbone_64'"):
        load_manifest(tmp_path, verify=True)
    (tmp_path / "b64.tflite").unlink()
    with pytest.raises(ManifestError, match="is missing"):
        load_manifest(tmp_path, verify=True)


def test_atomic_write_leaves_no_temp_on_failure(tmp_path):
    atomic_write_bytes(tmp_path / "x.bin", b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "x.bin", 12345)  # not bytes
    assert (tmp_path / "x.bin").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_artifact_validation_round_trip_and_queries(tmp_path):
    d = copy.deepcopy(make_manifest_dict(tmp_path))
    missed = ["max_rel_logit_err = 0.02 (target <= 0.0001)", "top1_agreement = 0.9 (target >= 1.0)"]
    d["artifacts"][1]["validation"] = {"status": "failed", "missed": missed}
    d["artifacts"][0]["validation"] = {"status": "passed", "missed": []}
    d["validation"] = {"pipelines": {"litert/fp32": {"ms_per_frame": 1.5, "passed": False}}}
    m = Manifest.from_dict(d)
    m.save(tmp_path)
    m2 = load_manifest(tmp_path)
    assert m2.to_dict() == m.to_dict()
    assert m2.artifacts[1].validation.missed == missed and m2.artifacts[1].failed
    assert m2.artifacts[0].validation.status == "passed" and not m2.artifacts[0].failed
    assert [a.id for a in m2.failed_artifacts("litert", "fp32")] == ["backbone_64"]
    assert m2.failed_artifacts("litert", "int8") == []
    assert m2.pipeline_validation("litert", "fp32") == {"ms_per_frame": 1.5, "passed": False}
    assert m2.pipeline_validation("onnxruntime", "fp32") == {}
    # the exporter may set the JSON form on an Artifact: it is checked and kept as the dataclass
    a = m2.artifacts[0]
    a.validation = None
    assert not a.failed
    b = type(a)(**{**a.__dict__, "validation": {"status": "failed", "missed": missed}})
    assert b.failed and b.validation.missed == missed
    with pytest.raises(ManifestError, match="validation.status"):
        type(a)(**{**a.__dict__, "validation": {"status": "bad"}})


def test_artifact_validation_is_optional(tmp_path):
    d = make_manifest_dict(tmp_path)          # an older manifest: no per-artifact validation
    m = Manifest.from_dict(d)
    assert all(a.validation is None and not a.failed for a in m.artifacts)
    assert all("validation" not in a for a in m.to_dict()["artifacts"])  # not written back as null
    d["artifacts"][0]["validation"] = {"status": "passed"}               # "missed" may be left out
    assert Manifest.from_dict(d).artifacts[0].validation.missed == []
