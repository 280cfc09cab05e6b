"""Figures of an evaluation: accuracy vs GMACs (paper Fig. 3) and a policy strip (paper Fig. 4).

* :func:`accuracy_vs_gmacs` -- top-1 and mAP against GMACs per video, one marker per method,
  methods with several points (e.g. several checkpoints) joined by a line in GMACs order;
* :func:`policy_strip` -- for N clips, the T sampled frames in a row: a processed frame gets a
  border in its resolution's colour and the resolution as text; the frame where the policy
  chose to skip is greyed out and marked "skip F", the frames that skip covers are greyed out;
  ground truth and prediction on the left.

Both write PNG files (matplotlib with the Agg backend; OpenCV drawing for the strip).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

MARKERS = {"arnet": "*", "uniform": "o", "lstm": "s", "random_policy": "X", "random": "x",
           "multiscale": "D", "resolution_only": "^", "skip_only": "v"}
# RGB, one per resolution index (highest first); more resolutions cycle
RES_COLOURS = [(230, 57, 70), (244, 162, 97), (233, 196, 106), (42, 157, 143), (69, 123, 157),
               (131, 56, 236)]
SKIP_COLOUR = (120, 120, 120)


def _base_key(k: str) -> str:
    return k if k in MARKERS else k.rsplit("_", 1)[0]


def accuracy_vs_gmacs(results: dict, path: str | os.PathLike, title: str | None = None) -> Path:
    """Top-1 and mAP (%) vs GMACs per video for every method of ``results["methods"]``."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    methods = results["methods"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110)
    groups: dict[str, list[str]] = {}
    for k in methods:
        g = "random_policy" if _base_key(k) == "random_policy" else methods[k].get("method", _base_key(k))
        groups.setdefault(g, []).append(k)
    cmap = plt.get_cmap("tab10")
    for ax, metric, name in ((axes[0], "top1", "Top-1 accuracy (%)"), (axes[1], "mAP", "mAP (%)")):
        for gi, (g, ks) in enumerate(groups.items()):
            pts = sorted((methods[k]["gmacs_per_video"], methods[k][metric], methods[k]["label"])
                         for k in ks if methods[k].get(metric) is not None)
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            colour = cmap(gi % 10)
            if len(pts) > 1:
                ax.plot(xs, ys, "-", color=colour, lw=1.2, alpha=0.7)
            ax.scatter(xs, ys, marker=MARKERS.get(g, "o"), s=160 if g == "arnet" else 70, color=colour,
                       edgecolors="black", linewidths=0.6, zorder=3, label=pts[0][2])
            for j, (x, y, lab) in enumerate(pts):
                ax.annotate(lab, (x, y), textcoords="offset points", fontsize=8,
                            xytext=(6, 6) if (gi + j) % 2 == 0 else (6, -12))
        ax.set_xlabel("GMACs per video (multiply-accumulates)")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.15, y=0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=8, loc="best")
    split = results.get("split")
    fig.suptitle(title or f"Accuracy vs cost" + (f" ({split} split)" if split else ""))
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write a matplotlib figure atomically (a reader sees the old PNG or the new one) and close it."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------ policy strip
def _put(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int = 1) -> None:
    import cv2
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def _grey(tile: np.ndarray) -> np.ndarray:
    g = tile.astype(np.float32).mean(-1, keepdims=True)
    g = 0.35 * g + 0.65 * 200.0   # washed-out grey
    return np.repeat(g, 3, -1).astype(np.uint8)


def render_strip(frames: np.ndarray, actions: Sequence[int], decisions: Sequence[bool],
                 resolutions: Sequence[int], skip_lengths: Sequence[int], left_text: Sequence[str],
                 tile: int = 112, left_w: int = 200, correct: bool | None = None) -> np.ndarray:
    """One row (RGB uint8): ``frames`` (T, H, W, 3) uint8, per-frame action index and whether the
    policy decided at that frame (False: covered by an earlier skip)."""
    import cv2
    L = len(resolutions)
    T = len(frames)
    pad, border = 4, 5
    h = tile + 2 * pad + 18
    row = np.full((h, left_w + T * (tile + pad) + pad, 3), 255, np.uint8)
    y = 22
    for i, line in enumerate(left_text):
        colour = (0, 0, 0)
        if i == 1 and correct is not None:
            colour = (0, 140, 0) if correct else (200, 0, 0)
        cv2.putText(row, line[:28], (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
        y += 20
    for t in range(T):
        x0 = left_w + pad + t * (tile + pad)
        y0 = pad
        img = cv2.resize(np.ascontiguousarray(frames[t]), (tile, tile), interpolation=cv2.INTER_AREA)
        a = int(actions[t])
        if a < L:
            colour = RES_COLOURS[a % len(RES_COLOURS)]
            img = img.copy()
            cv2.rectangle(img, (0, 0), (tile - 1, tile - 1), colour, border)
            _put(img, str(resolutions[a]), (border + 3, tile - border - 5), 0.5, colour)
            caption = f"{resolutions[a]}px"
        else:
            img = _grey(img)
            cv2.rectangle(img, (0, 0), (tile - 1, tile - 1), SKIP_COLOUR, 1)
            if decisions[t]:
                txt = f"skip {skip_lengths[a - L]}"
                _put(img, txt, (border + 3, tile // 2 + 5), 0.5, (255, 255, 255))
                caption = txt
            else:
                cv2.line(img, (4, 4), (tile - 5, tile - 5), SKIP_COLOUR, 1, cv2.LINE_AA)
                caption = "skipped"
        row[y0:y0 + tile, x0:x0 + tile] = img
        cv2.putText(row, f"t={t} {caption}", (x0 + 2, y0 + tile + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.36,
                    (60, 60, 60), 1, cv2.LINE_AA)
    return row


def _legend(width: int, resolutions: Sequence[int], title: str) -> np.ndarray:
    """Title line, then one colour key per resolution and one for skipped frames."""
    import cv2
    img = np.full((54, width, 3), 255, np.uint8)
    max_chars = max(10, width // 8)
    if len(title) > max_chars:
        title = "..." + title[-(max_chars - 3):]
    cv2.putText(img, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    x = 6
    keys = [(f"{s}px", RES_COLOURS[i % len(RES_COLOURS)]) for i, s in enumerate(resolutions)]
    keys.append(("skipped (skip F: this frame + next F-1)", SKIP_COLOUR))
    for text, c in keys:
        cv2.rectangle(img, (x, 32), (x + 16, 46), c, -1)
        cv2.putText(img, text, (x + 20, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        x += 20 + cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0] + 18
    return img


def policy_strip(model, dataset, path: str | os.PathLike, n: int = 6, tile: int = 112,
                 title: str = "", device=None) -> Path:
    """Run ``model`` (eval mode) on the first ``n`` clips of ``dataset`` and draw its decisions."""
    import cv2
    import torch
    from train.data.dataset import collate

    n = max(1, min(int(n), len(dataset)))
    items = [dataset[i] for i in range(n)]
    batch = collate(items)
    if device is None:
        device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        out = model([f.to(device).float() for f in batch["frames"]])
        v = out.video_logits.float()
        p = torch.sigmoid(v) if model.cfg.multi_label else torch.softmax(v, -1)
    acts = out.action_index.cpu().numpy()
    decs = out.decision.cpu().numpy()
    labels = list(getattr(dataset, "labels", [])) or [str(i) for i in range(p.shape[1])]
    rows = []
    for b in range(n):
        lab = batch["label"][b]
        gt = [int(i) for i in torch.nonzero(lab).flatten()] if lab.ndim else [int(lab)]
        pred = int(p[b].argmax())
        name = lambda i: labels[i] if i < len(labels) else str(i)  # noqa: E731
        frames = batch["frames"][0][b].permute(0, 2, 3, 1).cpu().numpy().astype(np.uint8)  # (T,H,W,3) RGB
        n_proc = int((acts[b] < len(model.cfg.resolutions)).sum())
        text = [f"clip {int(batch['index'][b])}", f"pred: {name(pred)} ({float(p[b, pred]):.2f})",
                f"label: {', '.join(name(i) for i in gt)}", f"{n_proc}/{len(frames)} frames processed"]
        rows.append(render_strip(frames, acts[b], decs[b], model.cfg.resolutions, model.cfg.skip_lengths,
                                 text, tile=tile, correct=pred in gt))
    width = rows[0].shape[1]
    img = np.concatenate([_legend(width, model.cfg.resolutions, title)] + rows, 0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG")
    os.replace(tmp, path)
    return path
