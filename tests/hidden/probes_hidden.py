"""Hidden probes: further cases of each task, graded but never given to students, and sent to the
child process only after the visible probes' answers are in (so no visible output can carry them).
Gradescope shows their results after the due date.
"""
import numpy as np

from coursework.probe import probe
from probes_engine import backward


@probe("1.1")
def add_and_mul_gradients_keep_float32(rng):
    """Add's and Mul's gradients keep float32"""
    from minigrad import Tensor, ops
    a = Tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    return [[str(np.asarray(g).dtype) for g in op.apply(a, b).grad_fn.backward(np.ones((2, 3), np.float32))]
            for op in (ops.Add, ops.Mul)]


@probe("1.2")
def matmul_backward_with_two_batch_axes(rng):
    """MatMul's backward with two batch axes"""
    from minigrad import ops
    return backward(ops.MatMul, rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 4, 2)))


@probe("1.3")
def log_and_exp_backward_at_extreme_values(rng):
    """Log's and Exp's backward at extreme values"""
    from minigrad import ops
    return [backward(ops.Log, [1e-3, 1.0, 1e3]), backward(ops.Exp, [-800.0, 0.0])]


@probe("1.4")
def sum_and_max_backward_over_a_vector(rng):
    """Sum's and Max's backward over a vector"""
    from minigrad import ops
    return [backward(ops.Sum, rng.standard_normal(7), axis=0, keepdims=True),
            backward(ops.Max, rng.permutation(7).astype(np.float64), axis=None)]


@probe("1.5")
def sum_to_shape_down_to_a_single_element(rng):
    """sum_to_shape down to one element"""
    from minigrad.ops.broadcast import sum_to_shape
    g = rng.standard_normal((2, 3, 4))
    return [np.asarray(sum_to_shape(g, (1, 1, 1))), np.asarray(sum_to_shape(g, (1, 4)))]


@probe("1.6")
def a_tensor_used_three_times_gets_all_three_gradients(rng):
    """A tensor used three times gets all three gradients"""
    from minigrad import Tensor
    from minigrad.order import topological_order
    x = Tensor(rng.standard_normal(2), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.uniform(1.0, 3.0, 2), dtype=np.float64)
    out = (x - x ** 2 - x / w).mean()
    once = sum(t is x for t in topological_order(out)) == 1
    out.backward()
    return {"once in the order": once, "grad": x.grad}


@probe("2.1")
def softmax_in_float64_over_four_axes(rng):
    """Softmax in float64 over a 4-D input, composed and fused"""
    import minigrad as mg
    from minigrad import ops
    x = rng.standard_normal((2, 2, 3, 4))
    alpha = mg.composed_softmax(mg.Tensor(x, dtype=np.float64), axis=2)
    return {"dtype": str(alpha.data.dtype), "alpha": alpha.data, "fused backward": backward(ops.Softmax, x, axis=2)}


@probe("2.2")
def cross_entropy_of_a_certain_prediction(rng):
    """Cross-entropy of a certain prediction is zero"""
    import minigrad as mg
    return mg.cross_entropy(mg.Tensor([[50.0, -50.0]], dtype=np.float64), [0], reduction="sum").data


@probe("2.3")
def adam_on_parameters_of_different_shapes(rng):
    """Adam updates parameters of different shapes independently"""
    import minigrad as mg
    w, b = mg.nn.Parameter(np.ones((2, 2))), mg.nn.Parameter(np.zeros(3))
    optimizer = mg.optim.Adam([w, b], lr=0.1)
    for _ in range(10):
        w.grad, b.grad = np.full((2, 2), 2.0), np.array([1.0, -1.0, 0.0])
        optimizer.step()
    return [np.asarray(w.data), np.asarray(b.data)]


@probe("3.1")
def rnn_step_for_one_sequence(rng):
    """The RNN cell's step for one sequence"""
    from minigrad import Tensor
    from attention.cells import RNNCell
    cell = RNNCell(2, 3, rng=rng, dtype=np.float64)
    projected, h = (Tensor(rng.standard_normal((1, 3)), dtype=np.float64) for _ in range(2))
    return cell.step(projected, (h,))[0].data


@probe("3.2")
def lstm_step_with_one_unit(rng):
    """The LSTM cell's step with one unit"""
    from minigrad import Tensor
    from attention.cells import LSTMCell
    cell = LSTMCell(2, 1, rng=rng, dtype=np.float64)
    projected = Tensor(rng.standard_normal((2, 4)), dtype=np.float64)
    h, c = (Tensor(rng.standard_normal((2, 1)), dtype=np.float64) for _ in range(2))
    return [t.data for t in cell.step(projected, (h, c))]


@probe("3.3")
def dlai_energies_die_at_zero(rng):
    """DLAI energies are 0 when the output bias is very negative"""
    from minigrad import Tensor
    from attention.additive import DlaiAttention
    attention = DlaiAttention(4, 3, rng=rng, dtype=np.float64)
    attention.energy_out.bias.data[:] = -100.0
    a = Tensor(rng.standard_normal((2, 5, 4)), dtype=np.float64)
    s_prev = Tensor(rng.standard_normal((2, 3)), dtype=np.float64)
    return attention.energies(s_prev, a, attention.keys(a)).data


@probe("3.4")
def one_input_position_gets_all_the_attention(rng):
    """With one input position, α is 1 and c is a"""
    from minigrad import Tensor
    from attention.additive import BahdanauAttention
    attention = BahdanauAttention(4, 3, rng=rng, dtype=np.float64)
    attention.energies = lambda s_prev, a, keys: Tensor(rng.standard_normal((2, 1, 1)), dtype=np.float64)
    a = Tensor(rng.standard_normal((2, 1, 4)), dtype=np.float64)
    s_prev = Tensor(rng.standard_normal((2, 3)), dtype=np.float64)
    alpha, context = attention(s_prev, a, attention.keys(a))
    return [alpha.data, context.data]
