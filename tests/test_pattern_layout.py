"""net.pattern_layout / explain_pattern read a pattern back in the source model's terms:
checked against the model's own intermediate values, computed by torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regionlab as rl  # noqa: E402


def test_chain_model_bits_are_the_relus_inputs_signs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Sequential(nn.Linear(5, 4), nn.LeakyReLU(0.1)),
                          nn.Linear(4, 2)).double().eval()
    net = rl.from_torch(model)
    X = torch.randn(50, 3, dtype=torch.float64)
    h1 = model[0](X)
    h2 = model[2][0](model[1](h1))
    assert [(e.source, e.role) for e in net.pattern_layout] == [("1", "relu")] * 5 + [("2.1", "relu")] * 4
    for x, a, b, bits in zip(X, h1, h2, net.patterns(X.numpy())):
        read = net.explain_pattern(bits)
        np.testing.assert_array_equal(read["1"]["relu"], (a > 0).numpy().astype(int))
        np.testing.assert_array_equal(read["2.1"]["relu"], (b > 0).numpy().astype(int))


class Traced(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.ht, self.p = nn.Linear(2, 4), nn.Hardtanh(-0.5, 0.5), nn.Linear(2, 6)

    def forward(self, x):
        return torch.cat([self.ht(self.a(x)), x.abs(), self.p(x).view(-1, 3, 2).amax(-1)], 1)


def test_traced_model_roles_and_winners():
    torch.manual_seed(1)
    model = Traced().double().eval()
    net = rl.from_torch(model)
    X = torch.randn(100, 2, dtype=torch.float64)
    a, p = model.a(X), model.p(X).view(-1, 3, 2)
    packed = net.patterns(X.numpy(), packed=True)
    for i in range(len(X)):
        read = net.explain_pattern(packed[i])
        np.testing.assert_array_equal(read["ht"]["lower"], (a[i] > -0.5).numpy())
        np.testing.assert_array_equal(read["ht"]["upper"], (a[i] > 0.5).numpy())
        np.testing.assert_array_equal(read["abs_1"]["positive"], (X[i] > 0).numpy())
        np.testing.assert_array_equal(read["abs_1"]["negative"], (X[i] < 0).numpy())
        np.testing.assert_array_equal(read["amax"]["max"], p[i].argmax(-1).numpy())
    layout = net.pattern_layout
    assert sum(e.n_bits for e in layout) == net.n_neurons
    assert [e.bit for e in layout] == list(np.cumsum([0] + [e.n_bits for e in layout[:-1]]))


def test_layout_of_hand_built_nets_and_bad_patterns():
    rng = np.random.default_rng(0)
    net = rl.PLNet.from_arrays([rng.standard_normal((6, 2)), rng.standard_normal((1, 2))],
                               activations=[("maxout", 3), "identity"])
    assert [(e.source, e.unit, e.n_bits, e.role) for e in net.pattern_layout] == [
        ("stage0", 0, 2, "max"), ("stage0", 1, 2, "max")]
    with pytest.raises(ValueError, match="expected 4 bits"):
        net.explain_pattern(np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="origin has 1 entries for 2 units"):
        rl.PLNet([rl.Stage.max_groups(np.eye(2), np.zeros(2), [[0], [1]], origin=[("a", 0, "max")])])


def test_one_sided_clamp_roles_say_which_side_the_input_is():
    """Regression: clamp(max=hi)'s unit was labelled "upper" like a two-sided clamp's,
    whose bit means the opposite (above hi there, below hi here)."""

    class Clamps(nn.Module):
        def forward(self, x):
            return torch.cat([torch.clamp(x, -1.0, 1.0), torch.clamp(x, max=1.0),
                              torch.clamp(x, min=-1.0)], 1)

    net = rl.from_torch(Clamps(), input_shape=(1,))
    X = np.array([[-2.0], [0.0], [2.0]])
    got = [net.explain_pattern(p) for p in net.patterns(X)]
    two, upper_only, lower_only = sorted(got[0])
    for x, read in zip(X[:, 0], got):
        assert read[two]["lower"][0] == (x > -1) and read[two]["upper"][0] == (x > 1)
        assert read[upper_only]["below_upper"][0] == (x < 1)
        assert read[lower_only]["lower"][0] == (x > -1)
