"""A Trajectory's ``.npz`` fields, declared once: what each holds, and its checks on load.

Every field is checked (dtype kind, rank, finiteness) and every size is tied to another
field before anything is allocated from it, so a malformed or hostile file fails with a
``ValueError`` naming the field instead of a raw numpy error or a huge allocation.
Format 1 (before ``trainable`` existed) loads with every parameter trained.
"""

from __future__ import annotations

import numpy as np

FORMAT = 2

# name: (dtype kinds, rank, must be finite, required)
FIELDS = {
    "t": ("f", 1, True, True),
    "loss": ("f", 1, False, True),
    "sample_loss": ("f", 2, False, True),
    "margin": ("f", 2, False, True),
    "flat_params": ("f", 2, False, True),
    "param_names": ("U", 1, False, True),
    "layer_widths": ("iu", 1, False, True),
    "layer_has_bias": ("biu", 1, False, True),
    "layer_slopes": ("f", 1, True, True),
    "trainable": ("U", 1, False, False),
    "stats_keys": ("U", 1, False, True),
    "stats_values": ("U", 1, False, True),
    "dense_t0": ("f", 1, True, False),
    "dense_t1": ("f", 1, True, False),
    "dense_h": ("f", 1, True, False),
    "dense_coef": ("f", 2, True, False),
}
EVENT_FIELDS = {"time": "f", "sample": "iu", "layer": "iu", "neuron": "iu", "new_state": "iu"}
SLIDING_FIELDS = {"sample": "iu", "layer": "iu", "neuron": "iu", "t_start": "f", "t_end": "f"}
MAX_WIDTH = 2**31


class Malformed(ValueError):
    pass


def _bad(name: str, why: str) -> Malformed:
    return Malformed(f"malformed Trajectory file: field {name!r} {why}")


def _check(a: dict, name: str, kinds: str, rank: int, finite: bool) -> np.ndarray:
    v = a[name]
    if v.dtype.kind not in kinds:
        raise _bad(name, f"has dtype {v.dtype}, expected kind {kinds!r}")
    if v.ndim != rank:
        raise _bad(name, f"has shape {v.shape}, expected {rank} dimension(s)")
    if finite and not np.all(np.isfinite(v)):
        raise _bad(name, "contains NaN or Inf")
    return v


def validate(a: dict, version: int) -> dict:
    """The checked arrays of a Trajectory file (format 1 or 2); Malformed naming a field."""
    if version not in (1, FORMAT):
        raise ValueError(f"Trajectory format {version} is not supported (expected 1 or {FORMAT})")
    out = {}
    for name, (kinds, rank, finite, required) in FIELDS.items():
        if name not in a:
            if required:
                raise KeyError(name)
            continue
        out[name] = _check(a, name, kinds, rank, finite)
    for prefix, fields in (("events_", EVENT_FIELDS), ("sliding_", SLIDING_FIELDS)):
        lengths = set()
        for f, kinds in fields.items():
            out[prefix + f] = _check(a, prefix + f, kinds, 1, kinds == "f")
            lengths.add(len(out[prefix + f]))
        if len(lengths) > 1:
            raise _bad(prefix + "*", "arrays have different lengths")
    _check_model(out)
    _check_records(out)
    _check_tables(out)
    names = set(out["param_names"].tolist())
    if "trainable" in out and not set(out["trainable"].tolist()) <= names:
        raise _bad("trainable", "names parameters that param_names does not list")
    if len(out["stats_keys"]) != len(out["stats_values"]):
        raise _bad("stats_values", "does not have one value per key in stats_keys")
    _check_dense(out)
    return out


def _check_model(out: dict) -> None:
    widths = [int(w) for w in out["layer_widths"]]
    if len(widths) < 2 or min(widths) < 1 or max(widths) >= MAX_WIDTH:
        raise _bad("layer_widths", f"must hold >= 2 widths in [1, {MAX_WIDTH}), got {widths[:8]}")
    n_layers = len(widths) - 1
    has_bias = out["layer_has_bias"]
    if len(has_bias) != n_layers or not np.all((has_bias == 0) | (has_bias == 1)):
        raise _bad("layer_has_bias", f"must hold one 0/1 flag per layer ({n_layers}), "
                   f"got {len(has_bias)} entries")
    n_neurons = sum(widths[1:])
    if len(out["layer_slopes"]) != n_neurons:
        raise _bad("layer_widths", f"(with {n_neurons} neurons) and field 'layer_slopes' (with "
                   f"{len(out['layer_slopes'])} slopes, one per neuron) disagree")
    n_params = sum(widths[k] * widths[k + 1] + (widths[k + 1] if has_bias[k] else 0)
                   for k in range(n_layers))  # Python ints: no overflow, nothing allocated
    if out["flat_params"].shape[1] != n_params:
        raise _bad("flat_params", f"has {out['flat_params'].shape[1]} columns, but field "
                   f"'layer_widths' with 'layer_has_bias' makes {n_params} parameters")
    n_names = n_layers + int(np.sum(has_bias))
    names = out["param_names"]
    if len(names) != n_names or len(set(names.tolist())) != n_names:
        raise _bad("param_names", f"must hold {n_names} distinct names (one per weight and "
                   f"bias), got {len(names)}")


def _check_records(out: dict) -> None:
    t = out["t"]
    n_rec = len(t)
    if n_rec < 1 or np.any(np.diff(t) < 0):
        raise _bad("t", "must hold at least one record time, in increasing order")
    for name in ("loss", "flat_params", "sample_loss", "margin"):
        if out[name].shape[0] != n_rec:
            raise _bad(name, f"has {out[name].shape[0]} records, but t has {n_rec}")
    if out["margin"].shape != out["sample_loss"].shape:
        raise _bad("margin", f"has shape {out['margin'].shape}, sample_loss "
                   f"{out['sample_loss'].shape}")


def _check_tables(out: dict) -> None:
    n = out["sample_loss"].shape[1]
    widths = [int(w) for w in out["layer_widths"]]
    for prefix in ("events_", "sliding_"):
        sample, layer, neuron = (out[prefix + f] for f in ("sample", "layer", "neuron"))
        if len(sample) == 0:
            continue
        if sample.min() < 0 or sample.max() >= n:
            raise _bad(prefix + "sample", f"holds a sample index outside [0, {n})")
        if layer.min() < 0 or layer.max() >= len(widths) - 1:
            raise _bad(prefix + "layer", f"holds a layer index outside [0, {len(widths) - 1})")
        if neuron.min() < 0 or np.any(neuron >= np.array(widths[1:])[layer]):
            raise _bad(prefix + "neuron", "holds a neuron index beyond its layer's width")


def _check_dense(out: dict) -> None:
    names = ("dense_t0", "dense_t1", "dense_h", "dense_coef")
    present = [k for k in names if k in out]
    if not present:
        return
    if len(present) != len(names):
        raise _bad(sorted(set(names) - set(present))[0], "is missing (the dense output needs all "
                   "of dense_t0, dense_t1, dense_h, dense_coef)")
    m = len(out["dense_t0"])
    for k in ("dense_t1", "dense_h"):
        if len(out[k]) != m:
            raise _bad(k, f"has {len(out[k])} pieces, dense_t0 has {m}")
    if out["dense_coef"].shape != (m, 5 * out["flat_params"].shape[1]):
        raise _bad("dense_coef", f"has shape {out['dense_coef'].shape}, expected "
                   f"({m}, 5 * n_params)")
    if m and (np.any(out["dense_h"] <= 0) or np.any(out["dense_t1"] < out["dense_t0"])):
        raise _bad("dense_h", "pieces must have positive steps and t1 >= t0")
