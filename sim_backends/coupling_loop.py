"""The amplified coupling loop of the STNO bench: the hardware between the chip's rf output and the strip
line (its physics is `labctl.sim_backends.physics.stno.FeedbackLoop`).

Chain: chip output -> directional coupler (the through arm goes to the analyzer) -> fixed-gain amplifier
-> step attenuator X (four sections of 1, 2, 4 and 4 dB, as an HP 8494) -> step attenuator Y (10, 20, 40
and 40 dB, as an HP 8496) -> coaxial switch: position A feeds the strip line's combiner (loop closed),
position B a 50 ohm load (loop open). A switch driver throws the relays (HP 11713A: outputs 1-4 the X
sections, 5-8 the Y sections, 0 the switch; position A = section in / loop closed). The loop's net gain is
the amplifier's gain less the fixed losses (coupler, combiner, cables) and the attenuation switched in;
its phase at the carrier is set by the cable lengths, a constant of the bench. At power-on every relay
rests in position B: no attenuation, loop open.
"""

from __future__ import annotations

from labctl.sim_backends.physics.stno import FeedbackLoop, StripLine

X_SECTIONS = {1: 1.0, 2: 2.0, 3: 4.0, 4: 4.0}  # dB per driver output
Y_SECTIONS = {5: 10.0, 6: 20.0, 7: 40.0, 8: 40.0}
LOOP_SWITCH = 0  # the driver output of the coaxial switch


class CouplingLoop:
    """Amplifier, step attenuators and loop switch between the chip's output and the strip line."""

    def __init__(self, strip_line: StripLine, amplifier_gain: float = 30.0, losses: float = 15.0,
                 phase: float = 0.0):
        self.strip_line = strip_line
        self.amplifier_gain = float(amplifier_gain)  # dB
        self.losses = float(losses)  # dB: coupler, combiner and cables
        self.phase = float(phase)  # rad at the carrier
        self.positions = {output: "B" for output in range(10)}

    def set_position(self, output: int, position: str) -> None:
        if output not in self.positions or position not in ("A", "B"):
            raise ValueError(f"no output {output!r} or position {position!r}")
        self.positions[output] = position

    @property
    def attenuation(self) -> float:
        """dB switched in by the step attenuators."""
        sections = {**X_SECTIONS, **Y_SECTIONS}
        return sum(db for output, db in sections.items() if self.positions[output] == "A")

    @property
    def closed(self) -> bool:
        return self.positions[LOOP_SWITCH] == "A"

    @property
    def gain(self) -> float:
        """Net power gain (dB) from the chip's output to the strip line with the loop closed."""
        return self.amplifier_gain - self.losses - self.attenuation

    def feedback(self) -> FeedbackLoop | None:
        """The loop as the oscillators feel it, or None while it is open."""
        return FeedbackLoop(self.gain, self.phase, self.strip_line) if self.closed else None

    def snapshot(self) -> dict:
        return {"amplifier_gain": (self.amplifier_gain, "dB"), "losses": (self.losses, "dB"),
                "phase": (self.phase, "rad"), "attenuation": (self.attenuation, "dB"), "closed": self.closed}
