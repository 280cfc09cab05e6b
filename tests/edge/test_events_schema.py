"""docs/EVENTS.md is the schema of the events and the summary: one-source and multi-source runs
(and a budget run, with λ) write exactly that shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from edge_helpers import json_lines

from edge_runtime import live

DOC = Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md"
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def schemas() -> dict:
    """The ```json <name> blocks of docs/EVENTS.md."""
    text = DOC.read_text(encoding="utf-8")
    return {m.group(1): json.loads(m.group(2))
            for m in re.finditer(r"```json (\w+)\n(.*?)\n```", text, re.S)}


def _is(value, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[t])


def validate(value, schema: dict, where: str = "$") -> list[str]:
    """The JSON Schema subset EVENTS.md uses: type, enum, pattern, required, properties,
    additionalProperties, items, minimum."""
    errs = []
    t = schema.get("type")
    if t is not None and not any(_is(value, x) for x in ([t] if isinstance(t, str) else t)):
        return [f"{where}: {value!r} is not {t}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errs.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        errs.append(f"{where}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{where}: missing {k!r}")
        props = schema.get("properties", {})
        for k, v in value.items():
            sub = props.get(k, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                errs += validate(v, sub, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errs += validate(v, schema["items"], f"{where}[{i}]")
    return errs


def test_the_schema_catches_what_it_should():
    s = schemas()
    assert set(s) == {"event", "summary"}
    good = {"stream": 0, "step": 0, "t": 0.0, "kind": "skip", "action": 4, "action_name": "skip1",
            "skip": 1, "top_k": [["a", 0.5]], "label": None, "ms": {"step": 0.1}, "gmacs": 0.0}
    assert validate(good, s["event"]) == []
    assert validate({**good, "kind": "jump"}, s["event"])
    assert validate({k: v for k, v in good.items() if k != "stream"}, s["event"])
    assert validate({**good, "ms": {"step": "fast"}}, s["event"])
    mode = s["summary"]["properties"]["mode"]
    for ok in ("adaptive", "uniform", "smallest", "uniform@168"):
        assert validate(ok, mode) == [], ok
    for bad in ("random", "uniform@", "uniform@168x", "xuniform"):
        assert validate(bad, mode), bad


@pytest.mark.parametrize("sources,extra", [
    (["synthetic://bars?size=96x72&frames=300"], []),
    (["synthetic://bars?size=96x72&frames=300", "synthetic://noise?size=64x48&frames=20"], []),
    (["synthetic://bars?size=96x72&frames=300"] * 3, ["--target-fps", "1e9"]),
])
def test_one_and_several_sources_write_the_documented_shape(capsys, fake_model_dir, tmp_path, sources, extra):
    s = schemas()
    out_json = tmp_path / "summary.json"
    argv = ["--model", fake_model_dir, "--backend", "fake", "--headless", "--max-steps", 25, "--no-power",
            "--json-out", out_json, *extra]
    for u in sources:
        argv += ["--source", u]
    rc = live.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    recs = json_lines(out)
    events, summary = recs[:-1], recs[-1]["summary"]
    assert events and {e["stream"] for e in events} == set(range(len(sources)))
    for e in events:
        assert validate(e, s["event"]) == [], e
        assert ("resolution" in e) == (e["kind"] == "resolution") and ("skip" in e) == (e["kind"] != "resolution")
        assert ("lambda" in e) == bool(extra)
    assert validate(summary, s["summary"]) == []
    assert validate(json.loads(out_json.read_text()), s["summary"]) == []
    assert len(summary["streams"]) == len(sources) and summary["steps"] == len(events)
    assert set(recs[-1]) == {"summary"}
    # the same keys whatever the number of sources: the format does not change with it
    keys = {k for k in summary if k not in ("budget", "energy", "power_source", "actions", "per_action")}
    assert keys == set(s["summary"]["required"])
