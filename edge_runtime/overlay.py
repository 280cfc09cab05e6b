"""Drawing the live overlay: label, top-k with score bars, the chosen resolution or skip, fps,
per-stage milliseconds, GMACs per frame against the uniform baseline, and where known the budget's
λ, power and battery."""

from __future__ import annotations

from typing import Any

import numpy as np

_GREEN = (80, 220, 80)
_WHITE = (255, 255, 255)
_GREY = (170, 170, 170)
_ORANGE = (0, 160, 255)
_BLACK = (0, 0, 0)
_BAR = (70, 110, 70)
_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX


def overlay_lines(ev: Any, fps: float | None, gmacs_per_frame: float | None,
                  uniform_gmacs: float | None, capacity_fps: float | None = None
                  ) -> list[tuple[str, float, tuple, float | None]]:
    """(text, relative size, BGR colour, score bar or None) per line."""
    lines: list[tuple[str, float, tuple, float | None]] = [
        (ev.label if ev.label is not None else "(collecting)", 1.1, _GREEN, None)]
    for lab, sc in ev.top_k:
        lines.append((f"{lab}  {sc:.2f}", 0.8, _WHITE, float(sc)))
    if ev.kind == "resolution":
        lines.append((f"resolution {ev.resolution}px", 0.8, _WHITE, None))
    elif ev.kind == "skip":
        lines.append((f"skip {ev.skip} frame(s)", 0.8, _ORANGE, None))
    else:
        lines.append((f"skipped (skip {ev.skip})", 0.8, _GREY, None))
    ms = ev.ms
    parts = [f"{k} {ms[k]:.1f}" for k in ("decode", "policy", "backbone") if ms.get(k, 0) > 0]
    rate = f"{fps:.1f} fps" if fps else ""
    if capacity_fps:
        rate += f" (max {capacity_fps:.0f})"
    lines.append(((rate + "  " if rate else "") + "ms: " + (" ".join(parts) or "-"), 0.7, _WHITE, None))
    if gmacs_per_frame is not None:
        s = f"GMACs/frame {gmacs_per_frame:.3f}"
        if uniform_gmacs:
            s += f" (uniform {uniform_gmacs:.3f}, {gmacs_per_frame / uniform_gmacs:.0%})"
        lines.append((s, 0.7, _WHITE, None))
    extra = []
    if getattr(ev, "lam", None) is not None:
        extra.append(f"budget lambda {ev.lam:.2f}")   # Hershey fonts draw ASCII only
    if getattr(ev, "power_mw", None) is not None:
        extra.append(f"{ev.power_mw / 1000.0:.2f} W")
    if getattr(ev, "battery_pct", None) is not None:
        extra.append(f"battery {ev.battery_pct:.0f}%")
    if extra:
        lines.append(("  ".join(extra), 0.7, _ORANGE if ev.lam else _WHITE, None))
    return lines


def draw_overlay(img_bgr: np.ndarray, ev: Any, *, fps: float | None = None,
                 gmacs_per_frame: float | None = None, uniform_gmacs: float | None = None,
                 capacity_fps: float | None = None) -> np.ndarray:
    """Draw ``ev`` (a :class:`edge_runtime.pipeline.StepEvent`) onto ``img_bgr`` in place; returns it.
    ``fps``: steps per second actually shown; ``capacity_fps``: what the device could sustain.

    Sizes follow the frame height; the translucent panel is as wide as its longest line."""
    import cv2
    h, w = img_bgr.shape[:2]
    base = max(0.35, h / 720.0)
    lines = overlay_lines(ev, fps, gmacs_per_frame, uniform_gmacs, capacity_fps)
    pad = int(8 * base) + 2
    sizes = [cv2.getTextSize(t, _FONT, base * s, 1)[0] for t, s, _, _ in lines]
    heights = [sz[1] + int(12 * base) + 2 for sz in sizes]
    panel_w = min(w, int(max(sz[0] for sz in sizes) * 1.08) + 2 * pad)
    panel_h = min(h, sum(heights) + 2 * pad)
    roi = img_bgr[:panel_h, :panel_w]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
    y = pad
    for (text, s, col, bar), (tw, th), lh in zip(lines, sizes, heights):
        y += lh
        if bar is not None:
            bw = int((panel_w - 2 * pad) * max(0.0, min(1.0, bar)))
            cv2.rectangle(img_bgr, (pad, y - th - 4), (pad + bw, y + 3), _BAR, -1)
        thick = 2 if s > 1 else 1
        cv2.putText(img_bgr, text, (pad, y), _FONT, base * s, _BLACK, thick + 2, cv2.LINE_AA)
        cv2.putText(img_bgr, text, (pad, y), _FONT, base * s, col, thick, cv2.LINE_AA)
    return img_bgr


def grid_image(cells: list, cell_w: int = 480, cell_h: int = 360) -> np.ndarray:
    """Tile BGR images (None = a black cell) row-major into ceil(sqrt(n)) columns, each resized to
    cell_w x cell_h: the window / recording of several streams."""
    import cv2
    n = max(1, len(cells))
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    out = np.zeros((rows * cell_h, cols * cell_w, 3), np.uint8)
    for k, img in enumerate(cells):
        if img is None:
            continue
        r, c = divmod(k, cols)
        out[r * cell_h:(r + 1) * cell_h, c * cell_w:(c + 1) * cell_w] = cv2.resize(
            img, (cell_w, cell_h), interpolation=cv2.INTER_AREA)
    return out
