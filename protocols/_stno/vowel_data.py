"""The vowels as the oscillator network sees them: the talkers, their split, and the encoding of formants
as input frequencies, fitted on the training talkers only. Pure numpy, no instruments.

* Data: the women of Hillenbrand et al., J. Acoust. Soc. Am. 97, 3099 (1995) who have F1, F2 and F3
  measured (steady state) for all seven vowels of `VOWELS`: 37 talkers, 259 tokens, the talker count of
  Romera et al., Nature 563, 230 (2018). Keeping whole talkers (not single tokens) lets a split by talker
  put every vowel of a talker on one side.
* Split: a seeded permutation of the talkers; the first `train_fraction` of them train, the rest test.
* Encoding (Romera et al., Fig. 1): F1 -> f_A and F2 -> f_B, each a linear map of the training talkers'
  range [min - m, max + m] (m = `margin` times the range) onto its input band. Nothing about the test
  talkers enters it: their formants may fall outside the band, as a new talker's would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labctl.datasets import VowelTokens, load_hillenbrand
from labctl.protocols._stno.vowel_readout import VOWELS


def vowel_tokens() -> tuple[VowelTokens, np.ndarray]:
    """The 37 women's 259 tokens and their vowel indices (into `VOWELS`)."""
    tokens = load_hillenbrand(groups=("w",), vowels=VOWELS, complete=(1, 2, 3), whole_talkers=True)
    return tokens, np.array([VOWELS.index(v) for v in tokens.vowel])


def talker_split(talker: np.ndarray, seed: int, train_fraction: float = 0.5, speakers: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) token indices: `speakers` talkers (default all) drawn in a seeded order, the first
    `train_fraction` of them (at least one on each side) for training."""
    talkers = np.random.default_rng(seed).permutation(np.unique(talker))
    chosen = talkers[:speakers] if speakers else talkers
    n_train = max(1, min(len(chosen) - 1, int(round(train_fraction * len(chosen)))))
    index = np.arange(len(talker))
    return index[np.isin(talker, chosen[:n_train])], index[np.isin(talker, chosen[n_train:])]


@dataclass(frozen=True)
class Encoding:
    """Linear maps F1 -> f_A and F2 -> f_B: formant range (Hz) onto input band (Hz), per input."""

    f1: tuple[float, float]
    f2: tuple[float, float]
    band_a: tuple[float, float]
    band_b: tuple[float, float]

    def encode(self, formants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f_A, f_B) in Hz for (N, >= 2) formants F1, F2 in Hz."""
        formants = np.asarray(formants, float)
        return _line(formants[:, 0], self.f1, self.band_a), _line(formants[:, 1], self.f2, self.band_b)


def _line(x, source, target):
    return target[0] + (x - source[0]) / (source[1] - source[0]) * (target[1] - target[0])


def fit_encoding(formants: np.ndarray, band_a: tuple[float, float], band_b: tuple[float, float],
                 margin: float = 0.0) -> Encoding:
    """The encoding whose formant ranges are those of `formants` (the training tokens, (N, >= 2) Hz)
    widened by `margin` x range on each side."""
    formants = np.asarray(formants, float)

    def span(x):
        low, high = float(np.min(x)), float(np.max(x))
        pad = margin * (high - low)
        return low - pad, high + pad

    return Encoding(span(formants[:, 0]), span(formants[:, 1]), tuple(band_a), tuple(band_b))
