"""Model: a network, a loss and an optimizer, trained with one compiled graph per step.

`fit` traces the whole training step (forward pass, loss, gradients from the autodiff pass,
optimizer update) into a single irtoy graph, compiles it once per batch shape on the chosen
backend, and calls it for every batch. Parameters, running statistics and optimizer buffers
stay NumPy arrays owned by the model, passed in and returned by the step; the step is
compiled with them donated, so the numba backend updates them in place. With
backend="jax" and `devices` (a count or a list of JAX devices), each batch is split over
the devices and XLA sums the gradients across them (data parallelism, `_data_parallel`).
"""
import io
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np

import irtoy
from irtoy.errors import IrtoyError
from irtoy.files import checked_write
from irtoy.nn import losses as losses_mod, optimizers as optimizers_mod, schedules
from irtoy.nn.datasets import batches, num_batches
from irtoy.nn.npz import read_arrays
from irtoy.nn.progress import Progress
from irtoy.nn.layers import Context

FORMAT = "irtoy.nn.Model"
VERSION = 1


class Model:
    def __init__(self, net, loss, optimizer=None, backend="numba", seed=0, l2=0.0, l1=0.0, devices=None):
        self.net, self.loss, self.optimizer = net, loss, optimizer or optimizers_mod.SGD(0.01)
        self.backend, self.seed, self.l2, self.l1 = backend, seed, float(l2), float(l1)
        self.devices = _devices(devices, backend)
        self.params = self.state = self.opt_state = None
        self.input_shape = self.output_shape = None
        self.steps = 0          # optimizer steps taken, over all calls to fit
        self.epochs = 0
        self._compiled = {}     # (what, batch specs) -> Compiled
        self._fit_step = None   # the training step of fit's batch size (not of a short last batch)
        self._rng = np.random.default_rng(seed)

    # -- building ------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the parameters for samples of `input_shape` (batch axis excluded)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        rng = np.random.default_rng(self.seed)
        self.params, self.state, self.output_shape = self.net.init(rng, self.input_shape)
        self.opt_state = self.optimizer.init(self.params)
        return self

    def _ensure_built(self, x):
        if self.params is None:
            self.build(x.shape[1:])
        elif tuple(x.shape[1:]) != self.input_shape:
            hint = " (one sample? give it a batch axis: x[None])" if tuple(x.shape) == self.input_shape else ""
            raise irtoy.ShapeError(f"the model was built for samples of shape {self.input_shape}, "
                                   f"but the data has samples of shape {tuple(x.shape[1:])}{hint}")

    def targets(self, y):
        """Targets as the loss wants them: integer labels (one per sample, or one per step of a
        sequence of outputs) stay int64 labels for a loss that takes them (softmax cross-entropy
        picks each label's log-probability with a gather), else become one-hot float32 rows."""
        y = _data_array("y", y, dtype=None)
        if y.ndim == 0:
            raise irtoy.ShapeError(f"y must hold one target per sample, got the scalar {y[()]!r}")
        classes = self.output_shape[-1]
        labels = y.ndim >= 1 and y.shape[1:] == tuple(self.output_shape[:-1])
        if y.dtype.kind in "iu" and labels and self.loss.classifies and classes > 1:
            if y.size and (y.min() < 0 or y.max() >= classes):
                raise IrtoyError(f"labels must be in 0..{classes - 1} for a model with {classes} outputs, "
                                 f"got {y.min()}..{y.max()}")
            return y.astype(np.int64) if self.loss.takes_labels else np.eye(classes, dtype=np.float32)[y]
        y = _data_array("y", y)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.shape[1:] != tuple(self.output_shape):
            hint = " (integer class labels need an integer dtype)" if y.shape[1:] == (1,) else ""
            raise IrtoyError(f"targets of shape {y.shape[1:]} per sample do not fit the model's outputs of shape "
                             f"{tuple(self.output_shape)}{hint}")
        return y

    # -- the traced functions --------------------------------------------------------------
    def objective(self, params, out, y):
        value = self.loss(out, y)
        if self.l2:
            value = value + losses_mod.l2_penalty(params, self.l2)
        if self.l1:
            value = value + losses_mod.l1_penalty(params, self.l1)
        return value

    def correct(self, out, y):
        """How many samples in the batch are predicted right (for classification losses). A
        sample with several predictions (one per time step) counts the fraction it gets right."""
        if not self.loss.classifies:
            return np.float32(0.0)          # accuracy means nothing for regression losses
        if out.shape[-1] == 1:
            hits = (out > 0) == (y > 0.5)
        elif y.dtype.kind in "iu":          # labels
            hits = np.argmax(out, axis=-1) == y
        else:
            hits = np.argmax(out, axis=-1) == np.argmax(y, axis=-1)
        per_sample = hits.size // hits.shape[0]
        return np.sum(hits) if per_sample == 1 else np.sum(hits) / per_sample

    def train_step(self, params, state, opt_state, x, y, hyper, seed):
        """One step of training, as a function of arrays: traced into one graph by `fit`."""
        ctx = Context(training=True, seed=seed)

        def objective(params):
            out, _ = self.net.apply(params, state, x, ctx)
            with irtoy.scope("loss"):
                return self.objective(params, out, y)

        loss, grads = irtoy.value_and_grad(objective)(params)
        out, new_state = self.net.apply(params, state, x, ctx)     # the same nodes: merged by CSE
        with irtoy.scope("optimizer", role="update"):
            new_params, new_opt_state = self.optimizer.update(params, grads, opt_state, hyper)
        with irtoy.scope("metrics"):
            correct = self.correct(out, y)
        return new_params, new_state, new_opt_state, loss, correct

    def eval_step(self, params, state, x, y):
        out, _ = self.net.apply(params, state, x, Context(training=False))
        with irtoy.scope("loss"):
            loss = self.objective(params, out, y)
        with irtoy.scope("metrics"):
            return loss, self.correct(out, y)

    def predict_step(self, params, state, x):
        return self.net.apply(params, state, x, Context(training=False))[0]

    def _compile(self, what, fn, *args):
        """The compiled `fn` for these arguments, traced the first time. Only the batch (the
        arrays after params and state) changes shape from call to call, so it alone is the
        key; a compiled function refuses anything else that changed."""
        batch = args[3:] if what == "train" else args[2:]
        key = (what,) + tuple((a.shape, a.dtype.str) for a in batch if isinstance(a, np.ndarray))
        if key not in self._compiled:
            # The training step may write the new weights, running statistics and optimizer
            # state into the old ones' arrays (the model keeps only the new), as PyTorch's
            # optimizers update parameters in place.
            donate = ("params", "state", "opt_state") if what == "train" else ()
            self._compiled[key] = irtoy.trace(fn, *args).compile(self.backend, donate=donate,
                                                                  **self._data_parallel(what, batch))
        return self._compiled[key]

    def _data_parallel(self, what, batch):
        """Options that split a batch over the devices: its first axis is cut in equal parts,
        one per device; weights and optimizer state are copied to each, and XLA adds the
        all-reduce that sums the gradients (jax.sharding). A batch that does not divide
        evenly (the last of an epoch, say) runs whole on one device: the same numbers."""
        if self.devices is None or len(batch[0]) % self.devices.count:
            return {}
        return {"devices": self.devices.which, "split_batch": ("x", "y") if what != "predict" else ("x",)}

    def _hyper(self):
        h = self.optimizer.hyperparameters(self.steps + 1, self.epochs)
        return {k: np.float32(v) for k, v in h.items()}

    def _train_args(self, xb, yb):
        return (self.params, self.state, self.opt_state, xb, yb, self._hyper(), np.int64(self._rng.integers(2**62)))

    def compiled_step(self, x, y):
        """The compiled training step for batches shaped like (x, y).

        It is compiled with its first three arguments (params, state, opt_state) donated:
        the numba backend writes the new values into the arrays passed in."""
        self._ensure_built(x)
        return self._compile("train", self.train_step, *self._train_args(np.asarray(x, np.float32), self.targets(y)))

    # -- training and using ----------------------------------------------------------------
    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, shuffle=True, verbose=1,
            allow_nonfinite=False):
        """Train for `epochs` passes over (x, y); returns the history of per-epoch metrics.

        `verbose` is Keras's: 0 prints nothing, 1 a progress bar of the running epoch (on a
        terminal) and a summary line for a handful of epochs, 2 one line per epoch
        (irtoy/nn/progress.py).

        NaN or infinite values in x or y are refused before training (one NaN would turn every
        weight into NaN), and a loss that becomes NaN or infinite stops training with a
        NonFiniteError naming the epoch and the batch (the weights are then those that step
        made; `irtoy.debug_nans` with backend="numpy" finds the op). `allow_nonfinite=True`
        turns both checks off.
        """
        x = _data_array("x", x)
        if x.ndim == 0:
            raise irtoy.ShapeError(f"fit: x must hold samples along its first axis, got the scalar {x[()]!r}")
        if len(x) == 0:
            raise IrtoyError("fit needs at least one sample; x is empty")
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < (name == "batch_size"):
                raise IrtoyError(f"fit: {name} must be a {'positive' if name == 'batch_size' else 'non-negative'} "
                                 f"integer, got {value!r}")
        self._ensure_built(x)
        targets = self.targets(y)
        _same_length("fit", x, targets)
        if not allow_nonfinite:
            _refuse_nonfinite("x", x)
            _refuse_nonfinite("y", targets)
        if validation_data is not None and not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise IrtoyError(f"fit: validation_data must be a pair (x, y), got {type(validation_data).__name__}")
        progress = Progress(verbose, epochs)
        history = {"loss": [], "accuracy": [], "time": []}
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            total_loss, total_correct, seen = 0.0, 0, 0
            count = num_batches(len(x), batch_size)
            progress.start_epoch(epoch, count)
            seed = int(self._rng.integers(2**31))
            for batch, (xb, yb) in enumerate(batches(x, targets, batch_size, shuffle=shuffle, seed=seed), 1):
                args = self._train_args(xb, yb)
                step = self._compile("train", self.train_step, *args)
                if batch == 1:      # a full batch, unless all the data is shorter than one
                    self._fit_step = step
                self.params, self.state, self.opt_state, loss, correct = step(*args)
                self.steps += 1
                loss = float(loss)
                if not math.isfinite(loss) and not allow_nonfinite:
                    progress.stop()
                    raise irtoy.NonFiniteError(
                        f"fit: the loss became {loss} at epoch {self.epochs + 1}, batch {batch} of {count} "
                        f"(step {self.steps}); the weights are now those that step made. A smaller learning "
                        f"rate often helps; irtoy.debug_nans() with backend='numpy' names the op that made it")
                total_loss += loss * len(xb)
                total_correct += float(correct)
                seen += len(xb)
                progress.batch_done(self._metrics(total_loss / seen, total_correct / seen))
            self.epochs += 1
            history["loss"].append(total_loss / seen)
            history["accuracy"].append(total_correct / seen if self.loss.classifies else None)
            history["time"].append(time.perf_counter() - start)
            metrics = self._metrics(total_loss / seen, total_correct / seen)
            if validation_data is not None:
                val = self.evaluate(*validation_data)
                history["val_loss"].append(val["loss"])
                history["val_accuracy"].append(val.get("accuracy"))
                metrics.update({f"val_{k}": v for k, v in val.items()})
            progress.end_epoch(epoch, count, history["time"][-1], metrics)
        return history

    def _metrics(self, loss, accuracy):
        """The running metrics fit shows: the loss, and the accuracy for classification losses."""
        return {"loss": loss, "accuracy": accuracy} if self.loss.classifies else {"loss": loss}

    def evaluate(self, x, y, batch_size=500):
        """{"loss": mean loss, "accuracy": fraction right} over (x, y), in inference mode."""
        x = _data_array("x", x)
        self._ensure_built(x)
        targets = self.targets(y)
        _same_length("evaluate", x, targets)
        total_loss, total_correct = 0.0, 0
        for xb, yb in batches(x, targets, batch_size, shuffle=False):
            step = self._compile("eval", self.eval_step, self.params, self.state, xb, yb)
            loss, correct = step(self.params, self.state, xb, yb)
            total_loss += float(loss) * len(xb)
            total_correct += float(correct)
        result = {"loss": total_loss / len(x)}
        if self.loss.classifies:
            result["accuracy"] = total_correct / len(x)
        return result

    def predict(self, x, batch_size=500):
        """The network's outputs for x, in inference mode (dropout off, running statistics)."""
        x = _data_array("x", x)
        self._ensure_built(x)
        outs = []
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            outs.append(self._compile("predict", self.predict_step, self.params, self.state, xb)(self.params, self.state, xb))
        return np.concatenate(outs) if outs else np.zeros((0,) + self.output_shape, np.float32)

    def render_step(self, path, stage="optimized", x=None, y=None, **options):
        """Draw the training step's graph (forward, backward and update in their colours): the
        step for batches like (x, y) if given, else the step of the last fit's batch size."""
        compiled = self._train_step_to_draw(x, y)
        return compiled.render(path, stage if stage in compiled.stages else None,
                               group_scopes=options.pop("group_scopes", True), **options)

    def _train_step_to_draw(self, x=None, y=None):
        if x is not None:
            return self.compiled_step(x, y)
        if self._fit_step is None:
            raise IrtoyError("the training step has not been compiled yet: call fit first, or pass a batch "
                             "(render_step(path, x=xb, y=yb))")
        return self._fit_step

    # -- saving ------------------------------------------------------------------------------
    def metadata(self):
        return {"format": FORMAT, "version": VERSION, "net": self.net.describe(),
                "loss": {"type": type(self.loss).__name__, "config": self.loss.config()},
                "optimizer": {"type": type(self.optimizer).__name__, "config": _jsonable(self.optimizer.config())},
                "input_shape": list(self.input_shape), "steps": self.steps, "epochs": self.epochs,
                "seed": self.seed, "l2": self.l2, "l1": self.l1,
                "rng": self._rng.bit_generator.state}     # shuffling and step seeds continue where they were

    def save(self, path):
        """Write weights, running statistics, optimizer state and metadata to a .npz file.

        The file is written whole or not at all (a temporary file renamed into place), and
        holds only arrays and JSON: loading it never runs code.
        """
        if self.params is None:
            raise IrtoyError("nothing to save: the model has not been built or trained")
        arrays = {**_flatten("params", self.params), **_flatten("state", self.state),
                  **_flatten("optimizer", self.opt_state)}
        buffer = io.BytesIO()
        np.savez(buffer, __metadata__=np.array(json.dumps(self.metadata())), **arrays)
        return checked_write(path, buffer.getvalue(), action="save the model to")

    @classmethod
    def load(cls, path, net, backend="numba", devices=None):
        """A model for `net` with the weights and state saved in `path`.

        The file must have been saved from a network of the same architecture; anything else
        is refused with the first difference named.
        """
        path = os.fspath(path)
        arrays = read_arrays(path)
        meta = _metadata(path, arrays.pop("__metadata__", None))
        difference = _first_difference(meta["net"], net.describe(), "net")
        if difference:
            raise IrtoyError(f"{path} was saved from a different network: {difference}")
        loss = _make(path, "loss", losses_mod.BY_NAME, meta["loss"])
        optimizer = _make(path, "optimizer", optimizers_mod.BY_NAME, meta["optimizer"])
        model = cls(net, loss, optimizer, backend=backend, seed=meta["seed"], l2=meta["l2"], l1=meta["l1"],
                    devices=devices)
        try:
            model.build(meta["input_shape"])
        except (ValueError, TypeError, IndexError) as e:
            raise IrtoyError(f"{path}: this network cannot be built for the saved input_shape "
                             f"{meta['input_shape']}: {e}") from None
        except MemoryError:     # a forged input_shape that a layer sizes its weights by (BatchNorm)
            raise IrtoyError(f"{path}: the saved input_shape {meta['input_shape']} asks for weights larger than "
                             f"this machine's memory; the file holds none so large") from None
        for name, tree in (("params", model.params), ("state", model.state), ("optimizer", model.opt_state)):
            expected = _flatten(name, tree)
            for key, value in expected.items():
                if key not in arrays:
                    raise IrtoyError(f"{path} lacks {key} {value.shape}")
                if arrays[key].shape != value.shape or arrays[key].dtype != value.dtype:
                    raise IrtoyError(f"{path}: {key} is {arrays[key].dtype}{list(arrays[key].shape)} in the file "
                                     f"but {value.dtype}{list(value.shape)} in this model")
        model.params = _unflatten("params", model.params, arrays)
        model.state = _unflatten("state", model.state, arrays)
        model.opt_state = _unflatten("optimizer", model.opt_state, arrays)
        model.steps, model.epochs = meta["steps"], meta["epochs"]
        if "rng" in meta:
            try:
                model._rng.bit_generator.state = meta["rng"]
            except (TypeError, ValueError, KeyError) as e:
                raise IrtoyError(f"{path}: the metadata's rng state is not a {type(model._rng.bit_generator).__name__} "
                                 f"state ({type(e).__name__}: {e})") from None
        return model

    def __repr__(self):
        return f"Model({self.net!r}, loss={self.loss!r}, optimizer={self.optimizer!r}, backend={self.backend!r})"


@dataclass(frozen=True)
class Devices:
    """The devices a model trains on: `which` as the user gave them, `count` of them."""
    which: object
    count: int


def _devices(devices, backend):
    """The Devices of Model's `devices=` (a count or a list of JAX devices), or None."""
    if devices is None:
        return None
    if backend != "jax":
        raise IrtoyError(f"devices={devices!r} needs backend='jax' (JAX shards the batch over devices), "
                         f"not backend={backend!r}")
    count = devices if isinstance(devices, int) and not isinstance(devices, bool) else None
    if count is None:
        try:
            count = len(devices)
        except TypeError:
            raise IrtoyError(f"devices must be a count or a list of JAX devices, not {devices!r}") from None
    if count < 1:
        raise IrtoyError(f"devices must be at least 1, not {devices!r}")
    return Devices(devices, count)


def _data_array(name, value, dtype=np.float32):
    """`value` as a NumPy array (of `dtype`), or IrtoyError naming the argument."""
    try:
        array = np.asarray(value, dtype)
    except (TypeError, ValueError) as e:
        raise IrtoyError(f"{name} cannot be used as an array of numbers: {e}") from None
    if dtype is None and array.dtype.kind not in "biuf":
        raise IrtoyError(f"{name} holds {array.dtype} values, not numbers")
    return array


def _same_length(what, x, targets):
    if len(targets) != len(x):
        raise irtoy.ShapeError(f"{what}: x has {len(x)} samples but y has {len(targets)}")


def _refuse_nonfinite(name, array):
    """IrtoyError with the count and first position of the NaN or infinite values in `array`."""
    finite = np.isfinite(array)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise irtoy.NonFiniteError(
            f"fit: {name} holds {finite.size - np.count_nonzero(finite)} NaN or infinite value(s), the first "
            f"{array[first]} at {name}[{', '.join(map(str, first))}]; clean the data, or pass allow_nonfinite=True")


# What each metadata field must be, so a damaged or forged file is refused by name.
METADATA_FIELDS = {"net": dict, "loss": dict, "optimizer": dict, "input_shape": list, "steps": int,
                   "epochs": int, "seed": int, "l2": (int, float), "l1": (int, float)}


def _metadata(path, stored):
    """The metadata dict of a model file, checked field by field, or IrtoyError."""
    if stored is None:
        raise IrtoyError(f"{path} has no irtoy metadata: it was not written by Model.save")
    if stored.shape != () or stored.dtype.kind != "U":
        raise IrtoyError(f"{path}: the metadata is {stored.dtype}{list(stored.shape)}, not one JSON string")
    try:
        meta = json.loads(str(stored))
    except (ValueError, RecursionError) as e:
        raise IrtoyError(f"{path}: the metadata is not readable JSON ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        found = f"a {meta.get('format')} v{meta.get('version')}" if isinstance(meta, dict) else "not a metadata"
        raise IrtoyError(f"{path} is {found} file, not {FORMAT} v{VERSION}")
    for field, kind in METADATA_FIELDS.items():
        if not isinstance(meta.get(field), kind) or isinstance(meta.get(field), bool):
            raise IrtoyError(f"{path}: the metadata's {field!r} is {meta.get(field)!r}, not a {_kind_name(kind)}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in meta["input_shape"]):
        raise IrtoyError(f"{path}: the metadata's input_shape {meta['input_shape']} is not a list of positive sizes")
    for field in ("loss", "optimizer"):
        if not isinstance(meta[field].get("type"), str) or not isinstance(meta[field].get("config"), dict):
            raise IrtoyError(f"{path}: the metadata's {field} is {meta[field]!r}, not {{\"type\": name, \"config\": {{...}}}}")
    return meta


def _kind_name(kind):
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def _make(path, field, known, saved):
    """The loss or optimizer the metadata describes, or IrtoyError naming what is wrong."""
    if saved["type"] not in known:
        raise IrtoyError(f"{path}: unknown {field} {saved['type']!r}; known: {', '.join(sorted(known))}")
    try:
        return known[saved["type"]](**_from_jsonable(path, saved["config"]))
    except (TypeError, ValueError) as e:
        raise IrtoyError(f"{path}: the {field} {saved['type']} cannot be made from {saved['config']!r}: {e}") from None


def _flatten(prefix, tree):
    if isinstance(tree, dict):
        return {k: v for key in sorted(tree) for k, v in _flatten(f"{prefix}/{key}", tree[key]).items()}
    return {prefix: np.asarray(tree)}


def _unflatten(prefix, like, arrays):
    if isinstance(like, dict):
        return {key: _unflatten(f"{prefix}/{key}", like[key], arrays) for key in like}
    return arrays[prefix]


def _first_difference(saved, current, where):
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current)):
            if key not in saved or key not in current:
                return f"{where}.{key} is only in the {'model' if key in current else 'file'}"
            found = _first_difference(saved[key], current[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(saved, list) and isinstance(current, list):
        if len(saved) != len(current):
            return f"{where} has {len(saved)} entries in the file but {len(current)} in the model"
        for i, (a, b) in enumerate(zip(saved, current)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if _jsonable(current) != saved:
        return f"{where} is {saved!r} in the file but {current!r} in the model"
    return None


def _jsonable(value):
    """Settings as JSON: tuples become lists, schedules become {"schedule": name, ...}."""
    if isinstance(value, schedules.Schedule):
        return {"schedule": type(value).__name__, **value.config()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _from_jsonable(path, config):
    out = {}
    for k, v in config.items():
        if isinstance(v, dict) and "schedule" in v:
            kind = getattr(schedules, str(v["schedule"]), None)
            if not (isinstance(kind, type) and issubclass(kind, schedules.Schedule)):
                raise IrtoyError(f"{path}: {k} names no learning-rate schedule: {v['schedule']!r}")
            v = kind(**{a: b for a, b in v.items() if a != "schedule"})
        out[k] = v
    return out
