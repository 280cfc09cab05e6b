"""Measured cost tables in GMACs (multiply-accumulates: the paper's "GFLOPs"; ResNet-50@224 = 4.11).

Every number is counted with ``torch.utils.flop_counter.FlopCounterMode`` on the real module at
its real input resolution (FLOPs / 2 = MACs; convolutions and matmuls, i.e. what the paper counts;
normalisation, activations and pooling are not MACs and are not counted). The AR-Net reference
code scales a fixed prior by resolution², which is wrong for TF-SAME-padded nets and heads; we
measure instead.

Semantics of a :class:`CostTable` (docs/STREAMING.md, "Budget"): a decision step taking action
``a`` costs ``policy_step + actions[a]`` where

* ``policy_step`` = the policy artifact: Φ at s_{L-1} + LSTM cell + action FC + lowest-branch FC
  (it computes the lowest branch's class logits every step);
* ``actions[a]``, a < L-1 = backbone ``a`` at ``s_a`` including its FC head;
* ``actions[L-1]`` = the lowest branch's FC head only (Φ's features come from the policy step);
* skip actions = 0;
* ``uniform_per_frame`` = the "Uniform" baseline per frame: backbone 0 at s_0 incl. its FC head,
  no policy.

CLI::

    python -m train.costs --config configs/X.yaml          # AR-Net table from the model: section
    python -m train.costs --backbone efficientnet_lite0 --resolution 112 [--classes 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

UNIT = "GMACs (multiply-accumulates)"
MEASURED_WITH = "torch.utils.flop_counter"


# ----------------------------------------------------------------------------------------------
# counting
# ----------------------------------------------------------------------------------------------

def count_gmacs(module: nn.Module | Callable[..., Any], *example_inputs: Any) -> float:
    """GMACs of one call ``module(*example_inputs)`` (FLOPs counted by FlopCounterMode / 2).

    ``module`` may be an ``nn.Module`` or a bound method of one (e.g. ``model.step``); the module is
    run in eval mode without gradients and its training flag is restored afterwards."""
    owner = module if isinstance(module, nn.Module) else getattr(module, "__self__", None)
    was_training = owner.training if isinstance(owner, nn.Module) else None
    if was_training is not None:
        owner.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            module(*example_inputs)
    finally:
        if was_training is not None:
            owner.train(was_training)
    return counter.get_total_flops() / 2.0 / 1e9


def _frame(resolution: int, like: nn.Module | None = None) -> torch.Tensor:
    p = next(like.parameters(), None) if like is not None else None
    kw = {"device": p.device, "dtype": p.dtype} if p is not None else {}
    return torch.zeros(1, 3, resolution, resolution, **kw)


@functools.lru_cache(maxsize=64)
def backbone_gmacs(name: str, resolution: int, with_classifier: int = 0) -> float:
    """GMACs of registered backbone ``name`` on one frame at ``resolution`` (features only), plus an
    FC classifier ``num_features -> with_classifier`` when ``with_classifier > 0`` (1000 for the
    published ImageNet figures). Built with random weights: MACs do not depend on them."""
    from train.backbones import create_backbone
    net = create_backbone(name, pretrained=False)
    g = count_gmacs(net, _frame(int(resolution)))
    if with_classifier:
        g += count_gmacs(nn.Linear(net.num_features, int(with_classifier)),
                         torch.zeros(1, net.num_features))
    return g


# ----------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------

@dataclass
class CostTable:
    policy_step: float
    actions: list[float]
    uniform_per_frame: float
    resolutions: list[int]
    skip_lengths: list[int]
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        L, M = len(self.resolutions), len(self.skip_lengths)
        if len(self.actions) != L + M:
            raise ValueError(f"CostTable.actions has {len(self.actions)} entries, expected "
                             f"{L + M} (L={L} resolutions + M={M} skips)")

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    def step_cost(self, a: int) -> float:
        """GMACs of a decision step that takes action ``a``."""
        return self.policy_step + self.actions[a]

    def frames_covered(self, a: int) -> int:
        L = len(self.resolutions)
        return 1 if a < L else self.skip_lengths[a - L]

    def per_frame_cost(self, a: int) -> float:
        """``step_cost(a)`` amortised over the frames the action covers (skips: F frames)."""
        return self.step_cost(a) / self.frames_covered(a)

    def action_label(self, a: int) -> str:
        L = len(self.resolutions)
        return f"res {self.resolutions[a]}" if a < L else f"skip {self.skip_lengths[a - L]}"

    def to_manifest(self) -> dict:
        """The manifest's ``costs`` object."""
        return {
            "unit": UNIT,
            "policy_step": float(self.policy_step),
            "actions": [float(x) for x in self.actions],
            "uniform_per_frame": float(self.uniform_per_frame),
            "measured_with": MEASURED_WITH,
            "branches": _jsonable(self.details.get("branches", {})),
        }

    def format(self) -> str:
        """A human-readable table."""
        u = self.uniform_per_frame
        lines = [f"unit: {UNIT}, measured with {MEASURED_WITH}",
                 f"policy step: {self.policy_step:.6f}   uniform per frame: {u:.6f}",
                 f"{'action':>6}  {'what':<10} {'extra':>10} {'per step':>10} {'frames':>6} "
                 f"{'per frame':>10} {'vs uniform':>10}"]
        for a in range(self.num_actions):
            pf = self.per_frame_cost(a)
            ratio = f"{pf / u:10.3f}" if u > 0 else f"{'-':>10}"
            lines.append(f"{a:>6}  {self.action_label(a):<10} {self.actions[a]:10.6f} "
                         f"{self.step_cost(a):10.6f} {self.frames_covered(a):>6} {pf:10.6f} {ratio}")
        for key, d in self.details.get("branches", {}).items():
            parts = ", ".join(f"{k}={v:.6f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in d.items() if k != "note")
            lines.append(f"  {key}: {parts}")
        return "\n".join(lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        return float(x)
    return x


def arnet_cost_table(model: nn.Module) -> CostTable:
    """Count every entry from the real modules of an AR-Net model (``model.step``,
    ``model.branch``, ``model.heads``, ``model.policy``) at their real resolutions, batch 1."""
    cfg = model.cfg
    res = [int(r) for r in cfg.resolutions]
    skips = [int(f) for f in cfg.skip_lengths]
    L = len(res)
    hidden = int(cfg.hidden)
    p = next(model.parameters())
    h = torch.zeros(1, hidden, device=p.device, dtype=p.dtype)
    c = torch.zeros_like(h)
    low = _frame(res[-1], model)

    policy_step = count_gmacs(model.step, low, h, c)
    branches: dict[str, dict] = {}
    actions: list[float] = []
    for i in range(L - 1):
        total = count_gmacs(lambda x, _i=i: model.branch(_i, x), _frame(res[i], model))
        d = {"backbone": cfg.backbones[i], "resolution": res[i], "total": total}
        heads = getattr(model, "heads", None)
        bbs = getattr(model, "backbones", None)
        if heads is not None and bbs is not None:
            d["features"] = count_gmacs(bbs[i], _frame(res[i], model))
            d["head"] = count_gmacs(heads[i], torch.zeros(1, heads[i].in_features, device=p.device,
                                                          dtype=p.dtype))
        branches[f"backbone_{res[i]}"] = d
        actions.append(total)

    pol = model.policy
    n_feat = pol.low_head.in_features
    feat = torch.zeros(1, n_feat, device=p.device, dtype=p.dtype)
    low_head = count_gmacs(pol.low_head, feat)
    actions.append(low_head)
    actions.extend([0.0] * len(skips))

    pd: dict[str, Any] = {"backbone": cfg.policy_backbone, "resolution": res[-1],
                          "total": policy_step}
    extractor = getattr(pol, "extractor", None)
    if extractor is not None:
        pd["features"] = count_gmacs(extractor, low)
    rnn = getattr(pol, "rnn", None)
    if rnn is not None:
        pd["lstm"] = count_gmacs(rnn, feat, h, c)
    action_head = getattr(pol, "action_head", None)
    if action_head is not None:
        pd["action_head"] = count_gmacs(action_head, h)
    pd["low_head"] = low_head
    pd["note"] = ("policy step = features + lstm + action_head + low_head (the policy artifact "
                  "computes the lowest branch's logits every step); actions[L-1] adds low_head again "
                  "as the lowest branch's cost (a negligible double count by design)")
    branches["policy"] = pd

    uniform = actions[0] if L > 1 else policy_step - pd.get("lstm", 0.0) - pd.get("action_head", 0.0)
    return CostTable(policy_step=policy_step, actions=actions, uniform_per_frame=uniform,
                     resolutions=res, skip_lengths=skips, details={"branches": branches})


def cost_table_from_config(cfg) -> CostTable:
    """Build the AR-Net of ``cfg`` without pretrained weights and count it."""
    from train.models.arnet import ARNet
    kw = {"pretrained": False}
    if cfg.method not in ("arnet", "random", "resolution_only", "skip_only"):
        kw["method"] = "arnet"   # the action costs do not depend on the policy variant
    cfg = dataclasses.replace(cfg, **kw)
    return arnet_cost_table(ARNet(cfg))


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def _classes_from_data(data: dict, fallback: int) -> int:
    """The class count of a config whose ``num_classes`` is "auto": its data's classes file
    (found as training finds it) or, when there is none here, ``fallback`` (only the classifier
    heads' cost depends on it)."""
    from train.data.dataset import find_classes_file
    from train.data.lists import ListFileError, read_classes
    common = {k: v for k, v in data.items() if k not in ("train", "val", "test")}
    for split in ("train", "val", "test"):
        sec = {**common, **(data.get(split) or {})}
        cf = find_classes_file(sec.get("classes_file"), sec.get("list_file"), sec.get("root"))
        if cf is not None and cf.is_file():
            try:
                return len(read_classes(cf))
            except ListFileError:
                continue
    return max(1, int(fallback))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.costs", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--config", help="YAML with a model: section (ARNetConfig fields)")
    g.add_argument("--backbone", help="a registered backbone name")
    ap.add_argument("--resolution", type=int, nargs="+",
                    help="with --backbone: input size(s) (default: the backbone's native size)")
    ap.add_argument("--classes", type=int, default=1000,
                    help="with --backbone: FC classifier size added to the total (0: none; default 1000); "
                         "with --config and num_classes: auto, the class count when the data's "
                         "classes.txt is not here")
    ap.add_argument("--json", action="store_true", help="print the manifest costs object as JSON")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))

    from train.backbones import BackboneError, get_spec
    from train.config import ARNetConfig, ConfigError, load_yaml
    try:
        if args.config:
            d = load_yaml(args.config)
            if "model" not in d or not isinstance(d["model"], dict):
                raise ConfigError(f"{args.config}: expected a 'model:' section (ARNetConfig fields)")
            model_d = {**d["model"], "pretrained": False}
            if model_d.get("num_classes", "auto") == "auto":   # resolved from the data in training
                model_d["num_classes"] = _classes_from_data(d.get("data") or {}, args.classes)
            cfg = ARNetConfig.from_dict(model_d, where=f"{args.config}: model")
            table = cost_table_from_config(cfg)
            if args.json:
                print(json.dumps(table.to_manifest(), indent=2))
            else:
                print(f"{args.config}: method={cfg.method}, backbones={cfg.backbones}, "
                      f"policy={cfg.policy_backbone}, resolutions={cfg.resolutions}, "
                      f"skips={cfg.skip_lengths}, classes={cfg.num_classes}")
                print(table.format())
            return 0
        spec = get_spec(args.backbone)
        rows = []
        for r in args.resolution or [spec.default_resolution]:
            feats = backbone_gmacs(spec.name, r)
            total = backbone_gmacs(spec.name, r, with_classifier=args.classes) if args.classes else feats
            rows.append({"backbone": spec.name, "resolution": r, "features": feats,
                         "classifier": total - feats, "total": total})
        if args.json:
            print(json.dumps({"unit": UNIT, "measured_with": MEASURED_WITH, "rows": rows}, indent=2))
        else:
            print(f"unit: {UNIT}, measured with {MEASURED_WITH}")
            print(f"{'backbone':<20} {'res':>5} {'features':>9} {'FC':>9} {'total':>9}")
            for row in rows:
                print(f"{row['backbone']:<20} {row['resolution']:>5} {row['features']:9.4f} "
                      f"{row['classifier']:9.4f} {row['total']:9.4f}")
        return 0
    except (BackboneError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
