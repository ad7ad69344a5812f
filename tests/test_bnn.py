"""Binarized neural network in numpy: data, seeded training, batch-norm folding, XNOR-popcount inference."""

import numpy as np
import pytest

from labctl.protocols._rram import bnn


@pytest.fixture(scope="module")
def digits():
    return bnn.load_digits_binary(seed=0)


@pytest.fixture(scope="module")
def net(digits):
    return bnn.train_bnn(digits.x_train, digits.y_train, seed=0)


def test_digits_are_the_bundled_set_binarized_and_split_by_seed(digits):
    assert digits.x_train.shape == (1348, 64) and digits.x_test.shape == (449, 64)
    assert digits.x_train.dtype == bool
    labels = np.concatenate([digits.y_train, digits.y_test])
    assert list(np.bincount(labels)) == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert 0.2 < digits.x_train.mean() < 0.6  # ink and background both present
    again, other = bnn.load_digits_binary(seed=0), bnn.load_digits_binary(seed=1)
    assert np.array_equal(again.x_test, digits.x_test) and np.array_equal(again.y_test, digits.y_test)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_training_learns_digits_and_is_seeded(digits, net):
    test_acc = bnn.accuracy(bnn.predict(net, digits.x_test), digits.y_test)
    train_acc = bnn.accuracy(bnn.predict(net, digits.x_train), digits.y_train)
    assert test_acc > 0.78 and train_acc > 0.8  # chance is 0.1; 16 binary hidden neurons
    assert net.hidden_weights.shape == (16, 64) and net.hidden_weights.dtype == bool
    assert net.output_weights.shape == (10, 16)
    assert np.all((net.hidden_thresholds >= 0) & (net.hidden_thresholds <= 65))
    same = bnn.train_bnn(digits.x_train, digits.y_train, seed=0)
    for a, b in zip((net.hidden_weights, net.hidden_thresholds, net.output_scale),
                    (same.hidden_weights, same.hidden_thresholds, same.output_scale), strict=True):
        assert np.array_equal(a, b)
    other = bnn.train_bnn(digits.x_train, digits.y_train, seed=1, epochs=2)
    assert not np.array_equal(other.hidden_weights, net.hidden_weights)


def test_xnor_popcount_is_the_plus_minus_one_dot_product():
    rng = np.random.default_rng(0)
    x, w = rng.random((5, 64)) < 0.5, rng.random((3, 64)) < 0.5
    dot = np.where(x, 1, -1) @ np.where(w, 1, -1).T
    assert np.array_equal(2 * bnn.xnor_popcount(x, w) - 64, dot)


def test_folded_thresholds_reproduce_batch_norm_and_sign():
    """Integer thresholds (with complemented weights where gamma < 0) == sign(BN(x . w))."""
    rng = np.random.default_rng(3)
    x = rng.random((500, 64)) < 0.4
    w1, w2 = rng.random((16, 64)) < 0.5, rng.random((10, 16)) < 0.5
    g1, b1 = rng.normal(0, 1, 16), rng.normal(0, 0.7, 16)
    g1[0], b1[0] = 0.0, -0.3  # a dead neuron: never fires
    g1[1], b1[1] = 0.0, 0.2  # always fires
    g2, b2 = rng.normal(0, 1, 10), rng.normal(0, 0.5, 10)
    net = bnn.fold(w1, w2, (g1, b1), (g2, b2), x)
    assert np.any(g1 < 0) and not np.array_equal(net.hidden_weights[g1 < 0], w1[g1 < 0])

    xs = np.where(x, 1.0, -1.0)
    a1 = xs @ np.where(w1, 1.0, -1.0).T
    z1 = g1 * (a1 - a1.mean(0)) / np.sqrt(a1.var(0) + bnn.BN_EPS) + b1
    h = np.where(z1 >= 0, 1.0, -1.0)
    a2 = h @ np.where(w2, 1.0, -1.0).T
    z2 = g2 * (a2 - a2.mean(0)) / np.sqrt(a2.var(0) + bnn.BN_EPS) + b2

    fired = bnn.hidden_popcounts(net, x) >= net.hidden_thresholds
    assert np.array_equal(fired, h > 0)
    assert not fired[:, 0].any() and fired[:, 1].all()
    assert np.array_equal(bnn.predict(net, x), np.argmax(z2, axis=1))


def test_die_layout_and_adders_give_the_reference_popcounts(digits, net):
    """Two 32-bit input segments against rows of 32 weights, summed per neuron, == 64-bit popcounts."""
    rows = bnn.to_rows(net.hidden_weights, 32)
    assert rows.shape == (32, 32)
    assert np.array_equal(rows[5], net.hidden_weights[5, :32])
    assert np.array_equal(rows[16 + 5], net.hidden_weights[5, 32:])
    x = digits.x_test
    segments = x.reshape(len(x), 2, 32)
    counts = np.stack([bnn.xnor_popcount(segments[:, s], rows) for s in range(2)], axis=1)
    assert counts.shape == (len(x), 2, 32)
    popcounts = bnn.row_popcounts_to_neurons(counts, 16)
    assert np.array_equal(popcounts, bnn.hidden_popcounts(net, x))
    assert np.array_equal(bnn.infer(net, popcounts), bnn.predict(net, x))
    with pytest.raises(ValueError, match="rows of 32"):
        bnn.to_rows(np.zeros((4, 48), bool), 32)



def test_software_tolerance_counts_random_weight_flips(digits, net):
    acc = bnn.accuracy_with_weight_errors(net, digits.x_test, digits.y_test, [0, 1e-2, 1e-1, 0.5],
                                          trials=10, seed=3)
    assert acc[0] == bnn.accuracy(bnn.predict(net, digits.x_test), digits.y_test)
    assert acc[0] >= acc[1] > acc[2] > acc[3]
    assert acc[3] < 0.3  # half the weights flipped: little is left
    again = bnn.accuracy_with_weight_errors(net, digits.x_test, digits.y_test, [0, 1e-2, 1e-1, 0.5],
                                            trials=10, seed=3)
    assert np.array_equal(again, acc)  # seeded


@pytest.mark.slow
def test_error_aware_training_loses_less_to_weight_errors(digits):
    """Trained with 10 % of its hidden weights flipped in every pass (Hirtzlin et al.), a network
    loses less accuracy to random weight errors than the same network trained without, for every
    training seed tried; it pays for it in error-free accuracy."""
    rates = [0, 4e-2, 1e-1]
    loss = {0.0: [], 0.1: []}
    clean = {0.0: [], 0.1: []}
    for seed in range(3):
        for p in loss:
            net = bnn.train_bnn(digits.x_train, digits.y_train, seed=seed, weight_error_rate=p)
            acc = bnn.accuracy_with_weight_errors(net, digits.x_test, digits.y_test, rates, trials=40,
                                                  seed=1)
            loss[p].append(acc[0] - acc[1:])
            clean[p].append(acc[0])
    standard, aware = np.array(loss[0.0]), np.array(loss[0.1])
    assert np.all(aware[:, 1] < standard[:, 1])  # at 1e-1, seed by seed
    assert np.mean(standard[:, 0] - aware[:, 0]) > 0.01 and np.mean(standard[:, 1] - aware[:, 1]) > 0.03
    assert np.mean(clean[0.1]) < np.mean(clean[0.0])
    with pytest.raises(ValueError, match="weight_error_rate"):
        bnn.train_bnn(digits.x_train, digits.y_train, weight_error_rate=0.5)
