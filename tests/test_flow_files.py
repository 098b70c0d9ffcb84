"""Malformed Trajectory files fail on load with a ValueError naming the field, before
allocating anything."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import make_mlp  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    y = np.sign(X[:, 0])
    tr = rl.flow.integrate(make_mlp((2, 3, 1), 0.0, True), X, y, loss="logistic", t_end=2.0,
                           record=5, dense=True)
    assert len(tr.events) > 0
    path = tr.save(tmp_path_factory.mktemp("traj") / "good.npz")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def write(tmp_path, arrays, **changes):
    a = dict(arrays)
    for k, v in changes.items():
        if v is None:
            del a[k]
        else:
            a[k] = v
    path = tmp_path / "bad.npz"
    np.savez(path, **a)
    return path


def test_the_good_file_loads(saved, tmp_path):
    tr = rl.load(write(tmp_path, saved))
    assert tr.has_dense_output and tr.trainable == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("changes,field", [
    # absurd widths: 1e14 parameters (~728 TiB) must fail before anything is allocated
    (dict(layer_widths=np.array([10**7, 10**7, 1])), "layer_widths"),
    (dict(layer_widths=np.array([2, 2**40, 1])), "layer_widths"),
    (dict(layer_widths=np.array([2, 0, 1])), "layer_widths"),
    (dict(layer_widths=np.array([[2, 3, 1]])), "layer_widths"),
    (dict(layer_widths=np.array(["2", "3", "1"])), "layer_widths"),
    (dict(layer_has_bias=np.array([True, True, True])), "layer_has_bias"),
    (dict(layer_has_bias=np.array([2, 1])), "layer_has_bias"),
    ("short_params", "flat_params"),
    ("few_records", "flat_params"),
    (dict(param_names=np.array(["0.weight", "0.weight", "2.weight", "2.bias"])), "param_names"),
    (dict(layer_slopes=np.array([0.0, np.nan, 0.0, 1.0])), "layer_slopes"),
    (dict(layer_slopes=np.zeros(3)), "layer_slopes"),
    (dict(t=np.array([0.0, 1.0, 0.5, 1.5, 2.0])), "t"),
    ("bad_event_sample", "events_sample"),
    ("bad_event_neuron", "events_neuron"),
    ("short_event_time", "events_"),
    (dict(trainable=np.array(["3.weight"])), "trainable"),
    ("bad_dense", "dense_coef"),
    (dict(dense_h=None), "dense_h"),
    (dict(stats_values=np.array(["1"])), "stats_values"),
    (dict(sample_loss=np.zeros((5, 7))), "margin"),
])
def test_malformed_field_is_named(saved, tmp_path, changes, field):
    if changes == "short_params":
        changes = dict(flat_params=saved["flat_params"][:, :-1])
    elif changes == "few_records":
        changes = dict(flat_params=saved["flat_params"][:-1])
    elif changes == "bad_event_sample":
        changes = dict(events_sample=saved["events_sample"] + 100)
    elif changes == "bad_event_neuron":
        changes = dict(events_neuron=saved["events_neuron"] + 3)
    elif changes == "short_event_time":
        changes = dict(events_time=saved["events_time"][:-1])
    elif changes == "bad_dense":
        changes = dict(dense_coef=saved["dense_coef"][:, :-1])
    with pytest.raises(ValueError, match=f"malformed Trajectory file: .*field '{field}"):
        rl.load(write(tmp_path, saved, **changes))


def test_a_missing_array_is_named(saved, tmp_path):
    with pytest.raises(ValueError, match="lacks the array 'layer_slopes'"):
        rl.load(write(tmp_path, saved, layer_slopes=None))


def test_format_1_files_load_with_everything_trained(saved, tmp_path):
    old = {k: v for k, v in saved.items() if k != "trainable" and not k.startswith("dense_")}
    old["__regionlab_format__"] = np.array(1)
    tr = rl.load(write(tmp_path, old))
    assert tr.trainable == tr.param_names and not tr.has_dense_output
    with pytest.raises(ValueError, match="format 9"):
        rl.load(write(tmp_path, saved, __regionlab_format__=np.array(9)))
