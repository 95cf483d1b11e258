"""Each wrong number the engine once gave without an error, as a test, and the errors that used to
escape as raw numpy errors. (Index gradients: test_index_gradients.py; in-place writes:
test_versions.py; the random programs that found most of these: test_fuzz_torch.py.)"""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz.draw import PATH_COLOUR
from seed_graph import attention_step

SVG = "{http://www.w3.org/2000/svg}"


def scalar(value=0.0):
    return mg.Tensor(np.array(value), requires_grad=True)


# --- a 0-d tensor used three or more times -------------------------------------------------------
def test_a_0d_tensor_keeps_every_gradient_contribution():
    x = scalar()
    (x.sum() + x.sum() + x.sum()).backward()
    assert x.grad == 3.0 and isinstance(x.grad, np.ndarray)
    x = scalar(-1.0)
    (x + x * x).backward()
    assert x.grad == -1.0
    x = scalar()
    mg.stack([x, x, x]).sum().backward()
    assert x.grad == 3.0
    x = scalar(2.0)
    (x[()] + x * 3 + x[None].sum() + x).backward()  # slice gradients into a 0-d buffer
    assert x.grad == 6.0


def test_a_scalar_temperature_used_by_many_timesteps():
    temperature = scalar(2.0)
    logits = mg.Tensor(np.arange(6.0).reshape(3, 2))
    loss = sum(((logits[t] / temperature).exp()).sum() for t in range(3))
    loss.backward()
    expected = sum((-np.exp(row / 2.0) * row / 4.0).sum() for row in np.arange(6.0).reshape(3, 2))
    np.testing.assert_allclose(temperature.grad, expected)


# --- powers -------------------------------------------------------------------------------------
EDGES = [0.0, 1.0, -1.0, 0.5, 2.0, -2.5]


@pytest.mark.torch
@pytest.mark.parametrize("p", [0, 0.0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5])
def test_number_exponents_at_the_edges_of_their_domains_match_pytorch(p):
    import torch
    x = mg.Tensor(np.array(EDGES), requires_grad=True)
    (x ** p).sum().backward()
    t = torch.tensor(EDGES, dtype=torch.float64, requires_grad=True)
    (t ** p).sum().backward()
    np.testing.assert_allclose((x ** p).data, (t ** p).detach().numpy(), equal_nan=True)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), equal_nan=True)


def test_x_to_the_0_has_gradient_0_at_0():
    x = scalar(0.0)
    (x ** 0).backward()
    assert x.grad == 0.0


@pytest.mark.torch
def test_tensor_powers_match_pytorch_at_the_edges():
    import torch
    bases = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 0.5, 3.0])
    exponents = np.array([0.0, 1.0, 2.0, -1.0, 0.5, 3.0, -2.0])
    a, b = mg.Tensor(bases, requires_grad=True), mg.Tensor(exponents, requires_grad=True)
    (a ** b).sum().backward()
    ta = torch.tensor(bases, requires_grad=True)
    tb = torch.tensor(exponents, requires_grad=True)
    (ta ** tb).sum().backward()
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), equal_nan=True)
    x = mg.Tensor(exponents, requires_grad=True)
    (2.0 ** x).sum().backward()
    tx = torch.tensor(exponents, requires_grad=True)
    (2.0 ** tx).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())


def test_tensor_powers_pass_gradcheck_with_broadcasting():
    rng = np.random.default_rng(0)
    base = mg.Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    exponent = mg.Tensor(rng.uniform(-2.0, 2.0, (4,)), requires_grad=True)
    assert mg.gradcheck(lambda a, b: a ** b, [base, exponent])
    assert mg.gradcheck(lambda b: 2.0 ** b, [exponent])
    assert mg.gradcheck(lambda a: a ** np.array([1.0, 2.0, 0.5, 3.0]), [base])
    assert mg.gradcheck_function(mg.ops.TensorPow, rng.uniform(0.5, 2, (2, 3)), rng.uniform(-1, 1, (3,)))


def test_an_exponent_must_be_a_number_or_a_tensor():
    x = mg.Tensor([1.0, 2.0])
    for bad in ("2", None, [2]):
        with pytest.raises(mg.DTypeError, match=r"Pow: expected a number or a Tensor"):
            x ** bad
    with pytest.raises(mg.DTypeError, match="Pow"):
        "2" ** x


# --- sigmoid and log_softmax ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_keeps_relative_precision_for_both_signs(dtype):
    a = np.array([-745.0 if dtype == np.float64 else -100.0, -40.0, -36.0, -1.0, 0.0, 1.0, 36.0, 800.0])
    got = mg.sigmoid(mg.Tensor(a.astype(dtype))).data
    with np.errstate(over="ignore"):
        exact = np.where(a < 0, np.exp(np.minimum(a, 0)) / (1 + np.exp(np.minimum(a, 0))),
                         1 / (1 + np.exp(-np.maximum(a, 0))))
    tiny = np.finfo(dtype).tiny
    normal = exact.astype(dtype) > tiny
    np.testing.assert_allclose(got[normal], exact[normal], rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert got.dtype == dtype


def test_log_of_sigmoid_far_below_zero():
    x = scalar(-40.0)
    y = mg.sigmoid(x).log()
    y.backward()
    np.testing.assert_allclose(y.data, -40.0)
    np.testing.assert_allclose(x.grad, 1.0)


def test_log_softmax_backward_under_a_huge_upstream_gradient():
    m = mg.Tensor(np.array([-14.0, -22.0, -4.0, -9.0, 28.0]), requires_grad=True)
    (mg.cross_entropy(m, 4, axis=0).log() * -0.2).sum().backward()
    np.testing.assert_allclose(m.grad[4], 0.2000000000000013, rtol=1e-12)


# --- drawing never changes a gradient ------------------------------------------------------------
def _grads(graph):
    return {name: None if t.grad is None else t.grad.copy() for name, t in graph.items()}


def test_drawing_and_framing_leave_every_grad_as_it_was(tmp_path):
    graph = attention_step()
    graph["loss"].backward()
    before = _grads(graph)
    mg.draw(graph["loss"], highlight=(graph["alpha"],)).pipe(format="svg")
    mg.draw(graph["loss"], step=1).pipe(format="svg")
    paths = mg.backward_frames(graph["loss"], tmp_path)
    after = _grads(graph)
    assert before.keys() == after.keys()
    for name in before:
        if before[name] is None:
            assert after[name] is None, name
        else:
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    # the last frame shows one pass's gradients: those of a plain backward, not twice them
    fresh = attention_step()
    fresh["loss"].backward()
    framed, plain = node_texts(ET.parse(paths[-1]).getroot()), node_texts(ET.fromstring(
        mg.draw(fresh["loss"]).pipe(format="svg")))
    for name in ("a", "s<0>", "W_e", "b_e"):
        assert "grad" in framed[name] and framed[name] == plain[name], name


def node_texts(svg) -> dict:
    """{first line of a node: all its text} of a rendered SVG."""
    texts = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "node":
            lines = [(t.text or "").replace("\xa0", " ") for t in g.iter(f"{SVG}text")]
            texts[lines[0]] = "\n".join(lines)
    return texts


def test_backward_frames_draws_only_the_steps_asked_for(tmp_path):
    graph = attention_step()
    count = sum(1 for t in mg.topological_order(graph["loss"]) if t.grad_fn is not None)
    paths = mg.backward_frames(graph["loss"], tmp_path / "some", steps=range(0, count, 3))
    assert [p.rsplit("/", 1)[-1] for p in paths] == [f"step_{k:03d}.svg" for k in range(0, count, 3)]
    assert mg.backward_frames(graph["loss"], tmp_path / "none", steps=[]) == []
    with pytest.raises(ValueError, match=rf"steps 0..{count - 1}"):
        mg.backward_frames(graph["loss"], tmp_path / "bad", steps=[count])
    assert graph["loss"].grad is None and graph["a"].grad is None


# --- the highlight includes the op between two highlighted tensors -------------------------------
def test_highlight_colours_the_op_between_two_highlighted_tensors_and_its_edges():
    graph = attention_step()
    graph["loss"].backward()
    alpha, c = graph["alpha"], graph["c"]
    svg = ET.fromstring(mg.draw(graph["loss"], highlight=(alpha, c)).pipe(format="svg"))
    nodes = {g.find(f"{SVG}title").text: g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"}
    edges = {g.find(f"{SVG}title").text: g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"}

    def stroke(g):
        return {el.get("stroke") for el in g.iter() if el.get("stroke")}

    matmul, alpha_id, c_id = str(id(c.grad_fn)), str(id(alpha)), str(id(c))
    assert PATH_COLOUR in stroke(nodes[matmul])
    assert PATH_COLOUR in stroke(edges[f"{alpha_id}->{matmul}"])
    assert PATH_COLOUR in stroke(edges[f"{matmul}->{c_id}"])
    a_edge = f"{id(graph['a'])}->{matmul}"
    assert PATH_COLOUR not in stroke(edges[a_edge])  # a is not highlighted, nor on a path from one
    softmax = str(id(alpha.grad_fn))  # makes α from e: before every highlighted tensor
    assert PATH_COLOUR not in stroke(nodes[softmax])


# --- errors that escaped as raw numpy errors -----------------------------------------------------
@pytest.mark.parametrize("call, op", [
    (lambda: mg.split(mg.Tensor(np.ones((2, 3))), 2, axis=5), "split"),
    (lambda: mg.chunk(mg.Tensor(np.ones((2, 3))), 0), "chunk"),
    (lambda: mg.split(mg.Tensor(np.array(1.0)), 1), "split"),
    (lambda: mg.chunk(mg.Tensor(np.array(1.0)), 2), "chunk"),
    (lambda: mg.Tensor(np.array(1.0)).permute(0), "Transpose"),
    (lambda: mg.Tensor(np.zeros((0, 3))).max(axis=0), "Max"),
    (lambda: mg.Tensor(np.ones(1)).broadcast_to((10**9, 10**9)) * 2, "Mul"),
])
def test_user_mistakes_raise_op_errors_naming_the_op_and_the_line(call, op):
    with pytest.raises(mg.OpError) as error:
        call()
    message = str(error.value)
    assert message.startswith(op + ":") and "test_silent_wrong_answers.py:" in message


def test_backward_with_a_grad_that_is_not_numbers():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(mg.GradError, match=r"grad= must be numbers of shape \(2,\).*'ab'"):
        (x * 2).backward(grad="ab")


def test_max_over_a_non_empty_axis_of_an_empty_tensor_is_empty_as_in_numpy():
    x = mg.Tensor(np.zeros((0, 3)), requires_grad=True)
    y = x.max(axis=1)
    assert y.shape == (0,)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


# --- anomaly mode says where a NaN came from -----------------------------------------------------
def test_anomaly_says_the_op_made_the_nan_or_an_input_carried_it():
    with mg.detect_anomaly():
        with pytest.raises(mg.AnomalyError, match="Log .*NaN, made by the op itself"):
            mg.Tensor([-1.0], requires_grad=True).log()
        with pytest.raises(mg.AnomalyError, match="Mul .*NaN, which was already in input 0"):
            mg.Tensor([np.nan], requires_grad=True) * 2
        x = mg.Tensor([0.0], requires_grad=True)
        with pytest.raises(mg.AnomalyError, match=r"Pow.backward .*inf, made by the op itself"):
            (x ** 0.5).sum().backward()
    with mg.detect_anomaly():
        y = mg.Tensor([1.0], requires_grad=True)
        with pytest.raises(mg.AnomalyError, match="the gradient of its output"):
            (y * 2).sum().backward(grad=np.array(np.nan))
