"""The docs in docs/: their code runs, prints what they show, and draws the pictures they show.

How it works. One fixture runs `docs/make_figures.py --fast` into a temporary folder, once per
session: that runs every docs/*.md page (each in its own temporary working directory, through
docs/run_pages.py, which executes the ```python blocks in order in one namespace and compares
what each prints with the ```text block after it), collects the graphs the pages draw, and
trains the two heatmap models on a tiny budget (the committed heatmaps come from the full run,
minutes long). Each page is then one test, `test_page[NAME.md]`, which fails naming the page and
the line of the block that went wrong. New pages are picked up by the glob; the index links
two pages other people write (coursework.md, performance.md), which are tested as soon as they
exist. The only tolerances in comparing output are run_pages.py's: `…` in an expected line
matches anything within that line (timings), a decimal number matches one within 1e-5 of it
relatively or 1e-6 of its line's largest (float32 rounds its last bits otherwise on another CPU),
and paths into the checkout or the temporary directory print relative to them.

The rest checks the figures (they exist, are what make_figures.py produces, say what the pages
claim, and the committed graphs are up to date), that every Function the packages define has
its section on the derivatives page, and that the links between the README and the pages work.
"""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
sys.path.insert(0, str(DOCS))

import make_figures  # noqa: E402  (docs/ is not a package)
import run_pages  # noqa: E402
from minigrad.viz.draw import CURRENT_COLOUR, DONE_COLOUR, PATH_COLOUR  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
PAGES = [path.name for path in run_pages.pages()]
ORDER = ["quickstart.md", "engine.md", "derivatives.md", "seed.md", "training.md", "debugging.md",
         "coursework.md", "performance.md", "export.md"]
WRITTEN_ELSEWHERE = {"coursework.md", "performance.md"}  # linked before they exist


@pytest.mark.parametrize("expected, printed", [
    ("[[ 0.49813148 -0.55630857]", "[[ 0.4981315  -0.55630857]"),  # float32's last bits, numpy's padding
    ("sum        = 1.0", "sum        = 0.99999994"),
    ("[[0.5 1.5]", "[[0.5       1.5      ]"),  # a longer number elsewhere in the array pads every column
    ("[ 0.5 0. ]", "[5.000000e-01 1.192093e-07]"),  # a tiny value turns the array to exponents
    ("grad min -4.2e-09 max 7e-2", "grad min -4.2000001e-09 max 0.07"),
])
def test_a_number_may_differ_in_its_last_bits(expected, printed):
    assert run_pages.line_matches(expected, printed)


def test_an_array_that_wraps_otherwise_still_matches():
    assert run_pages.output_matches("[0.5 0.5 0.5\n 0.5]", "[0.49999997 0.5\n 0.5 0.5]")
    assert not run_pages.output_matches("[0.5 0.5 0.5\n 0.5]", "[0.4 0.5\n 0.5 0.5]")


@pytest.mark.parametrize("expected, printed", [
    ("loss 0.5", "loss 0.7"),
    ("lr 0.001", "lr 0.002"),                      # a short number is not a rounded one
    ("x = 0.49813148", "x = 0.4981"),              # more than 1e-5 relatively
    ("[1. 0. 0.]", "[0. 1. 0.]"),                  # numpy prints whole floats as '1.'
    ("x -0.1 y 0.5", "x 0.0 y 0.5"),
    ("Python 3.11", "Python 3.12"),
    ("exact 99.60%", "exact 99.61%"),
    ("1101 nodes", "1102 nodes"),                  # integers match exactly
    ("21th of august 2016 → 2016-08-22", "21th of august 2016 → 2016-08-20"),
    ("[[0.5 0.25]]", "[[0.5 0.25 0.25]]"),         # one number more
    ("mean 0.5 max 1.5", "mean 0.5 min 1.5"),      # the words around them
    ("sharpness 0.998", "sharpness 0.998 (unsure)"),
])
def test_anything_else_must_match_exactly(expected, printed):
    assert not run_pages.line_matches(expected, printed)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """make_figures.py --fast into a temporary folder: every page run once, every figure drawn
    (without matplotlib, the pages only: the heatmap tests skip). The graphs render with
    Graphviz's `dot` where it is on PATH and with graphviz-pure otherwise."""
    try:
        import matplotlib  # noqa: F401
        pages_only = False
    except ImportError:
        pages_only = True
    out = tmp_path_factory.mktemp("figures")
    result = make_figures.build(out, fast=True, pages_only=pages_only, log=lambda line: None)
    result["out"] = out
    return result


# --- the pages run and print what they show -------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_page(built, page):
    result = built["pages"][page]
    if not result.ok:
        pytest.fail("\n\n".join(result.problems) + "\n\nIf the new output is right, rewrite the "
                    f"page's text blocks with: python docs/run_pages.py --update docs/{page} "
                    "(and read the diff before committing it)", pytrace=False)


def test_every_python_block_ran(built):
    for page in PAGES:
        blocks = [b for b in run_pages.parse((DOCS / page).read_text(encoding="utf-8")) if b.lang == "python"]
        assert len(built["pages"][page].results) == len(blocks), page


def run_text(tmp_path, text: str) -> run_pages.PageResult:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return run_pages.run_page(page, tmp_path / "work")


def test_runner_reports_stale_output_with_the_page_and_line(tmp_path):
    result = run_text(tmp_path, "# t\n\n```python\nprint(1 + 1)\n```\n\n```text\n3\n```\n")
    assert not result.ok
    assert "page.md: the python block at line 3" in result.problems[0]
    assert "-3" in result.problems[0] and "+2" in result.problems[0]


def test_runner_wildcard_matches_within_one_line_only(tmp_path):
    ok = run_text(tmp_path, "```python\nprint('took 0.42 s')\n```\n```text\ntook … s\n```\n")
    assert ok.ok, ok.problems
    across = run_text(tmp_path, "```python\nprint('a')\nprint('b')\n```\n```text\n…\n```\n")
    assert not across.ok


def test_runner_wants_a_text_block_for_printed_output_and_none_without(tmp_path):
    silent = run_text(tmp_path, "```python\nprint('hidden')\n```\n")
    assert "prints output but no ```text block" in silent.problems[0]
    quiet = run_text(tmp_path, "```python\nx = 1\n```\n```text\n1\n```\n")
    assert "prints nothing" in quiet.problems[0]
    shown = run_text(tmp_path, "```python\nx = 1\n```\n\nprose\n\n```text\nnot output\n```\n")
    assert shown.ok, shown.problems  # a text block after prose is only shown


def test_runner_shares_a_namespace_and_reports_errors_at_page_lines(tmp_path):
    result = run_text(tmp_path, "```python\nx = 2\n```\n\n```python\ny = x +\n```\n")
    assert "page.md: the python block at line 5 raised" in result.problems[0]
    assert 'File "page.md", line 6' in result.problems[0]
    ok = run_text(tmp_path, "```python\nx = 2\n```\n\n```python\nprint(x * 3)\n```\n```text\n6\n```\n")
    assert ok.ok, ok.problems


def test_runner_update_rewrites_only_the_stale_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n```\n```text\n0\n```\n\n```python\nprint(2)\n```\n",
                    encoding="utf-8")
    assert run_pages.update(page, run_pages.run_page(page, tmp_path / "work"))
    assert page.read_text(encoding="utf-8") == ("```python\nprint(1)\n```\n```text\n1\n```\n\n"
                                                "```python\nprint(2)\n```\n\n```text\n2\n```\n")


# --- the derivatives page has a section for every op -----------------------------------------

def function_classes() -> dict:
    """Every Function subclass with its own forward that minigrad and attention define."""
    from minigrad.function import Function
    for package in ("minigrad", "attention"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    found, todo = {}, [Function]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            if cls.__module__.split(".")[0] in ("minigrad", "attention") and "forward" in vars(cls):
                found[cls.__name__] = cls
    return found


def sections(page: str) -> dict:
    """{heading text: the section's text} for the ### headings of a page."""
    parts = re.split(r"^### (.+)$", (DOCS / page).read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_op_has_a_section_quoting_its_docstring():
    ops = function_classes()
    assert {"Add", "MatMul", "Softmax", "BidirectionalLSTM", "BroadcastTo"} <= set(ops)
    documented = sections("derivatives.md")
    missing = sorted(set(ops) - set(documented))
    assert not missing, f"docs/derivatives.md has no '### NAME' section for {missing}"
    for name, cls in ops.items():
        blocks = run_pages.parse(documented[name])
        assert blocks and blocks[0].lang == "", f"### {name}: the section starts with its docstring in a ``` block"
        assert blocks[0].text.strip() == inspect.getdoc(cls).strip(), \
            f"### {name}: the quoted docstring differs from {cls.__module__}.{name}'s"
        assert any(b.lang == "python" for b in blocks), f"### {name}: no check"


# --- the figures --------------------------------------------------------------------------

def images(page: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((figures/[^)\s]+)\)", (DOCS / page).read_text(encoding="utf-8"))


def needs_trained(built) -> None:
    if built["trained"] is None:
        pytest.skip("matplotlib is not installed: make_figures.py drew the pages' graphs only")


def test_every_picture_shown_is_committed_and_made_by_the_script(built):
    needs_trained(built)
    shown = {image for page in PAGES for image in images(page)}
    assert shown, "no page shows a picture"
    unmade = set()  # what make_figures.py cannot make here
    if built["screenshots"] is None:  # no browser here: tests/test_explore_browser.py skips too
        unmade = {name.replace(".html", ".png") for name in make_figures.SCREENSHOTS}
    for image in sorted(shown):
        assert (DOCS / image).is_file(), f"{image} is shown but not committed"
        assert Path(image).name in unmade or (built["out"] / Path(image).relative_to("figures")).is_file(), \
            f"{image} is shown but make_figures.py does not make it"
    made = {str(p.relative_to(built["out"])) for p in built["out"].rglob("*") if p.is_file()}
    committed = {str(p.relative_to(FIGURES)) for p in FIGURES.rglob("*") if p.is_file()} - unmade
    assert committed == made, f"committed but not made: {sorted(committed - made)}; " \
                              f"made but not committed: {sorted(made - committed)}"


def svg_texts(path: Path) -> dict:
    """{first line of each node's text: (all its text, its strokes, its fills)}, and the edges' labels."""
    root = ET.parse(path).getroot()
    nodes, edges = {}, []
    for g in root.iter(f"{SVG}g"):
        text = "\n".join((t.text or "").replace("\xa0", " ") for t in g.iter(f"{SVG}text"))
        strokes = {el.get("stroke") for el in g.iter() if el.get("stroke")}
        fills = {el.get("fill") for el in g.iter() if el.get("fill")}
        if g.get("class") == "node":
            nodes.setdefault(text.split("\n")[0], []).append((text, strokes, fills))
        elif g.get("class") == "edge":
            edges.append((text, strokes))
    return {"nodes": nodes, "edges": edges}


@pytest.mark.parametrize("where", ["fresh", "committed"])
def test_seed_graphs_show_alpha_and_c_highlighted(built, where):
    folder = built["out"] if where == "fresh" else FIGURES
    graph = svg_texts(folder / "seed_graph.svg")
    for name in ("alpha<1,·>", "c<1>", "loss"):
        (text, strokes, _), = graph["nodes"][name]
        assert PATH_COLOUR in strokes, name
        assert "grad —" not in text, name
    (_, e_strokes, _), = graph["nodes"]["e<1,·>"]
    assert PATH_COLOUR not in e_strokes  # upstream of α: not on a path from α or c to the loss
    assert any(label.startswith("post-attention cell t=1") for label in graph["nodes"])
    assert any(label.startswith("decoder t=2") and "(collapsed)" in v[0][0] for label, v in graph["nodes"].items())
    assert any(text == "Σ axis 0" for text, _ in graph["edges"])  # s<0> repeated Tx times

    paused = svg_texts(folder / "seed_backward_c1.svg")
    current = [label for label, v in paused["nodes"].items() if CURRENT_COLOUR in v[0][2]]
    assert any(label.startswith("MatMul") for label in current)
    assert "grad —" in paused["nodes"]["alpha<1,·>"][0][0]  # not yet: its turn is the next step
    assert "grad —" not in paused["nodes"]["c<1>"][0][0]
    assert any(DONE_COLOUR in v[0][2] for label, v in paused["nodes"].items() if label.startswith("Mean"))


@pytest.mark.parametrize("where", ["fresh", "committed"])
def test_other_graphs_say_what_their_pages_claim(built, where):
    folder = built["out"] if where == "fresh" else FIGURES
    broadcast = svg_texts(folder / "engine_broadcast.svg")
    assert any(text == "Σ axis 0" for text, _ in broadcast["edges"])
    assert "grad [28., 28.]" in broadcast["nodes"]["bias"][0][0]
    topo = svg_texts(folder / "engine_topo.svg")
    assert "grad [13.]" in topo["nodes"]["u"][0][0] and "grad [26.]" in topo["nodes"]["p"][0][0]
    debugging = svg_texts(folder / "debugging_graph.svg")
    assert PATH_COLOUR in debugging["nodes"]["alpha<1,·>"][0][1]
    frame = svg_texts(folder / "frames" / "step_002.svg")
    assert any(label.startswith("MatMul") and CURRENT_COLOUR in v[0][2] for label, v in frame["nodes"].items())
    assert "grad —" in frame["nodes"]["alpha<1,·>"][0][0] and "grad —" not in frame["nodes"]["c<1>"][0][0]


@pytest.mark.parametrize("where", ["fresh", "committed"])
def test_the_decoder_step_graph_highlights_alpha_and_c(built, where):
    if where == "fresh":
        needs_trained(built)
    decoder = svg_texts((built["out"] if where == "fresh" else FIGURES) / "decoder_step_1.svg")
    for name in ("alpha<1,·>", "c<1>"):
        assert PATH_COLOUR in decoder["nodes"][name][0][1], name
    assert "encoder" in decoder["nodes"] and "decoder t=10" in decoder["nodes"]
    assert "alpha<2,·>" not in decoder["nodes"]


def graphviz_version(path: Path) -> str | None:
    found = re.search(r"Generated by graphviz version ([^\n]+)", path.read_text(encoding="utf-8"))
    return found and found.group(1).strip()


def test_committed_graphs_are_up_to_date(built):
    """The graphs the pages draw are deterministic: the committed ones must be what the pages
    draw now. (decoder_step_1.svg needs the fully trained model, so it is only checked for what
    it shows, above.) With another Graphviz version the layout may differ, so then only the
    text and colours of every node and edge are compared."""
    drawn = sorted(p for p in built["out"].rglob("*.svg") if p.name != "decoder_step_1.svg")
    assert len(drawn) >= 8
    stale = []
    for fresh in drawn:
        committed = FIGURES / fresh.relative_to(built["out"])
        if not committed.exists():
            same = False
        elif graphviz_version(fresh) == graphviz_version(committed):
            same = fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
        else:
            same = Counter(map(repr, svg_texts(fresh)["nodes"].items())) == \
                Counter(map(repr, svg_texts(committed)["nodes"].items()))
        if not same:
            stale.append(str(committed.relative_to(ROOT)))
    assert not stale, f"stale figures (run python docs/make_figures.py --pages): {stale}"


def test_heatmaps_exist_and_the_committed_ones_show_healthy_and_dead_attention(built):
    needs_trained(built)
    for name in ("heatmap_healthy.png", "heatmap_dead_relu.png"):
        for folder in (built["out"], FIGURES):
            assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", folder / name
    assert json.loads((built["out"] / "heatmaps.json").read_text(encoding="utf-8"))["fast"] is True
    record = json.loads((FIGURES / "heatmaps.json").read_text(encoding="utf-8"))
    assert record["fast"] is False, "commit the figures of the full run, not of --fast"
    healthy, dead = record["runs"]["healthy"], record["runs"]["dead_relu"]
    assert healthy["translation"] == "1979-05-03" and healthy["alpha_sharpness"] > 0.5
    assert healthy["epochs"][-1]["exact_match"] > 0.99
    assert np.allclose(dead["alpha"], 1 / 30, atol=1e-4)
    assert all(abs(epoch["sharpness"] - 1 / 30) < 0.1 / 30 for epoch in dead["epochs"])
    training = (DOCS / "training.md").read_text(encoding="utf-8")
    for run, name in ((healthy, "healthy"), (dead, "dead_relu")):
        assert run["command"] in training and f"heatmap_{name}.png" in training
        assert make_figures.RUNS[name]["command"] == run["command"]
    assert record["end"] == make_figures.END.isoformat() and "2025-01-01" in training


# --- links ------------------------------------------------------------------------------

def links(path: Path) -> list[str]:
    return re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", path.read_text(encoding="utf-8"))


def test_index_numbers_the_pages_in_the_issues_order():
    linked = [link for link in links(DOCS / "index.md") if link.endswith(".md")]
    assert linked[:len(ORDER)] == ORDER
    for number, page in enumerate(ORDER[:6], 1):
        if (DOCS / page).exists():
            assert (DOCS / page).read_text(encoding="utf-8").startswith(f"# {number}. ")


def test_the_site_navigation_lists_the_pages_in_order():
    nav = re.findall(r"^  - [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), flags=re.M)
    assert nav == ["index.md"] + ORDER


def test_every_relative_link_resolves():
    broken = []
    for path in [ROOT / "README.md"] + [DOCS / page for page in PAGES]:
        for link in links(path):
            if re.match(r"[a-z]+:", link) or link.startswith("#"):
                continue
            target, _, anchor = link.partition("#")
            resolved = (path.parent / target).resolve()
            if not resolved.exists():
                if resolved.name not in WRITTEN_ELSEWHERE or resolved.parent != DOCS:
                    broken.append(f"{path.name}: {link}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{path.name}: {link} (no such heading)")
    assert not broken, broken


def anchors(page: Path) -> set:
    """GitHub's anchors for the headings of a page."""
    result = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        result.add(slug)
    return result


def test_the_site_works_offline_and_leaves_the_scripts_out(tmp_path):
    """`mkdocs build`: code coloured at build time with a local stylesheet, no script or
    stylesheet fetched from the network, docs/*.py not copied, every figure a link to itself."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    site = tmp_path / "site"
    build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(site)))
    pages = {path.name: path.read_text(encoding="utf-8") for path in site.glob("*.html")}
    assert {"index.html", "engine.html", "seed.html"} <= set(pages)
    assert not list(site.rglob("*.py")), "the site copied docs/*.py"
    for name, html in pages.items():
        fetched = re.findall(r"<(?:script|link|img)\b[^>]*(?:src|href)=\"(https?://[^\"]+)", html)
        assert not fetched, f"{name} loads {fetched} from the network"
    assert 'href="css/code.css"' in pages["engine.html"] and (site / "css" / "code.css").is_file()
    assert '<span class="kn">import</span>' in pages["engine.html"]  # coloured by Pygments
    figures = re.findall(r'<a href="(figures/[^"]+)"><img [^>]*src="([^"]+)"', pages["engine.html"])
    assert figures and all(link == image for link, image in figures)


def test_the_readme_links_the_docs():
    readme = links(ROOT / "README.md")
    for page in ["index.md"] + ORDER:
        assert f"docs/{page}" in readme, f"README.md does not link docs/{page}"
