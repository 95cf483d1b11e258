"""explore(): what the page records is one backward pass exactly as backward_steps runs it, the
user's gradients are left alone, and the file needs nothing from outside. (The page's behaviour in a
real browser: test_explore_browser.py.)"""
import json
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz.draw import summarise
from minigrad.viz.explore import GRID, SMALL
from seed_graph import attention_step



def page_data(html: str) -> dict:
    start = html.index('id="explorer-data">') + len('id="explorer-data">')
    text = html[start:html.index("</script>", start)]
    def no_constants(name):
        raise AssertionError(f"the page's JSON holds {name}, which browsers' JSON.parse rejects")
    return json.loads(text, parse_constant=no_constants)


def fresh_pass(loss):
    """{step index: {tensor: its .grad as backward_steps leaves it then}} from a pass started clean."""
    tensors = mg.topological_order(loss, all_inputs=True)
    for t in tensors:
        t.grad = None
    seen, filled = set(), {}
    for step in mg.backward_steps(loss):
        filled[step.index] = {t: np.array(t.grad) for t in tensors if t.grad is not None and t not in seen}
        seen |= set(filled[step.index])
    return tensors, filled


def test_the_page_records_each_step_as_backward_steps_runs_it():
    graph = attention_step()
    loss = graph["loss"]
    data = page_data(mg.explore(loss).html)
    tensors, filled = fresh_pass(loss)
    key = {t: f"t{i}" for i, t in enumerate(tensors)}
    assert [sorted(s["completed"]) for s in data["steps"]] == [sorted(key[t] for t in filled[k])
                                                              for k in sorted(filled)]
    by_key = {t["key"]: t for t in data["tensors"]}
    for k, done in filled.items():
        for t, grad in done.items():
            record = by_key[key[t]]
            assert record["gradStep"] == k and record["gradText"] == "grad " + summarise(grad)
            np.testing.assert_allclose(record["grad"]["values"], grad.reshape(-1), rtol=6e-4)
    functions = {f["key"]: f for f in data["functions"]}
    first = functions[data["steps"][0]["fn"]]
    assert first["output"] == key[loss] and first["op"] == "Sum"
    assert "∂c/∂a" in data["docs"]["Mul"]  # the derivative, from the op's docstring


def test_what_each_op_sent_is_recorded_per_input():
    graph = attention_step()
    loss, alpha, c = graph["loss"], graph["alpha"], graph["c"]
    data = page_data(mg.explore(loss).html)
    tensors = mg.topological_order(loss, all_inputs=True)
    key = {t: f"t{i}" for i, t in enumerate(tensors)}
    matmul = next(s for s in data["steps"]
                  if {f["key"]: f for f in data["functions"]}[s["fn"]]["output"] == key[c])
    expected = next(s for s in mg.backward_steps(loss) if s.output is c)
    sent_alpha, sent_a = matmul["sent"]
    assert sent_alpha == key[alpha]  # α's only use: what MatMul sent is α's whole gradient
    np.testing.assert_allclose(sent_a["values"], expected.grad_inputs[1].reshape(-1), rtol=6e-4)
    assert len(sent_a["values"]) == graph["a"].size  # a has two uses: its own array


def test_the_users_gradients_are_untouched():
    graph = attention_step()
    loss = graph["loss"]
    loss.backward()
    loss.backward()  # leaves now hold twice the gradient
    tensors = mg.topological_order(loss, all_inputs=True)
    before = {t: t.grad for t in tensors}
    copies = {t: None if t.grad is None else t.grad.copy() for t in tensors}
    data = page_data(mg.explore(loss).html)
    for t in tensors:
        assert t.grad is before[t]
        if copies[t] is not None:
            np.testing.assert_array_equal(t.grad, copies[t])
    w = next(r for r in data["tensors"] if r["name"] == "W_e")
    np.testing.assert_allclose(np.array(w["grad"]["values"]) * 2, graph["w"].grad.reshape(-1), rtol=6e-4)

    untouched = attention_step()
    mg.explore(untouched["loss"])
    assert all(t.grad is None for t in mg.topological_order(untouched["loss"], all_inputs=True))


def test_the_page_is_self_contained_and_the_same_every_time(tmp_path):
    first = mg.explore(attention_step()["loss"], path=tmp_path / "page.html")
    again = mg.explore(attention_step()["loss"])  # new objects, new ids: the same page
    html = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert html == first.html == again.html
    # the only addresses are the SVG namespaces' names, which nothing loads
    assert set(re.findall(r"https?://[^\s\"')]+", html)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert not re.search(r"<link\b|<img\b|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest", html)
    assert "default-src 'none'" in html  # and the browser refuses any load that slipped in
    assert html.count("<svg") == 1 and "<?xml" not in html


def test_in_jupyter_the_page_shows_in_its_own_frame():
    explorer = mg.explore(attention_step()["loss"])
    shown = explorer._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and "&lt;script" in shown and "<script" not in shown
    assert "9 backward steps" in repr(explorer)


def test_highlight_and_collapse_take_tensors_or_names_and_refuse_unknown_ones():
    graph = attention_step()
    data = page_data(mg.explore(graph["loss"], highlight=(graph["alpha"], "c<1>")).html)
    names = {t["key"]: t["name"] for t in data["tensors"]}
    assert [names[k] for k in data["highlight"]] == ["alpha<1,·>", "c<1>"]
    with pytest.raises(ValueError, match=r"highlight='alpha<9,·>'.*no tensor"):
        mg.explore(graph["loss"], highlight="alpha<9,·>")
    with pytest.raises(ValueError, match="not a tensor of this graph"):
        mg.explore(graph["loss"], highlight=(mg.Tensor([1.0]),))
    with pytest.raises(ValueError, match=r"scope\(s\) \['encodr'\].*'attention t=1'"):
        mg.explore(graph["loss"], collapse=("encodr",))
    with pytest.raises(TypeError, match=r"tuple of scope names"):
        mg.explore(graph["loss"], collapse="attention t=1")
    with pytest.raises(TypeError, match="not ndarray"):
        mg.explore(np.ones(3))
    collapsed = page_data(mg.explore(graph["loss"], collapse=("attention t=1",)).html)
    assert collapsed["laidOutCollapsed"] == ["attention t=1"]
    with pytest.warns(UserWarning, match="collapsed the scopes"):  # too big: draw collapses, the page knows
        fitted = page_data(mg.explore(graph["loss"], max_nodes=15).html)
    assert fitted["laidOutCollapsed"] == ["attention t=1"]


def test_large_and_non_finite_arrays_become_a_summary_and_a_grid():
    from minigrad.viz.explore import _array
    big = np.arange(40 * 30, dtype=np.float32).reshape(2, 20, 30)
    record = _array(big)
    assert "values" not in record and len(record["grid"]) == GRID and len(record["grid"][0]) == GRID
    assert record["min"] == 0 and record["max"] == 1199 and record["gridRows"][-1] == [38, 39]
    assert record["grid"][0][0] == pytest.approx(np.mean(big.reshape(40, 30)[0:3, 0:2]))
    small = _array(np.array([1.0, np.nan, -np.inf, 0.123456789]))
    assert small["values"] == [1.0, "nan", "-inf", 0.1235] and small["nonFinite"] == 2
    assert len(_array(np.zeros(SMALL))["values"]) == SMALL and "grid" in _array(np.zeros(SMALL + 1))
    json.dumps(small, allow_nan=False)


@pytest.mark.slow
def test_cli_explore_writes_the_decoder_step_page(tmp_path, capsys):
    from attention.__main__ import main
    model = tmp_path / "model"
    assert main(["train", "--task", "reverse", "--epochs", "1", "--train-size", "200", "--no-progress",
                 "--quiet", "--out", str(model)]) == 0
    out = tmp_path / "step2.html"
    assert main(["explore", "--model", str(model), "--step", "2", "--out", str(out), "12345678"]) == 0
    assert f"{out}:" in capsys.readouterr().out
    data = page_data(out.read_text(encoding="utf-8"))
    names = {t["key"]: t["name"] for t in data["tensors"]}
    assert [names[k] for k in data["highlight"]] == ["alpha<2,·>", "c<2>"]
    assert "encoder" in data["laidOutCollapsed"] and "decoder t=1" in data["laidOutCollapsed"]
    assert "decoder t=2" not in data["laidOutCollapsed"]
    assert "W s<1>" in names.values()  # the Bahdanau query is named
    assert main(["explore", "--model", str(model), "--step", "9", "--out", str(out), "1234"]) == 2
    assert "--step must be between 1 and Ty = 8" in capsys.readouterr().err
