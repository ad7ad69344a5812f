"""HP 11713A attenuator/switch driver: the relays of the STNO bench's coupling loop.

The 11713A is a listen-only HP-IB instrument with its own command language, not SCPI (11713A operating
manual, remote programming): ``A`` or ``B`` followed by output numbers (``1``-``9``, ``0`` for the tenth)
drives those outputs to position A or B, e.g. ``A12B34`` or ``B1234567890``; it answers nothing, not even
an identification query. The stock pymeasure ``HP11713A`` driver speaks it. Characters it does not know
are ignored by the instrument; here they also leave a -102 entry in the emulator's error list (which no
bus query can read), so that tests see them.
"""

from __future__ import annotations

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.interfaces import SwitchBank
from labctl.sim_backends.scpi import ScpiEmulator, ScpiError

#: Bench time to throw relays and let them settle (attenuator sections and coaxial switches: ~20 ms).
RELAY_TIME = 20e-3
DIGITS = "0123456789"


class HP11713AEmulator(ScpiEmulator):
    """One 11713A whose outputs drive the bench's part ``relays`` (a SwitchBank)."""

    idn = "HEWLETT-PACKARD,11713A,0,0"  # for the bench's records: the instrument has no ID query
    command_time = 1e-3

    def __init__(self, bench: Bench, name: str = "", relays: str = "coupling_loop"):
        self.relays: SwitchBank = self.wire(bench, name, relays, SwitchBank)
        super().__init__(bench, name)

    def process(self, message: bytes) -> bytes | None:
        """Drive outputs as the message says, left to right; nothing is answered."""
        with self.bench.lock:
            self.clock.advance(self.command_time)
            position = None
            thrown = False
            for byte in message.upper():
                char = chr(byte)
                if char in "AB":
                    position = char
                elif char in DIGITS and position is not None:
                    self.relays.set_position(int(char), position)
                    thrown = True
                elif char in DIGITS:
                    self.push(ScpiError(-102, f"11713A output {char} without A or B"))
                elif char not in " \t\r\n,;":
                    self.push(ScpiError(-102, f"11713A ignores {char!r}"))
            if thrown:
                self.clock.advance(RELAY_TIME)
            return None
