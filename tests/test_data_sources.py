"""The batch protocol of regionlab.data, and the input checks every engine shares."""

import numpy as np
import pytest

import regionlab as rl
from oracles import distinct_rows


def random_net(rng, widths, dtype=np.float64):
    ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(widths, widths[1:])]
    bs = [rng.standard_normal(o) * 0.3 for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, bs, "relu", dtype=dtype)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_dataloader_with_one_input_per_sample_counts_inputs_not_targets(rng, batch_size):
    """Regression: (input, target) pairs of 1-D inputs were read as two samples."""
    torch = pytest.importorskip("torch")
    net = random_net(rng, [1, 12, 1])
    x = rng.uniform(-3, 3, 300)
    expected = distinct_rows(net.patterns(x[:, None]))[0]
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(-x))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size)
    if batch_size == 1:  # [x_i, y_i] of shape (1,): two rows, or an input and a target
        with pytest.warns(UserWarning, match="could be rows or"):
            pc = rl.count_patterns(net, loader)
    else:
        pc = rl.count_patterns(net, loader)
    assert pc.n_samples == len(x)
    assert pc.n_patterns == expected
    # the same data as one 1-D array
    assert rl.count_patterns(net, x).n_patterns == expected


def test_pairs_whose_targets_look_like_inputs_count_the_inputs(rng):
    """Autoencoder-style (x, x') batches: the second entry is never counted."""
    net = random_net(rng, [2, 10, 1])
    X = rng.standard_normal((400, 2))
    Y = rng.standard_normal((400, 2)) * 100
    batches = [(X[i : i + 100], Y[i : i + 100]) for i in range(0, 400, 100)]
    pc = rl.count_patterns(net, iter(batches))
    assert pc.n_samples == 400
    assert pc.n_patterns == rl.count_patterns(net, X).n_patterns
    triples = [(X[i : i + 100], Y[i : i + 100], np.arange(100)) for i in range(0, 400, 100)]
    assert rl.count_patterns(net, iter(triples)).n_samples == 400


def test_dict_batches(rng):
    net = random_net(rng, [3, 10, 1])
    X = rng.standard_normal((500, 3))
    expected = rl.count_patterns(net, X).n_patterns
    batches = [{"x": X[i : i + 50], "y": np.zeros(50)} for i in range(0, 500, 50)]
    assert rl.count_patterns(net, iter(batches)).n_patterns == expected
    batches = [{"pixels": X[i : i + 50], "label": np.zeros(50)} for i in range(0, 500, 50)]
    with pytest.raises(ValueError, match="input_key"):
        rl.count_patterns(net, iter(batches))
    assert rl.count_patterns(net, iter(batches), input_key="pixels").n_samples == 500
    both = [{"x": X[:50], "inputs": X[:50]}]
    with pytest.raises(ValueError, match="several"):
        rl.count_patterns(net, iter(both))
    with pytest.raises(KeyError, match="nope"):
        rl.count_patterns(net, iter(batches), input_key="nope")


def test_row_sliceable_sources_are_read_in_blocks(rng):
    """h5py datasets / dask arrays: read by row slices, never converted whole."""
    net = random_net(rng, [2, 10, 1])
    X = rng.standard_normal((5000, 2))

    class Dataset:  # the part of h5py.Dataset's interface regionlab uses
        def __init__(self, a):
            self.a, self.shape, self.dtype, self.reads = a, a.shape, a.dtype, []

        def __getitem__(self, key):
            assert isinstance(key, slice)
            self.reads.append(key)
            return self.a[key]

    ds = Dataset(X)
    pc = rl.count_patterns(net, ds, batch_size=1000)
    assert pc.n_samples == 5000
    assert pc.n_patterns == rl.count_patterns(net, X).n_patterns
    assert len(ds.reads) == 5


def test_containers_without_order_and_masked_data_are_refused(rng):
    net = random_net(rng, [2, 5, 1])
    with pytest.raises(TypeError, match="set"):
        rl.count_patterns(net, {(0.0, 1.0), (1.0, 0.0)})
    with pytest.raises(TypeError, match="set"):
        net.forward({1.0, 2.0})
    X = np.ma.masked_array(rng.standard_normal((10, 2)), mask=False)
    assert net.forward(X).shape == (10, 1)  # nothing masked: the data are used as they are
    X[3, 1] = np.ma.masked
    for call in (net.forward, net.patterns, lambda a: rl.count_patterns(net, a)):
        with pytest.raises(ValueError, match="masked"):
            call(X)


def test_meta_tensors_and_models_are_refused(rng):
    torch = pytest.importorskip("torch")
    net = random_net(rng, [2, 5, 1])
    with pytest.raises(ValueError, match="meta device"):
        net.forward(torch.empty((4, 2), device="meta"))
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    with pytest.raises(ValueError, match="meta device"):
        rl.from_torch(model)
    with pytest.raises(ValueError, match="meta device"):
        rl.flow.integrate(model, np.zeros((3, 2)), np.ones(3), loss="mse", t_end=1.0)


@pytest.mark.parametrize("name", ["batch_size", "max_patterns"])
@pytest.mark.parametrize("value", [True, 2.0, 0, -3])
def test_sizes_must_be_positive_ints_not_bools(rng, name, value):
    net = random_net(rng, [2, 5, 1])
    with pytest.raises(ValueError, match=name):
        rl.count_patterns(net, np.zeros((3, 2)), **{name: value})


def test_forward_on_no_rows_gives_no_rows(rng):
    net = random_net(rng, [4, 8, 3])
    assert net.forward(np.zeros((0, 4))).shape == (0, 3)
    assert net.patterns(np.zeros((0, 4))).shape == (0, 8)
    assert net.patterns(np.zeros((0, 4)), packed=True).shape == (0, 1)
    with pytest.raises(ValueError, match="empty"):
        rl.count_patterns(net, np.zeros((0, 4)))


def test_one_input_nets_take_vectors_as_samples(rng):
    net = random_net(rng, [1, 6, 2])
    x = rng.standard_normal(20)
    np.testing.assert_array_equal(net.forward(x), net.forward(x[:, None]))


def test_a_list_of_row_arrays_is_a_batch_of_rows(rng):
    """Regression: a list of many same-shaped rows was read as (inputs, targets, ...)."""
    net = random_net(rng, [1, 8, 1])
    X = rng.standard_normal((300, 1))
    rows = ([row for row in X[i : i + 100]] for i in range(0, 300, 100))
    with pytest.warns(UserWarning, match="read as 100 rows"):  # (1,) rows of a one-input net
        pc = rl.count_patterns(net, rows)
    assert pc.n_samples == 300
    assert pc.n_patterns == rl.count_patterns(net, X).n_patterns


def test_tuples_of_same_shaped_tensors_are_inputs_and_targets_and_row_lists_are_rows(rng):
    """Regression: four same-shaped tensors per batch (a TensorDataset of four) were read
    as four rows, so targets and weights were counted as samples; a list of rows is known
    from the net's input size, and a stream's last, shorter list keeps the first reading."""
    torch = pytest.importorskip("torch")
    net = random_net(rng, [3, 10, 1])
    x = rng.standard_normal((50, 3))
    expected = distinct_rows(net.patterns(x))[0]
    t = torch.from_numpy(x)
    ds = torch.utils.data.TensorDataset(t, -t, 2 * t, t + 1)
    for batch_size in (1, 10):
        pc = rl.count_patterns(net, torch.utils.data.DataLoader(ds, batch_size=batch_size))
        assert (pc.n_samples, pc.n_patterns) == (50, expected)
    rows = ([row for row in x[i : i + 2]] for i in range(0, 50, 2))  # lists of two (3,) rows
    pc = rl.count_patterns(net, rows)
    assert (pc.n_samples, pc.n_patterns) == (50, expected)
    net1 = random_net(rng, [1, 8, 1])
    x1 = rng.standard_normal((30, 1))
    with pytest.warns(UserWarning, match="read as 4 rows"):
        pc = rl.count_patterns(net1, ([r for r in x1[i : i + 4]] for i in range(0, 30, 4)))
    assert pc.n_samples == 30  # the last list holds two rows: read as rows too
    assert pc.n_patterns == distinct_rows(net1.patterns(x1))[0]


@pytest.mark.parametrize("dtype", ["datetime64[D]", "timedelta64[s]"])
def test_dates_and_durations_are_refused_not_counted_as_epoch_offsets(rng, dtype):
    net = random_net(rng, [2, 6, 1])
    X = np.arange(20).reshape(10, 2).astype(dtype)
    for call in (net.forward, net.patterns, lambda a: rl.count_patterns(net, a)):
        with pytest.raises(TypeError, match="dates or durations"):
            call(X)


def test_image_nets_refuse_samples_of_another_shape_such_as_channels_last():
    """Regression: a net converted for (3, 8, 8) images took (n, 8, 8, 3) data, flattened
    it in the wrong order and evaluated it (outputs off by up to 1 against the model)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(4 * 64, 2)).eval()
    net = rl.from_torch(m, input_shape=(3, 8, 8))
    X = torch.randn(20, 3, 8, 8)
    with torch.no_grad():
        np.testing.assert_allclose(net.forward(X.numpy()), m(X).numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(net.forward(X.reshape(20, -1).numpy()), m(X).numpy(), rtol=1e-4, atol=1e-5)
    channels_last = X.permute(0, 2, 3, 1).contiguous()
    for call in (net.forward, net.patterns, lambda a: rl.count_patterns(net, a)):
        with pytest.raises(ValueError, match="channels first"):
            call(channels_last.numpy())
    assert rl.count_patterns(net, X).n_samples == 20
