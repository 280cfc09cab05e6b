"""Telemetry: latency percentiles, compute accounting, power readers on recorded sysfs trees and
command outputs (tests/edge/fixtures/power/), energy integration. Torch-free, fast."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.manifest import Manifest
from edge_runtime.telemetry import (CostAccounting, EnergyIntegrator, JetsonHwmonReader,
                                    JetsonIioReader, LatencyStats, NullPowerReader, PowerMonitor,
                                    PowerReader, PowerSample, PowerSupplyReader,
                                    RaspberryPiPmicReader, parse_pmic_read_adc, percentile)
from edge_runtime.telemetry.power import subprocess_runner

FIXTURES = Path(__file__).parent / "fixtures" / "power"
PMIC_TEXT = (FIXTURES / "rpi5_pmic_read_adc.txt").read_text()


def materialise(src: Path, dst: Path) -> None:
    """Copy a stored tree, restoring ``:`` in names (stored as ``%3A`` so the repository checks
    out on every OS; sysfs has ``iio:device0``, ``ucsi-source-psy-USBC000:001``...)."""
    for p in sorted(src.rglob("*")):
        target = dst / str(p.relative_to(src)).replace("%3A", ":")
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


@pytest.fixture(scope="module")
def FIX(tmp_path_factory):
    """The fixture trees, materialised once per module with their real sysfs names."""
    root = tmp_path_factory.mktemp("power")
    for tree in FIXTURES.iterdir():
        if tree.is_dir():
            materialise(tree, root / tree.name)
    return root


def arnet_manifest(policy_step=0.2, actions=(1.1, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0), uniform=1.1):
    """AR-Net-Lite shaped manifest: 224/168/112/84, skips 1/2/4 (no artifacts needed here)."""
    res, skips = [224, 168, 112, 84], [1, 2, 4]
    acts = [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if s != 84 else "policy"}
            for s in res] + [{"kind": "skip", "frames": f} for f in skips]
    return Manifest.from_dict({
        "schema": 1, "name": "toy", "labels": ["a", "b"], "resolutions": res, "skip_lengths": skips,
        "actions": acts, "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True},
        "policy": {"resolution": 84, "hidden": 8}, "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25},
        "costs": {"policy_step": policy_step, "actions": list(actions), "uniform_per_frame": uniform},
        "artifacts": []})


def test_stored_fixture_names_are_portable():
    assert not [p for p in FIXTURES.rglob("*") if ":" in p.name]


# ----------------------------------------------------------------------------- latency
def test_percentile_matches_numpy_linear():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 101):
        xs = sorted(rng.exponential(5.0, n).tolist())
        for q in (0, 5, 50, 90, 95, 99, 100):
            assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), abs=1e-12)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_stats_summary_and_table():
    s = LatencyStats()
    for ms in (4.0, 1.0, 3.0, 2.0, 10.0):
        s.add("policy", ms)
    s.add("backbone_224", 20.0)
    out = s.summary()
    assert list(out) == ["policy", "backbone_224"]  # first-seen order
    p = out["policy"]
    assert p["count"] == 5 and p["mean_ms"] == pytest.approx(4.0)
    assert p["p50_ms"] == 3.0 and p["max_ms"] == 10.0 and p["min_ms"] == 1.0
    assert p["p95_ms"] == pytest.approx(4.0 + 0.8 * 6.0)  # rank 3.8 between 4 and 10
    assert out["backbone_224"]["p95_ms"] == 20.0
    t = s.table(title="latency")
    lines = t.splitlines()
    assert lines[0] == "latency" and "p95 ms" in lines[1]
    assert any(line.startswith("policy") and "10.00" in line for line in lines)
    assert "(no samples)" in LatencyStats().table()
    with pytest.raises(ValueError):
        s.add("policy", -1.0)
    with pytest.raises(ValueError):
        s.add("policy", float("nan"))
    with pytest.raises(KeyError):
        s.stage_summary("nope")


def test_latency_window_is_bounded_and_deterministic():
    s = LatencyStats(window=100)
    for i in range(1000):
        s.add("step", float(i))
    p = s.summary()["step"]
    assert p["count"] == 1000 and p["window"] == 100
    assert p["max_ms"] == 999.0 and p["min_ms"] == 0.0 and p["mean_ms"] == pytest.approx(499.5)
    assert p["p50_ms"] == pytest.approx(949.5)  # the last 100 samples: 900..999
    s2 = LatencyStats(window=100)
    for i in range(1000):
        s2.add("step", float(i))
    assert s2.summary() == s.summary()


def test_latency_timer_records():
    s = LatencyStats()
    with s.time("decode"):
        pass
    assert s.count("decode") == 1 and s.summary()["decode"]["max_ms"] >= 0.0


# ----------------------------------------------------------------------- cost accounting
def test_cost_accounting_stream():
    m = arnet_manifest()
    acc = CostAccounting(m)
    # a stream of 10 sampled frames: 224, 84, skip4 (+3 skipped), 168, skip1, 112, 224
    acc.record(0, 12.0)
    acc.record(3, 2.0)
    acc.record(6, 2.0)
    for _ in range(3):
        acc.record(6, skipped=True)
    acc.record(1, 8.0)
    acc.record(4, 2.0)
    acc.record(2, 5.0)
    acc.record(0, 14.0)
    h = acc.histogram()
    assert h == {"res224": 2, "res168": 1, "res112": 1, "res84": 1, "skip1": 1, "skip2": 0,
                 "skip4": 1, "skipped": 3}
    assert sum(h.values()) == acc.frames == 10 and acc.decision_steps == 7
    total = 2 * 1.3 + 0.2 + 0.2 + 0.8 + 0.2 + 0.5  # policy_step 0.2 on every decision
    assert acc.total_gmacs == pytest.approx(total)
    assert acc.gmacs_per_frame == pytest.approx(total / 10)
    assert acc.savings == pytest.approx(1 - (total / 10) / 1.1)
    assert acc.speedup == pytest.approx(1.1 / (total / 10))
    s = acc.summary()
    a0 = s["actions"][0]
    assert a0["mean_ms"] == pytest.approx(13.0) and a0["ms_per_gmac"] == pytest.approx(13.0 / 1.3)
    assert s["actions"][5]["count"] == 0 and s["actions"][5]["mean_ms"] is None
    assert s["uniform_gmacs_per_frame"] == 1.1 and s["skipped_frames"] == 3


def test_cost_accounting_artifacts_and_errors():
    acc = CostAccounting(arnet_manifest())
    acc.record_artifact("policy", 1.0)
    acc.record_artifact("policy", 3.0)
    acc.record_artifact("backbone_224", 11.0)
    assert acc.ms_per_gmac() == {"policy": pytest.approx(2.0 / 0.2), "backbone_224": pytest.approx(10.0)}
    assert acc.summary()["artifacts"]["backbone_224"]["count"] == 1
    assert acc.gmacs_per_frame == 0.0 and acc.savings == 0.0 and acc.speedup is None
    with pytest.raises(ValueError, match="skip action"):
        acc.record(0, skipped=True)
    with pytest.raises(ValueError):
        acc.record(7)
    with pytest.raises(KeyError):
        acc.record_artifact("backbone_999", 1.0)
    acc.record(0, 1.0)
    acc.reset()
    assert acc.frames == 0 and acc.total_gmacs == 0.0


def test_cost_accounting_record_decision_is_record_plus_record_artifact():
    """The step engine's one call per decision step adds exactly what record() and
    record_artifact() would, first use of a network included; action None records networks only."""
    one, many = CostAccounting(arnet_manifest()), CostAccounting(arnet_manifest())
    steps = [(0, 12.0, 0.5, "backbone_224", 11.0), (3, 2.0, 0.75, None, 0.0), (1, 8.0, 0.25, "backbone_168", 7.0),
             (0, 14.0, 1.5, "backbone_224", 12.5), (None, 0.0, 2.0, "backbone_112", 3.0)]
    for a, ms, pol, bb, bb_ms in steps:
        one.record_decision(a, ms, pol, bb, bb_ms)
        if a is not None:
            many.record(a, ms)
        many.record_artifact("policy", pol)
        if bb is not None:
            many.record_artifact(bb, bb_ms)
    assert one.summary() == many.summary() and one.ms_per_gmac() == many.ms_per_gmac()
    assert one.summary()["artifacts"]["policy"]["count"] == 5 and one.decision_steps == 4
    with pytest.raises(KeyError, match="unknown artifact 'backbone_999'"):
        one.record_decision(0, 1.0, 0.5, "backbone_999", 1.0)


# ------------------------------------------------------------------------- Jetson
def test_jetson_hwmon_orin_nano_jp6_uses_vdd_in(FIX):
    r = JetsonHwmonReader(FIX / "jetson_orin_nano_jp6", clock=lambda: 7.0)
    assert r.available()
    assert sorted(r.rails) == ["VDD_CPU_GPU_CV", "VDD_IN", "VDD_SOC"]  # no "sum of shunt voltages"
    s = r.read()
    assert s.source == "jetson-ina3221" and s.t == 7.0
    assert s.mw == pytest.approx(5064 * 1192 / 1000)
    assert s.volts == pytest.approx(5.064) and s.amps == pytest.approx(1.192)
    assert s.rails["VDD_SOC"] == pytest.approx(5064 * 400 / 1000)
    assert s.battery_pct is None and s.charging is None


def test_jetson_hwmon_agx_orin_two_monitors_sum_skips_nc(FIX):
    s = JetsonHwmonReader(FIX / "jetson_agx_orin_jp5").read()
    assert sorted(s.rails) == ["VDDQ_VDD2_1V8AO", "VDD_CPU_CV", "VDD_GPU_SOC", "VIN_SYS_5V0"]
    assert s.mw == pytest.approx((5016 * 1312 + 5016 * 456 + 5000 * 744 + 5024 * 112) / 1000)
    assert s.volts is None and s.amps is None


def test_jetson_iio_jp4_nano_power_files_and_xavier_vi(FIX):
    nano = JetsonIioReader(FIX / "jetson_nano_jp4").read()
    assert nano.source == "jetson-ina3221x"
    assert nano.mw == 3904.0  # in_power0_input (mW) of POM_5V_IN
    assert nano.rails == {"POM_5V_IN": 3904.0, "POM_5V_GPU": 200.0, "POM_5V_CPU": 1185.0}
    assert nano.volts == pytest.approx(5.032) and nano.amps == pytest.approx(0.776)
    assert "/iio:device0/" in JetsonIioReader(FIX / "jetson_nano_jp4").rails["POM_5V_IN"].power
    nx = JetsonIioReader(FIX / "jetson_xavier_nx_jp4").read()
    assert nx.mw == pytest.approx(5072 * 1224 / 1000)
    # the JetPack 5/6 reader does not see the JetPack 4 layout and vice versa
    assert not JetsonHwmonReader(FIX / "jetson_nano_jp4").available()
    assert not JetsonIioReader(FIX / "jetson_orin_nano_jp6").available()


def test_jetson_reads_live_values_and_survives_missing_files(FIX, tmp_path):
    root = tmp_path / "jetson"
    shutil.copytree(FIX / "jetson_orin_nano_jp6", root)
    r = JetsonHwmonReader(root)
    h = root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    (h / "curr1_input").write_text("2000\n")
    assert r.read().mw == pytest.approx(5064 * 2000 / 1000)
    (h / "curr2_input").unlink()  # a rail vanishing drops the rail, not the sample
    s = r.read()
    assert "VDD_CPU_GPU_CV" not in s.rails and s.mw == pytest.approx(10128.0)
    (h / "in1_input").write_text("garbage\n")  # the input rail unreadable: no sample at all
    assert r.read() is None
    assert PowerMonitor(r).read() is None


# --------------------------------------------------------------------- Raspberry Pi 5
def test_parse_pmic_read_adc():
    amps, volts = parse_pmic_read_adc(PMIC_TEXT)
    assert len(amps) == 12 and amps["VDD_CORE"] == pytest.approx(2.10543)
    assert volts["VDD_CORE"] == pytest.approx(0.8421734) and volts["EXT5V"] == pytest.approx(5.1492)
    assert "EXT5V" not in amps and "BATT" in volts


def test_rpi5_pmic_reader_pairs_rails_and_sums():
    calls = []

    def runner(cmd):
        calls.append(tuple(cmd))
        return PMIC_TEXT
    r = RaspberryPiPmicReader(runner=runner, clock=lambda: 3.5)
    assert r.available()
    s = r.read()
    assert calls[-1] == ("vcgencmd", "pmic_read_adc")
    assert s.source == "rpi5-pmic" and s.t == 3.5
    assert len(s.rails) == 12 and "EXT5V" not in s.rails and "BATT" not in s.rails
    assert s.rails["VDD_CORE"] == pytest.approx(2.10543 * 0.8421734 * 1000)
    pairs = [(0.00390372, 3.744534), (0.0556221, 3.310854), (0.1727308, 1.798536),
             (0.0214719, 1.112328), (0.0, 0.605376), (0.188384, 1.110496), (0.3386517, 0.801616),
             (2.10543, 0.8421734), (0.0004884, 3.307616), (0.0004884, 3.3125),
             (0.0051282, 0.798792), (0.0228306, 5.1478)]
    assert s.mw == pytest.approx(sum(a * v for a, v in pairs) * 1000)
    assert s.volts == pytest.approx(5.1492)


@pytest.mark.parametrize("behaviour", ["missing", "fails", "garbage", "empty"])
def test_rpi5_pmic_unavailable(behaviour):
    def runner(cmd):
        if behaviour == "missing":
            raise FileNotFoundError("vcgencmd")
        if behaviour == "fails":
            raise subprocess.CalledProcessError(255, cmd)
        return {"garbage": "error=1 error_msg=\"Command not registered\"\n", "empty": ""}[behaviour]
    r = RaspberryPiPmicReader(runner=runner)
    assert not r.available() and r.read() is None


def test_default_runner_without_vcgencmd(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(FileNotFoundError):
        subprocess_runner(["vcgencmd", "pmic_read_adc"])
    assert not RaspberryPiPmicReader().available()


def test_default_runner_runs_a_real_program(tmp_path, monkeypatch):
    exe = tmp_path / "vcgencmd"
    exe.write_text("#!/bin/sh\ncat \"$(dirname \"$0\")/out.txt\"\n")
    exe.chmod(0o755)
    (tmp_path / "out.txt").write_text(PMIC_TEXT)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    s = RaspberryPiPmicReader().read()
    assert s is not None and len(s.rails) == 12


# --------------------------------------------------------------- Linux power_supply
def test_power_supply_acpi_discharging_ignores_peripheral_battery(FIX):
    r = PowerSupplyReader(FIX / "laptop_acpi_discharging", clock=lambda: 1.0)
    assert [os.path.basename(b) for b in r.batteries] == ["BAT0"]  # not the HID mouse
    s = r.read()
    assert s.source == "power-supply" and s.mw == pytest.approx(8123.0)
    assert s.charging is False and s.external_power is False
    assert s.battery_pct == 62.0 and s.volts == pytest.approx(11.794)
    assert s.amps == pytest.approx(8.123 / 11.794)
    assert s.energy_mwh == pytest.approx(31584.0)


def test_power_supply_charge_based_charging_on_usb_c(FIX):
    r = PowerSupplyReader(FIX / "laptop_charge_charging")
    assert sorted(os.path.basename(a) for a in r.adapters) == ["ADP1", "ucsi-source-psy-USBC000:001"]
    s = r.read()
    assert s.charging is True and s.external_power is True
    assert s.mw == pytest.approx(-16.512 * 2.317 * 1000)  # charging: energy into the battery
    assert s.battery_pct == 50.0
    assert s.energy_mwh == pytest.approx(1826.0 * 16.512)


def test_power_supply_negative_current_convention_normalised(FIX):
    s = PowerSupplyReader(FIX / "fuelgauge_negative_discharging").read()
    assert s.mw == pytest.approx(3.871 * 1.043 * 1000) and s.mw > 0
    assert s.charging is False and s.amps == pytest.approx(1.043)
    assert s.battery_pct == 71.0


def test_power_supply_two_batteries_full_on_ac(FIX):
    s = PowerSupplyReader(FIX / "laptop_two_batteries_full").read()
    assert s.mw == 0.0 and s.charging is False and s.external_power is True
    assert s.battery_pct == pytest.approx(100 * (23200 + 37440) / (23200 + 46800))
    assert s.energy_mwh == pytest.approx(23200 + 37440)


def test_power_supply_sign_follows_status(FIX, tmp_path):
    root = tmp_path / "r"
    shutil.copytree(FIX / "fuelgauge_negative_discharging", root)
    bat = root / "sys/class/power_supply/bq27546-0"
    (bat / "status").write_text("Charging\n")
    (bat / "current_now").write_text("1500000\n")
    s = PowerSupplyReader(root).read()
    assert s.charging is True and s.mw == pytest.approx(-3.871 * 1.5 * 1000)
    (bat / "current_now").unlink()
    (bat / "voltage_now").unlink()
    s = PowerSupplyReader(root).read()  # no electrical reading: capacity only
    assert s.mw is None and s.battery_pct == 71.0


# ------------------------------------------------------------------------- monitor
def test_autodetect_order_and_null(FIX, tmp_path):
    F = FIX
    assert PowerMonitor.autodetect(F / "jetson_orin_nano_jp6").name == "jetson-ina3221"
    assert PowerMonitor.autodetect(F / "jetson_nano_jp4").name == "jetson-ina3221x"
    assert PowerMonitor.autodetect(F / "laptop_acpi_discharging").name == "power-supply"
    # a fixture root never runs the real vcgencmd; an injected runner is tried before batteries
    assert [r.name for r in PowerMonitor.candidates(tmp_path)] == \
        ["jetson-ina3221", "jetson-ina3221x", "power-supply"]
    m = PowerMonitor.autodetect(F / "laptop_acpi_discharging", runner=lambda c: PMIC_TEXT)
    assert m.name == "rpi5-pmic"
    # Jetson wins over a battery when both exist
    both = tmp_path / "both"
    shutil.copytree(F / "laptop_acpi_discharging", both)
    shutil.copytree(F / "jetson_agx_orin_jp5", both, dirs_exist_ok=True)
    assert PowerMonitor.autodetect(both, runner=lambda c: PMIC_TEXT).name == "jetson-ina3221"
    null = PowerMonitor.autodetect(tmp_path / "empty", runner=lambda c: "")
    assert isinstance(null.reader, NullPowerReader) and not null.available
    assert null.read() is None and null.poll() is None and null.last is None


def test_monitor_poll_every_n_and_never_raises():
    class Counting(PowerReader):
        name = "counting"

        def __init__(self):
            super().__init__(clock=lambda: 0.0)
            self.n = 0

        def available(self):
            return True

        def read(self):
            self.n += 1
            if self.n == 3:
                raise OSError("sensor hiccup")
            return PowerSample(self.name, mw=float(self.n), t=float(self.n))

    r = Counting()
    m = PowerMonitor(r, every=3)
    got = [m.poll() for _ in range(9)]
    assert [g is not None for g in got] == [True, False, False, True, False, False, False, False, False]
    assert r.n == 3 and m.last.mw == 2.0  # the 3rd read raised: None, last kept
    with pytest.raises(ValueError):
        PowerMonitor(r, every=0)
    d = PowerSample("x", mw=1.0, rails={"a": 1.0}).to_dict()
    assert d["source"] == "x" and d["rails"] == {"a": 1.0}


# --------------------------------------------------------------------------- energy
def test_energy_trapezoid_and_per_frame():
    e = EnergyIntegrator()
    e.add(0.0, 1000.0)
    e.add(1.0, 1000.0)
    e.add(3.0, 3000.0)  # ramp 1000 -> 3000 mW over 2 s = 4000 mJ
    e.add(3.5, None)    # ignored
    assert e.mj == pytest.approx(1000.0 + 4000.0)
    assert e.duration_s == 3.0 and e.mean_mw == pytest.approx(5000.0 / 3.0)
    e.add_frames(8)
    e.add_frames(2, processed=False)
    assert e.mj_per_frame == pytest.approx(500.0) and e.mj_per_processed_frame == pytest.approx(625.0)
    with pytest.raises(ValueError):
        e.add(2.0, 1.0)
    s = e.summary()
    assert s["samples"] == 3 and s["frames"] == 10 and s["processed_frames"] == 8


def test_energy_from_monitor_samples(FIX):
    t = iter([0.0, 0.5, 1.0])
    r = JetsonHwmonReader(FIX / "jetson_orin_nano_jp6", clock=lambda: next(t))
    m = PowerMonitor(r)
    e = EnergyIntegrator()
    for _ in range(3):
        e.add_sample(m.poll())
    e.add_sample(None)
    assert e.mj == pytest.approx(5064 * 1192 / 1000 * 1.0)
    empty = EnergyIntegrator()
    assert empty.mean_mw is None and empty.mj_per_frame is None and empty.duration_s == 0.0
    assert math.isclose(EnergyIntegrator().mj, 0.0)


def test_monitor_min_interval_uses_reader_clock(FIX):
    now = [0.0]
    r = JetsonHwmonReader(FIX / "jetson_orin_nano_jp6", clock=lambda: now[0])
    m = PowerMonitor(r, min_interval_s=0.1)
    got = []
    for i in range(10):  # steps every 30 ms: reads at 0, 120, 240 ms
        now[0] = i * 0.03
        got.append(m.poll() is not None)
    assert got == [True, False, False, False, True, False, False, False, True, False]
    assert m.last.t == pytest.approx(0.24)
    auto = PowerMonitor.autodetect(FIX / "jetson_orin_nano_jp6")
    assert auto.min_interval_s == 0.1 and auto.every == 1
    with pytest.raises(ValueError):
        PowerMonitor(r, min_interval_s=-1.0)
