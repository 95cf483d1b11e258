"""nn: Module registration and state, Linear, Embedding, manual_seed."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


# --- small models used below ------------------------------------------------------------
class Block(nn.Module):
    """Two Linear layers, built inside __init__ (the usual bottom-up way)."""

    def __init__(self, dims=(3, 4, 2)):
        super().__init__()
        self.first = nn.Linear(dims[0], dims[1])
        self.second = nn.Linear(dims[1], dims[2])

    def forward(self, x):
        return self.second(self.first(x).tanh())


class Net(nn.Module):
    """An Embedding, a nested Block and a bare Parameter."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 3)
        self.block = Block()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))

    def forward(self, indices):
        return self.block(self.embed(indices)) * self.scale


class Empty(nn.Module):
    def __init__(self):
        super().__init__()


NET_PATHS = ["embed.weight", "block.first.weight", "block.first.bias",
             "block.second.weight", "block.second.bias", "scale"]
NET_SHAPES = {"embed.weight": (7, 3), "block.first.weight": (3, 4), "block.first.bias": (4,),
              "block.second.weight": (4, 2), "block.second.bias": (2,), "scale": (2,)}


# --- registration ---------------------------------------------------------------------
def test_named_parameters_have_dotted_paths_and_shapes():
    """named_parameters() lists every parameter of the tree once, by dotted path, with its shape."""
    net = Net()
    named = dict(net.named_parameters())
    assert set(named) == set(NET_PATHS)
    assert len(list(net.named_parameters())) == len(NET_PATHS)
    assert {name: p.shape for name, p in named.items()} == NET_SHAPES


def test_parameters_are_the_attribute_objects():
    """parameters() yields the very Parameter objects stored on the submodules (not copies)."""
    net = Net()
    expected = [net.embed.weight, net.block.first.weight, net.block.first.bias,
                net.block.second.weight, net.block.second.bias, net.scale]
    got = list(net.parameters())
    assert len(got) == len(expected)
    assert {id(p) for p in got} == {id(p) for p in expected}
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in got)


def test_num_parameters_counts_elements():
    """num_parameters() is the total element count: 21 + 12+4 + 8+2 + 2."""
    assert Net().num_parameters() == 7 * 3 + 3 * 4 + 4 + 4 * 2 + 2 + 2


def test_parameter_name_is_its_path_when_built_bottom_up():
    """Each parameter's .name equals its dotted path in the model it was built into."""
    net = Net()
    for path, parameter in net.named_parameters():
        assert parameter.name == path


def _late_submodule():
    root = Empty()
    root.mid = Empty()
    root.mid.inner = nn.Linear(2, 3)  # attached below a module that is already attached
    return root, ["mid.inner.weight", "mid.inner.bias"]


def _replaced_parameter():
    root = Empty()
    root.layer = nn.Linear(2, 3)
    root.layer.weight = nn.Parameter(np.zeros((2, 3), dtype=np.float32))  # replaced after attaching
    return root, ["layer.weight", "layer.bias"]


@pytest.mark.parametrize("build", [_late_submodule, _replaced_parameter])
def test_parameter_name_is_its_path_when_changed_after_attaching(build):
    """Parameters added below an already-attached module are still named by their full path."""
    root, paths = build()
    assert [n for n, _ in root.named_parameters()] == paths
    assert [p.name for _, p in root.named_parameters()] == paths


def test_modules_children_and_named_modules():
    """modules() walks the whole tree (self first), children() only the direct submodules."""
    net = Net()
    assert [n for n, _ in net.named_modules()] == ["", "embed", "block", "block.first", "block.second"]
    assert list(net.modules()) == [net, net.embed, net.block, net.block.first, net.block.second]
    assert list(net.children()) == [net.embed, net.block]
    assert list(net.block.children()) == [net.block.first, net.block.second]
    assert list(net.embed.children()) == []


def test_shared_parameter_is_counted_once():
    """A Parameter reachable under two paths is listed, counted and updated once."""
    model = Empty()
    model.a = nn.Linear(3, 3)
    model.b = nn.Linear(3, 3)
    model.b.weight = model.a.weight
    names = [n for n, _ in model.named_parameters()]
    assert names == ["a.weight", "a.bias", "b.bias"]
    assert model.num_parameters() == 9 + 3 + 3
    assert len(model.state_dict()) == 3


def test_shared_submodule_parameters_are_counted_once():
    """A submodule registered under two names contributes its parameters once."""
    model = Empty()
    layer = nn.Linear(2, 5)
    model.left = layer
    model.right = layer
    params = list(model.parameters())
    assert len(params) == 2
    assert {id(p) for p in params} == {id(layer.weight), id(layer.bias)}


def test_plain_tensors_and_numbers_are_not_registered():
    """Only Parameters are parameters: a plain Tensor, array or number attribute is not."""
    model = Empty()
    model.w = nn.Parameter(np.zeros(3))
    model.buffer = mg.Tensor(np.zeros(3), requires_grad=True)
    model.array = np.zeros(4)
    model.count = 5
    assert [n for n, _ in model.named_parameters()] == ["w"]


def test_reassigning_a_parameter_attribute_unregisters_it():
    """Setting a parameter attribute to None (or a non-Parameter) removes it from parameters()."""
    layer = nn.Linear(3, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    layer.weight = np.zeros((3, 2))
    assert list(layer.named_parameters()) == []


def test_forgetting_super_init_is_a_clear_attribute_error():
    """A subclass that skips super().__init__() gets an AttributeError naming the fix."""
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError) as info:
        Forgetful()
    message = str(info.value)
    assert "Forgetful" in message
    assert "super().__init__()" in message
    assert "layer" in message


# --- modes and gradients --------------------------------------------------------------
def test_train_and_eval_propagate_to_every_module():
    """eval() clears and train() sets `training` on every module of the tree; both return self."""
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert [m.training for m in (net, net.embed, net.block, net.block.first, net.block.second)] \
        == [False] * 5
    assert net.train() is net
    assert all(m.training for m in (net, net.embed, net.block, net.block.first, net.block.second))
    net.block.train(False)
    assert net.training and net.embed.training
    assert not any(m.training for m in (net.block, net.block.first, net.block.second))


def test_zero_grad_clears_every_parameter_grad():
    """After backward every parameter has a grad; Module.zero_grad sets them all to None."""
    net = Net()
    net(np.array([[1, 2], [3, 3]])).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# --- Linear -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_shape", [(5,), (2, 3), ()])
def test_linear_output_shape_and_value(batch_shape, rng):
    """Linear maps (..., in) to (..., out) and equals x @ W + b computed in numpy."""
    layer = nn.Linear(4, 3, dtype=np.float64)
    layer.bias.data[:] = rng.standard_normal(3)
    x = rng.standard_normal(batch_shape + (4,))
    y = layer(mg.Tensor(x))
    assert y.shape == batch_shape + (3,)
    np.testing.assert_allclose(y.data, x @ layer.weight.data + layer.bias.data, rtol=1e-12)


@pytest.mark.parametrize("fan_in, fan_out", [(1, 1), (10, 5), (64, 200), (300, 7)])
def test_linear_glorot_uniform_bounds_and_zero_bias(fan_in, fan_out):
    """W is (in, out) with every |W| <= sqrt(6/(in+out)), spread over the range; bias is zeros."""
    layer = nn.Linear(fan_in, fan_out)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    weight = layer.weight.data
    assert weight.shape == (fan_in, fan_out)
    assert weight.dtype == np.float32
    assert np.all(np.abs(weight) <= limit * (1 + 1e-6))
    if weight.size >= 50:  # uniform on (-l, l): some values near the edge, mean near 0
        assert np.abs(weight).max() > 0.8 * limit
        assert abs(weight.mean()) < 0.2 * limit
        assert (weight > 0).any() and (weight < 0).any()
    np.testing.assert_array_equal(layer.bias.data, np.zeros(fan_out))
    assert layer.bias.shape == (fan_out,)


def test_linear_without_bias(rng):
    """bias=False leaves one parameter, `bias` is None, and the output is exactly x @ W."""
    layer = nn.Linear(4, 2, bias=False, dtype=np.float64)
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layer(mg.Tensor(x)).data, x @ layer.weight.data)


def test_linear_gradients_match_numpy(rng):
    """For L = sum(R * (x W + b)), dL/dW = x^T R and dL/db = sum of R over the batch."""
    layer = nn.Linear(4, 3, dtype=np.float64)
    x = rng.standard_normal((5, 4))
    r = rng.standard_normal((5, 3))
    (layer(mg.Tensor(x)) * mg.Tensor(r)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad, x.T @ r, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, r.sum(axis=0), rtol=1e-12)


# --- Embedding ----------------------------------------------------------------------------
def test_embedding_lookup_is_row_selection(rng):
    """Embedding(indices) has shape indices.shape + (dim,) and holds the table's rows."""
    table = nn.Embedding(6, 4, dtype=np.float64)
    assert table.weight.shape == (6, 4)
    indices = np.array([[0, 5, 2], [2, 2, 1]])
    out = table(indices)
    assert out.shape == (2, 3, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(out.data[i, j], table.weight.data[indices[i, j]])


def test_embedding_accepts_integer_tensor_indices():
    """An integer Tensor of indices works like the array itself."""
    table = nn.Embedding(5, 2)
    indices = np.array([4, 0, 4])
    np.testing.assert_array_equal(table(mg.Tensor(indices)).data, table(indices).data)


def test_embedding_gradient_scatter_adds_repeated_indices(rng):
    """A row read k times gets the sum of its k gradients; unread rows get zero (loop reference)."""
    table = nn.Embedding(6, 3, dtype=np.float64)
    indices = np.array([[1, 4, 1], [1, 0, 4]])
    upstream = rng.standard_normal((2, 3, 3))
    table(indices).backward(upstream)
    expected = np.zeros((6, 3))
    for i in range(indices.shape[0]):
        for j in range(indices.shape[1]):
            expected[indices[i, j]] += upstream[i, j]
    np.testing.assert_allclose(table.weight.grad, expected, rtol=1e-12, atol=0)
    assert np.all(table.weight.grad[[2, 3, 5]] == 0)
    np.testing.assert_allclose(table.weight.grad[1], upstream[0, 0] + upstream[0, 2] + upstream[1, 0])


@pytest.mark.parametrize("rows", [8, 500], ids=["few rows read", "many rows read"])
def test_embedding_gradient_matches_add_at(rows, rng):
    """The scatter-add of a large gather equals np.add.at, whether few or many distinct rows
    are read (backward sums each row's gradients by one of two routes)."""
    table = nn.Embedding(rows, 4, dtype=np.float64)
    indices = rng.integers(0, rows, size=(40, 30))
    upstream = rng.standard_normal((40, 30, 4))
    table(indices).backward(upstream)
    expected = np.zeros((rows, 4))
    np.add.at(expected, indices, upstream)
    np.testing.assert_allclose(table.weight.grad, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [np.array([0, 5]), np.array([-1, 2]), np.array([[1], [99]]), 5])
def test_embedding_out_of_range_raises_op_error(bad):
    """Indices outside [0, num_embeddings) raise OpError naming Embedding and the bad index."""
    table = nn.Embedding(5, 2)
    with pytest.raises(mg.OpError) as info:
        table(bad)
    message = str(info.value)
    assert "Embedding" in message
    worst = np.max(bad) if np.max(bad) >= 5 else np.min(bad)
    assert str(worst) in message


@pytest.mark.parametrize("bad", [np.array([0.0, 1.0]), [1.5], np.array([True, False]),
                                 mg.Tensor([0.0, 1.0])])
def test_embedding_non_integer_indices_raise_op_error(bad):
    """Float or bool indices raise OpError naming Embedding instead of being cast silently."""
    table = nn.Embedding(5, 2)
    with pytest.raises(mg.OpError, match="Embedding"):
        table(bad)


def test_embedding_init_is_standard_normal():
    """The table is N(0, 1) as torch.nn.Embedding: sample mean ~0, std ~1."""
    weight = nn.Embedding(400, 50, rng=np.random.default_rng(0)).weight.data
    assert abs(weight.mean()) < 0.02
    assert abs(weight.std() - 1.0) < 0.02


# --- state dicts ----------------------------------------------------------------------------
def test_state_dict_is_a_copy_by_path():
    """state_dict() maps every path to a copy: changing the model afterwards leaves it unchanged."""
    net = Net()
    state = net.state_dict()
    assert set(state) == set(NET_PATHS)
    assert {n: a.shape for n, a in state.items()} == NET_SHAPES
    before = state["block.first.weight"].copy()
    net.block.first.weight.data += 1.0
    np.testing.assert_array_equal(state["block.first.weight"], before)


def test_state_dict_round_trip_into_a_fresh_model():
    """Loading one model's state_dict into another makes parameters and outputs identical."""
    mg.manual_seed(1)
    source = Net()
    mg.manual_seed(2)
    target = Net()
    indices = np.array([[0, 6], [3, 1]])
    assert not np.allclose(source(indices).data, target(indices).data)
    target.load_state_dict(source.state_dict())
    for (name, p), (name2, q) in zip(source.named_parameters(), target.named_parameters()):
        assert name == name2
        np.testing.assert_array_equal(p.data, q.data)
        assert p.data is not q.data
    np.testing.assert_array_equal(source(indices).data, target(indices).data)


def test_load_state_dict_accepts_tensor_values():
    """Values may be Tensors as well as arrays."""
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": mg.Tensor(np.eye(2, dtype=np.float32)),
                           "bias": mg.Tensor(np.array([1.0, -1.0], dtype=np.float32))})
    np.testing.assert_array_equal(layer.weight.data, np.eye(2))
    np.testing.assert_array_equal(layer.bias.data, [1.0, -1.0])


def _snapshot(module):
    return {name: p.data.copy() for name, p in module.named_parameters()}


@pytest.mark.parametrize("change, mentions", [
    (lambda s: s.pop("block.second.bias"), ["block.second.bias", "missing"]),
    (lambda s: s.update({"block.third.weight": np.zeros(3)}), ["block.third.weight"]),
    (lambda s: s.update({"scale": np.zeros(3)}), ["scale", "(3,)", "(2,)"]),
])
def test_load_state_dict_rejects_one_misfit(change, mentions):
    """A missing name, an unexpected name or a wrong shape raises StateDictError naming it."""
    net = Net()
    state = {n: a + 1 for n, a in net.state_dict().items()}
    change(state)
    before = _snapshot(net)
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(state)
    for text in mentions:
        assert text in str(info.value)
    after = _snapshot(net)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


def test_load_state_dict_lists_every_misfit_and_changes_nothing():
    """With several misfits at once, one error lists them all and no parameter is touched."""
    net = Net()
    state = {n: a + 1 for n, a in net.state_dict().items()}
    del state["embed.weight"]
    del state["block.first.bias"]
    state["decoder.weight"] = np.zeros((2, 2))
    state["block.second.weight"] = np.zeros((2, 4))
    before = _snapshot(net)
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    for name in ["embed.weight", "block.first.bias", "decoder.weight", "block.second.weight"]:
        assert name in message
    assert isinstance(info.value, KeyError)
    after = _snapshot(net)
    for name in before:  # the parameters that did fit were not loaded either
        np.testing.assert_array_equal(after[name], before[name])


@pytest.mark.parametrize("bad", [np.array(["1.5", "2.5"]), np.array([1 + 1j, 2]), np.array([None, None]),
                                 np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]")],
                         ids=["strings", "complex", "objects", "datetimes"])
def test_a_bad_value_after_good_ones_changes_nothing(bad):
    """Values are checked before any is copied: a value that cannot become the parameter's dtype,
    listed after ones that fit, leaves every parameter as it was (strings are not parsed to floats)."""
    net = Net()
    state = {n: a + 1 for n, a in net.state_dict().items()}
    last = list(state)[-1]
    state[last] = np.resize(bad, state[last].shape)
    before = _snapshot(net)
    with pytest.raises(nn.StateDictError, match=last):
        net.load_state_dict(state)
    after = _snapshot(net)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


def test_load_state_dict_refuses_what_is_not_a_mapping():
    with pytest.raises(nn.StateDictError, match="expected a mapping"):
        nn.Linear(2, 2).load_state_dict([np.eye(2), np.zeros(2)])


def test_load_state_dict_non_strict_loads_the_names_that_fit():
    """strict=False ignores missing and unexpected names and loads the rest."""
    layer = nn.Linear(2, 3)
    old_bias = layer.bias.data.copy()
    layer.load_state_dict({"weight": np.full((2, 3), 7.0), "other": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(layer.weight.data, np.full((2, 3), 7.0))
    np.testing.assert_array_equal(layer.bias.data, old_bias)


def test_load_state_dict_non_strict_still_rejects_wrong_shapes():
    """strict=False does not excuse a wrong shape."""
    layer = nn.Linear(2, 3)
    with pytest.raises(nn.StateDictError, match="weight"):
        layer.load_state_dict({"weight": np.zeros((3, 2))}, strict=False)


# --- manual_seed ------------------------------------------------------------------------------
def test_manual_seed_makes_initialisation_repeatable():
    """The same seed gives identical parameters; another seed gives different ones."""
    mg.manual_seed(123)
    first = Net().state_dict()
    mg.manual_seed(123)
    second = Net().state_dict()
    mg.manual_seed(124)
    third = Net().state_dict()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.array_equal(first["embed.weight"], third["embed.weight"])
    assert not np.array_equal(first["block.first.weight"], third["block.first.weight"])


def test_explicit_rng_overrides_the_global_generator():
    """Layers given rng= draw from it, independent of manual_seed."""
    mg.manual_seed(5)
    a = nn.Linear(3, 4, rng=np.random.default_rng(42)).weight.data
    mg.manual_seed(6)
    b = nn.Linear(3, 4, rng=np.random.default_rng(42)).weight.data
    np.testing.assert_array_equal(a, b)
    limit = np.sqrt(6.0 / 7)
    expected = np.random.default_rng(42).uniform(-limit, limit, size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(a, expected)
