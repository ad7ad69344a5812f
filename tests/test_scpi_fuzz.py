"""Whatever bytes arrive, an emulator answers or queues an error; it never raises or changes on error,
and no handler fails with a Python exception (a bug would hide behind its -200 otherwise)."""

import re

import numpy as np
import pytest
import pyvisa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.demo_bench import DemoBench
from labctl.sim_backends.die_controller import DieControllerEmulator
from labctl.sim_backends.framing import frame
from labctl.sim_backends.keithley2400 import Keithley2400Emulator
from labctl.sim_backends.magnet import KepcoBOP3612Emulator, LakeShore421Emulator
from labctl.sim_backends.rf_generator import Agilent8257DEmulator
from labctl.sim_backends.rram_bench import RRAMBench
from labctl.sim_backends.scpi import INTERNAL_ERROR, ScpiEmulator, ScpiError, command
from labctl.sim_backends.spectrum_analyzer import AgilentE4408BEmulator
from labctl.sim_backends.stno_bench import STNOBench
from labctl.sim_backends.visa_library import EmulatedDevice
from labctl.sim_backends.waveform_memory import WaveformMemoryEmulator

TOKENS = ["1", "-3", ".5", "1e309", "nan", "MAX", "ON", "'CURR'", "#15abcde", "#9", "#", ",", ";", "?",
          ":", " ", "\t", "\"", "'", "\x00", "\xff", "VOLT", "1 V", "2 FURLONG", "1e-3", "0", "1e10", "-1e-9",
          "#14\x01\x00\x01\x00", "BL", "LRS", "TRACE1", "REAL,32", "INF", "32", "#1x", '"Run #1 ok"',
          "#9999999999", "#0", "#H1F"]

#: What framing must tell apart: block headers whole, partial, malformed and too long, '#' in strings.
FRAMING_TOKENS = ["#", "#0", "#1", "#1x", "#15", "#15abcde", "#2", "#210", "#3100ab", "#9999999999", "#H1F",
                  "#B101", '"', "'", '"Run #1 ok"', "'#15'", ";", ",", "\n", " ", "*IDN?", ":SYST:ERR?", "1",
                  "\x00"]

#: Each emulator on the bench it is built for (wired to a part where it needs one).
EMULATORS = {
    "Keithley2400": lambda: Keithley2400Emulator(DemoBench(seed=0), dut="diode"),
    "Keithley2400-open": lambda: Keithley2400Emulator(Bench(seed=0)),
    "WaveformMemory": lambda: WaveformMemoryEmulator(DemoBench(seed=0)),
    "KepcoBOP3612": lambda: KepcoBOP3612Emulator(STNOBench(seed=0)),
    "LakeShore421": lambda: LakeShore421Emulator(STNOBench(seed=0)),
    "Agilent8257D": lambda: Agilent8257DEmulator(STNOBench(seed=0)),
    "AgilentE4408B": lambda: AgilentE4408BEmulator(STNOBench(seed=0)),
    "DieController": lambda: DieControllerEmulator(RRAMBench(seed=0)),
}


def spellings(pattern: str) -> list[str]:
    """The shortest and the longest header a SCPI pattern accepts."""
    short = re.sub(r"\[[^\]]*\]", "", pattern)
    short = re.sub(r"[a-z]+", "", short)
    return [short, pattern.replace("[", "").replace("]", "").upper()]


def headers(kind: type[ScpiEmulator]) -> list[str]:
    return sorted({h for _, p, _ in kind._table.entries for h in spellings(p)})


def messages(kind: type[ScpiEmulator]):
    return st.one_of(
        st.binary(max_size=64),
        st.lists(st.sampled_from(headers(kind) + TOKENS), max_size=8).map(
            lambda parts: "".join(parts).encode("latin-1")),
        st.lists(st.tuples(st.sampled_from(headers(kind)), st.sampled_from(TOKENS)), min_size=1, max_size=3).map(
            lambda units: ";".join(f"{h} {a}" for h, a in units).encode("latin-1")),
    )


def internal_errors(emulator: ScpiEmulator) -> list[str]:
    return [e for e in emulator.errors if INTERNAL_ERROR in e]


@pytest.mark.parametrize("name", EMULATORS)
def test_any_message_is_answered_or_queued_never_raised_nor_a_handler_bug(name):
    build = EMULATORS[name]
    kind = type(build())

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(message=messages(kind))
    def check(message):
        emulator = build()
        before = dict(emulator.settings)
        errors_before = len(emulator.errors)
        emulator.process(message)  # must not raise
        assert not internal_errors(emulator) and not emulator.internal_errors, message
        if len(emulator.errors) > errors_before and b";" not in message:
            assert emulator.settings == before  # a rejected single command changed nothing
        assert emulator.process(b"*IDN?") == emulator.idn.encode()

    check()


@pytest.mark.parametrize("name", EMULATORS)
def test_every_header_with_every_kind_of_argument_is_answered_or_queued(name):
    """Systematic where the fuzzing above samples: each header alone, and with each token as its
    argument (binary blocks where text is expected, numbers out of range, words where numbers are).
    Each header starts on a powered-on instrument, so a failure names the header and the arguments
    that led to it."""
    build = EMULATORS[name]
    for header in headers(type(build())):
        emulator = build()
        for arg in ["", *TOKENS]:
            emulator.process(f"{header} {arg}".encode("latin-1"))
            assert not emulator.internal_errors, (header, arg, emulator.internal_errors[-1])


@pytest.mark.parametrize("name", ["Keithley2400", "WaveformMemory", "DieController"])
def test_framing_waits_only_for_a_block_the_instrument_accepts(name):
    """Whatever arrives, in whatever pieces, the instrument waits only for the declared data of a
    block it accepts, or for the terminator after such a block (whose data took the one sent); the
    pieces do not change which messages it executes; and a device clear always brings it back."""
    build = EMULATORS[name]

    @settings(max_examples=200, deadline=None)
    @given(parts=st.lists(st.sampled_from(FRAMING_TOKENS), max_size=12), cuts=st.lists(st.integers(0, 80)))
    def check(parts, cuts):
        data = "".join(parts).encode("latin-1") + b"\n"
        bounds = [0, *sorted(cuts), len(data)]
        runs = []
        for pieces in ([data], [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]):
            device = EmulatedDevice("dut", build(), b"\n", b"\n")
            executed = []
            device.execute = executed.append
            for piece in pieces:
                device.write(piece)
            runs.append(executed)
            cap = device.emulator.max_block
            left = frame(device._input, b"\n", cap)
            assert left.end < 0, data  # no whole message left unexecuted
            if device.waiting and not 0 < left.pending_block <= cap:
                assert frame(device._input + b"\n", b"\n", cap).end > 0, data
        assert runs[0] == runs[1], data
        device = EmulatedDevice("dut", build(), b"\n", b"\n")
        device.write(data)
        device.clear()
        device.write(b"*IDN?\n")
        assert list(device.output) == [bytearray(device.emulator.idn.encode() + b"\n")]
        assert not device.emulator.internal_errors

    check()


def test_cycling_a_worn_die_after_forming_is_not_a_handler_bug():
    """Found by the header sweep: the log of a zero conduction prefactor, then an infinite grid."""
    die = DieControllerEmulator(RRAMBench(seed=0))
    with np.errstate(all="ignore"):
        die.process(b":ARR:CYCL 1e10;:ARR:FORM;:ARR:CYCL 1")
    assert not die.internal_errors, die.internal_errors[-1]


def test_a_handler_bug_is_told_apart_from_an_scpi_error():
    class Buggy(ScpiEmulator):
        @command(":BUG")
        def bug(self):
            return {}["missing"]

        @command(":REFused")
        def refused(self):
            raise ScpiError(-200, "KeyError: a detail that only looks like a bug")

    em = Buggy(Bench(seed=0))
    em.process(b":REF")
    assert not internal_errors(em) and not em.internal_errors
    em.process(b":BUG")
    assert internal_errors(em) == ['-200,"Execution error; internal error KeyError: \'missing\'"']
    assert isinstance(em.internal_errors[-1], KeyError) and em.internal_errors[-1].__traceback__


def test_unread_response_is_discarded_with_query_interrupted():
    from labctl.sim_backends.bench_file import resolve

    rm = pyvisa.ResourceManager(f"{resolve('demo.yaml')}@labsim")
    smu = rm.open_resource("GPIB0::24::INSTR", read_termination="\n", write_termination="\n")
    smu.write("*IDN?")
    smu.write(":SOUR:VOLT 1")
    assert smu.query(":SYST:ERR?").startswith("-410")


def test_scpi_error_entry_format():
    assert ScpiError(-222, "5 outside [0, 1]").entry == '-222,"Data out of range; 5 outside [0, 1]"'
    with pytest.raises(ScpiError):
        raise ScpiError(-113)
