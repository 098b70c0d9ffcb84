"""Bad input to the flow API gets a clear ValueError/TypeError; Ctrl-C stops a long flow."""

import copy
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import make_mlp  # noqa: E402


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    return make_mlp((3, 4, 1), 0.1), X, y


def test_unsupported_module_is_named(setup):
    _, X, y = setup
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    with pytest.raises(TypeError, match=r"model\.1 \(Tanh\) cannot be converted.*Supported modules: Linear"):
        rl.flow.integrate(model, X, y, loss="logistic", t_end=1.0)


def test_not_a_model(setup):
    _, X, y = setup
    with pytest.raises(TypeError, match="torch.nn.Module"):
        rl.flow.gd("model", X, y, loss="mse", lr=0.1, steps=1)


def test_activation_before_linear_acts_on_the_inputs(setup):
    """The IR makes the leading ReLU a fixed stage: only the Linear trains, as in torch."""
    _, X, y = setup
    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    ours = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        (0.5 * (ref(torch.tensor(X)).reshape(-1) - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
    assert set(ours.params[-1]) == {"1.weight", "1.bias"}
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(ours.params[-1][name], p.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(loss="hinge"), ValueError, "unknown loss"),
        (dict(loss="logistic", t_end=-1.0), ValueError, "t_end"),
        (dict(loss="logistic", rtol=0.0), ValueError, "rtol"),
        (dict(loss="logistic", method="rk45"), ValueError, "unknown method"),
        (dict(loss="logistic", method="rk4"), ValueError, "step="),
        (dict(loss="logistic", parameterization="mup"), ValueError, "parameterization"),
        (dict(loss="logistic", max_steps=0), ValueError, "max_steps"),
        (dict(loss="logistic", max_steps=2.5), TypeError, "max_steps"),
        (dict(loss="logistic", record=[2.0]), ValueError, "record times"),
        (dict(loss="logistic", t_end="long"), TypeError, "t_end"),
    ],
)
def test_bad_integrate_arguments(setup, kwargs, exc, match):
    model, X, y = setup
    args = dict(t_end=1.0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        rl.flow.integrate(model, X, y, **args)


def test_bad_data(setup):
    model, X, y = setup
    with pytest.raises(ValueError, match="labels in"):
        rl.flow.integrate(model, X, y * 2, loss="logistic", t_end=1.0)
    with pytest.raises(ValueError, match="X has shape"):
        rl.flow.integrate(model, X[:, :2], y, loss="logistic", t_end=1.0)
    with pytest.raises(ValueError, match="one label per sample"):
        rl.flow.integrate(model, X, y[:5], loss="logistic", t_end=1.0)
    bad = X.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rl.flow.integrate(model, bad, y, loss="logistic", t_end=1.0)
    with pytest.raises(ValueError, match="cross_entropy needs"):
        rl.flow.gd(make_mlp((3, 4, 2), 0.1), X, np.full(10, 5), loss="cross_entropy", lr=0.1,
                   steps=1)
    with pytest.raises(ValueError, match="columns"):
        rl.flow.gd(model, X, np.zeros((10, 2)), loss="mse", lr=0.1, steps=1)
    with pytest.raises(TypeError, match="numeric"):
        rl.flow.gd(model, X, np.array(["a"] * 10), loss="mse", lr=0.1, steps=1)


def test_bad_gd_arguments(setup):
    model, X, y = setup
    with pytest.raises(ValueError, match="lr"):
        rl.flow.gd(model, X, y, loss="logistic", lr=-0.1, steps=5)
    with pytest.raises(ValueError, match="steps"):
        rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="record_every"):
        rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=5, record_every=0)
    with pytest.raises(ValueError, match="NaN/Inf"):
        rl.flow.gd(model, X, np.full(10, 1e200), loss="mse", lr=1e100, steps=50)


def test_distance_checks_its_arguments(setup):
    model, X, y = setup
    a = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2)
    b = rl.flow.gd(make_mlp((3, 5, 1), 0.1), X, y, loss="logistic", lr=0.1, steps=2)
    with pytest.raises(ValueError, match="different models"):
        rl.flow.distance(a, b)
    with pytest.raises(TypeError, match="Trajectory"):
        rl.flow.distance(a, "b")


def test_record_index_out_of_range(setup):
    model, X, y = setup
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2, record_every=1)
    with pytest.raises(IndexError):
        tr.model(7)


SCRIPT = """
import numpy as np, torch, regionlab as rl, sys
torch.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 50)); y = np.sign(X[:, 0])
model = torch.nn.Sequential(torch.nn.Linear(50, 200), torch.nn.ReLU(), torch.nn.Linear(200, 1))
print("ready", flush=True)
try:
    rl.flow.gd(model, X, y, loss="logistic", lr=1e-3, steps=10**8)  # hours of work
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_ctrl_c_interrupts_gd():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("gd ignored Ctrl-C")
    assert proc.returncode == 3 and "interrupted" in out


FLOW_SCRIPT = """
import numpy as np, torch, regionlab as rl, sys
torch.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 50)); y = np.sign(X[:, 0])
model = torch.nn.Sequential(torch.nn.Linear(50, 200), torch.nn.ReLU(), torch.nn.Linear(200, 1))
print("ready", flush=True)
try:
    rl.flow.integrate(model, X, y, loss="logistic", t_end=1e6, method="euler", step=1e-4,
                      max_steps=10**12)  # hours of work
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_ctrl_c_interrupts_integrate():
    proc = subprocess.Popen([sys.executable, "-c", FLOW_SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("integrate ignored Ctrl-C")
    assert proc.returncode == 3 and "interrupted" in out
