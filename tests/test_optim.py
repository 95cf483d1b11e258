"""optim: SGD and Adam against hand computations and against torch.optim (float64)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 5


def _initial_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _gradient(k, i, p):
    """The gradient fed at step k to parameter i: depends on the current value p, so the
    trajectories feed back (a quadratic pull towards a target plus fixed per-step noise)."""
    rng = np.random.default_rng(1000 * k + i)
    target = rng.standard_normal(p.shape)
    return 2.0 * (p - target) + 0.3 * rng.standard_normal(p.shape)


def _run_minigrad(make_optimizer, frozen=frozenset()):
    """STEPS steps on float64 parameters; (k, i) in `frozen` means parameter i has no grad at step k."""
    params = [nn.Parameter(a) for a in _initial_arrays()]
    opt = make_optimizer(params)
    for k in range(STEPS):
        opt.zero_grad()
        for i, p in enumerate(params):
            if (k, i) not in frozen:
                p.grad = _gradient(k, i, p.data.copy())
        opt.step()
    return [p.data for p in params]


def _run_torch(torch, make_optimizer, frozen=frozenset()):
    params = [torch.tensor(a, requires_grad=True) for a in _initial_arrays()]
    opt = make_optimizer(params)
    for k in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            if (k, i) not in frozen:
                p.grad = torch.from_numpy(_gradient(k, i, p.detach().numpy().copy()))
        opt.step()
    return [p.detach().numpy() for p in params]


CONFIGS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    "sgd_momentum": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
                     lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01), lambda t, ps: t.optim.Adam(ps, lr=0.01)),
    "adam_weight_decay": (lambda ps: optim.Adam(ps, lr=0.02, weight_decay=0.1),
                          lambda t, ps: t.optim.Adam(ps, lr=0.02, weight_decay=0.1)),
    "adam_betas_eps": (lambda ps: optim.Adam(ps, lr=0.03, betas=(0.8, 0.99), eps=1e-6),
                       lambda t, ps: t.optim.Adam(ps, lr=0.03, betas=(0.8, 0.99), eps=1e-6)),
}


@pytest.mark.torch
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_torch_optim(config):
    """Five steps of SGD/Adam on the same parameters and gradients agree with torch.optim to 1e-12."""
    torch = pytest.importorskip("torch")
    make_mg, make_torch = CONFIGS[config]
    ours = _run_minigrad(make_mg)
    theirs = _run_torch(torch, lambda ps: make_torch(torch, ps))
    start = _initial_arrays()
    for p, q, p0 in zip(ours, theirs, start):
        assert p.dtype == np.float64
        assert not np.allclose(p, p0)  # the parameters really moved
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("config", ["sgd_momentum", "adam"])
def test_matches_torch_when_a_parameter_has_no_grad_on_some_steps(config):
    """A parameter without grad on steps 0-1 (frozen, then trained) follows torch.optim's trajectory."""
    torch = pytest.importorskip("torch")
    make_mg, make_torch = CONFIGS[config]
    frozen = {(0, 1), (1, 1), (3, 2)}
    ours = _run_minigrad(make_mg, frozen)
    theirs = _run_torch(torch, lambda ps: make_torch(torch, ps), frozen)
    for i, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12, err_msg=f"parameter {i}")


# --- pure numpy -------------------------------------------------------------------------------
def test_sgd_one_step_by_hand():
    """One plain SGD step is p - lr * g, elementwise."""
    p = nn.Parameter(np.array([[1.0, -2.0], [0.5, 3.0]]))
    g = np.array([[0.5, 0.25], [-1.0, 2.0]])
    p.grad = g.copy()
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [[0.95, -2.025], [0.6, 2.8]], rtol=1e-15)


def test_sgd_momentum_two_steps_by_hand():
    """With momentum mu: v1 = g1, v2 = mu*v1 + g2, p2 = p0 - lr*(v1 + v2)."""
    p = nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    p.grad = np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, 2.1], rtol=1e-15)
    p.grad = np.array([2.0, 0.0])
    opt.step()
    # v2 = 0.5*[1, -1] + [2, 0] = [2.5, -0.5]
    np.testing.assert_allclose(p.data, [0.9 - 0.25, 2.1 + 0.05], rtol=1e-14)


def test_adam_first_step_moves_by_lr_times_sign():
    """Adam's bias-corrected first step is lr * g/(|g| + eps): about lr against the sign of g."""
    rng = np.random.default_rng(3)
    start = rng.standard_normal((4, 5))
    g = rng.uniform(0.1, 10.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    p = nn.Parameter(start.copy())
    p.grad = g
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data - start, -0.01 * np.sign(g), rtol=1e-6)


def test_adam_weight_decay_adds_l2_to_the_gradient():
    """With weight_decay, a zero gradient still moves the parameter: by lr against sign(p)."""
    p = nn.Parameter(np.array([2.0, -3.0, 0.5]))
    p.grad = np.zeros(3)
    optim.Adam([p], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p.data, [1.9, -2.9, 0.4], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps)])
def test_zero_grad_sets_grads_to_none(make):
    """Optimizer.zero_grad sets every parameter's grad to None (not to zeros)."""
    params = [nn.Parameter(np.ones(3)), nn.Parameter(np.ones((2, 2)))]
    for p in params:
        p.grad = np.ones_like(p.data)
    make(params).zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make", [lambda ps, lr: optim.SGD(ps, lr=lr),
                                  lambda ps, lr: optim.Adam(ps, lr=lr)])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_bad_learning_rate_raises_value_error(make, lr):
    """A learning rate that is not a positive number is refused with ValueError."""
    with pytest.raises(ValueError, match="learning rate"):
        make([nn.Parameter(np.ones(2))], lr)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9)])
def test_adam_bad_betas_raise_value_error(betas):
    """Adam refuses betas outside [0, 1)."""
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([nn.Parameter(np.ones(2))], betas=betas)


def test_empty_parameter_list_raises_value_error():
    """An optimiser over no parameters is a mistake (a generator already consumed, say)."""
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1)])
def test_parameters_without_grad_are_skipped(make):
    """A parameter whose grad is None is left exactly as it was; the others move."""
    still = nn.Parameter(np.array([1.0, -1.0]))
    moving = nn.Parameter(np.array([1.0, -1.0]))
    moving.grad = np.array([0.5, 0.5])
    make([still, moving]).step()
    np.testing.assert_array_equal(still.data, [1.0, -1.0])
    assert not np.allclose(moving.data, [1.0, -1.0])


def test_repeated_parameter_is_updated_once():
    """Passing the same parameter twice (a shared weight) updates it once per step."""
    p = nn.Parameter(np.array([1.0]))
    p.grad = np.array([1.0])
    optim.SGD([p, p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.9], rtol=1e-15)


def test_training_loop_decreases_the_loss():
    """A few Adam steps through backward() on a Linear regression lower the loss."""
    rng = np.random.default_rng(0)
    x = mg.Tensor(rng.standard_normal((32, 3)))
    y = mg.Tensor(x.data @ np.array([[1.0], [-2.0], [0.5]]))
    layer = nn.Linear(3, 1, rng=np.random.default_rng(1), dtype=np.float64)
    opt = optim.Adam(layer.parameters(), lr=0.1)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((layer(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
