"""Telemetry for the device runtime: latency, compute accounting, power, energy.

Torch-free: stdlib (and numpy nowhere needed here). Import what you need::

    from edge_runtime.telemetry import (LatencyStats, CostAccounting, PowerMonitor,
                                        EnergyIntegrator)
"""

from __future__ import annotations

from .costs import SKIPPED, CostAccounting, action_name, artifact_gmacs
from .energy import EnergyIntegrator
from .latency import LatencyStats, percentile
from .power import (JetsonHwmonReader, JetsonIioReader, NullPowerReader, PowerMonitor,
                    PowerReader, PowerSample, PowerSupplyReader, RaspberryPiPmicReader,
                    parse_pmic_read_adc)

__all__ = [
    "LatencyStats", "percentile", "CostAccounting", "action_name", "artifact_gmacs", "SKIPPED",
    "EnergyIntegrator", "PowerMonitor", "PowerReader", "PowerSample", "NullPowerReader",
    "JetsonHwmonReader", "JetsonIioReader", "RaspberryPiPmicReader", "PowerSupplyReader",
    "parse_pmic_read_adc",
]
