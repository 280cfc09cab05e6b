"""Evaluation metrics: top-1, mAP (multi-label capable, ActivityNet/FCVID style), GMACs."""

from __future__ import annotations

import numpy as np


def top1(scores: np.ndarray, targets: np.ndarray) -> float:
    """Top-1 accuracy in %. ``targets``: class indices (N,) or multi-hot (N, C) — a prediction
    counts when its top class is one of the positives."""
    pred = scores.argmax(1)
    if targets.ndim == 2:
        return float(100.0 * targets[np.arange(len(pred)), pred].astype(bool).mean())
    return float(100.0 * (pred == targets).mean())


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: mean of precision at each positive, ranks by descending score."""
    order = np.argsort(-scores, kind="stable")
    pos = positives[order].astype(bool)
    if pos.sum() == 0:
        return float("nan")
    hits = np.cumsum(pos)
    precision = hits / np.arange(1, len(pos) + 1)
    return float(precision[pos].mean())


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP in % over classes that have at least one positive."""
    if targets.ndim == 1:
        onehot = np.zeros_like(scores, dtype=bool)
        onehot[np.arange(len(targets)), targets] = True
        targets = onehot
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    aps = [a for a in aps if not np.isnan(a)]
    return float(100.0 * np.mean(aps)) if aps else float("nan")


def gmacs_per_frame(action_index: np.ndarray, decision: np.ndarray, step_cost: np.ndarray) -> np.ndarray:
    """GMACs per frame per clip: Σ_t d_t·cost[a_t] / T. ``action_index``/``decision``: (N, T)."""
    per = step_cost[action_index] * decision
    return per.sum(1) / action_index.shape[1]
