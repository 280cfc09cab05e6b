"""live.py: headless JSON lines, summary, recording, and every bad input → one message, exit 2."""

from __future__ import annotations

import json

import pytest
from edge_helpers import dummy_artifact_model, json_lines, run_script

from edge_runtime import live

EVENT_KEYS = {"step", "t", "kind", "action", "action_name", "top_k", "label", "ms", "gmacs"}


def run_main(capsys, *argv):
    rc = live.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clean_error(rc, err, *needles):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("arnet-live: error:")
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_headless_json_lines_and_summary(capsys, fake_model_dir, tmp_path):
    out_json = tmp_path / "summary.json"
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            "synthetic://bars?size=96x72&frames=300", "--headless", "--max-steps", 25,
                            "--no-power", "--json-out", out_json, "--top-k", 2, "--window", 4)
    assert rc == 0, err
    recs = json_lines(out)
    events, summary = recs[:-1], recs[-1]["summary"]
    assert len(events) == 25
    for i, e in enumerate(events):
        assert EVENT_KEYS <= set(e), e
        assert e["step"] == i and e["t"] == pytest.approx(0.25 * i)
        assert e["kind"] in ("resolution", "skip", "skipped")
        if e["kind"] == "resolution":
            assert "resolution" in e and {"resize", "policy", "backbone", "step"} <= set(e["ms"])
        else:
            assert "skip" in e
        assert len(e["top_k"]) <= 2
    assert summary["steps"] == 25
    for stage in ("policy", "step"):
        assert {"p50_ms", "p95_ms"} <= set(summary["latency_ms"][stage])
    assert sum(summary["actions"].values()) == 25
    assert summary["uniform_gmacs_per_frame"] > 0 and "gmacs_per_frame" in summary
    assert "policy" in summary["ms_per_gmac"]
    assert summary["streams"][0]["source"]["decoded"] <= 25
    assert json.loads(out_json.read_text())["steps"] == 25
    assert "GMACs/frame" in err                  # the human summary goes to stderr


def test_record_writes_the_annotated_stream(capsys, fake_model_dir, tmp_path):
    import cv2
    rec = tmp_path / "out.mp4"
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            "synthetic://bars?size=128x96&frames=300", "--headless", "--max-steps", 12,
                            "--record", rec, "--no-power", "--quiet")
    assert rc == 0, err
    cap = cv2.VideoCapture(str(rec))
    n = 0
    while cap.grab():
        n += 1
    assert n == 12 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 128


def test_window_mode_without_gui_falls_back_to_headless(capsys, fake_model_dir):
    if live._gui_available():
        pytest.skip("this OpenCV has a GUI")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            "synthetic://?frames=40", "--max-steps", 3, "--no-power", "--quiet")
    assert rc == 0 and "no GUI" in err and len(json_lines(out)) == 4


def test_video_file_source(capsys, fake_model_dir, small_video):
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", small_video,
                            "--headless", "--no-power", "--quiet")
    assert rc == 0, err
    assert len(json_lines(out)) == 12 + 1       # 3 s clip at 0.25 s/step + summary


@pytest.mark.parametrize("case", ["bad_json", "bad_field", "no_manifest"])
def test_bad_manifest(capsys, tmp_path, case):
    d = tmp_path / "m"
    d.mkdir()
    if case == "bad_json":
        (d / "manifest.json").write_text("{not json")
        needle = "not valid JSON"
    elif case == "bad_field":
        from edge_runtime.backends.fake import fake_manifest
        raw = fake_manifest().to_dict()
        raw["resolutions"] = [24, 64, 48, 32]
        (d / "manifest.json").write_text(json.dumps(raw))
        needle = "resolutions"
    else:
        needle = "no manifest"
    rc, out, err = run_main(capsys, "--model", d, "--backend", "fake", "--headless")
    assert_clean_error(rc, err, needle)


def test_sha_mismatch_and_missing_artifact(capsys, tmp_path):
    d = dummy_artifact_model(tmp_path / "a", corrupt="backbone_64")
    rc, out, err = run_main(capsys, "--model", d, "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "sha256 mismatch", "backbone_64")
    d = dummy_artifact_model(tmp_path / "b", missing="backbone_32")
    rc, out, err = run_main(capsys, "--model", d, "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "missing", "backbone_32")


def test_unknown_backend_and_precision_list_the_choices(capsys, tmp_path, fake_model_dir):
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "tensorflow", "--headless")
    assert_clean_error(rc, err, "unknown backend 'tensorflow'", "litert, onnxruntime, executorch, torch")
    d = dummy_artifact_model(tmp_path / "a")
    rc, out, err = run_main(capsys, "--model", d, "--precision", "int4", "--headless")
    assert_clean_error(rc, err, "unknown precision 'int4'", "fp32, fp16, int8", "has fp32")
    rc, out, err = run_main(capsys, "--model", d, "--precision", "int8", "--headless")
    assert_clean_error(rc, err, "no int8 artifacts", "fp32")
    rc, out, err = run_main(capsys, "--model", d, "--backend", "onnxruntime", "--headless")
    assert_clean_error(rc, err, "no artifacts for backend 'onnxruntime'", "litert")


def test_camera_and_video_failures(capsys, fake_model_dir, tmp_path):
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", "93",
                            "--headless", "--no-power")
    assert_clean_error(rc, err, "93", "cannot open the camera")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 3000)
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", bad,
                            "--headless", "--no-power")
    assert_clean_error(rc, err, "broken.mp4")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            tmp_path / "absent.mp4", "--headless", "--no-power")
    assert_clean_error(rc, err, "absent.mp4", "no such video file")


def test_bad_numbers(capsys, fake_model_dir):
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--threads", 0,
                            "--headless")
    assert_clean_error(rc, err, "--threads")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--policy-threads", 0,
                            "--headless")
    assert_clean_error(rc, err, "--policy-threads must be >= 1, got 0")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--decode-threads", -1,
                            "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "--decode-threads must be >= 0")
    for bad in ("0", "nan"):                       # one stream and several: checked before loading
        for extra in ((), ("--source", "synthetic://")):
            rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--stream-timeout",
                                    bad, "--headless", "--source", "synthetic://", *extra)
            assert_clean_error(rc, err, f"--stream-timeout must be a positive number of seconds, got {bad}")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--input-size", "640x480",
                            "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "synthetic://: a capture size applies to cameras")
    with pytest.raises(SystemExit) as e:          # argparse: usage + message, exit 2
        live.main(["--model", str(fake_model_dir), "--input-size", "640"])
    assert e.value.code == 2 and "expected WIDTHxHEIGHT" in capsys.readouterr().err
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--resize-workers", 0,
                            "--headless", "--source", "synthetic://", "--source", "synthetic://")
    assert_clean_error(rc, err, "--resize-workers must be >= 1, got 0")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--resize-workers", 2,
                            "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "--resize-workers", "two or more --source")
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--top-k", 0,
                            "--headless", "--source", "synthetic://")
    assert_clean_error(rc, err, "--top-k")
    with pytest.raises(SystemExit) as e:          # argparse: usage + message, exit 2
        live.main(["--model", str(fake_model_dir), "--threads", "many"])
    assert e.value.code == 2


def test_runs_as_a_script_and_errors_without_traceback(fake_model_dir):
    r = run_script(["edge_runtime/live.py", "--model", str(fake_model_dir), "--backend", "fake",
                    "--source", "synthetic://?size=64x48&frames=100", "--headless", "--max-steps", "4",
                    "--no-power", "--quiet"])
    assert r.returncode == 0, r.stderr
    assert len(json_lines(r.stdout)) == 5
    r = run_script(["edge_runtime/live.py", "--model", str(fake_model_dir), "--backend", "nope"])
    assert r.returncode == 2 and "Traceback" not in r.stderr and "unknown backend" in r.stderr


def test_budget_targets(capsys, fake_model_dir):
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            "synthetic://?frames=400", "--headless", "--max-steps", 40, "--no-power", "--quiet",
                            "--target-fps", 1e9)
    assert rc == 0, err
    recs = json_lines(out)
    assert recs[-1]["summary"]["budget"]["target_fps"] == 1e9
    assert recs[0]["lambda"] == 0.0 and recs[-2]["lambda"] > 0     # unreachable fps → λ rises
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--headless",
                            "--no-power", "--target-mw", 3000)
    assert_clean_error(rc, err, "--target-mw needs a power reading")
    with pytest.raises(SystemExit):
        live.main(["--model", str(fake_model_dir), "--target-fps", "5", "--target-mw", "100"])


def test_several_sources_run_as_batched_streams(capsys, fake_model_dir, tmp_path, small_video):
    """Two --source: one JSON line per stream frame with its stream index, the streams' events equal
    a one-source run's on the same source, the shorter source drops out, one summary per stream."""
    src0 = "synthetic://noise?size=96x72&frames=400"
    out_json = tmp_path / "multi.json"
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", src0,
                            "--source", small_video, "--headless", "--no-power", "--max-steps", 30,
                            "--json-out", out_json)
    assert rc == 0, err
    recs = json_lines(out)
    events, summary = recs[:-1], recs[-1]["summary"]
    by = {0: [e for e in events if e["stream"] == 0], 1: [e for e in events if e["stream"] == 1]}
    assert len(by[0]) == 30 and 0 < len(by[1]) < 30          # the 3 s video ends first
    assert summary["ticks"] == 30 and summary["steps"] == len(events)
    assert [s["steps"] for s in summary["streams"]] == [len(by[0]), len(by[1])]
    assert summary["streams"][1]["source"]["uri"] == str(small_video)
    assert "step" in summary["latency_ms"] and json.loads(out_json.read_text())["ticks"] == 30
    assert "2 streams" in err
    rc, out1, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", src0,
                             "--headless", "--no-power", "--max-steps", 30, "--quiet")
    one = json_lines(out1)[:-1]
    strip = lambda e: {k: v for k, v in e.items() if k not in ("ms", "stream")}  # noqa: E731
    assert [strip(e) for e in by[0]] == [strip(e) for e in one]
    rc, out3, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", src0,
                             "--source", small_video, "--headless", "--no-power", "--max-steps", 30,
                             "--resize-workers", 2, "--quiet")   # parallel resizes: the same events
    assert rc == 0, err
    assert [strip(e) for e in json_lines(out3)[:-1]] == [strip(e) for e in events]


def test_several_sources_record_a_grid_and_take_a_budget(capsys, fake_model_dir, tmp_path):
    """--record with three sources writes one 2x2 grid frame (480x360 cells) per tick; a budget
    steers all the streams with one λ."""
    import cv2
    three = ["--source", "synthetic://bars?frames=200", "--source", "synthetic://noise?frames=200",
             "--source", "synthetic://flat?frames=60"]
    rec = tmp_path / "grid.mp4"
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", *three, "--headless",
                            "--no-power", "--max-steps", 12, "--record", rec)
    assert rc == 0, err
    summary = json_lines(out)[-1]["summary"]
    assert summary["ticks"] == 12 and summary["record"] == str(rec)
    cap = cv2.VideoCapture(str(rec))
    n, shape = 0, None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n, shape = n + 1, f.shape
    cap.release()
    assert (n, shape) == (12, (720, 960, 3))
    two = three[:4]
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", *two, "--headless",
                            "--target-fps", 1e9, "--no-power", "--max-steps", 40, "--quiet")
    assert rc == 0, err
    recs = json_lines(out)
    events, summary = recs[:-1], recs[-1]["summary"]
    assert summary["budget"]["target_fps"] == 1e9 and summary["capacity_fps"] > 0
    assert events[0]["lambda"] == 0.0 and events[-1]["lambda"] > 0      # unreachable: λ rises
    assert events[-1]["lambda"] == events[-2]["lambda"]                   # the last tick's two streams
    rc, _, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", *two, "--headless",
                          "--target-mw", 3000, "--no-power")
    assert_clean_error(rc, err, "--target-mw needs a power reading")
    rc, _, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", *two[:2],
                          "--source", "/nonexistent/clip.mp4", "--headless", "--no-power")
    assert rc == 2 and "/nonexistent/clip.mp4" in err and "Traceback" not in err


def test_a_stream_whose_camera_goes_for_good_drops_out(capsys, fake_model_dir, monkeypatch):
    """Two sources, the second fails after 5 sampled frames (a camera gone after its reconnect
    attempts): the first runs on, stderr says which stream stopped and why, the summary holds it."""
    from edge_runtime import sources

    real_open = sources.open_source

    class Dying:
        def __init__(self, inner):
            self.inner = inner

        def frames(self, need=None):
            for k, sf in enumerate(self.inner.frames(need)):
                if k == 5:
                    raise sources.SourceError("/dev/video7: camera disconnected; 5 reconnect attempts failed")
                yield sf

        def __getattr__(self, name):
            return getattr(self.inner, name)

    def fake_open(uri, *a, **k):
        src = real_open(uri, *a, **k)
        return Dying(src) if "noise" in uri else src

    monkeypatch.setattr(sources, "open_source", fake_open)
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source",
                            "synthetic://bars?frames=300", "--source", "synthetic://noise?frames=300",
                            "--headless", "--no-power", "--max-steps", 20)
    assert rc == 3, err            # the run went on, but a supervisor learns that a stream was lost
    recs = json_lines(out)
    events, summary = recs[:-1], recs[-1]["summary"]
    assert sum(e["stream"] == 0 for e in events) == 20 and sum(e["stream"] == 1 for e in events) == 5
    assert "stream 1 (synthetic://noise?frames=300) stopped: /dev/video7: camera disconnected" in err
    assert [s["error"] for s in summary["streams"]] == \
        [None, "/dev/video7: camera disconnected; 5 reconnect attempts failed"]


def test_a_single_source_lost_mid_run_keeps_its_summary(capsys, fake_model_dir, monkeypatch, tmp_path):
    """One source that fails for good after 5 steps: stderr says why, the summary of those steps
    is still printed and written (with the error), exit status 3; failing before any step is a
    bad source (exit 2)."""
    from edge_runtime import sources

    real_open = sources.open_source
    fail_at = {"n": 5}

    def fake_open(uri, *a, **k):
        src = real_open(uri, *a, **k)
        inner = src.frames

        def frames(need=None):
            for k, sf in enumerate(inner(need)):
                if k == fail_at["n"]:
                    raise sources.SourceError("rtsp://cam/1: the source stopped delivering frames")
                yield sf
        src.frames = frames
        return src

    monkeypatch.setattr(sources, "open_source", fake_open)
    out_json = tmp_path / "s.json"
    args = ("--model", fake_model_dir, "--backend", "fake", "--source", "synthetic://bars?frames=300",
            "--headless", "--no-power", "--json-out", out_json)
    rc, out, err = run_main(capsys, *args)
    assert rc == 3, err
    recs = json_lines(out)
    assert len(recs) == 6 and recs[-1]["summary"]["steps"] == 5
    assert recs[-1]["summary"]["error"] == "rtsp://cam/1: the source stopped delivering frames"
    assert "arnet-live: error: rtsp://cam/1: the source stopped delivering frames; summary of the 5 " \
           "steps so far follows" in err and "Traceback" not in err
    assert json.loads(out_json.read_text())["error"] == recs[-1]["summary"]["error"]
    fail_at["n"] = 0
    out_json.unlink()
    rc, out, err = run_main(capsys, *args)
    assert_clean_error(rc, err, "rtsp://cam/1: the source stopped delivering frames")
    assert not out_json.exists()


def test_a_network_stream_that_stalls_for_good(capsys, fake_model_dir, tmp_path):
    """A real MJPEG-over-HTTP stream on loopback sends frames, then goes silent: --stream-timeout
    notices, one reconnect fails, the run ends with its summary and exit status 3."""
    from edge_helpers import MjpegServer
    srv = MjpegServer([("frames", 80)])
    try:
        rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", srv.uri,
                                "--headless", "--no-power", "--stream-timeout", 0.5, "--reconnect", 1)
    finally:
        srv.close()
    assert rc == 3, err
    summary = json_lines(out)[-1]["summary"]
    assert summary["steps"] >= 1 and summary["streams"][0]["source"]["stream_timeout_s"] == 0.5
    assert summary["error"].startswith(f"{srv.uri}: the source stopped delivering frames and 1 reconnect")
    assert "stream lost; reconnecting" in err and "Traceback" not in err


@pytest.mark.parametrize("n_sources", [1, 2])
def test_input_size_reaches_every_source(capsys, fake_model_dir, monkeypatch, n_sources):
    """--input-size is handed to each source as its capture size (the cameras' own tests check
    what a camera does with it)."""
    from edge_runtime import sources

    real_open, asked = sources.open_source, []

    def fake_open(uri, *a, capture_size=None, **k):
        asked.append((uri, capture_size))
        return real_open(uri, *a, **k)   # synthetic stand-ins for cameras take no capture size

    monkeypatch.setattr(sources, "open_source", fake_open)
    uris = [f"synthetic://bars?frames=40&seed={i}" for i in range(n_sources)]
    args = [a for u in uris for a in ("--source", u)]
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", *args, "--headless",
                            "--no-power", "--max-steps", 3, "--input-size", "320x240", "--quiet")
    assert rc == 0, err
    assert asked == [(u, (320, 240)) for u in uris]


@pytest.mark.parametrize("n_sources", [1, 2])
def test_sigterm_ends_with_the_summary_and_a_playable_recording(fake_model_dir, tmp_path, n_sources):
    """``systemctl stop`` / ``docker stop`` send SIGTERM: the run stops like Ctrl-C, prints and
    writes its summary, and finishes the recording, which replaces an earlier file only then."""
    import signal
    import subprocess
    import sys

    import cv2
    from edge_helpers import ROOT
    rec, out_json = tmp_path / "run.mp4", tmp_path / "s.json"
    rec.write_bytes(b"an earlier recording")
    srcs = ["--source", "synthetic://bars?size=96x72&frames=100000"] * n_sources
    p = subprocess.Popen([sys.executable, "edge_runtime/live.py", "--model", str(fake_model_dir), "--backend",
                          "fake", *srcs, "--headless", "--no-power", "--record", str(rec), "--json-out",
                          str(out_json)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import threading
    guard = threading.Timer(120, p.kill)               # a hung child fails the test, never CI
    guard.start()
    try:
        for _ in range(6 * n_sources):                  # some steps ran (and were recorded)
            assert p.stdout.readline(), p.stderr.read()
        assert rec.read_bytes() == b"an earlier recording"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        guard.cancel()
        p.kill()
    assert p.returncode == 0, err
    assert "arnet-live: terminated (SIGTERM); summary follows" in err and "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert json.loads(out_json.read_text()) == summary
    cap = cv2.VideoCapture(str(rec))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames >= 5     # the signal may land between the 6th event line and its frame
    assert [f.name for f in tmp_path.iterdir()] and not list(tmp_path.glob(".*partial*"))


def test_summary_file_rewrites_on_its_interval(tmp_path):
    now = [100.0]
    path = tmp_path / "s.json"
    f = live.SummaryFile(str(path), 5.0, clock=lambda: now[0])
    assert not f.due()
    now[0] = 105.0
    assert f.due()
    f.write({"steps": 3}, running=True)
    assert json.loads(path.read_text()) == {"steps": 3, "running": True} and not f.due()
    now[0] = 109.9
    assert not f.due()                          # the interval counts from the last write
    f.write({"steps": 9}, running=False)
    assert json.loads(path.read_text()) == {"steps": 9, "running": False}
    plain = live.SummaryFile(str(tmp_path / "p.json"))   # no --summary-every: never due, no flag
    now[0] = 1e9
    assert not plain.due()
    plain.write({"steps": 1}, running=False)
    assert json.loads((tmp_path / "p.json").read_text()) == {"steps": 1}
    live.SummaryFile(None, 1.0).write({"steps": 1}, running=False)   # no --json-out: nothing


@pytest.mark.parametrize("n_sources", [1, 2])
def test_summary_every_shows_a_running_summary(fake_model_dir, tmp_path, n_sources):
    """--summary-every: the --json-out file holds a summary ("running": true) while the run goes
    on, and the final one ("running": false) when it ends."""
    import signal
    import subprocess
    import sys
    import time

    from edge_helpers import ROOT
    out_json = tmp_path / "s.json"
    srcs = ["--source", "synthetic://bars?size=96x72&frames=100000"] * n_sources
    p = subprocess.Popen([sys.executable, "edge_runtime/live.py", "--model", str(fake_model_dir), "--backend",
                          "fake", *srcs, "--headless", "--no-power", "--quiet", "--json-out", str(out_json),
                          "--summary-every", "0.3"], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out_json.exists():
            assert p.poll() is None and time.monotonic() < deadline, p.stderr.read()
            time.sleep(0.05)
        first = json.loads(out_json.read_text())
        assert first["running"] is True and first["steps"] >= 1 and p.poll() is None
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    last = json.loads(out_json.read_text())
    assert last["running"] is False and last["steps"] >= first["steps"]
    assert len(last["streams"]) == n_sources     # one summary shape for any number of sources


def test_summary_every_needs_a_file_and_a_positive_interval(capsys, fake_model_dir):
    for bad, needle in (("0", "--summary-every must be a positive number of seconds, got 0.0"),
                        ("inf", "--summary-every must be a positive number of seconds, got inf")):
        rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--summary-every", bad,
                                "--json-out", "x.json", "--headless", "--source", "synthetic://")
        assert_clean_error(rc, err, needle)
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--summary-every", 5,
                            "--headless", "--source", "synthetic://", "--source", "synthetic://")
    assert_clean_error(rc, err, "--summary-every rewrites the --json-out file; give --json-out FILE too")


def test_a_folder_of_frames_as_the_source(capsys, fake_model_dir, tmp_path):
    """--source DIR plays extracted frames at --input-rate: 36 frames at 12 fps are 3 s, 12 steps
    at the fake model's 4 steps/s; a bad rate is a usage error."""
    import cv2
    from edge_helpers import frame_of
    for i in range(36):
        cv2.imwrite(str(tmp_path / f"image_{i + 1:05d}.jpg"), frame_of(i))
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", tmp_path,
                            "--input-rate", 12, "--headless", "--no-power")
    assert rc == 0, err
    summary = json_lines(out)[-1]["summary"]
    assert summary["steps"] == 12 and summary["streams"][0]["source"]["kind"] == "images"
    assert summary["streams"][0]["source"]["images"] == 36 and summary["streams"][0]["source"]["fps"] == 12
    rc, out, err = run_main(capsys, "--model", fake_model_dir, "--backend", "fake", "--source", tmp_path,
                            "--input-rate", 0, "--headless")
    assert_clean_error(rc, err, "--input-rate must be a positive number of frames per second, got 0.0")
