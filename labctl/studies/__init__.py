"""Shipped campaign specs: the paper's claims as studies over chips (``labctl campaign NAME``).

* ``ber_over_dies``: bit-error rate of the 2T2R and 1T1R reads versus SET compliance, over 16 dies.
* ``bnn_over_dies``: on-die BNN accuracy versus weight bit-error rate, over dies and programmings.
* ``vowels_over_splits``: vowel recognition rates over talker splits, each on its own oscillator chip.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def shipped_studies() -> list[Path]:
    root = importlib.resources.files("labctl.studies")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))
