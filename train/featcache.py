"""Frozen-prefix feature cache: the frozen layers of every branch run once per clip and resolution.

When a backbone's early layers are frozen (pretrained ImageNet weights), their output for a
given frame never changes during training, yet the plain training loop recomputes it every
epoch for every method and seed. Here each backbone is cut into a frozen **prefix** and a
trainable **suffix**:

* ``cut = "pool"``: the prefix is the whole pretrained network up to its pooled features; the
  suffix is only the network's own feature dropout (training) -- the branch learns its FC head;
* ``cut = "head"``: the prefix stops before the final 1x1 ``conv_head``; the suffix is
  ``conv_head`` + BN + activation + mean pooling. ``efficientnet_lite0_early`` (a policy Φ whose
  1x1 head is new) is always cut here.

:func:`build_cache` decodes each clip once, samples ``views`` TSN index sets per training clip
(view 0 = the evaluation centre frames, the others random offsets, seeded), resizes them by the
device rule and stores the prefix outputs of every resolution's backbone (``float16`` for
training views, ``float32`` for evaluation). Chunks are written atomically, so a killed build
resumes where it stopped. :func:`cached_inputs` then switches a model's backbones to read those
tensors: the models themselves are unchanged (``ARNet.forward`` flattens ``(B, T, ...)`` and calls
the backbone), so training, losses and checkpoints are exactly those of ``train/trainer.py`` and
the trained checkpoint exports and streams like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train.config import ConfigError

CUTS = ("pool", "head")
ALWAYS_HEAD = ("efficientnet_lite0_early",)   # new (untrained) 1x1 head: must stay trainable
CACHE_VERSION = 1


def cut_for(backbone_name: str, cut: str) -> str:
    if cut not in CUTS:
        raise ConfigError(f"cache cut={cut!r} is not one of {list(CUTS)}")
    return "head" if backbone_name in ALWAYS_HEAD else cut


def _check_splittable(bb: nn.Module) -> None:
    net = getattr(bb, "net", None)
    if not all(hasattr(net, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2")):
        from train.backbones import list_backbones
        lite = [n for n in list_backbones() if n.startswith("efficientnet_lite")]
        raise ConfigError(f"backbone {getattr(bb, 'name', type(bb).__name__)!r} cannot be cut into a "
                          f"cached prefix; feature caching supports {lite}")


def _head(net: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """conv_head + BN (+ activation) + mean pool, for timm EfficientNet-Lite and LiteEarly."""
    x = net.bn2(net.conv_head(z))
    act = getattr(net, "act", None)
    if act is not None:          # LiteEarly keeps its activation apart; timm's bn2 includes it
        x = act(x)
    return x.mean((2, 3))


def prefix_forward(bb: nn.Module, x: torch.Tensor, cut: str) -> torch.Tensor:
    """The frozen part of Backbone ``bb`` on frames ``x`` (N, 3, s, s) in [0, 255]."""
    _check_splittable(bb)
    net = bb.net
    if bb.normalize_input:
        x = x * bb.norm_scale + bb.norm_shift
    z = net.blocks(net.bn1(net.conv_stem(x)))
    return _head(net, z) if cut == "pool" else z


def suffix_fn(bb: nn.Module, cut: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The trainable rest of ``bb``: what ``bb(x)`` computes after :func:`prefix_forward`."""
    _check_splittable(bb)
    net = bb.net
    rate = float(getattr(net, "drop_rate", 0.0) or 0.0)   # timm's feature dropout (training only)

    def pool_suffix(z: torch.Tensor) -> torch.Tensor:
        return F.dropout(z, rate, bb.training) if rate > 0 else z

    def head_suffix(z: torch.Tensor) -> torch.Tensor:
        y = _head(net, z)
        return F.dropout(y, rate, bb.training) if rate > 0 else y

    return pool_suffix if cut == "pool" else head_suffix


def prefix_parameters(bb: nn.Module, cut: str) -> list[nn.Parameter]:
    """Parameters the prefix uses (frozen while training on cached inputs)."""
    net = bb.net
    mods = [net.conv_stem, net.bn1, net.blocks]
    if cut == "pool":
        mods += [net.conv_head, net.bn2]
    return [p for m in mods for p in m.parameters()]


def _backbones(model: nn.Module) -> Iterator[nn.Module]:
    from train.backbones import Backbone
    for m in model.modules():
        if isinstance(m, Backbone):
            yield m


@contextlib.contextmanager
def cached_inputs(model: nn.Module, cut: str):
    """Within the block, every backbone of ``model`` takes its cached prefix output instead of
    frames (state dicts and parameters are untouched)."""
    bbs = list(_backbones(model))
    try:
        for bb in bbs:
            bb.forward = suffix_fn(bb, cut_for(bb.name, cut))   # instance attribute wins
        yield model
    finally:
        for bb in bbs:
            bb.__dict__.pop("forward", None)


def enable_cached_inputs(model: nn.Module, cut: str) -> set[int]:
    """Switch ``model`` to cached inputs for good (a training run); returns the ids of the prefix
    parameters, which the trainer keeps frozen."""
    frozen: set[int] = set()
    for bb in _backbones(model):
        c = cut_for(bb.name, cut)
        bb.forward = suffix_fn(bb, c)
        frozen.update(id(p) for p in prefix_parameters(bb, c))
    return frozen


# ------------------------------------------------------------------------------------ building
@dataclass
class CacheSpec:
    """What a cache holds; any difference means the cache is rebuilt."""

    names: list[str]                  # backbone per resolution index (policy backbone last)
    resolutions: list[int]
    cut: str
    num_segments: int
    views: int                        # TSN index sets per clip (1 = centre only)
    resize: str
    data: str                         # the list file or folder
    records_sha256: str               # of every record's path and label, in order
    pretrained: bool = True
    seed: int = 0
    version: int = CACHE_VERSION
    torch_major: str = field(default_factory=lambda: torch.__version__.split("+")[0].rsplit(".", 1)[0])

    def cuts(self) -> list[str]:
        return [cut_for(n, self.cut) for n in self.names]


def records_sha256(ds) -> str:
    h = hashlib.sha256()
    for i in range(len(ds)):
        h.update(f"{ds.path_of(i)}\t{ds.target(i)}\n".encode())
    return h.hexdigest()


def spec_for(model_cfg, ds, cut: str, views: int, seed: int = 0) -> CacheSpec:
    if not model_cfg.pretrained:
        raise ConfigError("feature caching needs model.pretrained: true (a frozen random prefix "
                          "would differ between the models that share the cache)")
    data_cfg = ds.cfg
    if views < 1:
        raise ConfigError(f"cache views={views}: must be >= 1")
    return CacheSpec(names=list(model_cfg.backbones) + [model_cfg.policy_backbone],
                     resolutions=list(model_cfg.resolutions), cut=cut_for("", cut),
                     num_segments=int(data_cfg.num_segments), views=int(views),
                     resize=str(data_cfg.resize), data=str(data_cfg.list_file or data_cfg.root),
                     records_sha256=records_sha256(ds), pretrained=True, seed=int(seed))


class _ClipViews(torch.utils.data.Dataset):
    """Clip i -> uint8 views per resolution, (V, T, 3, s, s) each, and its label."""

    def __init__(self, ds, spec: CacheSpec):
        self.ds = ds
        self.spec = spec

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        from train.data.sampling import sample_indices
        from train.data.transforms import eval_views
        from train.data.video import open_video
        s = self.spec
        rec_path = self.ds.path_of(i)
        cfg = self.ds.cfg
        decoder = getattr(self.ds, "decoder", cfg.decoder)
        with open_video(rec_path, decoder, cfg.seek_threshold, cfg.decoder_threads) as reader:
            n = reader.num_frames
            sets = [sample_indices(n, s.num_segments, False)]
            rng = np.random.default_rng([s.seed, i])
            sets += [sample_indices(n, s.num_segments, True, rng) for _ in range(s.views - 1)]
            wanted = sorted({int(k) for idx in sets for k in idx})
            frames = dict(zip(wanted, reader.read(wanted)))
        per_res = [[] for _ in s.resolutions]
        for idx in sets:
            views = eval_views([frames[int(k)] for k in idx], s.resolutions, s.resize)
            for r, v in enumerate(views):
                per_res[r].append(torch.from_numpy(np.ascontiguousarray(v)).permute(0, 3, 1, 2))
        return [torch.stack(v) for v in per_res], self.ds.target(i)


def _collate(items):
    frames = [torch.stack([it[0][r] for it in items]) for r in range(len(items[0][0]))]
    labels = [it[1] for it in items]
    lab = torch.stack(labels) if isinstance(labels[0], torch.Tensor) else torch.tensor(labels)
    return frames, lab


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class FeatureSet:
    """One split's cached prefix outputs: ``feats[r]`` (N, V, T, ...) and ``labels`` (N,) / (N, C)."""

    feats: list[torch.Tensor]
    labels: torch.Tensor
    spec: CacheSpec
    branch_logits: list[torch.Tensor] | None = None   # optional (N, V, T, C) per branch: held-out
                                                      # predictions for the policy's joint stage

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx: torch.Tensor) -> "FeatureSet":
        bl = None if self.branch_logits is None else [b[idx] for b in self.branch_logits]
        return FeatureSet([f[idx] for f in self.feats], self.labels[idx], self.spec, bl)

    def batch(self, idx: torch.Tensor, view: torch.Tensor | None = None) -> dict:
        """Clips ``idx`` at views ``view`` (default 0, the centre frames) as a trainer batch."""
        v = torch.zeros_like(idx) if view is None else view
        b = {"frames": [f[idx, v].float() for f in self.feats], "label": self.labels[idx]}
        if self.branch_logits is not None:
            b["branch_logits"] = [x[idx, v] for x in self.branch_logits]
        return b


def spec_key(spec: CacheSpec) -> str:
    """The cache folder's name: a digest of everything the cached tensors depend on."""
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:16]


def build_cache(ds, model_cfg, root: str | os.PathLike, *, cut: str = "pool", views: int = 1,
                train_dtype: torch.dtype = torch.float16, seed: int = 0, chunk: int = 64,
                batch_frames: int = 24, workers: int = 1, progress: bool = True,
                log: Callable[[str], None] = print) -> FeatureSet:
    """Cache the frozen prefixes of ``model_cfg``'s backbones over dataset ``ds`` under ``root``,
    in a folder named by :func:`spec_key`: runs that share data, backbones and sampling share the
    cache, whatever they train; a partial build resumes at its first missing chunk."""
    from train.backbones import create_backbone
    rule = getattr(ds, "sampling", "segments")
    if rule != "segments" or getattr(ds, "frame_folders", False):
        raise ConfigError(f"feature caching reads videos sampled by the 'segments' rule; this data has "
                          f"sampling={rule!r}{' and frame folders' if getattr(ds, 'frame_folders', False) else ''}"
                          f" (train without the cache: train.feature_cache: '')")
    spec = spec_for(model_cfg, ds, cut, views, seed)
    out = Path(root) / spec_key(spec)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=1))
    n = len(ds)
    chunks = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    todo = [c for c in chunks if not (out / f"chunk_{c[0]:06d}.pt").is_file()]
    dtype = train_dtype if views > 1 else torch.float32
    if todo:
        # channels-last: PyTorch's CPU kernels run EfficientNet's depthwise convolutions faster in
        # NHWC than in NCHW (docs/RESULTS.md, "Measurements behind design choices")
        nets = [create_backbone(name, pretrained=True).eval().to(memory_format=torch.channels_last)
                for name in spec.names]
        cuts = spec.cuts()
        t0 = time.time()
        bar = None
        if progress:
            try:
                from tqdm import tqdm
                bar = tqdm(total=sum(b - a for a, b in todo), desc=f"cache {Path(spec.data).name}", unit="clip",
                           dynamic_ncols=True)
            except ImportError:
                bar = None
        for a, b in todo:
            sub = torch.utils.data.Subset(_ClipViews(ds, spec), range(a, b))
            loader = torch.utils.data.DataLoader(sub, batch_size=4, num_workers=workers,
                                                 collate_fn=_collate)
            parts: list[list[torch.Tensor]] = [[] for _ in spec.names]
            labels = []
            for frames, lab in loader:
                labels.append(lab)
                for r, x in enumerate(frames):
                    B, V, T = x.shape[:3]
                    flat = x.flatten(0, 2)
                    with torch.no_grad():
                        ys = [prefix_forward(nets[r], flat[k:k + batch_frames].float().contiguous(
                            memory_format=torch.channels_last), cuts[r])
                              for k in range(0, flat.shape[0], batch_frames)]
                    y = torch.cat(ys).contiguous()
                    parts[r].append(y.view(B, V, T, *y.shape[1:]).to(dtype))
                if bar is not None:
                    bar.update(len(lab))
            _atomic_torch_save({"feats": [torch.cat(p) for p in parts], "labels": torch.cat(labels)},
                               out / f"chunk_{a:06d}.pt")
        if bar is not None:
            bar.close()
        log(f"cached {sum(b - a for a, b in todo)} clips x {views} view(s) x {spec.num_segments} frames "
            f"at {spec.resolutions} in {time.time() - t0:.0f}s -> {out}")
    return load_cache(out, chunks, spec)


def load_cache(out: Path, chunks: Sequence[tuple[int, int]], spec: CacheSpec) -> FeatureSet:
    feats: list[list[torch.Tensor]] = [[] for _ in spec.names]
    labels = []
    for a, _ in chunks:
        d = torch.load(out / f"chunk_{a:06d}.pt", map_location="cpu", weights_only=True)
        for r, f in enumerate(d["feats"]):
            feats[r].append(f)
        labels.append(d["labels"])
    return FeatureSet([torch.cat(f) for f in feats], torch.cat(labels), spec)


class CachedLoader:
    """A trainer-compatible loader over a :class:`FeatureSet`: shuffled clips (seeded), a random
    cached view per clip (training), or the centre view in order (evaluation)."""

    def __init__(self, fs: FeatureSet, batch_size: int, shuffle: bool, seed: int = 0):
        self.fs = fs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed

    def __len__(self) -> int:
        return -(-len(self.fs) // self.batch_size)

    def __iter__(self):
        n = len(self.fs)
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        V = self.fs.feats[0].shape[1]
        views = torch.randint(V, (n,), generator=g) if (self.shuffle and V > 1) else torch.zeros(n, dtype=torch.long)
        for k in range(0, n, self.batch_size):
            idx = order[k:k + self.batch_size]
            yield self.fs.batch(idx, views[idx])


# ------------------------------------------------------------------------- held-out predictions
def stratified_folds(labels: torch.Tensor, k: int, seed: int) -> list[torch.Tensor]:
    """``k`` folds of clip indices, every class spread evenly over them (seeded)."""
    y = labels.argmax(1) if labels.ndim == 2 else labels
    g = torch.Generator().manual_seed(1000 + int(seed))
    parts: list[list[int]] = [[] for _ in range(k)]
    start = 0
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        for j, i in enumerate(idx[torch.randperm(len(idx), generator=g)].tolist()):
            parts[(start + j) % k].append(i)
        start += len(idx)
    return [torch.tensor(sorted(p), dtype=torch.long) for p in parts]


@torch.no_grad()
def branch_frame_logits(model: nn.Module, fs: FeatureSet, batch: int = 512) -> list[torch.Tensor]:
    """Every branch's frame logits (N, V, T, C) on a cached set, the lowest resolution's from the
    policy's Φ + its head (``model`` reads cached inputs, eval mode)."""
    model.eval()
    L = len(fs.feats)
    out = []
    for i in range(L):
        x = fs.feats[i]
        N, V, T = x.shape[:3]
        flat = x.flatten(0, 2)
        parts = []
        for k in range(0, flat.shape[0], batch):
            z = flat[k:k + batch].float()
            parts.append(model.branch(i, z) if i < L - 1 else
                         model.policy.low_head(model.policy.features(z)))
        out.append(torch.cat(parts).view(N, V, T, -1))
    return out


def heldout_branch_logits(fs: FeatureSet, folds: Sequence[torch.Tensor],
                          fit_without: Callable[[int, FeatureSet], nn.Module]) -> FeatureSet:
    """``fs`` with held-out branch predictions: clip j's logits come from the model
    ``fit_without(k, clips outside fold k)`` returns for the fold k that holds j (cross-fitting).

    On the clips a branch was trained on, its head fits every resolution almost equally well (a
    linear head on 1280 pretrained features memorises a few thousand frames), so a policy trained
    on those predictions learns that the cheap resolutions are as good as the costly ones; on
    held-out clips the difference it must learn is there."""
    n = len(fs)
    logits: list[torch.Tensor] | None = None
    for k, fold in enumerate(folds):
        keep = torch.tensor(sorted(set(range(n)) - set(fold.tolist())), dtype=torch.long)
        model = fit_without(k, fs.subset(keep))
        part = branch_frame_logits(model, fs.subset(fold))
        if logits is None:
            logits = [torch.zeros(n, *p.shape[1:]) for p in part]
        for i, p in enumerate(part):
            logits[i][fold] = p
    return FeatureSet(fs.feats, fs.labels, fs.spec, logits)


# ----------------------------------------------------------------------------- train.py support
def cached_training(cfg, train_ds, val_ds, *, device: str | None = None, progress: bool = True,
                    log: Callable[[str], None] = print):
    """(train loader fn, val loader, model hook) for ``train/train.py`` when
    ``train.feature_cache`` is set: caches under ``<run_dir>/cache``, and with
    ``train.policy_folds`` the fold warm-ups under ``<run_dir>/folds`` (reused when finished)."""
    from train.evaluation import POLICY_FAMILY, constant_frame_gmacs
    from train.checkpoint import load_checkpoint
    from train.trainer import RunConfig, Trainer
    t = cfg.train
    cut = t.feature_cache
    root = Path(cfg.out_dir) / "feature_cache"
    # the cached views are drawn once (seed 0) and shared by every run and seed on this data
    fs = build_cache(train_ds, cfg.model, root, cut=cut, views=t.cache_views, seed=0,
                     progress=progress, log=log)
    fs_val = None
    if val_ds is not None:
        fs_val = build_cache(val_ds, cfg.model, root, cut=cut, views=1, seed=0, progress=progress,
                             log=log)

    def prepare(model):
        if cfg.model.method not in POLICY_FAMILY:
            model._arnet_constant_gmacs = constant_frame_gmacs(model)
        return enable_cached_inputs(model, cut)

    if t.policy_folds and cfg.model.method in ("arnet", "resolution_only", "skip_only") and t.joint_epochs:
        def fit_without(k: int, sub: FeatureSet):
            d = cfg.to_dict()
            d.update(name=f"fold{k}", out_dir=str(cfg.run_dir / "folds"))
            d["model"]["method"] = "arnet"
            d["train"].update(joint_epochs=0, finetune_epochs=0, policy_folds=0)
            fcfg = RunConfig.from_dict(d, f"fold {k} warm-up")
            done = fcfg.run_dir / "done"
            key = json.dumps({"run": fcfg.to_dict(), "clips": len(sub), "cache": asdict(fs.spec)}, sort_keys=True)
            if not (done.is_file() and done.read_text() == key):
                log(f"held-out warm-up {k + 1}/{t.policy_folds}: {len(sub)} clips -> {fcfg.run_dir}")
                Trainer(fcfg, lambda e, s: CachedLoader(sub, t.batch_size, True, s), None, train_ds.labels,
                        {}, device=device, progress=progress, prepare_model=prepare).fit()
                done.write_text(key)
            model = load_checkpoint(fcfg.run_dir / "last.pt").model
            enable_cached_inputs(model, cut)
            return model

        fs = heldout_branch_logits(fs, stratified_folds(fs.labels, t.policy_folds, t.seed), fit_without)

    def loader_fn(epoch: int, seed: int):
        return CachedLoader(fs, t.batch_size, shuffle=True, seed=seed)

    val_loader = CachedLoader(fs_val, max(t.batch_size, 16), shuffle=False) if fs_val is not None else None
    return loader_fn, val_loader, prepare
