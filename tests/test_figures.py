"""The committed figures in docs/figures/ show the numbers the code draws now.

The graphs the pages draw are redrawn into a temporary folder (make_figures.py --pages) and
every committed SVG is compared with its fresh twin by what a reader sees: the text of every
node and edge (names, shapes, values, gradients, "Σ axis 0", "step 2"), ignoring layout
coordinates, node ids and tooltips (which name source lines), so a new Graphviz version or a
shifted docs line does not fail it. A figure whose numbers differ fails, naming the command that
regenerates it. decoder_step_1.svg and the heatmaps come from a fully trained model (minutes),
so test_docs.py checks only what they must show.

And a figure must agree with its neighbours: the last backward frame of the debugging page has
every gradient complete, so it shows exactly the gradients of that page's graph (frames once
showed them doubled, because drawing them ran a second backward).
"""
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
sys.path.insert(0, str(ROOT / "docs"))

import make_figures  # noqa: E402  (docs/ is not a package)

SVG = "{http://www.w3.org/2000/svg}"
REGENERATE = "python docs/make_figures.py --pages (or python docs/make_figures.py for every figure)"
TRAINED = {"decoder_step_1.svg"}

# The committed figures are drawn by the system `dot`: compared where it renders (.ci/run phase 2).
pytestmark = [pytest.mark.system_dot,
              pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    make_figures.build(out, pages_only=True, log=lambda line: None)
    return out


def shown(path: Path) -> dict:
    """{"nodes": Counter of node texts, "edges": Counter of edge labels} of an SVG."""
    texts = {"node": Counter(), "edge": Counter()}
    for g in ET.parse(path).getroot().iter(f"{SVG}g"):
        if g.get("class") in texts:
            text = "\n".join((t.text or "").replace("\xa0", " ") for t in g.iter(f"{SVG}text"))
            texts[g.get("class")][text] += 1
    return texts


def test_committed_figures_show_the_numbers_the_code_draws_now(fresh):
    drawn = sorted(p.relative_to(fresh) for p in fresh.rglob("*.svg"))
    assert len(drawn) >= 8 and Path("frames/step_000.svg") in drawn
    stale = []
    for name in drawn:
        committed = FIGURES / name
        if not committed.exists():
            stale.append(f"{name}: drawn by a page but not committed")
            continue
        now, then = shown(fresh / name), shown(committed)
        for kind in ("node", "edge"):
            if now[kind] != then[kind]:
                only_now = sorted((now[kind] - then[kind]).elements())[:2]
                only_then = sorted((then[kind] - now[kind]).elements())[:2]
                stale.append(f"{name}: {kind}s differ; the code draws {only_now}, the committed "
                             f"figure shows {only_then}")
    committed_svgs = {p.relative_to(FIGURES) for p in FIGURES.rglob("*.svg")}
    stale += [f"{name}: committed but no page draws it" for name in
              sorted(committed_svgs - set(drawn)) if name.name not in TRAINED]
    assert not stale, "stale figures; regenerate them with " + REGENERATE + ":\n" + "\n".join(stale)


@pytest.mark.parametrize("where", ["fresh", "committed"])
def test_the_last_backward_frame_shows_the_gradients_of_the_graph(fresh, where):
    folder = fresh if where == "fresh" else FIGURES
    frames = sorted((folder / "frames").glob("step_*.svg"))
    last, graph = shown(frames[-1])["node"], shown(folder / "debugging_graph.svg")["node"]
    tensors = [text for text in last if "\ngrad " in text]
    assert len(tensors) >= 4
    for text in tensors:
        assert text in graph, f"{frames[-1].name} shows {text!r}, which debugging_graph.svg does not " \
                              f"(regenerate with {REGENERATE})"
