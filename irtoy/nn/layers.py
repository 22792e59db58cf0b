"""Layers: small objects that make parameters and compute outputs with NumPy calls.

A layer keeps no arrays of its own. `init(rng, input_shape)` returns its parameters and
state (running statistics) as dicts of arrays, plus the shape of its output; `apply(params,
state, x, ctx)` computes the output and the new state. Because parameters are passed in,
a whole training step (forward, loss, gradient, update) is one function of arrays that
irtoy traces into one graph. Shapes here exclude the batch axis.

Each layer's nodes are traced inside `irtoy.scope(layer.name)`, so drawings and reports can
group a large graph by layer.
"""
import zlib

import numpy as np

import irtoy
from irtoy.errors import ShapeError
from irtoy.nn import activations, initializers
from irtoy.source import source_line, user_src


class Context:
    """What a layer needs besides its input: training or inference, and the step's random seed."""

    def __init__(self, training, seed=None):
        self.training = training
        self.seed = seed


class Layer:
    """Base class. Subclasses set `init` and `apply`; `config()` lists their settings."""
    name = None
    seed = None

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        layer._made_at = user_src(library_too=True)     # for errors found when the model is built
        return layer

    def __init__(self):         # a layer without settings takes no arguments
        pass

    def label(self):
        """The layer's name and the user's line that made it, for error messages."""
        name = self.name or type(self).__name__
        if not self._made_at:
            return name
        text = source_line(self._made_at)
        return f"{name} (made at {self._made_at}{': ' + text if text else ''})"

    def init(self, rng, input_shape):
        return {}, {}, tuple(input_shape)

    def apply(self, params, state, x, ctx):
        raise NotImplementedError

    def config(self):
        return {k: v for k, v in vars(self).items() if k not in ("name",) and not isinstance(v, Layer)
                and not callable(v) and not k.startswith("_")}

    def describe(self):
        """A JSON-able description of the layer, to check a saved file fits this model."""
        return {"type": type(self).__name__, "name": self.name, **self.config()}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


def _rng(layer, rng):
    """The layer's own generator when it was given a seed, else the model's."""
    return np.random.default_rng(layer.seed) if layer.seed is not None else rng


class Dense(Layer):
    """y = x @ w + b, with w of shape (in_features, out_features)."""

    def __init__(self, in_features, out_features, weight_init="glorot_uniform", bias_init="zeros", seed=None):
        self.in_features, self.out_features = int(in_features), int(out_features)
        initializers.check(weight_init, bias_init)
        self.weight_init, self.bias_init, self.seed = weight_init, bias_init, seed

    def init(self, rng, input_shape):
        if tuple(input_shape)[-1:] != (self.in_features,):
            raise ShapeError(f"{self.label()}: expects inputs with {self.in_features} features, "
                             f"but gets shape {tuple(input_shape)} (batch axis excluded)")
        rng = _rng(self, rng)
        params = {"w": initializers.get(self.weight_init)(rng, (self.in_features, self.out_features)),
                  "b": initializers.get(self.bias_init)(rng, (self.out_features,))}
        return params, {}, tuple(input_shape)[:-1] + (self.out_features,)

    def apply(self, params, state, x, ctx):
        return x @ params["w"] + params["b"], state


class Embedding(Layer):
    """A table of `num_embeddings` vectors of `embedding_dim` entries, looked up by integer
    index: (N, ...) integers -> (N, ..., embedding_dim).

    The lookup is a gather (table[x]), so its gradient adds each row's cotangents into the
    rows looked up, repeats included (a scatter-add), and the numba backend reads the rows
    inside the kernel that uses them. Inputs that are floats holding whole numbers (Model
    gives float32 data) are cast to integers first, as Keras does; an index outside the table
    raises IndexOutOfRangeError when the step runs.
    """

    def __init__(self, num_embeddings, embedding_dim, embeddings_init="uniform", seed=None):
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        initializers.check(embeddings_init)
        self.embeddings_init, self.seed = embeddings_init, seed

    def init(self, rng, input_shape):
        table = initializers.get(self.embeddings_init)(_rng(self, rng), (self.num_embeddings, self.embedding_dim))
        return {"table": table}, {}, tuple(input_shape) + (self.embedding_dim,)

    def apply(self, params, state, x, ctx):
        if np.dtype(x.dtype).kind not in "iu":
            x = x.astype(np.int64)
        return params["table"][x], state


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def init(self, rng, input_shape):
        return {}, {}, (int(np.prod(input_shape)),)

    def apply(self, params, state, x, ctx):
        return x.reshape(x.shape[0], -1), state


class Reshape(Layer):
    """(N, ...) -> (N, *shape)."""

    def __init__(self, shape):
        self.shape = tuple(int(d) for d in shape)

    def init(self, rng, input_shape):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ShapeError(f"{self.label()}: cannot reshape {tuple(input_shape)} into {self.shape}")
        return {}, {}, self.shape

    def apply(self, params, state, x, ctx):
        return x.reshape((x.shape[0],) + self.shape), state


class Activation(Layer):
    """A parameter-free elementwise function."""
    fn = None

    def apply(self, params, state, x, ctx):
        return type(self).fn(x), state


class ReLU(Activation):
    fn = activations.relu


class Sigmoid(Activation):
    fn = activations.sigmoid


class Tanh(Activation):
    fn = activations.tanh


class Softplus(Activation):
    fn = activations.softplus


class LeakyReLU(Layer):
    def __init__(self, slope=0.01):
        self.slope = float(slope)

    def apply(self, params, state, x, ctx):
        return activations.leaky_relu(x, self.slope), state


class Softmax(Layer):
    def __init__(self, axis=-1):
        self.axis = int(axis)

    def apply(self, params, state, x, ctx):
        return activations.softmax(x, self.axis), state


class Dropout(Layer):
    """Zero each input with probability `rate` while training (scaling the rest by 1/(1-rate)).

    The mask comes from irtoy's `random_uniform` op: a counter-based generator keyed by the
    step's seed (an input of the training step) and a stream number derived from where the
    layer sits in the network (its name scope), so every step draws a fresh mask, both
    backends draw the same one, and a rebuilt or reloaded network draws the same masks for
    the same seeds. Off in predict/evaluate.
    """
    _instances = 0

    def __init__(self, rate=0.5):
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be in [0, 1), not {rate}")
        self.rate = float(rate)
        Dropout._instances += 1
        self._instance = Dropout._instances     # tells apart unnamed layers used outside Sequential

    def stream(self):
        where = f"{irtoy.current_scope()}#{self.name if self.name is not None else self._instance}"
        return zlib.crc32(where.encode())

    def apply(self, params, state, x, ctx):
        if not ctx.training or self.rate == 0:
            return x, state
        keep = irtoy.ops.random_uniform(ctx.seed, x.shape, stream=self.stream(), dtype=x.dtype) >= self.rate
        return np.where(keep, x / (1.0 - self.rate), 0.0), state


class BatchNorm(Layer):
    """Normalise each feature (axis 1: features of (N, C), channels of (N, C, H, W)).

    Training uses the batch's mean and (biased) variance and updates the running
    statistics as state: running = (1 - momentum) * running + momentum * batch, with the
    unbiased variance, as PyTorch does. Inference uses the running statistics.
    """

    def __init__(self, momentum=0.1, eps=1e-5):
        self.momentum, self.eps = float(momentum), float(eps)

    def init(self, rng, input_shape):
        if len(input_shape) == 0:
            raise ShapeError(f"{self.label()}: normalizes features or channels, but the samples are scalars "
                             f"(shape ())")
        c = int(input_shape[0])
        params = {"gamma": np.ones(c, np.float32), "beta": np.zeros(c, np.float32)}
        state = {"mean": np.zeros(c, np.float32), "var": np.ones(c, np.float32)}
        return params, state, tuple(input_shape)

    def apply(self, params, state, x, ctx):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if ctx.training:
            mean = np.mean(x, axis=axes)
            centred = x - mean.reshape(shape)
            var = np.mean(centred * centred, axis=axes)
            n = x.size // x.shape[1]
            m = self.momentum
            state = {"mean": (1 - m) * state["mean"] + m * mean,
                     "var": (1 - m) * state["var"] + m * var * (n / max(n - 1, 1))}
        else:
            mean, var = state["mean"], state["var"]
            centred = x - mean.reshape(shape)
        scale = params["gamma"] / np.sqrt(var + self.eps)
        return centred * scale.reshape(shape) + params["beta"].reshape(shape), state


class SimpleRNN(Layer):
    """An Elman RNN unrolled over time: h_t = tanh(x_t @ wx + h_{t-1} @ wh + b).

    Input (N, T, D); output the last hidden state (N, H), or every state (N, T, H) with
    `return_sequences=True`.
    """

    def __init__(self, input_size, hidden_size, return_sequences=False, seed=None):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.return_sequences, self.seed = bool(return_sequences), seed

    def init(self, rng, input_shape):
        if len(input_shape) != 2 or input_shape[1] != self.input_size:
            raise ShapeError(f"{self.label()}: expects inputs (T, {self.input_size}) per sample, "
                             f"gets {tuple(input_shape)}")
        rng = _rng(self, rng)
        h = self.hidden_size
        params = {"wx": initializers.glorot_uniform(rng, (self.input_size, h)),
                  "wh": initializers.glorot_uniform(rng, (h, h)), "b": np.zeros(h, np.float32)}
        out = (input_shape[0], h) if self.return_sequences else (h,)
        return params, {}, out

    def apply(self, params, state, x, ctx):
        h = np.zeros((x.shape[0], self.hidden_size), x.dtype)
        states = []
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t, :] @ params["wx"] + h @ params["wh"] + params["b"])
            states.append(h)
        return (np.stack(states, axis=1) if self.return_sequences else h), state


class Sequential(Layer):
    """Layers applied in order; each is named by its type and position (dense1, relu1, ...)."""

    def __init__(self, layers):
        self.layers = list(layers)
        counts = {}
        for layer in self.layers:
            kind = type(layer).__name__.lower()
            counts[kind] = counts.get(kind, 0) + 1
            if layer.name is None:
                layer.name = f"{kind}{counts[kind]}"
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique: {names}")

    def init(self, rng, input_shape):
        params, state, shape = {}, {}, tuple(input_shape)
        for layer in self.layers:
            p, s, shape = layer.init(rng, shape)
            if p:
                params[layer.name] = p
            if s:
                state[layer.name] = s
        return params, state, shape

    def apply(self, params, state, x, ctx):
        new_state = {}
        for layer in self.layers:
            with irtoy.scope(layer.name):
                x, s = layer.apply(params.get(layer.name, {}), state.get(layer.name, {}), x, ctx)
            if s:
                new_state[layer.name] = s
        return x, new_state

    def describe(self):
        return {"type": "Sequential", "name": self.name, "layers": [layer.describe() for layer in self.layers]}

    def __repr__(self):
        return "Sequential([\n" + "".join(f"  {layer.name}: {layer!r},\n" for layer in self.layers) + "])"


class Residual(Layer):
    """y = block(x) + shortcut(x): a skip connection (shortcut defaults to the identity)."""

    def __init__(self, block, shortcut=None):
        self.block, self.shortcut = block, shortcut
        block.name = block.name or "block"
        if shortcut is not None:
            shortcut.name = shortcut.name or "shortcut"

    def init(self, rng, input_shape):
        params, state = {}, {}
        p, s, out = self.block.init(rng, input_shape)
        params["block"], state["block"] = p, s
        skip = tuple(input_shape)
        if self.shortcut is not None:
            p, s, skip = self.shortcut.init(rng, input_shape)
            params["shortcut"], state["shortcut"] = p, s
        if skip != out:
            raise ShapeError(f"{self.label()}: the block maps {tuple(input_shape)} to {out}, "
                             f"but the skip path gives {skip}; give a shortcut layer that matches")
        return params, state, out

    def apply(self, params, state, x, ctx):
        with irtoy.scope("block"):
            y, block_state = self.block.apply(params["block"], state.get("block", {}), x, ctx)
        new_state = {"block": block_state}
        skip = x
        if self.shortcut is not None:
            with irtoy.scope("shortcut"):
                skip, new_state["shortcut"] = self.shortcut.apply(params["shortcut"], state.get("shortcut", {}), x, ctx)
        return y + skip, new_state

    def describe(self):
        return {"type": "Residual", "name": self.name, "block": self.block.describe(),
                "shortcut": self.shortcut.describe() if self.shortcut else None}
