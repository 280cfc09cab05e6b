"""--precision auto and artifacts that failed validation at export (edge_runtime/precision.py):
the ranking rule, the refusal and its --allow-failed override, and what the CLIs print and record."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from edge_helpers import dummy_artifact_model, json_lines, write_video

from edge_runtime import bench, live, precision
from edge_runtime.manifest import Manifest, ManifestError, load_manifest
from edge_runtime.pipeline import AdaptivePipeline
from edge_runtime.precision import choose_precision, precision_failures, rank_precisions

MISSED = "max_rel_logit_err = 0.031 (target <= 0.0001)"


def mark(folder, *, failed=(), passed=(), ms=None, pipeline_passed=None):
    """Rewrite ``folder``'s manifest: artifacts (precision, id) in ``failed`` / ``passed`` get a
    validation status (``id`` None = every artifact of that precision); ``ms`` / ``pipeline_passed``
    fill ``validation.pipelines["litert/<precision>"]``."""
    m = load_manifest(folder)
    d = m.to_dict()

    def hit(keys, a):
        return any(p == a["precision"] and i in (None, a["id"]) for p, i in keys)

    for a in d["artifacts"]:
        if hit(failed, a):
            a["validation"] = {"status": "failed", "missed": [MISSED]}
        elif hit(passed, a):
            a["validation"] = {"status": "passed", "missed": []}
    pipes = d["validation"].setdefault("pipelines", {})
    for p, v in (ms or {}).items():
        pipes.setdefault(f"litert/{p}", {})["ms_per_frame"] = v
    for p, v in (pipeline_passed or {}).items():
        pipes.setdefault(f"litert/{p}", {})["passed"] = v
    Manifest.from_dict(d).save(folder)
    return load_manifest(folder)


def three_precisions(folder):
    """The dummy litert model (placeholder files) with fp16 and int8 copies of its fp32 artifacts:
    enough for the choice, which reads the manifest only."""
    dummy_artifact_model(folder)
    d = load_manifest(folder).to_dict()
    for p in ("fp16", "int8"):
        for a in [a for a in d["artifacts"] if a["precision"] == "fp32"]:
            b = copy.deepcopy(a)
            b.update(precision=p, file=a["file"].replace("fp32", p))
            shutil.copy(folder / a["file"], folder / b["file"])
            d["artifacts"].append(b)
    Manifest.from_dict(d).save(folder)
    return folder


# ------------------------------------------------------------------------- the rule
def test_rank_rule():
    assert rank_precisions(["fp32", "fp16", "int8"]) == ["int8", "fp16", "fp32"]
    ms = {"fp32": 1.72, "fp16": 0.9, "int8": 2.0}
    assert rank_precisions(["fp32", "fp16", "int8"], ms) == ["fp16", "fp32", "int8"]
    # a timing missing for one candidate: the preference, not a partial order
    assert rank_precisions(["fp32", "fp16", "int8"], {"fp32": 0.1, "fp16": 0.2}) == ["int8", "fp16", "fp32"]
    assert rank_precisions(["fp32", "int8"], {"fp32": 1.0, "int8": 0.5}, int8_slow=True) == ["fp32", "int8"]
    # failed ones after every one that passed, the slow int8 included
    assert rank_precisions(["fp32", "fp16", "int8"], ms, failed=["fp16"], int8_slow=True) == \
        ["fp32", "int8", "fp16"]
    # never validated (older manifests): after the validated ones, and the safest first
    assert rank_precisions(["fp32", "fp16", "int8"], ms, unvalidated=["fp32", "int8"]) == ["fp16", "fp32", "int8"]
    assert rank_precisions(["fp32", "fp16", "int8"], unvalidated=["fp32", "fp16", "int8"]) == \
        ["fp32", "fp16", "int8"]


def test_auto_chooses_by_the_measured_ms(tmp_path):
    d = three_precisions(tmp_path)
    m = mark(d, passed=[("fp32", None), ("fp16", None), ("int8", None)],
             ms={"fp32": 1.72, "fp16": 1.1, "int8": 0.58})
    c = choose_precision(m, "litert", engine="ai_edge_litert")
    assert c.precision == "int8" and c.ranked == ("int8", "fp16", "fp32")
    assert c.line() == "precision auto -> int8 (validated; 0.58 ms/frame vs fp16 1.1, fp32 1.72 at export)"
    m = mark(d, ms={"fp32": 0.5, "fp16": 0.7, "int8": 0.9})      # measured order wins over the preference
    assert choose_precision(m, "litert", engine="ai_edge_litert").precision == "fp32"


def test_auto_without_timings_or_validation_uses_the_preference(tmp_path):
    m = load_manifest(three_precisions(tmp_path))                # an older manifest: nothing marked
    c = choose_precision(m, "litert", engine="ai_edge_litert")
    assert c.precision == "fp32" and c.ranked == ("fp32", "fp16", "int8")
    assert "no validation status in the manifest: the safest precision" in c.reason
    # validated without timings: the preference int8 > fp16 > fp32
    m = mark(tmp_path, passed=[("fp32", None), ("fp16", None), ("int8", None)])
    c = choose_precision(m, "litert", engine="ai_edge_litert")
    assert c.precision == "int8" and "int8 > fp16 > fp32" in c.reason and c.reason.startswith("validated")


def test_auto_skips_failed_precisions(tmp_path):
    d = three_precisions(tmp_path)
    m = mark(d, failed=[("int8", "backbone_64")], passed=[("fp32", None), ("fp16", None)],
             ms={"fp32": 1.72, "fp16": 1.1, "int8": 0.58})
    c = choose_precision(m, "litert", engine="ai_edge_litert")
    assert c.precision == "fp16" and c.ranked == ("fp16", "fp32")
    assert "int8 failed validation" in c.reason and MISSED in c.left_out["int8"]
    # a pipeline that missed its targets counts as a failure of its precision
    m = mark(d, pipeline_passed={"fp16": False})
    assert choose_precision(m, "litert", engine="ai_edge_litert").precision == "fp32"
    assert precision_failures(m, "litert", "fp16") == ["the litert/fp16 pipeline missed its targets"]
    # --allow-failed: the failed ones come back, after those that passed
    c = choose_precision(m, "litert", engine="ai_edge_litert", allow_failed=True)
    assert c.ranked == ("fp32", "int8", "fp16") and c.precision == "fp32"
    assert "fp16, int8 failed validation (ranked after those that passed)" in c.reason


def test_auto_ranks_int8_last_on_the_legacy_engine(tmp_path, monkeypatch):
    m = mark(three_precisions(tmp_path), passed=[("fp32", None), ("fp16", None), ("int8", None)],
             ms={"fp32": 1.72, "fp16": 1.9, "int8": 0.58})
    monkeypatch.setattr(precision, "installed_engine", lambda backend: "tflite_runtime")
    c = choose_precision(m, "litert")
    assert c.ranked == ("fp32", "fp16", "int8")
    assert "int8 ranked last: tflite_runtime runs int8 without XNNPACK" in c.reason
    monkeypatch.setattr(precision, "installed_engine", lambda backend: "ai_edge_litert")
    assert choose_precision(m, "litert").precision == "int8"
    # only int8 left: it runs (the backend warns at load that XNNPACK took none of it)
    m = mark(tmp_path, failed=[("fp32", None), ("fp16", None)])
    assert choose_precision(m, "litert", engine="tflite_runtime").precision == "int8"


def test_auto_with_no_candidate_left_is_a_clear_error(tmp_path):
    d = three_precisions(tmp_path)
    m = mark(d, failed=[("fp32", "policy"), ("fp16", None)], pipeline_passed={"int8": False})
    with pytest.raises(ManifestError) as e:
        choose_precision(m, "litert", engine="ai_edge_litert")
    msg = str(e.value)
    for needle in ("no litert precision passed validation", "fp32: policy_fp32.tflite", MISSED,
                   "int8: the litert/int8 pipeline missed its targets", "--allow-failed"):
        assert needle in msg, (needle, msg)
    # files that missed the same checks are named in one line
    assert precision_failures(m, "litert", "fp16") == [
        f"policy_fp16.tflite, backbone_64_fp16.tflite, backbone_48_fp16.tflite, backbone_32_fp16.tflite "
        f"(litert/fp16) missed {MISSED}"]
    c = choose_precision(m, "litert", engine="ai_edge_litert", allow_failed=True)
    assert c.precision == "int8" and "failed validation, run because of --allow-failed" in c.reason


# ------------------------------------------------------------------------- refusal
def test_a_failed_artifact_is_refused_before_loading(tmp_path):
    d = dummy_artifact_model(tmp_path)
    mark(d, failed=[("fp32", "backbone_64")])
    with pytest.raises(ManifestError) as e:
        AdaptivePipeline(d, backend="litert", precision="fp32")
    msg = str(e.value)
    for needle in ("backbone_64_fp32.tflite", "fp32", MISSED, "--allow-failed"):
        assert needle in msg, (needle, msg)
    rc = live.main(["--model", str(d), "--precision", "fp32", "--headless", "--source", "synthetic://"])
    assert rc == 2


def test_refusal_and_allow_failed_on_real_artifacts(engine_models, tmp_path, capsys):
    d = tmp_path / "m"
    shutil.copytree(engine_models, d)
    mark(d, failed=[("int8", "backbone_48")], passed=[("fp32", None), ("fp16", None)],
         ms={"fp32": 1.72, "fp16": 1.1, "int8": 0.58})
    with pytest.raises(ManifestError, match="backbone_48_int8.tflite.*--allow-failed"):
        AdaptivePipeline(d, backend="litert", precision="int8", threads=1)
    p = AdaptivePipeline(d, backend="litert", precision="int8", threads=1, allow_failed=True)
    assert p.precision == "int8"
    assert precision.installed_engine("litert") == p.engines.models["policy"].engine   # what auto ranks for
    notes = [w for w in p.engine_warnings() if "failed validation" in w]
    assert len(notes) == 1 and "backbone_48_int8.tflite" in notes[0] and MISSED in notes[0]

    src = ["--source", "synthetic://bars?size=96x72&frames=40", "--headless", "--max-steps", "6",
           "--no-power", "--threads", "1"]
    rc = live.main(["--model", str(d), "--precision", "int8", *src])
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("arnet-live: error:")
    assert "backbone_48_int8.tflite" in lines[0] and "--allow-failed" in lines[0] and MISSED in lines[0]

    rc = live.main(["--model", str(d), "--precision", "int8", "--allow-failed", *src])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err.count("failed validation at export") == 1 and "[arnet-edge] warning:" in err
    assert json_lines(out)[-1]["summary"]["precision"] == "int8"


def test_cli_auto_prints_its_choice_and_records_the_precision(engine_models, tmp_path, capsys, monkeypatch):
    d = tmp_path / "m"
    shutil.copytree(engine_models, d)
    mark(d, failed=[("int8", None)], passed=[("fp32", None), ("fp16", None)],
         ms={"fp32": 1.72, "fp16": 1.1, "int8": 0.58})
    src = ["--source", "synthetic://bars?size=96x72&frames=40", "--headless", "--max-steps", "6",
           "--no-power", "--threads", "1"]
    rc = live.main(["--model", str(d), *src])                  # --precision auto is the default
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "[arnet-edge] precision auto -> fp16 (" in err and "int8 failed validation" in err
    assert json_lines(out)[-1]["summary"]["precision"] == "fp16"

    # the legacy engine ranks int8 last even where it passed and was fastest at export
    mark(d, passed=[("int8", None)], ms={"fp32": 1.72, "fp16": 1.9, "int8": 0.58})
    monkeypatch.setattr(precision, "installed_engine", lambda backend: "tflite_runtime")
    rc = live.main(["--model", str(d), *src])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "precision auto -> fp32 (" in err and "int8 ranked last" in err
    monkeypatch.undo()

    # nothing passed: one clear error, and --allow-failed runs the best of the failed ones
    mark(d, failed=[("fp32", None), ("fp16", None), ("int8", None)])
    rc = live.main(["--model", str(d), *src])
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and "no litert precision passed validation" in lines[0]
    assert "--allow-failed" in lines[0]

    # bench records the precision it ran, not "auto"
    mark(d, passed=[("fp32", None), ("fp16", None), ("int8", None)], ms={"fp32": 0.5, "fp16": 1.1, "int8": 0.9})
    write_video(tmp_path / "v" / "act0" / "a.mp4", frames=24, fps=12)
    res = tmp_path / "b.json"
    rc = bench.main(["--model", str(d), "--video", str(tmp_path / "v"), "--threads", "1", "--json", str(res),
                     "--methods", "adaptive", "--warmup", "0", "--max-steps", "4"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(res.read_text())["precision"] == "fp32" and "precision auto -> fp32" in err
