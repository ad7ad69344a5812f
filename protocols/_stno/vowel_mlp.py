"""The software reference of the vowel network: a standard multilayer perceptron on the same formants and
the same talker split (the comparison of Romera et al., Nature 563, 230 (2018), Fig. 2(c), as summarized by
Querlioz et al., BioCAS 2019). Pure computation, no instruments.

Inputs F1 and F2, standardized on the training talkers (the counterpart of the oscillator network's
encoding fitted on the same talkers); `hidden` tanh units; a softmax output over the seven vowels
(scikit-learn's `MLPClassifier`, L-BFGS, weight decay 1e-3), the best of a few seeded initializations by
training accuracy. Its trainable parameters are its weights and biases, (2 + 1) h + (h + 1) 7 = 10 h + 7
(17 for one hidden unit, the smallest MLP).
"""

from __future__ import annotations

import warnings

import numpy as np


def mlp_parameters(hidden: int, n_inputs: int = 2, n_classes: int = 7) -> int:
    """Weights and biases of an n_inputs-hidden-n_classes perceptron."""
    return (n_inputs + 1) * hidden + (hidden + 1) * n_classes


def mlp_rates(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, hidden: int,
              seed: int, restarts: int = 3) -> tuple[float, float]:
    """(training accuracy, test accuracy) of the MLP reference (module docstring)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best = (-1.0, 0.0)
    for k in range(restarts):
        model = make_pipeline(StandardScaler(), MLPClassifier((hidden,), activation="tanh", solver="lbfgs",
                                                              alpha=1e-3, max_iter=3000,
                                                              random_state=seed * restarts + k))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y_train)
        train = float(model.score(x_train, y_train))
        if train > best[0]:
            best = (train, float(model.score(x_test, y_test)))
    return best
