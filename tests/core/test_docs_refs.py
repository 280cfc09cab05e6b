"""References to docs/RESULTS.md name its sections by heading, and those headings exist; its
sections are newest first.

Elsewhere in the repository a section is written ``docs/RESULTS.md, "<heading>"`` (a heading of any
level; backticks and emphasis do not count when comparing), inside RESULTS.md itself
``see "<heading>"``. A section number goes stale as soon as the order changes, so none may remain.
Every ``##`` section opens with ``Measured YYYY-MM-DD`` or ``Measured YYYY-MM-DD to YYYY-MM-DD``;
going down the file those (end) dates never increase.
"""

import os
import re
import subprocess
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "RESULTS.md"
SKIP_DIRS = {".git", "build", "node_modules", "data", "runs", "artifacts", "__pycache__"}

# docs/RESULTS.md, "<heading>" (also `docs/RESULTS.md`, "..." in markdown and \"...\" inside a string);
# the heading may wrap onto the next line of a comment or docstring
REF = re.compile(r'RESULTS\.md`?,\s*\\?"(?P<heading>[^"\\]{1,300})\\?"')
# inside RESULTS.md: (see "<heading>")
SEE = re.compile(r'\bsee\s+"(?P<heading>[^"]{1,300})"')
# a section number after the file's name: RESULTS §6, `docs/RESULTS.md` §2b, RESULTS.md, section 4
NUMBERED = re.compile(r"RESULTS(?:\.md)?`?,?\s*(?:§|sections?\s+\d)")
SECTION_SIGN = re.compile(r"§\s*\d")
MEASURED = re.compile(r"^Measured (\d{4}-\d{2}-\d{2})(?: to (\d{4}-\d{2}-\d{2}))?(?=[.;,:( ]|$)")


def normalise(heading: str) -> str:
    """A heading or a reference to it, as compared: without markdown code/emphasis marks and
    comment leaders where it wrapped, whitespace collapsed."""
    s = re.sub(r"\s*\n\s*(?:#+|//|\*|--)?\s*", " ", heading)
    s = s.replace("`", "").replace("**", "").replace("*", "")
    return " ".join(s.split())


def headings(text: str) -> list:
    """(level, heading text) of every markdown heading outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if m:
            out.append((len(m.group(1)), m.group(2)))
    return out


def section_dates(text: str) -> list:
    """(heading, first date, last date) of every ``##`` section, from the ``Measured`` line that
    must open it; None for the dates where that line is missing."""
    lines, out, fenced = text.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("## "):
            continue
        first = next((x for x in lines[i + 1:] if x.strip()), "")
        m = MEASURED.match(first)
        if m is None:
            out.append((line[3:], None, None))
        else:
            start = date.fromisoformat(m.group(1))
            out.append((line[3:], start, date.fromisoformat(m.group(2)) if m.group(2) else start))
    return out


def stale_references(text: str, is_results: bool = False) -> list:
    """Lines (1-based, text) that point into RESULTS.md by section number."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        if NUMBERED.search(line) or (is_results and SECTION_SIGN.search(line)):
            found.append((n, line.strip()))
    return found


def references(text: str, pattern=REF) -> list:
    """(line, heading as normalised) of every reference by name; ``<...>`` placeholders skipped."""
    out = []
    for m in pattern.finditer(text):
        h = normalise(m.group("heading"))
        if not (h.startswith("<") and h.endswith(">")):
            out.append((text.count("\n", 0, m.start()) + 1, h))
    return out


def tracked_text_files():
    """The repository's tracked files (git ls-files; a walk of the tree without git), text only;
    not this file, whose examples spell the patterns out."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                               timeout=60).stdout.decode().split("\0")
        paths = [ROOT / n for n in names if n]
    except (OSError, subprocess.SubprocessError):
        paths = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith(".venv")]
            paths += [Path(d) / f for f in files]
    for p in paths:
        if not p.is_file() or p.resolve() == Path(__file__).resolve():
            continue
        data = p.read_bytes()
        if b"\0" in data:
            continue
        try:
            yield p, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def _results_headings():
    return {normalise(h) for _, h in headings(RESULTS.read_text(encoding="utf-8"))}


def test_no_reference_to_a_results_section_number():
    stale = []
    for p, text in tracked_text_files():
        for n, line in stale_references(text, is_results=(p == RESULTS)):
            stale.append(f"{p.relative_to(ROOT)}:{n}: {line}")
    assert not stale, ("RESULTS.md sections are named by heading (docs/RESULTS.md, \"<heading>\"), "
                       "not by number:\n" + "\n".join(stale))


def test_every_referenced_heading_exists():
    known = _results_headings()
    missing, count = [], 0
    for p, text in tracked_text_files():
        refs = references(text) + (references(text, SEE) if p == RESULTS else [])
        count += len(refs)
        missing += [f"{p.relative_to(ROOT)}:{n}: \"{h}\"" for n, h in refs if h not in known]
    assert count > 0, "no reference to docs/RESULTS.md by heading found: is the pattern still right?"
    assert not missing, ("these name no heading of docs/RESULTS.md:\n" + "\n".join(missing)
                         + "\nheadings:\n" + "\n".join(sorted(known)))


def test_results_sections_are_dated_newest_first():
    dated = section_dates(RESULTS.read_text(encoding="utf-8"))
    assert len(dated) >= 2
    undated = [h for h, start, _ in dated if start is None]
    assert not undated, f"no 'Measured YYYY-MM-DD' line right under: {undated}"
    for h, start, end in dated:
        assert start <= end, f"{h}: its date range runs backwards ({start} to {end})"
    ends = [end for _, _, end in dated]
    out_of_order = [f"{a[0]} ({a[2]}) before {b[0]} ({b[2]})"
                    for a, b in zip(dated, dated[1:]) if b[2] > a[2]]
    assert ends == sorted(ends, reverse=True), "sections not newest first: " + "; ".join(out_of_order)


def test_the_checks_catch_what_they_are_for():
    """The patterns find numbered references, wrapped headings and sections out of order."""
    assert stale_references("see docs/RESULTS.md §2b)") and stale_references("(`docs/RESULTS.md` §2)")
    assert stale_references("as measured in RESULTS §6;") and stale_references("RESULTS.md, section 4")
    assert stale_references("between seeds (§2).", is_results=True)
    assert not stale_references('docs/RESULTS.md, "GPU: one H100"')
    assert references('x (docs/RESULTS.md, "Edge benchmark models (configs/edge.yaml,\n'
                      '    # configs/edge_fast.yaml)")') == \
        [(1, "Edge benchmark models (configs/edge.yaml, configs/edge_fast.yaml)")]
    assert references('f"see `docs/RESULTS.md`, \\"`make demo` over three seeds\\""') == \
        [(1, "make demo over three seeds")]
    assert references('`docs/RESULTS.md, "<heading>"`') == []
    text = ("# R\n\n## B\n\nMeasured 2026-11-25.\n\n```\n## not a heading\n```\n"
            "## A\n\nMeasured 2026-11-20 to 2026-12-07; reproduce: make x\n\n### A.1\n")
    assert [(h, str(e)) for h, _, e in section_dates(text)] == [("B", "2026-11-25"), ("A", "2026-12-07")]
    assert section_dates("## C\n\nText.\n") == [("C", None, None)]
    assert headings(text) == [(1, "R"), (2, "B"), (2, "A"), (3, "A.1")]
