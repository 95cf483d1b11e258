"""Drawing, rendered to SVG by each renderer (Graphviz's `dot` and graphviz-pure, see the
`renderer` fixture), parsed, and checked for what a person would see."""
import os
import re
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import minigrad as mg
from minigrad.viz import GraphvizNotInstalledError, UnsupportedFormatError
from minigrad.viz.draw import CURRENT_COLOUR, DONE_COLOUR, PATH_COLOUR, GraphTooLargeError
from seed_graph import attention_step, line_of

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(drawing) -> ET.Element:
    return ET.fromstring(drawing.pipe(format="svg"))


def groups(svg, kind):
    """{title: <g>} for every node / edge / cluster group of the SVG."""
    return {g.find(f"{SVG}title").text: g for g in svg.iter(f"{SVG}g") if g.get("class") == kind}


def texts(group) -> str:
    """The visible text of a group, one line per <text>, with dot's non-breaking spaces as spaces."""
    return "\n".join((t.text or "").replace("\xa0", " ") for t in group.iter(f"{SVG}text"))


def strokes(group) -> set:
    return {el.get("stroke") for el in group.iter() if el.get("stroke")}


def fills(group) -> set:
    return {el.get("fill") for el in group.iter() if el.get("fill")}


def frame(cluster):
    """(xmin, ymin, xmax, ymax) of a cluster's frame (a rounded frame is drawn as a path)."""
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", cluster.find(f"{SVG}path").get("d"))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def inside(node, box) -> bool:
    """True if every line of the node's text is drawn within the box."""
    return all(box[0] <= float(t.get("x")) <= box[2] and box[1] <= float(t.get("y")) <= box[3]
               for t in node.iter(f"{SVG}text"))


@pytest.fixture
def step():
    graph = attention_step()
    graph["loss"].backward()
    return graph


def test_nodes_show_seed_names_shapes_values_and_grads(step, renderer):
    nodes = groups(svg_of(mg.draw(step["loss"])), "node")
    labels = {texts(g) for g in nodes.values()}
    alpha = next(label for label in labels if label.startswith("alpha<1,·>"))
    assert "(1, 4) float64" in alpha
    assert "data [[" in alpha and "grad [[" in alpha  # 4 elements: every value shown
    np.testing.assert_allclose(step["alpha"].data.sum(), 1.0)
    assert any(label.startswith("c<1>") for label in labels)
    assert any(label.startswith("s<0>") for label in labels)
    assert {"Softmax", "MatMul", "Concat"} <= labels  # op nodes show the Function's name


def test_large_tensors_show_min_mean_max(renderer):
    x = mg.Tensor(np.arange(20.0), requires_grad=True, name="big")
    nodes = groups(svg_of(mg.draw((x * 2).sum())), "node")
    big = next(texts(g) for g in nodes.values() if texts(g).startswith("big"))
    assert "min 0  mean 9.5  max 19" in big


def test_a_mean_below_the_values_precision_shows_as_zero():
    """Softmax's input gradient sums to zero: its float32 mean is rounding noise (-4.2e-11 on one
    CPU, something else on the next), so the node shows 0, and a mean the values can tell shows."""
    from minigrad.viz.draw import shown_mean, summarise
    e = mg.Tensor(np.random.default_rng(0).standard_normal((4, 30)).astype(np.float32), requires_grad=True)
    (mg.softmax(e, axis=-1) * mg.Tensor(np.arange(120, dtype=np.float32).reshape(4, 30))).sum().backward()
    assert abs(e.grad.mean()) < 1e-6 and shown_mean(e.grad) == 0.0 and "  mean 0  " in summarise(e.grad)
    thirds = np.array([0.1, 0.2, -0.3], dtype=np.float32)  # float32's 0.1 + 0.2 - 0.3 is 1.5e-9, not 0
    assert np.mean(thirds, dtype=np.float64) != 0 and shown_mean(thirds) == 0.0
    small = np.full(100, 1e-3, dtype=np.float32)
    small[0] = 1.0  # the mean, 0.011, is far above float32's precision at 1
    assert shown_mean(small) == pytest.approx(0.01099, rel=1e-3)
    tiny = np.full(100, 1e-30, dtype=np.float32)  # small values are not noise: the precision is relative
    assert shown_mean(tiny) == pytest.approx(1e-30, rel=1e-5)
    half = np.zeros(2000, dtype=np.float16)
    half[0], half[1] = 1, -0.5  # float16's eps is 1e-3, but the mean 2.5e-4 is well above its sum's rounding
    assert shown_mean(half) == pytest.approx(2.5e-4)
    assert np.isnan(shown_mean(np.array([1.0, np.nan], dtype=np.float32)))
    assert shown_mean(np.array([np.inf, 1.0])) == np.inf
    assert shown_mean(np.arange(4)) == 1.5  # integers have no rounding to hide
    # the explorer's summary, computed in float64, reads the precision of the values' own dtype
    from minigrad.viz.explore import _array
    assert _array(np.tile(thirds, 30))["mean"] == 0.0 and shown_mean(thirds.astype(np.float64)) != 0.0


def test_tooltip_is_the_source_line(step, renderer):
    svg = svg_of(mg.draw(step["loss"]))
    alpha = next(g for g in groups(svg, "node").values() if texts(g).startswith("alpha<1,·>"))
    tooltip = alpha.find(f".//{SVG}a").get("{http://www.w3.org/1999/xlink}title")
    assert tooltip.endswith(f"seed_graph.py:{line_of('alpha = ')}")


def test_broadcast_edge_says_sigma_axis(step, renderer):
    edges = groups(svg_of(mg.draw(step["loss"])), "edge")
    labelled = [texts(g) for g in edges.values() if "Σ" in texts(g)]
    assert "Σ axis 0" in labelled  # s<0> (1, 2) was repeated over the Tx rows


def test_highlight_colours_the_path_from_alpha_to_loss(step, renderer):
    drawing = mg.draw(step["loss"], highlight=(step["alpha"],))
    svg = svg_of(drawing)
    nodes = groups(svg, "node")
    by_label = {texts(g).split("\n")[0]: g for g in nodes.values()}
    for name in ("alpha<1,·>", "c<1>", "loss"):
        assert PATH_COLOUR in strokes(by_label[name]), name
    for name in ("e<1,·>", "a", "s<0>"):  # upstream of alpha: not on the path to the loss
        assert PATH_COLOUR not in strokes(by_label[name]), name
    red_edges = [g for g in groups(svg, "edge").values() if PATH_COLOUR in strokes(g)]
    assert len(red_edges) == 6  # alpha→MatMul→c→Mul→t→Sum→loss


def test_scopes_become_clusters_and_collapse_into_one_box(step, renderer):
    svg = svg_of(mg.draw(step["loss"]))
    box = frame(groups(svg, "cluster")["cluster_attention t=1"])
    nodes = {texts(g).split("\n")[0]: g for g in groups(svg, "node").values()}
    assert inside(nodes["alpha<1,·>"], box)  # made inside the scope: drawn inside
    assert not inside(nodes["loss"], box)  # made after it: outside

    collapsed = svg_of(mg.draw(step["loss"], collapse=("attention t=1",)))
    labels = [texts(g) for g in groups(collapsed, "node").values()]
    box = [label for label in labels if label.startswith("attention t=1")]
    assert box and "(collapsed)" in box[0]
    assert not any(label.startswith("alpha<1,·>") for label in labels)
    assert any(label.startswith("loss") for label in labels) and any(label.startswith("a\n") for label in labels)


def test_a_collapsed_scope_draws_the_tensors_it_hands_out_beside_its_box(renderer):
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(0)
    model = Seq2SeqAttention(ModelConfig(input_vocab=7, output_vocab=5, Tx=4, Ty=2, n_a=2, n_s=3,
                                         score="bahdanau"))
    logits, _ = model(np.zeros((1, 4), dtype=int))
    loss = mg.cross_entropy(logits, np.zeros((1, 2), dtype=int)).named("loss")
    svg = svg_of(mg.draw(loss, collapse=("encoder", "decoder t=1"), show_data=False))
    nodes = {texts(g).split("\n")[0]: g for g in groups(svg, "node").values()}
    titles = {texts(g).split("\n")[0]: g.find(f"{SVG}title").text for g in groups(svg, "node").values()}
    edges = set(groups(svg, "edge"))
    for name, box in (("a", "scope_encoder"), ("s<1>", "scope_decoder t=1"), ("logits<1>", "scope_decoder t=1")):
        assert name in nodes, name  # handed out: its own node, named
        assert f"{box}->{titles[name]}" in edges, name  # the box makes it
    assert "a<1>" not in nodes and "alpha<1,·>" not in nodes  # used only inside: stays in the box
    assert f"{titles['a']}->scope_decoder t=1" in edges  # the decoder step reads a
    assert not any(e.startswith(titles["s<1>"]) and e.endswith("scope_decoder t=1") for e in edges)


def test_max_nodes_collapses_scopes_with_a_warning_or_refuses(step):
    with pytest.warns(UserWarning, match="collapsed the scopes"):
        source = mg.draw(step["loss"], max_nodes=15).source
    assert "(collapsed)" in source
    with pytest.raises(GraphTooLargeError, match="max_nodes=3"):
        mg.draw(step["loss"], max_nodes=3)


def test_step_view_shades_done_ops_and_hides_unfinished_grads(step, renderer):
    svg = svg_of(mg.draw(step["loss"], step=1))
    nodes = {texts(g).split("\n")[0]: g for g in groups(svg, "node").values()}
    assert DONE_COLOUR in fills(nodes["Sum"])  # step 0
    assert CURRENT_COLOUR in fills(nodes["Mul"])  # step 1
    assert "grad —" in texts(nodes["alpha<1,·>"])  # not reached yet after step 1
    assert "grad —" in texts(nodes["c<1>"])  # its grad is stored at its own step, 2
    squared = next(g for label, g in nodes.items() if label.startswith("(1, 3)") and "grad [[" in texts(g))
    assert "grad [[1., 1., 1.]]" in texts(squared)  # c*c feeds Sum: its grad is all ones


def test_without_dot_on_path_drawings_render_with_graphviz_pure(step, monkeypatch, tmp_path):
    monkeypatch.delenv("MINIGRAD_RENDERER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    assert mg.viz.which_renderer()[0] == "graphviz-pure"  # found beside this Python, not on PATH
    drawing = mg.draw(step["loss"])
    nodes = groups(svg_of(drawing), "node")
    assert any(texts(g).startswith("alpha<1,·>") for g in nodes.values())
    written = drawing.render(str(tmp_path / "g"), format="svg", cleanup=True)
    assert written == str(tmp_path / "g.svg") and ET.parse(written).getroot().tag == f"{SVG}svg"
    assert not (tmp_path / "g").exists()  # cleanup removed the DOT source, as with dot


def test_render_keeps_graphvizs_api_on_both_renderers(step, renderer, tmp_path):
    drawing = mg.draw(step["loss"])
    assert drawing.render(outfile=tmp_path / "out.svg") == str(tmp_path / "out.svg")
    assert (tmp_path / "out.gv").read_text(encoding="utf-8") == drawing.source
    assert drawing.render("g", directory=tmp_path, format="svg") == os.path.join(str(tmp_path), "g.svg")
    with pytest.raises(graphviz.FileExistsError):
        drawing.render(outfile=tmp_path / "out.svg", raise_if_result_exists=True)
    text = drawing.pipe(format="svg", encoding="utf-8")
    assert isinstance(text, str) and text.lstrip().startswith("<?xml")
    png = drawing.pipe(format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"  # both write PNG


def test_jupyter_shows_the_drawing_inline_on_both_renderers(step, renderer):
    drawing = mg.draw(step["loss"], highlight=(step["alpha"],))
    bundle = drawing._repr_mimebundle_()  # what Jupyter calls to display a cell's value
    svg = ET.fromstring(bundle["image/svg+xml"])
    labels = [texts(g) for g in groups(svg, "node").values()]
    assert any(label.startswith("alpha<1,·>") for label in labels)
    assert drawing._repr_svg_() == bundle["image/svg+xml"]


def test_a_format_graphviz_pure_cannot_write_says_what_works(step, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGRAD_RENDERER", "graphviz-pure")
    drawing = mg.draw(step["loss"])
    with pytest.raises(UnsupportedFormatError, match=r"format 'pdf' needs Graphviz's `dot`.*svg.*"
                                                     r"png.*apt-get install graphviz") as error:
        drawing.pipe(format="pdf")
    assert isinstance(error.value, GraphvizNotInstalledError)  # one handler covers both
    with pytest.raises(UnsupportedFormatError, match="'ps'"):
        drawing.render(str(tmp_path / "g"), format="ps")


def test_with_no_renderer_the_source_remains_and_the_error_says_how_to_install(step, monkeypatch):
    monkeypatch.delenv("MINIGRAD_RENDERER", raising=False)
    monkeypatch.setattr(mg.viz.render.shutil, "which", lambda *args, **kwargs: None)
    drawing = mg.draw(step["loss"])
    assert "alpha<1,·>" in drawing.source
    with pytest.raises(GraphvizNotInstalledError, match=r"pip install graphviz-pure.*apt-get install graphviz"):
        drawing.pipe(format="svg")


def test_forcing_a_renderer_that_is_missing_or_unknown_is_a_clear_error(step, monkeypatch, tmp_path):
    drawing = mg.draw(step["loss"])
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MINIGRAD_RENDERER", "dot")
    with pytest.raises(GraphvizNotInstalledError, match="MINIGRAD_RENDERER=dot, but Graphviz's `dot` is not on PATH"):
        drawing.pipe(format="svg")
    monkeypatch.setenv("MINIGRAD_RENDERER", "cairo")
    with pytest.raises(ValueError, match="MINIGRAD_RENDERER='cairo': use 'dot' or 'graphviz-pure'"):
        drawing.pipe(format="svg")


def test_backward_frames_writes_one_svg_per_step(tmp_path, renderer):
    graph = attention_step()
    functions = sum(1 for t in mg.topological_order(graph["loss"]) if t.grad_fn is not None)
    paths = mg.backward_frames(graph["loss"], tmp_path / "frames")
    assert len(paths) == functions
    assert [os.path.basename(p) for p in paths[:2]] == ["step_000.svg", "step_001.svg"]
    last = ET.parse(paths[-1]).getroot()
    assert CURRENT_COLOUR in {el.get("fill") for el in last.iter() if el.get("fill")}
    assert graph["a"].grad is None  # drawing leaves the gradients as they were: none yet


def test_a_step_is_drawn_from_the_record_backward_steps_yields(step):
    """draw(step=record) draws what draw(step=record.index) draws; a record of another graph's
    backward is refused rather than drawn against the wrong steps."""
    records = list(mg.backward_steps(step["loss"]))
    assert mg.draw(step["loss"], step=records[3]).source == mg.draw(step["loss"], step=3).source
    other = attention_step()
    foreign = next(iter(mg.backward_steps(other["loss"])))
    with pytest.raises(ValueError, match="another graph"):
        mg.draw(step["loss"], step=foreign)


def test_draw_rejects_a_step_out_of_range(step):
    with pytest.raises(ValueError, match="steps 0.."):
        mg.draw(step["loss"], step=999)


def test_draw_needs_a_root():
    with pytest.raises(ValueError):
        mg.draw()


def test_layout_auto_draws_chains_top_to_bottom_and_wide_graphs_left_to_right(step):
    assert "rankdir=TB" in mg.draw(step["loss"]).source  # a chain: longer than wide
    leaves = [mg.Tensor([float(k)], requires_grad=True, name=f"x{k}") for k in range(8)]
    wide = mg.concat(leaves).sum()  # eight leaves side by side, three ranks deep
    assert "rankdir=LR" in mg.draw(wide).source
    source = mg.draw(step["loss"], layout="LR").source
    assert "rankdir=LR" in source and "cluster_legend" in source
    with pytest.raises(ValueError, match=r"draw\(layout='sideways'\): use one of 'auto', 'TB'"):
        mg.draw(step["loss"], layout="sideways")


def test_a_weight_shared_by_many_ops_is_drawn_beside_each_use():
    w = mg.Tensor([2.0], requires_grad=True, name="w")
    h = mg.Tensor([1.0])
    for _ in range(10):
        h = h * w
    source = mg.draw(h).source
    assert source.count("(use ") == 10 and "(use 10 of 10)" in source
    few = mg.Tensor([1.0])
    for _ in range(3):
        few = few * w
    assert "(use " not in mg.draw(few).source  # a few uses keep one node
