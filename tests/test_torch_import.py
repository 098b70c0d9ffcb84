"""from_torch / plnet_to_torch against torch's own forward.

Each converted net is checked twice: its stages evaluated by an independent numpy
reference, and its C++ ``net.forward``.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import regionlab as rl  # noqa: E402
from oracles import numpy_forward  # noqa: E402
from regionlab._torch_import import PerNeuronLeakyReLU, plnet_to_torch  # noqa: E402

F64_TOL = dict(rtol=1e-10, atol=1e-10)
F32_TOL = dict(rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- helpers
def reference_forward(net: rl.PLNet, X: np.ndarray) -> np.ndarray:
    """Evaluate ``net.stages`` in float64 numpy (independent of regionlab's core)."""
    return numpy_forward(net, np.asarray(X).reshape(len(X), -1))[0]


def torch_forward(model: nn.Module, X: np.ndarray) -> np.ndarray:
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    with torch.no_grad():
        out = model(torch.as_tensor(X, dtype=dtype))
    return out.reshape(len(X), -1).double().numpy()


def assert_same_function(model: nn.Module, net: rl.PLNet, X: np.ndarray, tol=F64_TOL) -> None:
    """The folded stages (numpy) and the C++ core's forward both reproduce torch."""
    expected = torch_forward(model, X)
    np.testing.assert_allclose(reference_forward(net, X), expected, **tol)
    core_tol = tol if net.dtype == np.float64 else F32_TOL
    np.testing.assert_allclose(net.forward(X), expected, **core_tol)


def assert_same_stages(a: rl.PLNet, b: rl.PLNet) -> None:
    assert a.dtype == b.dtype
    assert len(a.stages) == len(b.stages)
    for sa, sb in zip(a.stages, b.stages):
        np.testing.assert_array_equal(sa.weight, sb.weight)
        np.testing.assert_array_equal(sa.bias, sb.bias)
        np.testing.assert_array_equal(sa.negative_slope, sb.negative_slope)


def randomize_bn(bn: nn.Module, gen: torch.Generator) -> nn.Module:
    """Non-trivial running statistics and affine parameters."""
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen))
        bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) * 2 + 0.1)
        if bn.affine:
            bn.weight.copy_(torch.randn(bn.num_features, generator=gen))
            bn.bias.copy_(torch.randn(bn.num_features, generator=gen))
    return bn


def activation(kind: str, width: int) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky":
        return nn.LeakyReLU(0.1)
    return nn.PReLU(width, init=0.3)


def mlp(widths, act="relu", bias=True, final_act=False) -> nn.Sequential:
    layers = []
    for k, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(i, o, bias=bias))
        if k < len(widths) - 2 or final_act:
            layers.append(activation(act, o))
    return nn.Sequential(*layers)


@pytest.fixture
def rng():
    torch.manual_seed(0)
    return np.random.default_rng(0)


# --------------------------------------------------------------------------- MLPs
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("act", ["relu", "leaky", "prelu"])
@pytest.mark.parametrize("bias", [True, False])
def test_mlp_matches_torch(rng, depth, act, bias):
    widths = [5] + [7, 6, 4][: depth - 1] + [3]
    model = mlp(widths, act, bias).double()
    net = rl.from_torch(model)
    assert net.widths == tuple(widths)
    assert net.n_neurons == sum(widths[1:-1])
    assert net.dtype == np.float64
    assert len(net.stages) == depth
    assert np.all(net.stages[-1].negative_slope == 1.0)
    assert_same_function(model, net, rng.normal(size=(64, 5)))


def test_float32_mlp_and_final_activation(rng):
    model = mlp([4, 8, 8, 2], "leaky", final_act=True)
    net = rl.from_torch(model)
    assert net.dtype == np.float32
    assert net.widths == (4, 8, 8, 2)
    assert net.n_neurons == 18  # the final LeakyReLU is a kinked stage too
    assert all(s.weight.dtype == np.float32 for s in net.stages)
    assert_same_function(model, net, rng.normal(size=(64, 4)), F32_TOL)


def test_stage_arrays_are_plain_numpy():
    net = rl.from_torch(mlp([3, 4, 2]))
    for stage in net.stages:
        for arr in (stage.weight, stage.bias, stage.negative_slope):
            assert type(arr) is np.ndarray
            assert arr.base is None or isinstance(arr.base, np.ndarray)
            assert not arr.flags.writeable


def test_nested_sequentials_and_shared_module(rng):
    relu = nn.ReLU()
    block = nn.Sequential(nn.Linear(6, 6), relu)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(3, 6), relu),
        block,
        block,  # the same block twice: Sequential runs it twice
        nn.Sequential(nn.Sequential(nn.Identity(), nn.Linear(6, 2))),
    ).double()
    net = rl.from_torch(model)
    assert net.widths == (3, 6, 6, 6, 2)
    assert_same_function(model, net, rng.normal(size=(50, 3)))


def test_single_leaf_module(rng):
    lin = nn.Linear(4, 3).double()
    net = rl.from_torch(lin)
    assert net.widths == (4, 3) and net.n_neurons == 0
    assert_same_function(lin, net, rng.normal(size=(10, 4)))
    relu_net = rl.from_torch(nn.ReLU(), input_shape=5)
    assert relu_net.widths == (5, 5) and relu_net.n_neurons == 5
    np.testing.assert_array_equal(relu_net.stages[0].weight, np.eye(5))


def test_linear_layers_compose(rng):
    model = nn.Sequential(
        nn.Linear(4, 9), nn.Linear(9, 5, bias=False), nn.ReLU(), nn.Linear(5, 7), nn.Linear(7, 2)
    ).double()
    net = rl.from_torch(model)
    assert net.widths == (4, 5, 2)
    assert_same_function(model, net, rng.normal(size=(40, 4)))


def test_identity_dropout_flatten_are_no_ops(rng):
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.Dropout(0.5),
        nn.Identity(),
        nn.ReLU(),
        nn.Dropout(0.0),
        nn.Linear(8, 3),
    ).double().eval()
    net = rl.from_torch(model)
    assert net.widths == (12, 8, 3)
    X = rng.normal(size=(30, 3, 4))  # Flatten turns (3, 4) into 12 features
    assert_same_function(model, net, X)
    assert_same_function(model, rl.from_torch(model, input_shape=(3, 4)), X)


def test_trailing_no_op_layers_add_no_stage():
    net = rl.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1).eval()))
    assert net.widths == (3, 4)


def test_empty_or_identity_model_gives_identity_stage():
    for model in (nn.Sequential(), nn.Identity(), nn.Sequential(nn.Flatten(), nn.Dropout())):
        net = rl.from_torch(model.eval(), input_shape=(2, 3))
        assert net.widths == (6, 6) and net.n_neurons == 0
        np.testing.assert_array_equal(net.stages[0].weight, np.eye(6))
    with pytest.raises(ValueError, match="input_shape"):
        rl.from_torch(nn.Sequential(nn.ReLU()))


# --------------------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm1d_is_folded(rng, affine):
    gen = torch.Generator().manual_seed(1)
    model = nn.Sequential(
        randomize_bn(nn.BatchNorm1d(5, affine=affine), gen),
        nn.Linear(5, 8),
        randomize_bn(nn.BatchNorm1d(8, affine=affine, eps=1e-3), gen),
        nn.ReLU(),
        nn.Linear(8, 6),
        nn.LeakyReLU(0.2),
        randomize_bn(nn.BatchNorm1d(6, affine=affine), gen),
        nn.Linear(6, 2),
    ).double().eval()
    net = rl.from_torch(model)  # input size inferred from the leading BatchNorm1d
    assert net.widths == (5, 8, 6, 2)
    assert_same_function(model, net, rng.normal(size=(64, 5)))


def test_batchnorm_in_training_mode_is_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    expected = r"model\.1 \(BatchNorm1d\).*training mode.*model\.eval\(\)"
    with pytest.raises(ValueError, match=expected):
        rl.from_torch(model)
    rl.from_torch(model.eval())


def test_batchnorm_without_running_stats_is_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False)).eval()
    with pytest.raises(ValueError, match="running statistics"):
        rl.from_torch(model)


def test_dropout_in_training_mode_is_refused():
    with pytest.raises(ValueError, match=r"model\.1 \(Dropout.*training mode.*model\.eval\(\)"):
        rl.from_torch(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)))
    rl.from_torch(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.0)))  # p=0 is the identity


def test_plain_mlp_in_training_mode_is_fine(rng):
    model = mlp([3, 5, 2]).double().train()
    assert_same_function(model, rl.from_torch(model), rng.normal(size=(20, 3)))


# --------------------------------------------------------------------------- convolutions
def conv_net_mnist(variant: str) -> nn.Sequential:
    convs = {
        "plain": nn.Conv2d(1, 4, 3),
        "stride_pad": nn.Conv2d(1, 4, 3, stride=2, padding=1),
        "tuple_args": nn.Conv2d(1, 4, (3, 5), stride=(2, 1), padding=(0, 2), bias=False),
        "same": nn.Conv2d(1, 4, 4, padding="same"),  # even kernel: asymmetric padding
        "dilation": nn.Conv2d(1, 4, 3, dilation=2, padding="valid"),
    }
    conv = convs[variant]
    probe = conv(torch.zeros(1, 1, 28, 28))
    c, h, w = probe.shape[1:]
    return nn.Sequential(
        conv,
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * (h // 2) * (w // 2), 10),
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("variant", ["plain", "stride_pad", "tuple_args", "same", "dilation"])
def test_conv_net_on_mnist_shape(rng, variant):
    gen = torch.Generator().manual_seed(2)
    model = conv_net_mnist(variant)
    randomize_bn(model[1], gen)
    model = model.double().eval()
    net = rl.from_torch(model, input_shape=(1, 28, 28))
    assert net.input_dim == 784 and net.output_dim == 10
    assert net.n_neurons == net.widths[1] == model[0](torch.zeros(1, 1, 28, 28).double()).numel()
    assert_same_function(model, net, rng.normal(size=(8, 1, 28, 28)))


def test_conv_net_on_rgb_with_groups_and_leaky(rng):
    gen = torch.Generator().manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        randomize_bn(nn.BatchNorm2d(6), gen),
        nn.LeakyReLU(0.05),
        nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=3),  # groups + dilation
        nn.PReLU(6, init=0.2),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        randomize_bn(nn.BatchNorm2d(6, affine=False), gen),
        nn.Conv2d(6, 4, 1, groups=2, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(16, 5),
        nn.ReLU(),
        nn.Linear(5, 2),
    ).double().eval()
    with torch.no_grad():
        model[4].weight.copy_(torch.linspace(-0.5, 0.5, 6))  # distinct per-channel slopes
    net = rl.from_torch(model, input_shape=(3, 8, 8))
    assert net.widths == (192, 384, 384, 64, 5, 2)
    assert net.n_neurons == 384 + 384 + 64 + 5
    assert_same_function(model, net, rng.normal(size=(16, 3, 8, 8)))


def test_large_layers_are_folded_in_chunks(rng, monkeypatch):
    import regionlab._torch_import as ti

    monkeypatch.setattr(ti, "_MAX_CHUNK_ELEMENTS", 3000)  # forces many small row chunks
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(18, 3),
    ).double()
    net = rl.from_torch(model, input_shape=(3, 8, 8))
    assert net.widths == (192, 256, 3)
    assert_same_function(model, net, rng.normal(size=(16, 3, 8, 8)))


def test_conv_net_float32(rng):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(36, 3)
    ).eval()
    net = rl.from_torch(model, input_shape=(3, 8, 8))
    assert net.dtype == np.float32
    assert_same_function(model, net, rng.normal(size=(16, 3, 8, 8)), F32_TOL)


def test_unflatten_then_conv(rng):
    model = nn.Sequential(
        nn.Linear(10, 32), nn.ReLU(), nn.Unflatten(1, (2, 4, 4)), nn.Conv2d(2, 3, 3),
        nn.ReLU(), nn.Flatten(), nn.Linear(12, 1),
    ).double()
    net = rl.from_torch(model)
    assert net.widths == (10, 32, 12, 1)
    assert_same_function(model, net, rng.normal(size=(20, 10)))


def test_partial_flatten_keeps_row_major_order(rng):
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.Flatten(2), nn.Linear(16, 4), nn.ReLU(),
        nn.Flatten(), nn.Linear(12, 2),
    ).double()
    net = rl.from_torch(model, input_shape=(2, 4, 4))
    assert net.widths == (32, 12, 2)
    assert_same_function(model, net, rng.normal(size=(10, 2, 4, 4)))


def test_conv_without_input_shape_asks_for_it():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 1))
    with pytest.raises(ValueError, match=r"pass input_shape=\(C, H, W\)"):
        rl.from_torch(model)


def test_conv_with_wrong_input_shape():
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(8, 1))
    with pytest.raises(ValueError, match=r"model\.0 \(Conv2d\).*\(3, H, W\)"):
        rl.from_torch(model, input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="without the batch dimension"):
        rl.from_torch(model, input_shape=(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"model\.0"):
        rl.from_torch(model, input_shape=(3, 2, 2))  # kernel larger than the image


def test_conv_padding_mode_other_than_zeros_is_refused():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        rl.from_torch(model, input_shape=(1, 5, 5))


def test_flatten_of_batch_dimension_is_refused():
    with pytest.raises(ValueError, match="batch dimension"):
        rl.from_torch(nn.Sequential(nn.Flatten(0), nn.Linear(4, 2)))


# --------------------------------------------------------------------------- activations
def test_double_activations_merge(rng):
    model = nn.Sequential(
        nn.Linear(4, 6), nn.LeakyReLU(0.5), nn.Dropout(0.3), nn.LeakyReLU(0.2),
        nn.Linear(6, 5), nn.ReLU(), nn.ReLU(),
        nn.Linear(5, 5), nn.LeakyReLU(-0.5), nn.LeakyReLU(0.3),  # negative slope first
        nn.Linear(5, 2),
    ).double().eval()
    net = rl.from_torch(model)
    assert net.widths == (4, 6, 5, 5, 2)
    np.testing.assert_allclose(net.stages[0].negative_slope, 0.1)
    np.testing.assert_array_equal(net.stages[1].negative_slope, 0.0)
    np.testing.assert_array_equal(net.stages[2].negative_slope, -0.5)
    assert_same_function(model, net, rng.normal(size=(200, 4)))


def test_activation_on_the_raw_input(rng):
    model = nn.Sequential(nn.LeakyReLU(0.3), nn.ReLU(), nn.Linear(3, 2)).double()
    net = rl.from_torch(model)
    assert net.widths == (3, 3, 2)
    np.testing.assert_array_equal(net.stages[0].weight, np.eye(3))
    np.testing.assert_array_equal(net.stages[0].negative_slope, 0.0)
    assert_same_function(model, net, rng.normal(size=(30, 3)))


def test_per_neuron_slope_module(rng):
    slopes = np.array([0.0, 0.1, -0.2, 1.0, 2.5])
    act = PerNeuronLeakyReLU(slopes)
    x = torch.as_tensor(rng.normal(size=(40, 5)), dtype=torch.float32)
    expected = np.where(x.numpy() > 0, x.numpy(), x.numpy() * slopes)
    out = act(x)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert "negative_slope" in dict(act.named_buffers())
    model = nn.Sequential(nn.Linear(3, 5), act, nn.Linear(5, 1)).double()
    net = rl.from_torch(model)
    np.testing.assert_array_equal(net.stages[0].negative_slope, slopes)
    assert net.n_neurons == 4  # slope 1 is no kink
    assert_same_function(model, net, rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="5 slopes"):
        rl.from_torch(nn.Sequential(nn.Linear(3, 4), act))


# --------------------------------------------------------------------------- input_shape
def test_input_shape_forms_for_mlps():
    model = mlp([6, 4, 2])
    for shape in (6, (6,), [6], torch.Size([6]), np.int64(6)):
        assert rl.from_torch(model, input_shape=shape).widths == (6, 4, 2)
    for bad in (5, (7,), (2, 6, 1)):
        with pytest.raises(ValueError, match=r"model\.0 \(Linear\) expects 6 input features"):
            rl.from_torch(model, input_shape=bad)
    with pytest.raises(ValueError, match="positive"):
        rl.from_torch(model, input_shape=(0,))
    with pytest.raises(TypeError, match="input_shape"):
        rl.from_torch(model, input_shape=(6.0,))


def test_mnist_mlp_needs_flatten_for_image_input_shape():
    model = nn.Sequential(nn.Linear(784, 10))
    with pytest.raises(ValueError, match="Flatten"):
        rl.from_torch(model, input_shape=(1, 28, 28))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    assert rl.from_torch(model, input_shape=(1, 28, 28)).input_dim == 784


def test_linear_on_trailing_dimension(rng):
    """Without Flatten, torch applies Linear to the last dimension; so do we."""
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6, 1)).double()
    net = rl.from_torch(model, input_shape=(2, 4))
    assert net.widths == (8, 6, 1)
    assert_same_function(model, net, rng.normal(size=(20, 2, 4)))


# --------------------------------------------------------------------------- refusals
class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(x) * 2


class MyLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) + 1


class PlainLinearSubclass(nn.Linear):
    pass


@pytest.mark.parametrize(
    "bad",
    [nn.MaxPool2d(2), nn.Sigmoid(), nn.Tanh(), nn.GELU()],
    ids=lambda m: type(m).__name__,
)
def test_unsupported_module_type_error(bad):
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), bad))
    with pytest.raises(TypeError) as info:
        rl.from_torch(model, input_shape=3)
    msg = str(info.value)
    assert f"model.2.1 ({type(bad).__name__})" in msg
    assert "upported modules" in msg and "Linear" in msg and "Conv2d" in msg


@pytest.mark.parametrize(
    "module", [nn.ReLU6(), Custom(), MyLinear(3, 3)], ids=lambda m: type(m).__name__
)
def test_custom_forwards_of_supported_operations_are_traced(rng, module):
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), module)).double()
    assert_same_function(model, rl.from_torch(model), rng.normal(size=(50, 3)) * 4)


def test_subclass_without_new_forward_is_accepted(rng):
    model = nn.Sequential(PlainLinearSubclass(3, 4), nn.ReLU()).double()
    assert_same_function(model, rl.from_torch(model), rng.normal(size=(10, 3)))


def test_sequential_with_custom_forward_is_traced():
    class Residual(nn.Sequential):
        def forward(self, x):
            return x + super().forward(x)

    # a Sequential whose forward is not the chain: traced, so the skip is kept
    model = Residual(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3)).double()
    assert_same_function(model, rl.from_torch(model), np.random.default_rng(0).normal(size=(40, 3)))


def test_non_module_is_refused():
    with pytest.raises(TypeError, match="from_arrays"):
        rl.from_torch(np.eye(3))


def test_nan_parameters_are_named():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[2].bias[1] = float("nan")
    with pytest.raises(ValueError, match=r"model\.2 \(Linear\): bias contains NaN or Inf"):
        rl.from_torch(model)


def test_lazy_module_is_refused():
    with pytest.raises(ValueError, match="forward pass"):
        rl.from_torch(nn.Sequential(nn.LazyLinear(3)), input_shape=4)


# --------------------------------------------------------------------------- dtypes
def test_float16_and_bfloat16_models_give_float32(rng):
    for half in (torch.float16, torch.bfloat16):
        model = mlp([4, 6, 3]).to(half)
        net = rl.from_torch(model)
        assert net.dtype == np.float32
        # the half weights are exactly representable in float32
        assert_same_function(model.float(), net, rng.normal(size=(20, 4)), F32_TOL)


def test_dtype_override_and_parameter_free_default():
    model = mlp([3, 4, 2])
    assert rl.from_torch(model, dtype=np.float64).dtype == np.float64
    assert rl.from_torch(model, dtype=torch.float64).dtype == np.float64
    assert rl.from_torch(model.double(), dtype="float32").dtype == np.float32
    assert rl.from_torch(nn.ReLU(), input_shape=3).dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        rl.from_torch(model, dtype=np.int32)
    with pytest.raises(TypeError, match="float32 or float64"):
        rl.from_torch(model, dtype=torch.float16)


# --------------------------------------------------------------------------- round trip
def round_trip_nets(rng):
    w = lambda o, i: rng.normal(size=(o, i))  # noqa: E731
    mixed = np.array([0.0, 0.3, 1.0, -0.1])
    yield rl.PLNet.from_arrays([w(4, 3), w(2, 4)])
    yield rl.PLNet.from_arrays([w(4, 3), w(4, 4), w(1, 4)], activations=("leaky_relu", 0.2))
    yield rl.PLNet.from_arrays([w(4, 3), w(4, 4), w(2, 4)], activations=[mixed, "identity", "relu"])
    yield rl.PLNet.from_arrays([w(5, 2)], activations=["relu"], dtype=np.float32)
    yield rl.PLNet.from_arrays([w(3, 3), w(3, 3)], activations=[mixed[:3], 0.5], dtype=np.float32)


def test_round_trip(rng):
    for net in round_trip_nets(rng):
        model = plnet_to_torch(net)
        assert isinstance(model, nn.Sequential)
        param_dtype = torch.float64 if net.dtype == np.float64 else torch.float32
        assert all(p.dtype == param_dtype for p in model.parameters())
        X = rng.normal(size=(50, net.input_dim))
        tol = F64_TOL if net.dtype == np.float64 else F32_TOL
        assert_same_function(model, net, X, tol)
        assert_same_stages(rl.from_torch(model), net)
        assert_same_stages(rl.from_torch(net.to_torch()), net)


def test_to_torch_activation_modules():
    w = np.ones((3, 3))
    kinds = lambda net: [type(m).__name__ for m in plnet_to_torch(net)]  # noqa: E731
    assert kinds(rl.PLNet.from_arrays([w, w])) == ["Linear", "ReLU", "Linear"]
    leaky = plnet_to_torch(rl.PLNet.from_arrays([w, w], activations=0.25))
    assert leaky[1].negative_slope == 0.25
    mixed = rl.PLNet.from_arrays([w, w], activations=[[0.0, 0.5, 1.0], "relu"])
    assert kinds(mixed) == ["Linear", "PerNeuronLeakyReLU", "Linear", "ReLU"]
    # an all-identity hidden stage keeps its boundary with LeakyReLU(1.0)
    ident = rl.PLNet.from_arrays([w, w], activations=["identity", "identity"])
    assert kinds(ident) == ["Linear", "LeakyReLU", "Linear"]


def test_to_torch_leaves_global_rng_alone():
    net = rl.PLNet.from_arrays([np.ones((3, 2)), np.ones((1, 3))])
    state = torch.random.get_rng_state()
    plnet_to_torch(net)
    assert torch.equal(state, torch.random.get_rng_state())


def test_to_torch_rejects_non_plnet():
    with pytest.raises(TypeError, match="PLNet"):
        plnet_to_torch(nn.Linear(2, 2))


# --------------------------------------------------------------------------- properties
ACTS = st.sampled_from(["relu", "leaky", "prelu", "leaky_leaky", "none"])


@settings(max_examples=40, deadline=None, database=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    acts=st.lists(ACTS, min_size=4, max_size=4),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_mlps_match_torch(widths, acts, bias, seed):
    torch.manual_seed(seed)
    layers = []
    for k, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(i, o, bias=bias))
        kind = acts[k]
        if kind == "leaky_leaky":
            layers += [nn.LeakyReLU(0.3), nn.LeakyReLU(0.5)]
        elif kind != "none":
            layers.append(activation(kind, o))
    model = nn.Sequential(*layers).double()
    net = rl.from_torch(model)
    assert net.input_dim == widths[0] and net.output_dim == widths[-1]
    X = np.random.default_rng(seed).normal(size=(32, widths[0]))
    assert_same_function(model, net, X)
    assert_same_stages(rl.from_torch(plnet_to_torch(net)), net)


# --------------------------------------------------------------------------- no torch
def test_missing_torch_gives_install_hint(monkeypatch):
    import importlib

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "regionlab._torch_import")
    with pytest.raises(ImportError, match="pip install torch"):
        importlib.import_module("regionlab._torch_import")


def _hooked_models():
    def scale_output(module, inputs, output):
        return output * 3.0

    def shift_input(module, inputs):
        return (inputs[0] + 1.0,)

    a = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    a[0].register_forward_hook(scale_output)
    b = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    b[2].register_forward_pre_hook(shift_input)
    c = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    c.register_forward_hook(scale_output)  # on the container itself
    return {"forward hook": a, "forward pre-hook": b, "hook on the Sequential": c}


@pytest.mark.parametrize("case", ["forward hook", "forward pre-hook", "hook on the Sequential"])
def test_models_with_hooks_are_refused_by_every_engine(case):
    """Regression: hooks were ignored, so engines computed another function than model(x)."""
    model = _hooked_models()[case]
    X = torch.randn(8, 2)
    assert not torch.allclose(model(X), _hooked_models_without_hooks(model)(X))
    with pytest.raises(TypeError, match="hook"):
        rl.from_torch(model)
    with pytest.raises(TypeError, match="hook"):
        rl.count_patterns(model, X)
    with pytest.raises(TypeError, match="hook"):
        rl.flow.integrate(model, X.numpy(), np.ones(8), loss="mse", t_end=1.0)
    with pytest.raises(TypeError, match="hook"):
        rl.metrics.ntk(model, X.numpy())


def _hooked_models_without_hooks(model):
    import copy

    clone = copy.deepcopy(model)
    for m in clone.modules():
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
    return clone


def test_global_forward_hooks_are_refused():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, i, o: o)
    try:
        with pytest.raises(TypeError, match="global forward hook"):
            rl.from_torch(model)
    finally:
        handle.remove()
    assert rl.from_torch(model).n_neurons == 3


def test_removed_hooks_leave_nothing_behind():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    handle = model[0].register_forward_hook(lambda m, i, o: o * 2)
    handle.remove()
    net = rl.from_torch(model)
    X = torch.randn(5, 2)
    np.testing.assert_allclose(net.forward(X.numpy()), model(X).detach().numpy(), rtol=1e-5)


# ------------------------------------------------------------ what model(x) really runs
def test_method_patched_on_an_instance_is_refused_by_every_engine():
    """Regression: a forward set on the instance (as patching libraries do) was ignored,
    so the net computed the class's forward, not model(x)."""
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    original = model[0].forward
    model[0].forward = lambda x: 2 * original(x)
    X = torch.randn(8, 2)
    with pytest.raises(TypeError, match=r"model\.0 \(Linear\) has its own forward\(\)"):
        rl.from_torch(model)
    with pytest.raises(TypeError, match="own forward"):
        rl.count_patterns(model, X)
    with pytest.raises(TypeError, match="own forward"):
        rl.flow.integrate(model, X.numpy(), np.ones(8), loss="mse", t_end=1.0)
    del model[0].forward
    np.testing.assert_allclose(rl.from_torch(model).forward(X.numpy()),
                               model(X).detach().numpy(), rtol=1e-5, atol=1e-6)


class _StandardisedConv(nn.Conv2d):
    """Weight standardisation (BiT, NFNets): overrides _conv_forward, not forward."""

    def _conv_forward(self, x, weight, bias):
        w = (weight - weight.mean((1, 2, 3), keepdim=True)) / (weight.std((1, 2, 3), keepdim=True) + 1e-5)
        return super()._conv_forward(x, w, bias)


def test_subclass_overriding_a_method_forward_calls_is_not_converted_as_its_base():
    """Regression: only forward was compared, so this conv was converted as a plain Conv2d."""
    model = nn.Sequential(_StandardisedConv(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 1))
    with pytest.raises(TypeError):
        rl.from_torch(model, input_shape=(1, 5, 5))
    from regionlab._torch_import import overridden_methods

    assert overridden_methods(_StandardisedConv, nn.Conv2d) == ["_conv_forward"]
    assert overridden_methods(PlainLinearSubclass, nn.Linear) == []


def test_conversion_is_checked_against_model_outputs(monkeypatch):
    """The last line of defence: a conversion that differs from model(x) is refused."""
    import regionlab._torch_import as ti

    model = mlp([3, 5, 2]).double()
    real = ti._HANDLERS[nn.Linear]

    def doubled(folder, m, where):  # a handler gone wrong: the first layer's weights x2
        if where == "model.0":
            m = copy.deepcopy(m)
            with torch.no_grad():
                m.weight.mul_(2)
        real(folder, m, where)

    monkeypatch.setitem(ti._HANDLERS, nn.Linear, doubled)
    with pytest.raises(TypeError, match="something other than model"):
        rl.from_torch(model)


def test_half_precision_traced_models_convert():
    """Regression: the trace check compared at float32's tolerance and refused them."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x):
            return self.b(x + torch.relu(self.a(x)))

    torch.manual_seed(0)
    for half in (torch.float16, torch.bfloat16):
        model = Block().to(half)
        net = rl.from_torch(model)
        X = torch.randn(20, 6)
        np.testing.assert_allclose(net.forward(X.numpy()), model.float()(X).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_functional_first_layer_asks_for_the_input_shape():
    """Regression: the shape came from the first Linear module, called after F.linear,
    and torch's matmul error surfaced instead of this ValueError."""
    import torch.nn.functional as F

    class FunctionalFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(6, 5))
            self.out = nn.Linear(6, 2)

        def forward(self, x):
            return self.out(F.relu(F.linear(x, self.w)))

    model = FunctionalFirst()
    with pytest.raises(ValueError, match="input_shape"):
        rl.from_torch(model)
    assert rl.from_torch(model, input_shape=5).input_dim == 5


def test_subclasses_redefining_module_bookkeeping_still_convert(rng):
    """Only methods on the call path matter: a frozen-BatchNorm subclass redefining
    train(), a Linear redefining to(), convert as their base."""

    class FrozenBN(nn.BatchNorm1d):
        def train(self, mode=True):
            return super().train(False)

    class MyLinear(nn.Linear):
        def to(self, *args, **kwargs):
            return super().to(*args, **kwargs)

    model = nn.Sequential(MyLinear(3, 4), FrozenBN(4), nn.ReLU(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
    model.eval()
    assert_same_function(model, rl.from_torch(model), rng.normal(size=(20, 3)))


def test_compiled_and_training_spectral_norm_models_are_refused_with_what_to_do():
    import warnings

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.compile's own deprecation notices
        compiled = torch.compile(model)
    with pytest.raises(TypeError, match="_orig_mod"):
        rl.from_torch(compiled)
    sn = nn.Sequential(torch.nn.utils.parametrizations.spectral_norm(nn.Linear(3, 4)), nn.ReLU())
    with pytest.raises(ValueError, match="eval"):
        rl.from_torch(sn)
    rl.from_torch(sn.eval())
