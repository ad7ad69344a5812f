"""Data sets shipped with labctl (package data, read through importlib.resources).

Hillenbrand vowels: J. Hillenbrand, L. A. Getty, M. J. Clark and K. Wheeler, "Acoustic characteristics of
American English vowels", J. Acoust. Soc. Am. 97, 3099 (1995); (c) 1995 James Hillenbrand, distributed
freely for research (`labctl/data/hillenbrand1995/`: `vowdata.dat`, its `readme.txt`, `CITATION.txt`).
1668 /hVd/ tokens of 12 vowels by men, women, boys and girls; per token the duration, f0 and the formants
F1-F4 at the vowel's steady state (the measurements the STNO vowel experiment of Romera et al., Nature 563,
230 (2018) encodes as microwave frequencies) plus F1-F3 at 20, 50 and 80 % of its duration. A zero in the
file (formant not measurable) becomes NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources

import numpy as np

VOWELS = ("ae", "ah", "aw", "eh", "er", "ei", "ih", "iy", "oa", "oo", "uh", "uw")
VOWEL_WORDS = {"ae": "had", "ah": "hod", "aw": "hawed", "eh": "head", "er": "heard", "ei": "haid",
               "ih": "hid", "iy": "heed", "oa": "hoed", "oo": "hood", "uh": "hud", "uw": "who'd"}
GROUPS = ("m", "w", "b", "g")  # man, woman, boy, girl
_DIR = ("data", "hillenbrand1995")


@dataclass(frozen=True)
class VowelTokens:
    """One row per token; every array has the same first axis."""

    formants: np.ndarray  # (N, 4) float, Hz: F1..F4 at the steady state (NaN: not measurable)
    contour: np.ndarray  # (N, 3, 3) float, Hz: [20 %, 50 %, 80 % of duration] x [F1, F2, F3]
    f0: np.ndarray  # (N,) float, Hz, at the steady state
    duration: np.ndarray  # (N,) float, s
    vowel: np.ndarray  # (N,) str, codes of VOWELS
    group: np.ndarray  # (N,) str, codes of GROUPS
    speaker: np.ndarray  # (N,) int, talker number within the group

    def __len__(self) -> int:
        return len(self.vowel)

    def take(self, mask_or_index) -> VowelTokens:
        """The tokens selected by a boolean mask or an index array."""
        return VowelTokens(**{f.name: getattr(self, f.name)[mask_or_index] for f in fields(self)})

    @property
    def talker(self) -> np.ndarray:
        """(N,) str: a unique talker id such as "w12"."""
        return np.char.add(self.group, np.char.zfill(self.speaker.astype(str), 2))


def hillenbrand_text() -> str:
    """The raw `vowdata.dat` text, from the installed package."""
    return resources.files("labctl").joinpath(*_DIR, "vowdata.dat").read_text(encoding="ascii")


@lru_cache(maxsize=1)
def _all_tokens() -> VowelTokens:
    """Every token of the file, parsed once (callers only get copies, through `take`)."""
    names, rows = [], []
    for line in hillenbrand_text().splitlines():
        parts = line.split()
        if len(parts) == 16 and len(parts[0]) == 5 and parts[0][0] in GROUPS:
            names.append(parts[0])
            rows.append([float(x) for x in parts[1:]])
    values = np.array(rows)
    values[:, 2:][values[:, 2:] == 0] = np.nan
    return VowelTokens(formants=values[:, 2:6], contour=values[:, 6:15].reshape(-1, 3, 3),
                       f0=values[:, 1], duration=values[:, 0] * 1e-3, vowel=np.array([n[3:5] for n in names]),
                       group=np.array([n[0] for n in names]), speaker=np.array([int(n[1:3]) for n in names]))


def load_hillenbrand(groups=GROUPS, vowels=VOWELS, complete: tuple[int, ...] = (),
                     whole_talkers: bool = False) -> VowelTokens:
    """Hillenbrand et al. (1995) vowel tokens of the given speaker groups and vowels (file order).

    complete: formant numbers (1-4) that must have been measurable at the steady state, e.g. (1, 2) for an
    F1-F2 classifier; tokens missing one are dropped.
    whole_talkers: keep only the talkers who have every one of `vowels` with those formants measured, and
    drop the others entirely (a talker-split experiment then sees each talker's full vowel set). The
    women with F1, F2 and F3 measured for /ae ah aw er iy uh uw/ are 37, the talker count of Romera et
    al. (2018).
    """
    groups, vowels = tuple(groups), tuple(vowels)
    bad = [g for g in groups if g not in GROUPS] + [v for v in vowels if v not in VOWELS]
    bad += [str(n) for n in complete if n not in (1, 2, 3, 4)]
    if bad:
        raise ValueError(f"unknown group, vowel or formant number: {', '.join(bad)} "
                         f"(groups {GROUPS}, vowels {VOWELS}, formants 1-4)")
    tokens = _all_tokens()
    keep = np.isin(tokens.group, groups) & np.isin(tokens.vowel, vowels)
    for n in complete:
        keep &= np.isfinite(tokens.formants[:, n - 1])
    if whole_talkers:
        talker = tokens.talker
        ids, counts = np.unique(talker[keep], return_counts=True)  # one token per talker and vowel
        keep &= np.isin(talker, ids[counts == len(set(vowels))])
    return tokens.take(keep)
