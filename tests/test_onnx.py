"""minigrad.onnx.export: ONNX Runtime computes what minigrad computes, op by op and for the date models."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'minigrad[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'minigrad[onnx]')")

import minigrad as mg  # noqa: E402
from minigrad import ops  # noqa: E402
from minigrad.function import Function  # noqa: E402
from minigrad.nn import Embedding, Linear, Module  # noqa: E402
from minigrad.onnx import CONVERTERS, ExportError, export  # noqa: E402

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
rng = np.random.default_rng(0)


def positive(x):
    return x * x + 0.5


# Each case: the inputs (per input its shape without the batch axis, or ("index"/"target", classes,
# shape) for integers) and the function, or a function of the dtype making the Module to export.
# Every primitive Function of minigrad.ops appears in at least one (test_every_primitive_has_a_case).
CASES = {
    "Add": ([(4, 5)], lambda x: x + 1.5),
    "Add broadcast": ([(4, 5), (4, 1)], lambda x, y: x + y),
    "Sub": ([(4, 5), (4, 5)], lambda x, y: 1 - x - y),
    "Mul": ([(4, 5), (1, 5)], lambda x, y: x * y),
    "Div": ([(4, 5), (4, 5)], lambda x, y: x / positive(y)),
    "Neg": ([(4, 5)], lambda x: -x),
    "Pow": ([(4, 5)], lambda x: positive(x) ** 1.5),
    "Pow square": ([(4, 5)], lambda x: x ** 2),
    "TensorPow": ([(4, 5), (4, 5)], lambda x, y: positive(x) ** y),
    "TensorPow of a constant base": ([(4, 5)], lambda x: 2.0 ** x),
    "Exp": ([(4, 5)], lambda x: x.exp()),
    "Log": ([(4, 5)], lambda x: positive(x).log()),
    "Tanh": ([(4, 5)], lambda x: x.tanh()),
    "Sigmoid": ([(4, 5)], lambda x: (3 * x).sigmoid()),
    "ReLU": ([(4, 5)], lambda x: x.relu()),
    "Sum": ([(4, 5)], lambda x: x.sum(axis=1)),
    "Sum all but batch, kept": ([(4, 5)], lambda x: x.sum(axis=(1, 2), keepdims=True)),
    "Sum of nothing": ([(4, 5)], lambda x: x.sum(axis=())),
    "Mean": ([(4, 5)], lambda x: x.mean(axis=-1)),
    "Max": ([(4, 5)], lambda x: x.max(axis=1, keepdims=True)),
    "Reshape": ([(4, 5)], lambda x: x.reshape(x.shape[0], 20)),
    "Reshape rows": ([(4, 5)], lambda x: x.reshape(-1, 5) * 2),
    "BroadcastTo": ([(4, 5)], lambda x: x.reshape(x.shape[0], 1, 4, 5).broadcast_to(x.shape[0], 3, 4, 5)),
    "Transpose": ([(4, 5)], lambda x: x.permute(2, 0, 1)),
    "Transpose T": ([(4, 5)], lambda x: x.T),
    "GetItem int": ([(4, 5)], lambda x: x[:, 1]),
    "GetItem slices": ([(4, 5)], lambda x: x[:, 1:3, ::-2]),
    "GetItem negative and new axis": ([(4, 5)], lambda x: x[..., None, -1]),
    "GetItem array": ([(4, 5)], lambda x: x[:, [0, 2, 2]]),
    "GetItem two arrays": ([(4, 5)], lambda x: x[:, [0, 1, 3], [2, 3, 4]]),
    "GetItem int beside an array": ([(4, 5)], lambda x: x[:, 0, [1, 3]]),
    "GetItem arrays apart": ([(4, 5, 3)], lambda x: x[:, [0, 1], :, [2, 0]]),
    "GetItem mask": ([(4, 5)], lambda x: x[:, np.array([True, False, True, True])]),
    "GetItem rows": ([(4, 5)], lambda x: x[[0, 0, 1]]),
    "Gather (cross_entropy)": ([(4, 5), ("target", 5, (4,))], lambda x, t: mg.cross_entropy(x, t, reduction="none")),
    "cross_entropy mean": ([(4, 5), ("target", 5, (4,))], lambda x, t: mg.cross_entropy(x, t)),
    "Concat": ([(4, 5), (4, 2)], lambda x, y: mg.concat([x, y], axis=-1)),
    "Stack": ([(4, 5), (4, 5)], lambda x, y: mg.stack([x, y], axis=1)),
    "split": ([(6, 5)], lambda x: mg.chunk(x, 3, axis=1)),
    "MatMul batch @ matrix": ([(4, 5), (5, 3)], lambda x, w: x[:, :, :] @ w[0]),
    "MatMul batched": ([(4, 5), (4, 5)], lambda x, y: x @ y.transpose()),
    "MatMul vector": ([(5,), (5, 3)], lambda x, w: x[0] @ w[0]),
    "MatMul matrix @ vector": ([(4, 5), (5,)], lambda x, v: x @ v[0]),
    "Gemm": ([(5,)], lambda dtype: Linear(5, 3, dtype=dtype)),
    "Softmax": ([(4, 5)], lambda x: mg.softmax(x, axis=1)),
    "LogSoftmax": ([(4, 5)], lambda x: mg.log_softmax(x, axis=-1)),
    "Embedding": ([("index", 7, (6,))], lambda dtype: Embedding(7, 3, dtype=dtype)),
}


def example(specs, batch, dtype, generator):
    arrays = []
    for spec in specs:
        if spec[0] in ("index", "target"):
            arrays.append(generator.integers(0, spec[1], (batch,) + spec[2]))
        else:
            arrays.append(generator.standard_normal((batch,) + spec).astype(dtype))
    return arrays


def minigrad_outputs(fn, arrays):
    with mg.no_grad():
        result = fn(*[mg.Tensor(a, dtype=a.dtype) if a.dtype.kind == "f" else a for a in arrays])
    return [t.data for t in (result if isinstance(result, (list, tuple)) else [result])]


def run(path, arrays):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_onnx_runtime_computes_what_minigrad_computes(case, dtype, tmp_path):
    specs, fn = CASES[case]
    if fn.__code__.co_varnames[:1] == ("dtype",):
        fn = fn(dtype)
    generator = np.random.default_rng(1)
    export(fn, example(specs, 3, dtype, generator), tmp_path / "m.onnx")
    other = example(specs, 5, dtype, generator)  # another batch size, other values
    got, want = run(tmp_path / "m.onnx", other), minigrad_outputs(fn, other)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_every_primitive_has_a_case():
    primitives = {name for name in ops.__all__ if issubclass(getattr(ops, name), Function)}
    covered = {case.split(" ")[0] for case in CASES}
    assert primitives <= set(CONVERTERS), primitives - set(CONVERTERS)
    assert primitives <= covered, primitives - covered


def test_a_static_batch_keeps_the_example_shape(tmp_path):
    model = export(lambda x: x.sum(axis=1), np.ones((2, 3), np.float32), tmp_path / "m.onnx",
                   dynamic_batch=False, input_names=["x"], output_names=["total"])
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [2, 3]
    assert [o.name for o in model.graph.output] == ["total"]


def test_tensor_inputs_keep_their_names_and_integer_tensors_are_indices(tmp_path):
    table = Embedding(5, 2)
    x = mg.Tensor(np.ones((2, 2), np.float32), name="x")
    tokens = mg.Tensor(np.array([[1, 4], [0, 0]]), name="tokens")
    model = export(lambda x, tokens: table(tokens) * x.reshape(2, 2, 1), (x, tokens), tmp_path / "m.onnx",
                   dynamic_batch=False)
    assert [i.name for i in model.graph.input] == ["x", "tokens"]
    feeds = [np.full((2, 2), 3, np.float32), np.array([[2, 2], [3, 1]])]
    with mg.no_grad():
        want = table(feeds[1]).data * 3
    np.testing.assert_allclose(run(tmp_path / "m.onnx", feeds)[0], want, rtol=1e-6)


# --- names, errors, validation -----------------------------------------------------------------

class Tiny(Module):
    def __init__(self):
        super().__init__()
        self.hidden = Linear(4, 3)

    def forward(self, x):
        return self.hidden(x).tanh().named("h<1>").sum(axis=-1)


def test_parameters_are_initializers_named_by_module_path_and_tensors_keep_their_names(tmp_path):
    model = export(Tiny(), np.ones((2, 4), np.float32), tmp_path / "m.onnx")
    assert {"hidden.weight", "hidden.bias"} <= {i.name for i in model.graph.initializer}
    assert "h<1>" in {v for node in model.graph.node for v in node.output}
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Tanh", "ReduceSum"]
    assert all("test_onnx.py:" in node.doc_string for node in model.graph.node)  # the user's lines


class Cube(Function):
    def forward(self, a):
        return a ** 3


def test_an_op_without_mapping_is_named_with_the_users_line(tmp_path):
    def cubed(x):
        return Cube.apply(x) + 1
    with pytest.raises(ExportError) as error:
        export(cubed, np.ones((2, 3), np.float32), tmp_path / "m.onnx")
    message = str(error.value)
    assert "Cube has no ONNX mapping" in message and "shape (2, 3) float32" in message
    assert f"test_onnx.py:{cubed.__code__.co_firstlineno + 1}" in message
    assert "to_onnx" in message and not (tmp_path / "m.onnx").exists()


def test_a_function_of_ones_own_can_give_its_onnx_form(tmp_path):
    class Cubed(Cube):
        def to_onnx(self, graph, inputs):
            return graph.op("Pow", inputs[0], graph.constant(np.float32(3)))
    export(lambda x: Cubed.apply(x), np.full((2, 3), 2, np.float32), tmp_path / "m.onnx")
    np.testing.assert_allclose(run(tmp_path / "m.onnx", [np.full((4, 3), 3, np.float32)])[0], 27)


def test_a_detached_value_is_refused_not_baked_in(tmp_path):
    with pytest.raises(ExportError, match="made outside the graph"):
        export(lambda x: mg.composed_softmax(x), rng.standard_normal((3, 4)).astype(np.float32),
               tmp_path / "m.onnx")


def test_value_dependent_control_flow_is_refused(tmp_path):
    def loop(x):
        for _ in range(int(x.data.max())):
            x = x * 2
        return x
    with pytest.raises(ExportError, match="control flow that reads tensor values"):
        export(loop, np.array([[3.0, 0.0]], np.float32), tmp_path / "m.onnx")

    def rows(x):
        return mg.stack([x[i] * i for i in range(len(x))])
    with pytest.raises(ExportError, match="dynamic_batch=False"):
        export(rows, np.ones((2, 3), np.float32), tmp_path / "m.onnx")
    export(rows, np.ones((2, 3), np.float32), tmp_path / "m.onnx", dynamic_batch=False)


def test_a_mismatch_with_onnx_runtime_is_an_error_naming_where_it_starts_and_no_file(tmp_path, monkeypatch):
    import minigrad.onnx as mg_onnx
    monkeypatch.setitem(mg_onnx.CONVERTERS, "Exp", mg_onnx._same("Tanh"))  # a wrong mapping
    def scaled(x):
        return (x.tanh().exp().named("e") * 2).sum(axis=1)
    with pytest.raises(ExportError) as error:
        export(scaled, np.ones((2, 3), np.float32), tmp_path / "m.onnx", output_names=["total"])
    message = str(error.value)
    assert "ONNX Runtime's output 'total' differs from minigrad's (the example inputs, batch size 2)" in message
    assert "the first value that differs is 'e'" in message
    assert f"Exp made it at tests/test_onnx.py:{scaled.__code__.co_firstlineno + 1}" in message
    assert message.endswith("Nothing was written.") and not os.listdir(tmp_path)


def test_dynamic_batch_needs_one_batch_size(tmp_path):
    with pytest.raises(ExportError, match="dynamic_batch"):
        export(lambda x, y: x + y.sum(), (np.ones((2, 3), np.float32), np.ones((4,), np.float32)),
               tmp_path / "m.onnx")


# --- the date translator ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("twin", [False, True], ids=["composed", "fast twin"])
@pytest.mark.parametrize("score", ["bahdanau", "dlai"])
def test_the_date_models(score, twin, dtype, tmp_path):
    from attention.fast import fast
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(3)
    model = Seq2SeqAttention(ModelConfig(Tx=12, Ty=4, score=score), dtype=dtype)
    model = fast(model) if twin else model
    generator = np.random.default_rng(2)
    exported = export(model, generator.integers(0, 37, (2, 12)), tmp_path / "m.onnx",
                      input_names=["x"], output_names=["logits", "alpha"])
    names = {v for node in exported.graph.node for v in node.output}
    assert {"alpha<1,·>", "s<1>"} <= names
    if twin:  # the decoder node's steps, written out, keep the seed's names
        assert {"memory<3>", "alpha<4,·>", "s<4>", "[s; alpha]", "a"} <= names
    else:
        assert {"c<1>", "e<4,·>", "f<2>", "memory<4>"} <= names
    x = generator.integers(0, 37, (6, 12))
    logits, alpha = run(tmp_path / "m.onnx", [x])
    want_logits, want_alpha = minigrad_outputs(model, [x])
    np.testing.assert_allclose(logits, want_logits, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    np.testing.assert_allclose(alpha, want_alpha, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("twin", [False, True], ids=["composed", "fast twin"])
@pytest.mark.parametrize("example", ["zeros", "fives"])
def test_example_indices_that_read_the_same_transposed_are_refused_not_guessed(example, twin, tmp_path):
    """Both encoders read their tokens time-major (x transposed). With the same index everywhere
    the two traces cannot tell that order from x's own; guessed, the composed model's export read
    the tokens in the wrong order (logits off by 0.03) and still passed its own check."""
    from attention.fast import fast
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(3)
    model = Seq2SeqAttention(ModelConfig(Tx=6, Ty=3))
    model = fast(model) if twin else model
    x = np.zeros((3, 6), np.int64) if example == "zeros" else np.full((2, 6), 5)
    with pytest.raises(ExportError, match=r"example input 0 \(shape \(\d, 6\)\) reads the same in its own "
                                          r"order and transposed .* give example indices that vary"):
        export(model, x, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("tx, ty", [(1, 3), (4, 1)])
def test_a_weight_no_node_reads_is_not_written(tx, ty, tmp_path):
    """With one input or one output position the fast twin's first step, from a zero state, skips
    the products with W_h (and W_s): the file holds only the initializers its nodes read, so ONNX
    Runtime has none to drop (it warns on every load when there are)."""
    from attention.fast import fast
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(6)
    model = fast(Seq2SeqAttention(ModelConfig(Tx=tx, Ty=ty)))
    x = np.random.default_rng(7).integers(0, 37, (2, tx))
    exported = export(model, x, tmp_path / "m.onnx")
    read = {name for node in exported.graph.node for name in node.input}
    assert [i.name for i in exported.graph.initializer if i.name not in read] == []
    assert len(exported.graph.initializer) > 0
    for got, want in zip(run(tmp_path / "m.onnx", [x]), minigrad_outputs(model, [x])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("twin", [False, True], ids=["composed", "fast twin"])
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_the_other_cells(cell, twin, tmp_path):
    from attention.fast import fast
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(4)
    model = Seq2SeqAttention(ModelConfig(Tx=8, Ty=3, cell=cell))
    model = fast(model) if twin else model
    generator = np.random.default_rng(5)
    export(model, generator.integers(0, 37, (3, 8)), tmp_path / "m.onnx")
    x = generator.integers(0, 37, (2, 8))
    for got, want in zip(run(tmp_path / "m.onnx", [x]), minigrad_outputs(model, [x])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A date translator trained for one short epoch (accuracy does not matter: agreement does)."""
    from attention.train import TrainConfig, train
    out = tmp_path_factory.mktemp("dates")
    train(TrainConfig(epochs=1, train_size=1500, held_out_size=1000),
          str(out), log=lambda *a: None, progress=False)
    return out


def test_the_exported_translator_predicts_what_minigrad_predicts(trained, tmp_path):
    from attention.__main__ import main
    from attention.train import TrainConfig, build, evaluate, load_checkpoint
    out = tmp_path / "dates.onnx"
    assert main(["export", "--model", str(trained), "--out", str(out)]) == 0
    vocab = json.loads((tmp_path / "dates.vocab.json").read_text(encoding="utf-8"))
    model, human, machine, _ = load_checkpoint(str(trained))
    assert vocab["human"] == human.to_json() and vocab["machine"] == machine.to_json()
    _, _, (X_held, Y_held), _ = build(TrainConfig(train_size=1500, held_out_size=1000))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    class Exported:  # what `evaluate` needs of a model
        def predict(self, x):
            logits, alpha = session.run(["logits", "alpha"], {"x": x})
            return logits.argmax(axis=-1), alpha

    predicted = np.concatenate([Exported().predict(X_held[i:i + 250])[0] for i in range(0, 1000, 250)])
    assert len(X_held) == 1000
    np.testing.assert_array_equal(predicted, model.predict(X_held)[0])
    exported, reference = evaluate(Exported(), X_held, Y_held), evaluate(model, X_held, Y_held)
    assert exported["exact_match"] == reference["exact_match"] and exported["per_position"] == reference["per_position"]
    assert exported["sharpness"] == pytest.approx(reference["sharpness"], rel=1e-6)  # α in float32 from two runtimes


def test_export_of_a_missing_model_is_a_usage_error(tmp_path, capsys):
    from attention.__main__ import main
    assert main(["export", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "error:" in capsys.readouterr().err


def test_bench_onnx_trains_exports_and_times_both_graphs():
    """bench/bench_onnx.py end to end on its default path (it trains a small model first): its
    TrainConfig went stale twice unseen (a retired setting, then a task option) until this ran it."""
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "bench" / "bench_onnx.py"
    done = subprocess.run([sys.executable, str(script), "--dates", "500"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] in (["fused"], ["composed"])]
    assert [(row[0], row[1]) for row in rows] == [("fused", "1"), ("fused", "2"), ("composed", "1"), ("composed", "2")]
