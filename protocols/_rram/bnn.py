"""Binarized neural networks (BNN) in numpy: training, folding for XNOR-popcount hardware, inference.

Training follows I. Hubara, M. Courbariaux et al., "Binarized Neural Networks", NeurIPS 2016
(arXiv:1602.02830): every layer keeps real-valued *latent* weights ``W`` clipped to [-1, 1]; the
forward pass uses ``sign(W)`` and binary activations ``sign(z)``; the backward pass goes straight
through both signs (straight-through estimator: d sign(W)/dW = 1, d sign(z)/dz = 1 for |z| <= 1,
0 beyond), and batch normalization follows every binary matrix product.

Inference is then pure integer logic, as on the 2T2R in-memory-computing die (M. Bocquet et al.,
IEDM 2018; T. Hirtzlin et al., Front. Neurosci. 13, 1383, 2020): with {-1, +1} coded as bits
{0, 1}, the product of an input vector ``x`` and a weight vector ``w`` of n bits is
``x . w = 2 popcount(XNOR(x, w)) - n``, and a neuron followed by batch norm and sign,
``sign(gamma (x . w - mu) / sigma + beta)``, fires exactly when ``popcount >= T`` with an integer
threshold ``T`` (the weights of neurons whose ``gamma`` is negative are stored complemented so that
every neuron compares with ``>=``). The hidden layer is thus XNOR + popcount + one comparison per
neuron; the small output layer keeps its batch-norm as a per-class scale and offset and is
evaluated digitally (argmax of the class scores). A neuron wider than a memory row spans several
rows (:func:`to_rows`), and adders sum their popcounts (:func:`row_popcounts_to_neurons`).

Error-aware training (T. Hirtzlin et al., "Outstanding bit error tolerance of resistive RAM-based
binarized neural networks", AICAS 2019, arXiv:1904.03652): a network that will run on error-prone
memory is trained on that memory's errors, each forward pass flipping every stored (hidden-layer)
weight bit with the expected bit-error rate, so that no neuron comes to rest on a few weights; the
paper reports tolerance extended from about 1e-4 to 4e-2.  The backward pass goes through the flipped
weights (the gradient of the expected loss over flips, ``E[m * dL/dw(w * m)]`` with ``m = +-1``).

Data: the 8 x 8 handwritten digits bundled with scikit-learn (``load_digits``, 1797 images,
E. Alpaydin and C. Kaynak, UCI 1998), pixels 0-16 binarized at a quarter of full scale.

Everything is deterministic under its seed (``numpy.random.Generator`` only).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BinaryNetwork", "Digits", "accuracy", "accuracy_with_weight_errors", "fold", "hidden_popcounts",
    "infer", "load_digits_binary", "predict", "row_popcounts_to_neurons", "to_rows", "train_bnn",
    "xnor_popcount",
]

PIXEL_THRESHOLD = 4  # digits pixels run 0..16; a quarter of full scale is "ink"
BN_EPS = 1e-4


@dataclass(frozen=True)
class Digits:
    """Binarized digits split into train and test sets (bits: bool arrays of shape (n, 64))."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64), labels) of scikit-learn's digits.

    Read straight from the CSV that scikit-learn ships (what ``load_digits`` parses): importing
    scikit-learn is slow; ``load_digits`` if the file moved.
    """
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is not None and path.is_file():
        data = np.loadtxt(path, delimiter=",")
        pixels, labels = data[:, :-1], data[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        pixels, labels = d.data, d.target.astype(np.int64)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def load_digits_binary(seed: int = 0, test_fraction: float = 0.25) -> Digits:
    """scikit-learn's bundled 8 x 8 digits (no download), binarized, split at random under ``seed``."""
    pixels, y = _digits()
    x = pixels >= PIXEL_THRESHOLD
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return Digits(x[train], y[train], x[test], y[test])


@dataclass(frozen=True)
class BinaryNetwork:
    """A one-hidden-layer BNN in its inference form.

    ``hidden_weights`` (n_hidden, n_in) bits (1 = +1), complemented where batch norm's gamma was
    negative; hidden neuron j fires when the popcount of XNOR(x, hidden_weights[j]) is at least
    ``hidden_thresholds[j]``. Output class k scores
    ``output_scale[k] * (2 popcount(XNOR(h, output_weights[k])) - n_hidden) + output_bias[k]``.
    """

    hidden_weights: np.ndarray
    hidden_thresholds: np.ndarray
    output_weights: np.ndarray
    output_scale: np.ndarray
    output_bias: np.ndarray

    @property
    def n_in(self) -> int:
        return self.hidden_weights.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.hidden_weights.shape[0]


# -- inference --------------------------------------------------------------------------------
def xnor_popcount(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Popcounts of XNOR(x[i], w[j]): x (n, m) bits, w (k, m) bits -> (n, k) ints."""
    xs = np.where(np.asarray(x, bool), 1, -1)
    ws = np.where(np.asarray(w, bool), 1, -1)
    return (xs @ ws.T + xs.shape[1]) // 2


def hidden_popcounts(net: BinaryNetwork, x: np.ndarray) -> np.ndarray:
    """Error-free hidden-layer popcounts (n, n_hidden) of inputs ``x`` (n, n_in) bits."""
    return xnor_popcount(x, net.hidden_weights)


def infer(net: BinaryNetwork, popcounts: np.ndarray) -> np.ndarray:
    """Class predictions from the hidden-layer XNOR-popcounts (n, n_hidden), wherever computed:
    threshold (the binary neuron), output layer, argmax."""
    h = np.asarray(popcounts) >= net.hidden_thresholds
    a = 2 * xnor_popcount(h, net.output_weights) - net.n_hidden
    return np.argmax(a * net.output_scale + net.output_bias, axis=1)


def predict(net: BinaryNetwork, x: np.ndarray) -> np.ndarray:
    """Error-free (software) predictions for inputs ``x`` (n, n_in) bits."""
    return infer(net, hidden_popcounts(net, x))


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))


def accuracy_with_weight_errors(net: BinaryNetwork, x: np.ndarray, y: np.ndarray, rates,
                                trials: int = 20, seed: int = 0) -> np.ndarray:
    """Mean test accuracy when each hidden weight bit is flipped independently with probability
    ``rate`` (software, fresh errors per trial): the network's own error tolerance, one value per
    rate."""
    rng = np.random.default_rng(seed)
    xs = np.where(np.asarray(x, bool), 1, -1)
    out = []
    for p in np.atleast_1d(np.asarray(rates, float)):
        acc = 0.0
        for _ in range(trials):
            w = net.hidden_weights ^ (rng.random(net.hidden_weights.shape) < p)
            counts = (xs @ np.where(w, 1, -1).T + xs.shape[1]) // 2
            acc += accuracy(infer(net, counts), y)
        out.append(acc / trials)
    return np.array(out)


# -- mapping onto a memory array of fixed row width ------------------------------------------
def to_rows(weights: np.ndarray, cols: int) -> np.ndarray:
    """Lay out (k, m) weight bits on rows of ``cols`` bits: segment s of neuron j goes to row
    ``s * k + j`` (m must be a multiple of cols), so one input segment meets one block of rows."""
    k, m = weights.shape
    if m % cols:
        raise ValueError(f"{m} weights per neuron do not split into rows of {cols}")
    return np.asarray(weights, bool).reshape(k, m // cols, cols).transpose(1, 0, 2).reshape(-1, cols)


def row_popcounts_to_neurons(row_counts: np.ndarray, n_neurons: int) -> np.ndarray:
    """The adders: per-row popcounts laid out as :func:`to_rows` -> per-neuron popcounts.

    ``row_counts`` (..., segments, rows) holds, for each input segment s, the popcounts of every
    row; neuron j sums segment s's count of its row ``s * n_neurons + j``.
    """
    row_counts = np.asarray(row_counts)
    segments = row_counts.shape[-2]
    blocks = [row_counts[..., s, s * n_neurons:(s + 1) * n_neurons] for s in range(segments)]
    return np.sum(blocks, axis=0)


# -- training ---------------------------------------------------------------------------------
def _sign(v):
    return np.where(v >= 0, 1.0, -1.0)


class _BatchNorm:
    """Batch normalization over the batch axis, with its backward pass."""

    def __init__(self, n):
        self.gamma, self.beta = np.ones(n), np.zeros(n)

    def forward(self, a):
        mu, var = a.mean(0), a.var(0)
        self.std = np.sqrt(var + BN_EPS)
        self.xhat = (a - mu) / self.std
        return self.gamma * self.xhat + self.beta

    def backward(self, dz):
        self.dgamma, self.dbeta = (dz * self.xhat).sum(0), dz.sum(0)
        dx = dz * self.gamma
        return (dx - dx.mean(0) - self.xhat * (dx * self.xhat).mean(0)) / self.std


class _Adam:
    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            mh, vh = m / (1 - self.b1**self.t), v / (1 - self.b2**self.t)
            p -= self.lr * mh / (np.sqrt(vh) + self.eps)


def train_bnn(x: np.ndarray, y: np.ndarray, n_hidden: int = 16, n_classes: int = 10,
              epochs: int = 30, batch: int = 32, lr: float = 0.01, lr_decay: float = 0.93,
              seed: int = 0, weight_error_rate: float = 0.0) -> BinaryNetwork:
    """Train an n_in - n_hidden - n_classes BNN on bits ``x`` (n, n_in), labels ``y``; fold it.

    Softmax cross-entropy, Adam (learning rate decayed by ``lr_decay`` per epoch), latent
    weights clipped to [-1, 1] after every step (Hubara et al. 2016, Alg. 1).  With
    ``weight_error_rate`` > 0 the training is error-aware (module docstring): every forward pass
    flips each hidden weight with that probability.
    """
    if not 0.0 <= weight_error_rate < 0.5:
        raise ValueError(f"weight_error_rate must be in [0, 0.5), got {weight_error_rate}")
    rng = np.random.default_rng(seed)
    xs = np.where(np.asarray(x, bool), 1.0, -1.0)
    y = np.asarray(y, np.int64)
    n, n_in = xs.shape
    w1 = rng.uniform(-1, 1, (n_in, n_hidden)) * np.sqrt(6 / (n_in + n_hidden))
    w2 = rng.uniform(-1, 1, (n_hidden, n_classes)) * np.sqrt(6 / (n_hidden + n_classes))
    bn1, bn2 = _BatchNorm(n_hidden), _BatchNorm(n_classes)
    params = [w1, w2, bn1.gamma, bn1.beta, bn2.gamma, bn2.beta]
    opt = _Adam(params, lr)
    onehot = np.eye(n_classes)[y]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n - batch // 2, batch):  # drop a last batch too small for statistics
            b = order[start:start + batch]
            xb, tb = xs[b], onehot[b]
            flips = (np.where(rng.random(w1.shape) < weight_error_rate, -1.0, 1.0)
                     if weight_error_rate else 1.0)
            wb1, wb2 = _sign(w1) * flips, _sign(w2)
            z1 = bn1.forward(xb @ wb1)
            h = _sign(z1)
            z2 = bn2.forward(h @ wb2)
            p = np.exp(z2 - z2.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            dz2 = (p - tb) / len(b)
            da2 = bn2.backward(dz2)
            gw2 = h.T @ da2
            dz1 = (da2 @ wb2.T) * (np.abs(z1) <= 1)
            gw1 = (xb.T @ bn1.backward(dz1)) * flips
            opt.step([gw1, gw2, bn1.dgamma, bn1.dbeta, bn2.dgamma, bn2.dbeta])
            np.clip(w1, -1, 1, out=w1)
            np.clip(w2, -1, 1, out=w2)
        opt.lr *= lr_decay
    return fold(w1.T >= 0, w2.T >= 0, (bn1.gamma, bn1.beta), (bn2.gamma, bn2.beta), x)


def fold(w1_bits: np.ndarray, w2_bits: np.ndarray, bn1: tuple, bn2: tuple,
         x: np.ndarray) -> BinaryNetwork:
    """Fold batch norm into integer popcount thresholds (hidden layer) and a per-class affine map
    (output layer).

    ``w1_bits`` (n_hidden, n_in) and ``w2_bits`` (n_classes, n_hidden) are the binary weights,
    ``bn1``/``bn2`` the (gamma, beta) of each layer's batch norm, whose mean and variance are the
    population statistics over the training inputs ``x`` (n, n_in) bits.
    """
    w1_bits, w2_bits = np.asarray(w1_bits, bool), np.asarray(w2_bits, bool)
    (g, beta), (g2, beta2) = (np.asarray(bn1[0], float), np.asarray(bn1[1], float)), bn2
    xs = np.where(np.asarray(x, bool), 1.0, -1.0)
    n_in = w1_bits.shape[1]
    a1 = xs @ np.where(w1_bits, 1.0, -1.0).T
    mu1, s1 = a1.mean(0), np.sqrt(a1.var(0) + BN_EPS)
    safe = np.where(g == 0, 1.0, g)
    c = mu1 - beta * s1 / safe  # z >= 0  <=>  a >= c (gamma > 0)  or  a <= c (gamma < 0)
    flip = g < 0
    bound = np.where(flip, n_in - c, n_in + c) / 2  # popcount of the stored (flipped) weights
    thresholds = np.ceil(bound - 1e-9)
    thresholds = np.where(g == 0, np.where(beta >= 0, 0, n_in + 1), thresholds).astype(np.int64)
    thresholds = np.clip(thresholds, 0, n_in + 1)
    hidden = np.where(flip[:, None], ~w1_bits, w1_bits)
    h = _sign(g * (a1 - mu1) / s1 + beta)
    a2 = h @ np.where(w2_bits, 1.0, -1.0).T
    mu2, s2 = a2.mean(0), np.sqrt(a2.var(0) + BN_EPS)
    scale = np.asarray(g2, float) / s2
    return BinaryNetwork(hidden, thresholds, w2_bits, scale, np.asarray(beta2, float) - scale * mu2)
