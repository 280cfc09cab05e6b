"""Every shipped config in configs/ parses into valid run, model and data settings."""

from pathlib import Path

import pytest

from train.config import load_yaml
from train.trainer import RunConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_the_documented_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"demo.yaml", "edge.yaml", "arnet_lite.yaml"} <= names
    readme = (ROOT / "README.md").read_text()
    for ref in {w.strip("`") for w in readme.split() if w.strip("`").startswith("configs/")}:
        assert (ROOT / ref).is_file(), f"README names {ref}, which does not exist"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_parses(path):
    from train.data.dataset import DataConfig
    d = load_yaml(path)
    results = d.pop("results", None)          # train.results' own section (make results)
    if results is not None:
        from train.config import from_dict
        from train.results import ResultsConfig
        from_dict(ResultsConfig, results, f"{path}: results").validate()
    d["model"] = {**d["model"], "num_classes": 6, "pretrained": False}
    rc = RunConfig.from_dict(d, where=str(path))
    assert rc.model.resolutions == sorted(rc.model.resolutions, reverse=True)
    data = {k: v for k, v in d["data"].items() if k not in ("train", "val", "test")}
    dc = DataConfig(**{**data, "list_file": None, "format": "video_folder",
                       "resolutions": rc.model.resolutions})
    assert dc.resize in ("area", "pyramid")
