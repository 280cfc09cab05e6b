"""The live window and the ``--record`` file: one overlaid frame for one stream, a grid of
overlaid cells for several."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from edge_runtime.cli import UsageError


def gui_available() -> bool:
    import cv2
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return "NONE" not in line.upper()
    return True


def render(uris: list, last_rgb: dict, last_ev: dict, engine: Any, rate: float | None = None):
    """The image of a run's latest tick (BGR): one stream's last frame with its overlay (label,
    top-k, action, fps, GMACs vs uniform), or one overlaid cell per stream, tiled; None before
    any frame."""
    import cv2

    from edge_runtime.overlay import draw_overlay, grid_image
    uni = engine.manifest.uniform_cost

    def gpf(i: int) -> float | None:
        n = engine.stream_steps[i]
        return engine.stream_gmacs[i] / n if n else None
    if len(uris) == 1:
        if 0 not in last_rgb:
            return None
        img = cv2.cvtColor(last_rgb[0], cv2.COLOR_RGB2BGR)
        draw_overlay(img, last_ev[0], fps=rate, capacity_fps=engine.measured_fps, gmacs_per_frame=gpf(0),
                     uniform_gmacs=uni)
        return img
    cells = []
    for i in range(len(uris)):
        if i not in last_rgb:
            cells.append(None)
            continue
        img = cv2.cvtColor(cv2.resize(last_rgb[i], (480, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
        draw_overlay(img, last_ev[i], gmacs_per_frame=gpf(i), uniform_gmacs=uni)
        cv2.putText(img, f"[{i}] {uris[i]}"[:60], (6, 352), 0, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        cells.append(img)
    return grid_image(cells)


class Display:
    """The window (``q``/Esc quits) and the ``--record`` file of a run; headless without a GUI."""

    def __init__(self, args: Any, title: str, fps: float, prog: str = "arnet-live") -> None:
        self.headless = bool(args.headless)
        if not self.headless and not gui_available():
            print(f"{prog}: this OpenCV has no GUI (opencv-python-headless); running --headless",
                  file=sys.stderr)
            self.headless = True
        self.record, self.title, self.fps = args.record, title, fps
        self.draws = not self.headless or bool(self.record)   # whether images are wanted
        self._writer = None
        self._partial: Path | None = None   # the recording is written here, renamed on close

    def show(self, img_bgr) -> bool:
        """Record and/or display one image; True when the user asked to quit."""
        import cv2
        if self.record:
            if self._writer is None:
                self._partial = _partial_path(self.record)
                self._writer = _open_writer(self.record, img_bgr.shape, self.fps, self._partial)
            self._writer.write(img_bgr)
        if not self.headless:
            cv2.imshow(self.title, img_bgr)
            return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)
        return False

    def close(self) -> None:
        """Finish the recording (a released writer's file is playable) and put it in place: an
        earlier file at ``--record`` is replaced only by a finished one."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self._partial is not None and self._partial.exists():
                os.replace(self._partial, self.record)
        if not self.headless:
            import cv2
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass


def _partial_path(path: str) -> Path:
    """Where a recording grows until the run ends: hidden, beside it, same extension (OpenCV
    picks the container by extension)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.partial{p.suffix}")


def _open_writer(path: str, shape: tuple, fps: float, target: Path):
    """A writer for the ``--record`` file ``path`` (its folder and extension), writing ``target``."""
    import cv2
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise UsageError(f"--record {path}: folder {p.parent} does not exist")
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if p.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
    w = cv2.VideoWriter(str(target), fourcc, max(fps, 1.0), (shape[1], shape[0]))
    if not w.isOpened():
        raise UsageError(f"--record {path}: cannot write this video (try .mp4 or .avi)")
    return w
