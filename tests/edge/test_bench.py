"""bench.py: adaptive vs every branch run uniformly (uniform, uniform@<size>, smallest), side by side,
on labelled clips; the cheapest uniform method that is as accurate as adaptive."""

from __future__ import annotations

import json

import pytest
from edge_helpers import run_script, write_video

from edge_runtime import bench
from edge_runtime.backends.fake import fake_manifest


@pytest.fixture(scope="module")
def labelled_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_videos")
    for k, cls in enumerate(("class_0", "Class 3", "unknown_thing")):
        write_video(root / cls / f"v{k}.mp4", frames=24 + 6 * k, fps=12)
    return root


def test_bench_fake_backend_json(tmp_path, fake_model_dir, labelled_videos, capsys):
    out = tmp_path / "bench.json"
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(labelled_videos),
                     "--json", str(out), "--warmup", "1"])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert "unknown_thing" in err                   # unmatched folder: speed only
    r = json.loads(out.read_text())
    assert r["videos"] == 3 and r["labelled_videos"] == 2
    # every branch runs uniform by default (fake model: 64/48/32/24), in branch order after adaptive
    assert list(r["methods"]) == ["adaptive", "uniform", "uniform@48", "uniform@32", "smallest"]
    assert [v["resolution"] for v in r["methods"].values()] == [None, 64, 48, 32, 24]
    steps = {m: v["steps"] for m, v in r["methods"].items()}
    assert len(set(steps.values())) == 1 and steps["uniform"] == 8 + 10 + 12
    u, a, s = r["methods"]["uniform"], r["methods"]["adaptive"], r["methods"]["smallest"]
    assert u["gmacs_vs_uniform"] == pytest.approx(1.0)
    costs = fake_manifest().costs
    for m, i in (("uniform", 0), ("uniform@48", 1), ("uniform@32", 2)):   # the backbone alone, no policy
        assert r["methods"][m]["gmacs_per_frame"] == pytest.approx(costs["actions"][i]), m
        assert r["methods"][m]["ms_per_stage_mean"].get("policy", 0.0) == 0.0, m
        assert "actions" not in r["methods"][m]
    assert s["gmacs_per_frame"] == pytest.approx(costs["policy_step"])
    assert u["decoded_frames"] == u["steps"] and a["decoded_frames"] <= a["steps"]
    for v in r["methods"].values():
        assert v["processed_fps"] > 0 and v["end_to_end_fps"] > 0
        assert v["ms_per_step_p50"] <= v["ms_per_step_p95"]
        assert v["labelled_clips"] == 2 and 0 <= v["accuracy"] <= 1
    assert r["speedup"] == pytest.approx(a["processed_fps"] / u["processed_fps"])
    assert r["gmacs_ratio"] == pytest.approx(a["gmacs_per_frame"] / u["gmacs_per_frame"])
    assert r["wall_time_ratio"] == pytest.approx(1 / r["speedup"])
    assert "goals" not in r                          # measurements only: targets are checked elsewhere
    # the uniform method a user would pick instead: the rule applied to this run's numbers
    name, why = bench.cheapest_as_accurate(r["methods"])
    c = r["cheapest_as_accurate"]
    assert (None if c is None else c["method"]) == name and r["cheapest_as_accurate_reason"] == why
    if c is None:
        assert why.startswith("no uniform method is as accurate as adaptive")
        assert r["speedup_vs_cheapest_as_accurate"] is None and r["gmacs_ratio_vs_cheapest_as_accurate"] is None
        assert "cheapest uniform method as accurate as adaptive (clip accuracy >= adaptive's): none" in stdout
    else:
        m = r["methods"][name]
        assert c["accuracy"] == m["accuracy"] >= a["accuracy"] and c["resolution"] == m["resolution"]
        assert r["speedup_vs_cheapest_as_accurate"] == pytest.approx(a["processed_fps"] / m["processed_fps"])
        assert r["gmacs_ratio_vs_cheapest_as_accurate"] == pytest.approx(a["gmacs_per_frame"] / m["gmacs_per_frame"])
        assert f"cheapest uniform method as accurate as adaptive (clip accuracy >= adaptive's): {name}" in stdout
    g = goals_script().goals(r)
    assert g["speedup"]["ok"] == (r["speedup"] >= 2.0)
    assert g["wall_minus_gmacs_ratio"]["value"] == pytest.approx(r["wall_time_ratio"] - r["gmacs_ratio"])
    assert g["wall_minus_gmacs_ratio"]["ok"] == (g["wall_minus_gmacs_ratio"]["value"] <= 0.10)
    assert g["end_to_end_fps"]["value"] == a["end_to_end_fps"]
    assert sum(a["actions"].values()) == a["steps"]
    assert "speedup" in stdout and "adaptive" in stdout and "goals" not in stdout
    rc = goals_script().main([str(out)])
    printed = capsys.readouterr().out
    assert rc in (0, 1) and "goals (CPU; this run: fake/fp32): speedup" in printed


def test_bench_streams_batches_videos_and_matches_one_stream(tmp_path, fake_model_dir, labelled_videos, capsys):
    """--streams 2: 3 videos in two groups (the second filled up with the first video, timed but
    not counted); every stream frame is stepped once, with the one-stream run's GMACs, actions and
    accuracy (the fake engines are row-wise exact)."""
    res = {}
    for B in (1, 2):
        out = tmp_path / f"b{B}.json"
        rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(labelled_videos),
                         "--json", str(out), "--warmup", "2", "--streams", str(B), "--repeat", "2"])
        stdout, err = capsys.readouterr()
        assert rc == 0, err
        res[B] = json.loads(out.read_text())
    one, two = res[1], res[2]
    assert two["streams"] == 2 and "2 streams batched" in stdout
    assert one["resize_workers"] is None and two["resize_workers"] >= 1
    assert list(one["methods"]) == list(two["methods"]) == ["adaptive", "uniform", "uniform@48", "uniform@32",
                                                            "smallest"]
    for m in one["methods"]:
        a, b = one["methods"][m], two["methods"][m]
        # group 2 = the third video + the first again (filler, 8, 10 or 12 sampled frames): steps
        # count the filler's frames too, twice for --repeat 2
        assert b["steps"] - a["steps"] in (2 * 8, 2 * 10, 2 * 12), m
        assert b["steps"] - a["steps"] == two["methods"]["uniform"]["steps"] - one["methods"]["uniform"]["steps"]
        assert (b["clips"], b["labelled_clips"], b["accuracy"]) == (a["clips"], a["labelled_clips"], a["accuracy"])
        assert b["gmacs_per_frame"] > 0
    assert two["methods"]["uniform"]["gmacs_vs_uniform"] == pytest.approx(1.0)
    assert sum(two["methods"]["adaptive"]["actions"].values()) == two["methods"]["adaptive"]["steps"]
    assert len(two["per_pass"]["speedup"]) == 2
    # same accuracy and GMACs per method: the same cheapest-as-accurate pick
    assert [(r["cheapest_as_accurate"] or {}).get("method") for r in (one, two)] == \
        [bench.cheapest_as_accurate(one["methods"])[0]] * 2
    assert one["cheapest_as_accurate_reason"] == two["cheapest_as_accurate_reason"]


def test_bench_clip_sampling_and_method_subset(fake_model_dir, labelled_videos, capsys, tmp_path):
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(labelled_videos),
                     "--sampling", "clip", "--methods", "uniform,adaptive", "--max-clips", "2", "--quiet",
                     "--json", "/dev/null"])
    assert rc == 0, capsys.readouterr().err
    # a branch by its resolution; uniform@<top> is uniform, uniform@<lowest> smallest; each once;
    # without adaptive there is nothing to compare (and --streams needs no adaptive method)
    out = tmp_path / "sub.json"
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(labelled_videos),
                     "--methods", "uniform@32,uniform@64,uniform,uniform@24", "--max-clips", "2", "--streams", "2",
                     "--quiet", "--warmup", "0", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert list(r["methods"]) == ["uniform@32", "uniform", "smallest"]
    assert "speedup" not in r and "cheapest_as_accurate" not in r and r["resize_workers"] >= 1


def test_bench_without_labels_says_why_there_is_no_cheapest_as_accurate(fake_model_dir, labelled_videos, tmp_path,
                                                                        capsys):
    out = tmp_path / "nolabels.json"
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video",
                     str(labelled_videos / "unknown_thing"), "--warmup", "0", "--methods", "adaptive,uniform@48",
                     "--json", str(out)])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    r = json.loads(out.read_text())
    assert r["labelled_videos"] == 0 and r["methods"]["adaptive"]["accuracy"] is None
    assert r["cheapest_as_accurate"] is None and r["speedup_vs_cheapest_as_accurate"] is None
    assert r["gmacs_ratio_vs_cheapest_as_accurate"] is None
    assert r["cheapest_as_accurate_reason"].startswith("clip accuracy unknown")
    assert "as accurate as adaptive (clip accuracy >= adaptive's): none (clip accuracy unknown" in stdout


def _m(acc, gmacs, fps=100.0):
    return {"accuracy": acc, "gmacs_per_frame": gmacs, "processed_fps": fps, "end_to_end_fps": fps / 2,
            "resolution": None}


def test_cheapest_as_accurate_picks_the_fewest_gmacs_among_the_as_accurate():
    methods = {"adaptive": _m(0.80, 0.40, 300.0), "uniform": _m(0.85, 1.00, 60.0),
               "uniform@168": _m(0.80, 0.60, 120.0),      # as accurate (equal counts): the cheapest such
               "uniform@112": _m(0.79, 0.30, 200.0),      # cheaper but less accurate
               "smallest": _m(0.50, 0.05, 900.0)}
    assert bench.cheapest_as_accurate(methods) == ("uniform@168", None)
    assert bench.cheapest_as_accurate(methods, candidates=["uniform", "smallest"]) == ("uniform", None)
    cmp = bench.compare_cheapest_as_accurate(methods)
    assert cmp["cheapest_as_accurate"]["method"] == "uniform@168" and cmp["cheapest_as_accurate_reason"] is None
    assert cmp["cheapest_as_accurate"]["accuracy"] == 0.80 and cmp["cheapest_as_accurate"]["gmacs_per_frame"] == 0.60
    assert cmp["speedup_vs_cheapest_as_accurate"] == pytest.approx(300.0 / 120.0)
    assert cmp["gmacs_ratio_vs_cheapest_as_accurate"] == pytest.approx(0.40 / 0.60)
    # equal GMACs: the more accurate one
    tie = {**methods, "uniform@140": _m(0.90, 0.60)}
    assert bench.cheapest_as_accurate(tie) == ("uniform@140", None)


def test_cheapest_as_accurate_none_when_even_the_top_branch_is_less_accurate():
    methods = {"adaptive": _m(0.90, 0.40), "uniform": _m(0.85, 1.00), "uniform@168": _m(0.88, 0.60),
               "smallest": _m(0.50, 0.05)}
    name, why = bench.cheapest_as_accurate(methods)
    assert name is None
    assert why == "no uniform method is as accurate as adaptive (90.0%); the most accurate, uniform@168, has 88.0%"
    cmp = bench.compare_cheapest_as_accurate(methods)
    assert cmp == {"cheapest_as_accurate": None, "cheapest_as_accurate_reason": why,
                   "speedup_vs_cheapest_as_accurate": None, "gmacs_ratio_vs_cheapest_as_accurate": None}
    unknown = {m: {**v, "accuracy": None} for m, v in methods.items()}
    assert bench.cheapest_as_accurate(unknown)[1].startswith("clip accuracy unknown")
    assert bench.cheapest_as_accurate({"adaptive": _m(0.9, 0.4)})[1] == "no uniform method was run beside adaptive"


def test_table_prints_the_comparison_with_the_cheapest_as_accurate():
    methods = {"adaptive": _m(0.80, 0.40, 300.0), "uniform": _m(0.85, 1.00, 60.0), "uniform@168": _m(0.80, 0.60, 120.0)}
    for k, v in methods.items():
        v.update(ms_per_step_p50=1.0, ms_per_step_p95=2.0, gmacs_vs_uniform=v["gmacs_per_frame"],
                 resolution={"adaptive": None, "uniform": 224, "uniform@168": 168}[k])
    out = {"model": "m", "backend": "fake", "precision": "fp32", "videos": 3, "sampling": "stream", "methods": methods,
           **bench.compare_cheapest_as_accurate(methods)}
    text = bench.table(out)
    assert ("cheapest uniform method as accurate as adaptive (clip accuracy >= adaptive's): uniform@168, 80.0% at "
            "0.6000 GMACs/frame; adaptive runs 2.50x its fps at 0.667x its GMACs") in text
    assert any(line.startswith("uniform@168") and " 168 " in line for line in text.splitlines())
    methods["uniform@168"]["accuracy"] = 0.7
    methods["uniform"]["accuracy"] = 0.75
    text = bench.table({**out, **bench.compare_cheapest_as_accurate(methods)})
    assert ("as accurate as adaptive (clip accuracy >= adaptive's): none (no uniform method is as accurate as "
            "adaptive (80.0%); the most accurate, uniform, has 75.0%)") in text


def test_bench_bad_inputs(fake_model_dir, tmp_path, capsys):
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert rc == 2 and "no such video file or folder" in err and "Traceback" not in err
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(tmp_path),
                     "--methods", "adaptive,random"])
    err = capsys.readouterr().err
    assert rc == 2 and "random" in err
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(tmp_path),
                     "--methods", "adaptive,uniform@50"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert ("--methods: unknown ['uniform@50']; valid choices for this model: adaptive, uniform, uniform@48, "
            "uniform@32, smallest (uniform@<size> for any of its resolutions 64, 48, 32, 24)") in err
    rc = bench.main(["--model", str(fake_model_dir), "--backend", "fake", "--video", str(tmp_path),
                     "--streams", "2", "--resize-workers", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "--resize-workers must be >= 1, got 0" in err and "Traceback" not in err


def test_bench_runs_as_a_script(fake_model_dir, labelled_videos, tmp_path):
    out = tmp_path / "b.json"
    r = run_script(["edge_runtime/bench.py", "--model", str(fake_model_dir), "--backend", "fake", "--video",
                    str(labelled_videos / "class_0"), "--json", str(out), "--warmup", "0"])
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["videos"] == 1


def test_bench_real_engine(engine_models, tmp_path, capsys):
    write_video(tmp_path / "act0" / "a.mp4", frames=36, fps=12)
    out = tmp_path / "r.json"
    rc = bench.main(["--model", str(engine_models), "--video", str(tmp_path), "--threads", "1", "--json", str(out),
                     "--repeat", "3"])
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["backend"] == "litert" and r["methods"]["adaptive"]["labelled_clips"] == 3   # 1 video x 3 passes
    assert r["engines"]["policy"]["engine"] in ("ai_edge_litert", "tflite_runtime", "tensorflow")
    # where a step's time goes: the stages add up to the step (plus the pipeline's own Python)
    for name, meth in r["methods"].items():
        st = meth["ms_per_stage_mean"]
        parts = sum(v for k, v in st.items() if k != "step")
        assert 0 < parts <= st["step"] and st["step"] == pytest.approx(meth["ms_per_step_mean"]), name
    assert r["methods"]["uniform"]["ms_per_stage_mean"].get("policy", 0.0) == 0.0
    # one speedup per pass; the passes' step ms add up to the whole run's
    assert r["decode_threads"] == 1   # the default: FFmpeg's threads would compete with the engine
    pp = r["per_pass"]
    assert len(pp["speedup"]) == 3 == len(pp["wall_minus_gmacs_ratio"])
    assert min(pp["speedup"]) <= r["speedup"] * 1.000001 and max(pp["speedup"]) >= r["speedup"] * 0.999999
    printed = capsys.readouterr().out
    assert "per pass (3): speedup" in printed and "ms per sampled frame by stage: adaptive resize" in printed


def test_per_pass_ratios_are_each_pass_alone():
    # pass 1: adaptive 10 steps in 5 ms (0.5 GMACs), uniform 10 steps in 20 ms (2 GMACs)
    passes = [{"adaptive": (10, 5.0, 0.5), "uniform": (10, 20.0, 2.0)},
              {"adaptive": (10, 10.0, 0.5), "uniform": (10, 20.0, 2.0)},
              {"adaptive": (0, 0.0, 0.0), "uniform": (10, 20.0, 2.0)}]   # nothing ran: left out
    pp = bench.per_pass(passes)
    assert pp["speedup"] == pytest.approx([4.0, 2.0])
    assert pp["wall_minus_gmacs_ratio"] == pytest.approx([0.25 - 0.25, 0.5 - 0.25])


def goals_script():
    """scripts/check_bench_goals.py, where the speed targets live."""
    from edge_helpers import load_script
    return load_script("scripts/check_bench_goals.py")


def test_goals_pick_the_gpu_goal_when_every_engine_is_on_cuda():
    base = {"speedup": 2.5, "wall_time_ratio": 0.4, "gmacs_ratio": 0.25,
            "methods": {"adaptive": {"end_to_end_fps": 100.0}}}
    gpu = goals_script().goals({**base, "engines": {"policy": {"device": "cuda"}, "backbone_224": {"device": "cuda:0"}}})
    assert set(gpu) == {"gpu_step_ratio"} and gpu["gpu_step_ratio"]["ok"] is True
    slow = goals_script().goals({**base, "wall_time_ratio": 0.7, "engines": {"policy": {"device": "cuda"}}})
    assert slow["gpu_step_ratio"]["ok"] is False
    mixed = goals_script().goals({**base, "engines": {"policy": {"device": "cpu"}, "backbone_224": {"device": "cuda"}}})
    assert set(mixed) == {"speedup", "wall_minus_gmacs_ratio", "end_to_end_fps"}
    cpu = goals_script().goals({**base, "engines": {"policy": {"threads": 2}}})
    assert cpu["wall_minus_gmacs_ratio"]["ok"] is False            # 0.4 - 0.25 = 0.15 > 0.10
