"""The console summary table and ``report.md`` written beside the manifest."""

from __future__ import annotations


def _f(v, fmt: str = ".3g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, fmt)
    return str(v)


def _kb(n) -> str:
    return "-" if n is None else f"{n / 1024:.1f}"


def summary_rows(validation: dict) -> list[list[str]]:
    rows = []
    for fname, f in validation.get("formats", {}).items():
        arts = {k: a for k, a in validation.get("artifacts", {}).items() if k.startswith(fname + "/")}
        if f["status"] != "ok":
            rows.append([fname, "FAILED", "-", _f(f.get("export_s"), ".1f"), "-", "-", "-",
                         (f.get("error") or "")[:60].replace("\n", " ")])
            continue
        rel = max((a.get("max_rel_logit_err", 0.0) for a in arts.values()), default=None)
        agree = min((a.get("top1_agreement", 1.0) for a in arts.values()), default=None)
        pipe = validation.get("pipelines", {}).get(f"{f['backend']}/{f['precision']}", {})
        rows.append([fname, "ok", _kb(f.get("bytes")), _f(f.get("export_s"), ".1f"), _f(rel, ".2e"),
                     _f(agree, ".3f"), _f(pipe.get("action_agreement"), ".3f"),
                     _f(pipe.get("top1"), ".1f") if pipe else "-"])
    return rows


SUMMARY_HEADER = ["format", "status", "KiB", "export s", "max rel err", "top1 agree",
                  "actions=torch", "video top1"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def render_report(manifest_dict: dict, validation: dict) -> str:
    m = manifest_dict
    v = validation
    lines = [f"# Export report: {m['name']}", ""]
    tr = m.get("training", {})
    lines += [f"- source: {tr.get('checkpoint', '-')}",
              f"- exported: {tr.get('exported_at', '-')} in {_f(v.get('wall_s'), '.1f')} s",
              f"- resolutions {m['resolutions']}, skips {m['skip_lengths']}, hidden {m['policy']['hidden']}, "
              f"{len(m['labels'])} classes{' (multi-label)' if m.get('multi_label') else ''}",
              f"- device input: frame uint8 RGB NHWC (centre square, resize "
              f"{m['normalization'].get('resize', 'area')!r}), normalisation folded "
              f"into every artifact; LSTM state float32 (1, {m['policy']['hidden']})",
              f"- int8 scheme: {v.get('int8_scheme', '-')}",
              f"- data: {v.get('data', {})}", ""]
    lines += ["## Formats", "", md_table(SUMMARY_HEADER, summary_rows(v)), ""]
    failed = {k: f for k, f in v.get("formats", {}).items() if f["status"] != "ok"}
    if failed:
        lines += ["### Failures", ""]
        lines += [f"- **{k}**: `{(f.get('error') or '').strip()}`" for k, f in failed.items()]
        lines += [""]
    lines += ["## Artifacts vs PyTorch (held-out samples)", ""]
    hdr = ["artifact", "file", "KiB", "max abs logit err", "max rel logit err", "class top1 agree",
           "action top1 agree", "state err", "ms 1 thread", "ms all threads"]
    rows = []
    for k, a in v.get("artifacts", {}).items():
        lat = a.get("latency_ms", {})
        rows.append([k, a.get("file", "-"), _kb(a.get("bytes")), _f(a.get("max_abs_logit_err"), ".2e"),
                     _f(a.get("max_rel_logit_err"), ".2e"), _f(a.get("top1_agreement"), ".3f"),
                     _f(a.get("action_top1_agreement"), ".3f"), _f(a.get("state_max_abs_err"), ".2e"),
                     _f(lat.get("threads_1"), ".3f"), _f(lat.get(f"threads_{v.get('threads_all', 0)}"), ".3f")])
    lines += [md_table(hdr, rows), ""]
    lines += ["## Adaptive pipeline on held-out clips (edge_runtime.pipeline)", ""]
    hdr = ["backend/precision", "video top1 %", "mAP %", "actions = PyTorch", "clips same actions",
           "prediction = PyTorch", "max score err", "GMACs/frame", "ms/frame"]
    rows = []
    pt = v.get("pytorch", {})
    if pt:
        rows.append(["PyTorch (reference)", _f(pt.get("top1"), ".1f"), _f(pt.get("mAP"), ".1f"), "1", "1", "1",
                     "0", _f(pt.get("gmacs_per_frame"), ".4g"), "-"])
    for k, p in v.get("pipelines", {}).items():
        if "error" in p:
            rows.append([k, "ERROR", "-", "-", "-", "-", "-", "-", (p["error"] or "")[:60]])
            continue
        rows.append([k, _f(p.get("top1"), ".1f"), _f(p.get("mAP"), ".1f"), _f(p["action_agreement"], ".3f"),
                     _f(p["clips_identical_actions"], ".3f"), _f(p["prediction_agreement"], ".3f"),
                     _f(p["max_score_err"], ".2e"), _f(p["gmacs_per_frame"], ".4g"), _f(p["ms_per_frame"], ".3f")])
    lines += [md_table(hdr, rows), ""]
    if pt:
        lines += [f"Uniform baseline (biggest backbone every frame): {_f(pt.get('uniform_gmacs_per_frame'), '.4g')} "
                  f"GMACs/frame (multiply-accumulates). PyTorch action histogram: {pt.get('action_histogram')}.", ""]
    lines += ["## Targets", ""]
    hdr = ["check", "value", "target", "ok"]
    rows = [[c["what"], _f(c["value"], ".3g"), c["target"], "yes" if c["ok"] else "**NO**"]
            for c in v.get("checks", [])]
    lines += [md_table(hdr, rows), ""]
    notes = v.get("notes") or []
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
