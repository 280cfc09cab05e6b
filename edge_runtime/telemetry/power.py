"""Power and battery readers for the devices AR-Net Edge runs on.

No thread, no daemon: the runtime calls ``PowerMonitor.read()`` (or ``poll()``, which reads every
``every``-th call) from its own loop. A read is a handful of small sysfs files (Jetson, Linux
battery) or, far costlier, one ``vcgencmd`` process (Raspberry Pi 5) — poll accordingly.

Sources, tried in this order by ``PowerMonitor.autodetect(root="/")``:

``jetson-ina3221`` (JetPack 5/6, hwmon)
    ``/sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmon<k>/``: ``in<N>_label`` (rail name),
    ``in<N>_input`` (bus voltage, mV), ``curr<N>_input`` (mA), optional ``in<N>_enable``.
    Power of a rail = V·I. Channels without both files, disabled ones, and the labels ``NC``
    and ``sum of shunt voltages`` are ignored (``in4..6``/``in7`` are shunt voltages in µV
    and ``curr4`` is the summed current: they never pair with a label).
``jetson-ina3221x`` (JetPack 4, iio)
    ``/sys/bus/i2c/drivers/ina3221x/<bus-addr>/iio:device<k>/``: ``rail_name_<N>``,
    ``in_power<N>_input`` (mW), ``in_voltage<N>_input`` (mV), ``in_current<N>_input`` (mA).
    Both Jetson readers report as the total the module input rail (``VDD_IN``; Nano:
    ``POM_5V_IN``) when there is one, else the sum of all rails (AGX Xavier/Orin, whose
    monitors have no input channel: the sum is then a lower bound of the module's draw).
``rpi5-pmic`` (Raspberry Pi 5)
    ``vcgencmd pmic_read_adc`` prints ``<RAIL>_A current(<i>)=<x>A`` and
    ``<RAIL>_V volt(<i>)=<x>V`` lines; currents are paired with volts by rail name and the
    powers summed. This is the SoC-side PMIC rails only (no 5 V input conversion loss, no USB
    peripherals); ``EXT5V_V`` (the USB-C input voltage) is reported as ``volts``.
``power-supply`` (Linux laptops, handhelds: ``/sys/class/power_supply/*``)
    ``type`` = ``Battery`` (peripheral batteries with ``scope`` = ``Device`` are ignored):
    ``power_now`` (µW) or ``voltage_now`` (µV) × ``current_now`` (µA), ``capacity`` (%),
    ``status``, ``energy_now`` (µWh) / ``charge_now`` (µAh). Drivers disagree on the sign of
    ``current_now``/``power_now`` (ACPI: always positive; many fuel gauges: negative while
    discharging), so the magnitude is used and the direction comes from ``status``:
    ``Discharging`` → ``mw`` = +|P| (the device's draw), ``Charging`` → ``mw`` = −|P|
    (energy flowing into the battery) and ``charging`` = True; ``Full``/``Not charging``/
    ``Unknown`` → +|P| (≈ 0 on a battery that is neither charged nor drained).
    Adapters (``type`` ``Mains``/``USB``..., file ``online``) give ``external_power``.
    Several batteries (BAT0 + BAT1) are summed; their capacity is energy-weighted when the
    drivers give ``energy_full``/``charge_full``. Note that on external power the battery
    does not see the device's draw: ``mw`` is then the charge (negative) or ≈ 0.

Readers take the filesystem root (``root="/"``) and, for the Pi, a command runner, so that the
tests point them at recorded fixture trees (tests/edge/fixtures/power/).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

Runner = Callable[[Sequence[str]], str]
Clock = Callable[[], float]

INPUT_RAILS = ("VDD_IN", "POM_5V_IN", "5V_IN")  # the module's input, where the board has one
IGNORED_LABELS = ("nc", "sum of shunt voltages")


@dataclass
class PowerSample:
    """One power reading. ``mw``: power drawn in milliwatts (positive = consumed; a battery
    being charged reports a negative value and ``charging`` = True); None when the source
    cannot measure it. ``rails``: mW per rail where the source has rails."""
    source: str
    mw: float | None
    volts: float | None = None
    amps: float | None = None
    battery_pct: float | None = None
    charging: bool | None = None
    external_power: bool | None = None
    energy_mwh: float | None = None
    rails: dict = field(default_factory=dict)
    t: float = 0.0  # seconds, from the reader's clock (time.monotonic by default)

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- helpers
def _read_text(path: str | os.PathLike) -> str | None:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_number(path: str | os.PathLike) -> float | None:
    s = _read_text(path)
    if s is None or s == "":
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _sysroot(root: str | os.PathLike, *parts: str) -> str:
    return os.path.join(os.fspath(root), *parts)


class PowerReader:
    """Interface of a power source: ``available()`` and ``read()`` (never raises: a failed
    read returns None)."""

    name = "base"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or time.monotonic

    def available(self) -> bool:
        raise NotImplementedError

    def read(self) -> PowerSample | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class NullPowerReader(PowerReader):
    """No power source on this device: ``read()`` is always None."""

    name = "none"

    def available(self) -> bool:
        return True

    def read(self) -> PowerSample | None:
        return None


# ------------------------------------------------------------------ Jetson INA3221
@dataclass
class _Rail:
    label: str
    power: str | None = None    # file with mW (iio)
    volt: str | None = None     # file with mV
    curr: str | None = None     # file with mA


def _unique(label: str, seen: dict, where: str) -> str:
    if label not in seen:
        return label
    return f"{label}@{where}"


class _JetsonBase(PowerReader):
    def __init__(self, root: str | os.PathLike = "/", clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.root = os.fspath(root)
        self.rails: dict[str, _Rail] = self._discover()

    def _discover(self) -> dict[str, _Rail]:
        raise NotImplementedError

    def available(self) -> bool:
        return bool(self.rails)

    def read(self) -> PowerSample | None:
        if not self.rails:
            return None
        t = self.clock()
        rails_mw: dict[str, float] = {}
        va: dict[str, tuple] = {}
        for name, r in self.rails.items():
            mv = _read_number(r.volt) if r.volt else None
            ma = _read_number(r.curr) if r.curr else None
            mw = _read_number(r.power) if r.power else None
            if mw is None and mv is not None and ma is not None:
                mw = mv * ma / 1000.0
            if mw is None:
                continue
            rails_mw[name] = mw
            va[name] = (mv, ma)
        main = next((n for n in self.rails if n in INPUT_RAILS), None)
        if not rails_mw or (main is not None and main not in rails_mw):
            return None  # never let the total jump from the input rail to a partial sum
        if main is not None:
            total = rails_mw[main]
            mv, ma = va[main]
            volts = mv / 1000.0 if mv is not None else None
            amps = ma / 1000.0 if ma is not None else None
        else:
            total = sum(rails_mw.values())
            volts = amps = None
        return PowerSample(source=self.name, mw=total, volts=volts, amps=amps,
                           rails=rails_mw, t=t)


class JetsonHwmonReader(_JetsonBase):
    """INA3221 through the mainline hwmon driver (JetPack 5/6: Orin, Xavier on L4T 35)."""

    name = "jetson-ina3221"
    PATTERN = ("sys", "bus", "i2c", "drivers", "ina3221", "*", "hwmon", "hwmon*")

    def _discover(self) -> dict[str, _Rail]:
        rails: dict[str, _Rail] = {}
        for d in sorted(glob.glob(_sysroot(self.root, *self.PATTERN))):
            dev = Path(d).parent.parent.name  # "1-0040"
            labels = sorted(glob.glob(os.path.join(d, "in*_label")),
                            key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0))
            for lp in labels:
                m = re.fullmatch(r"in(\d+)_label", os.path.basename(lp))
                if not m:
                    continue
                n = m.group(1)
                label = _read_text(lp) or ""
                if not label or label.lower() in IGNORED_LABELS:
                    continue
                volt = os.path.join(d, f"in{n}_input")
                curr = os.path.join(d, f"curr{n}_input")
                if not (os.path.isfile(volt) and os.path.isfile(curr)):
                    continue
                en = _read_text(os.path.join(d, f"in{n}_enable"))
                if en is not None and en.strip() == "0":
                    continue
                rails[_unique(label, rails, dev)] = _Rail(label, volt=volt, curr=curr)
        return rails


class JetsonIioReader(_JetsonBase):
    """INA3221 through NVIDIA's ``ina3221x`` iio driver (JetPack 4: Nano, TX2, Xavier)."""

    name = "jetson-ina3221x"
    PATTERN = ("sys", "bus", "i2c", "drivers", "ina3221x", "*", "iio:device*")

    def _discover(self) -> dict[str, _Rail]:
        rails: dict[str, _Rail] = {}
        for d in sorted(glob.glob(_sysroot(self.root, *self.PATTERN))):
            dev = Path(d).parent.name
            names = []
            for lp in glob.glob(os.path.join(d, "rail_name*")):
                m = re.fullmatch(r"rail_name_?(\d+)", os.path.basename(lp))
                if m:
                    names.append((int(m.group(1)), lp))
            for n, lp in sorted(names):
                label = _read_text(lp) or ""
                if not label or label.lower() in IGNORED_LABELS:
                    continue
                power = os.path.join(d, f"in_power{n}_input")
                volt = os.path.join(d, f"in_voltage{n}_input")
                curr = os.path.join(d, f"in_current{n}_input")
                r = _Rail(label,
                          power=power if os.path.isfile(power) else None,
                          volt=volt if os.path.isfile(volt) else None,
                          curr=curr if os.path.isfile(curr) else None)
                if r.power is None and (r.volt is None or r.curr is None):
                    continue
                rails[_unique(label, rails, dev)] = r
        return rails


# ----------------------------------------------------------------- Raspberry Pi 5
_PMIC_LINE = re.compile(
    r"^\s*(?P<rail>\S+?)_(?P<suffix>[AV])\s+(?P<kind>current|volt)\((?P<idx>\d+)\)="
    r"(?P<value>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>[AV])\s*$")


def parse_pmic_read_adc(text: str) -> tuple[dict[str, float], dict[str, float]]:
    """``vcgencmd pmic_read_adc`` output → (amps by rail, volts by rail)."""
    amps: dict[str, float] = {}
    volts: dict[str, float] = {}
    for line in text.splitlines():
        m = _PMIC_LINE.match(line)
        if not m:
            continue
        v = float(m.group("value"))
        if m.group("kind") == "current":
            amps[m.group("rail")] = v
        else:
            volts[m.group("rail")] = v
    return amps, volts


def subprocess_runner(cmd: Sequence[str], timeout: float = 2.0) -> str:
    """Run ``cmd`` and return its stdout; raises FileNotFoundError when the program is not
    installed and CalledProcessError on a non-zero exit."""
    if shutil.which(cmd[0]) is None:
        raise FileNotFoundError(f"{cmd[0]}: not found on PATH")
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          check=True).stdout


class RaspberryPiPmicReader(PowerReader):
    """Raspberry Pi 5 PMIC ADC through ``vcgencmd pmic_read_adc``."""

    name = "rpi5-pmic"
    COMMAND = ("vcgencmd", "pmic_read_adc")
    INPUT_VOLTAGE = "EXT5V"

    def __init__(self, runner: Runner | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.runner = runner or subprocess_runner
        self._available: bool | None = None

    def _run(self) -> str | None:
        try:
            return self.runner(self.COMMAND)
        except (OSError, subprocess.SubprocessError, ValueError):
            return None

    def _sample(self, text: str | None, t: float) -> PowerSample | None:
        if not text:
            return None
        amps, volts = parse_pmic_read_adc(text)
        rails = {r: amps[r] * volts[r] * 1000.0 for r in amps if r in volts}
        if not rails:
            return None
        return PowerSample(source=self.name, mw=sum(rails.values()),
                           volts=volts.get(self.INPUT_VOLTAGE), amps=None, rails=rails, t=t)

    def available(self) -> bool:
        if self._available is None:
            self._available = self._sample(self._run(), 0.0) is not None
        return self._available

    def read(self) -> PowerSample | None:
        t = self.clock()
        return self._sample(self._run(), t)


# ----------------------------------------------------------- Linux power_supply class
_ADAPTER_TYPES = ("Mains", "USB", "USB_C", "USB_PD", "USB_PD_DRP", "USB_DCP", "USB_CDP",
                  "USB_ACA", "Wireless", "BrickID")


class PowerSupplyReader(PowerReader):
    """Batteries and adapters of ``/sys/class/power_supply``."""

    name = "power-supply"

    def __init__(self, root: str | os.PathLike = "/", clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.root = os.fspath(root)
        self.batteries: list[str] = []
        self.adapters: list[str] = []
        for d in sorted(glob.glob(_sysroot(self.root, "sys", "class", "power_supply", "*"))):
            typ = _read_text(os.path.join(d, "type"))
            if typ == "Battery":
                if (_read_text(os.path.join(d, "scope")) or "").lower() == "device":
                    continue  # a mouse's or headset's battery, not ours
                if _read_text(os.path.join(d, "present")) == "0":
                    continue
                self.batteries.append(d)
            elif typ is not None and os.path.isfile(os.path.join(d, "online")):
                if typ in _ADAPTER_TYPES or typ.startswith("USB"):
                    self.adapters.append(d)

    def available(self) -> bool:
        return bool(self.batteries)

    def _battery(self, d: str) -> dict:
        def num(name: str) -> float | None:
            return _read_number(os.path.join(d, name))
        status = _read_text(os.path.join(d, "status")) or "Unknown"
        uv, ua, uw = num("voltage_now"), num("current_now"), num("power_now")
        volts = abs(uv) / 1e6 if uv is not None else None
        mw = abs(uw) / 1000.0 if uw is not None else None
        amps = abs(ua) / 1e6 if ua is not None else None
        if mw is None and volts is not None and amps is not None:
            mw = volts * amps * 1000.0
        if amps is None and mw is not None and volts:
            amps = mw / 1000.0 / volts
        # stored energy, full energy (mWh); charge-based gauges converted at the present voltage
        e_now, e_full = num("energy_now"), num("energy_full")
        if e_now is not None:
            e_now, e_full = e_now / 1000.0, (e_full / 1000.0 if e_full is not None else None)
        else:
            c_now, c_full = num("charge_now"), num("charge_full")
            vref = volts or ((num("voltage_min_design") or 0.0) / 1e6) or None
            if c_now is not None and vref:
                e_now = c_now / 1000.0 * vref
                e_full = c_full / 1000.0 * vref if c_full is not None else None
        cap = num("capacity")
        if cap is None and e_now is not None and e_full:
            cap = 100.0 * e_now / e_full
        return {"status": status, "mw": mw, "volts": volts, "amps": amps, "pct": cap,
                "e_now": e_now, "e_full": e_full, "name": os.path.basename(d)}

    def read(self) -> PowerSample | None:
        if not self.batteries:
            return None
        t = self.clock()
        bats = [self._battery(d) for d in self.batteries]
        onl = [_read_text(os.path.join(a, "online")) for a in self.adapters]
        external = any(o == "1" for o in onl) if self.adapters else None
        charging = any(b["status"] == "Charging" for b in bats)
        draw: float | None = None
        rails: dict[str, float] = {}
        for b in bats:
            if b["mw"] is None:
                continue
            p = -b["mw"] if b["status"] == "Charging" else b["mw"]
            rails[b["name"]] = p
            draw = p if draw is None else draw + p
        # capacity: the driver's own for one battery; several: energy-weighted when every
        # battery gives now/full, else the mean of their capacities
        if len(bats) == 1:
            pct = bats[0]["pct"]
        elif all(b["e_now"] is not None and b["e_full"] for b in bats):
            pct = 100.0 * sum(b["e_now"] for b in bats) / sum(b["e_full"] for b in bats)
        else:
            caps = [b["pct"] for b in bats if b["pct"] is not None]
            pct = sum(caps) / len(caps) if caps else None
        energies = [b["e_now"] for b in bats if b["e_now"] is not None]
        volts = next((b["volts"] for b in bats if b["volts"] is not None), None)
        amps_l = [b["amps"] for b in bats if b["amps"] is not None]
        return PowerSample(
            source=self.name, mw=draw, volts=volts,
            amps=sum(amps_l) if amps_l else None,
            battery_pct=pct, charging=charging, external_power=external,
            energy_mwh=sum(energies) if energies else None, rails=rails, t=t)


# ------------------------------------------------------------------------- monitor
class PowerMonitor:
    """The runtime's handle on power: one reader, cheap ``read()``, decimated ``poll()``.

    ``poll()`` is meant to be called every step: it reads when both hold — it is the 1st,
    ``every+1``-th, ... call, and at least ``min_interval_s`` seconds (reader's clock) passed since
    the last read — and returns None otherwise. ``last`` holds the latest successful sample.
    ``autodetect`` defaults to ``min_interval_s=0.1`` (10 Hz: sensors average over about that
    long anyway, and on a Pi each read is a ``vcgencmd`` process)."""

    def __init__(self, reader: PowerReader | None = None, every: int = 1,
                 min_interval_s: float = 0.0) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        self.reader = reader or NullPowerReader()
        self.every = int(every)
        self.min_interval_s = float(min_interval_s)
        self._calls = 0
        self._last_read_t: float | None = None
        self.last: PowerSample | None = None

    @property
    def name(self) -> str:
        return self.reader.name

    @property
    def available(self) -> bool:
        return not isinstance(self.reader, NullPowerReader)

    @staticmethod
    def candidates(root: str | os.PathLike = "/", runner: Runner | None = None,
                   clock: Clock | None = None) -> list[PowerReader]:
        """The readers autodetect tries, in order. The Pi reader runs a real ``vcgencmd``
        only when ``root`` is "/" (a fixture root needs an explicit ``runner``)."""
        out: list[PowerReader] = [JetsonHwmonReader(root, clock), JetsonIioReader(root, clock)]
        if runner is not None or os.path.abspath(os.fspath(root)) == os.path.abspath(os.sep):
            out.append(RaspberryPiPmicReader(runner, clock))
        out.append(PowerSupplyReader(root, clock))
        return out

    @classmethod
    def autodetect(cls, root: str | os.PathLike = "/", runner: Runner | None = None,
                   clock: Clock | None = None, every: int = 1,
                   min_interval_s: float = 0.1) -> "PowerMonitor":
        """The first available source (Jetson hwmon, Jetson iio, Pi 5 PMIC, Linux battery),
        else a ``NullPowerReader``."""
        for r in cls.candidates(root, runner, clock):
            try:
                if r.available():
                    return cls(r, every, min_interval_s)
            except Exception:  # a strange sysfs must never stop the runtime
                continue
        return cls(NullPowerReader(clock), every, min_interval_s)

    def read(self) -> PowerSample | None:
        """Read now (never raises; None when the source gives nothing)."""
        try:
            s = self.reader.read()
        except Exception:
            s = None
        if s is not None:
            self.last = s
            self._last_read_t = s.t
        else:
            try:
                self._last_read_t = self.reader.clock()
            except Exception:
                pass
        return s

    def poll(self) -> PowerSample | None:
        due = self._calls % self.every == 0
        self._calls += 1
        if not due:
            return None
        if self.min_interval_s > 0 and self._last_read_t is not None:
            try:
                if self.reader.clock() - self._last_read_t < self.min_interval_s:
                    return None
            except Exception:
                return None
        return self.read()
