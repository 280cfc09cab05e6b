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
    list_file: str
    list_sha256: str
    pretrained: bool = True
    seed: int = 0
    version: int = CACHE_VERSION
    torch_major: str = field(default_factory=lambda: torch.__version__.split("+")[0].rsplit(".", 1)[0])

    def cuts(self) -> list[str]:
        return [cut_for(n, self.cut) for n in self.names]


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def spec_for(model_cfg, data_cfg, cut: str, views: int, seed: int = 0) -> CacheSpec:
    if not model_cfg.pretrained:
        raise ConfigError("feature caching needs model.pretrained: true (a frozen random prefix "
                          "would differ between the models that share the cache)")
    if not data_cfg.list_file:
        raise ConfigError("feature caching needs a list file for every split (data.<split>.list_file)")
    if views < 1:
        raise ConfigError(f"cache views={views}: must be >= 1")
    return CacheSpec(names=list(model_cfg.backbones) + [model_cfg.policy_backbone],
                     resolutions=list(model_cfg.resolutions), cut=cut_for("", cut),
                     num_segments=int(data_cfg.num_segments), views=int(views),
                     resize=str(data_cfg.resize), list_file=str(data_cfg.list_file),
                     list_sha256=file_sha256(data_cfg.list_file), pretrained=True, seed=int(seed))


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
        with open_video(rec_path, cfg.decoder, cfg.seek_threshold, cfg.decoder_threads) as reader:
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


def build_cache(ds, model_cfg, out_dir: str | os.PathLike, *, cut: str = "pool", views: int = 1,
                train_dtype: torch.dtype = torch.float16, seed: int = 0, chunk: int = 64,
                batch_frames: int = 24, workers: int = 1, progress: bool = True,
                log: Callable[[str], None] = print) -> FeatureSet:
    """Cache the frozen prefixes of ``model_cfg``'s backbones over dataset ``ds`` in ``out_dir``
    (reused when its spec matches; a partial build resumes at its first missing chunk)."""
    from train.backbones import create_backbone
    spec = spec_for(model_cfg, ds.cfg, cut, views, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = out / "spec.json"
    if meta.is_file() and json.loads(meta.read_text()) != asdict(spec):
        log(f"{out}: cached with other settings; rebuilding")
        for p in out.glob("chunk_*.pt"):
            p.unlink()
    meta.write_text(json.dumps(asdict(spec), indent=1))
    n = len(ds)
    chunks = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    todo = [c for c in chunks if not (out / f"chunk_{c[0]:06d}.pt").is_file()]
    dtype = train_dtype if views > 1 else torch.float32
    if todo:
        # channels-last: PyTorch's CPU kernels for EfficientNet's depthwise convolutions run about
        # 3x faster in NHWC than in NCHW
        nets = [create_backbone(name, pretrained=True).eval().to(memory_format=torch.channels_last)
                for name in spec.names]
        cuts = spec.cuts()
        t0 = time.time()
        bar = None
        if progress:
            try:
                from tqdm import tqdm
                bar = tqdm(total=sum(b - a for a, b in todo), desc=f"cache {out.name}", unit="clip",
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
