"""The overlay draws label, top-k, action, fps/ms and GMACs on any frame size."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.overlay import draw_overlay, overlay_lines
from edge_runtime.pipeline import StepEvent


def ev(kind="resolution", label="wave"):
    return StepEvent(step=3, t=0.75, kind=kind, action=1 if kind == "resolution" else 5,
                     action_name="res168" if kind == "resolution" else "skip2",
                     resolution=168 if kind == "resolution" else None, skip=None if kind == "resolution" else 2,
                     top_k=[("wave", 0.8), ("clap", 0.15), ("jump", 0.05)], label=label,
                     ms={"decode": 1.2, "resize": 0.3, "policy": 2.0, "backbone": 6.5, "step": 9.0}, gmacs=0.8)


@pytest.mark.parametrize("shape", [(720, 1280), (240, 320), (24, 32)])
@pytest.mark.parametrize("kind", ["resolution", "skip", "skipped"])
def test_draws_on_any_size(shape, kind):
    img = np.full((*shape, 3), 200, np.uint8)
    out = draw_overlay(img, ev(kind), fps=4.0, capacity_fps=120.0, gmacs_per_frame=0.4, uniform_gmacs=1.1)
    assert out is img and out.shape == (*shape, 3)
    assert (img != 200).any()


def test_lines_say_what_happened():
    text = [t for t, *_ in overlay_lines(ev(), 4.0, 0.4, 1.1, 120.0)]
    assert text[0] == "wave" and text[1].startswith("wave  0.80")
    assert "resolution 168px" in text and any("4.0 fps (max 120)" in t for t in text)
    assert any("GMACs/frame 0.400" in t and "36%" in t for t in text)
    assert overlay_lines(ev("skip", label=None), None, None, None)[0][0] == "(collecting)"


def test_budget_and_power_have_a_line_when_known():
    from dataclasses import replace
    text = [t for t, *_ in overlay_lines(ev(), 4.0, 0.4, 1.1)]
    assert not any("budget" in t or " W" in t for t in text)     # no budget, no power: no line
    e = replace(ev(), lam=0.4321, power_mw=2150.0, battery_pct=81.4)
    last, _, colour, _ = overlay_lines(e, 4.0, 0.4, 1.1)[-1]
    assert last == "budget lambda 0.43  2.15 W  battery 81%" and colour != (255, 255, 255)
    img = np.full((240, 320, 3), 200, np.uint8)
    draw_overlay(img, e, fps=4.0)
