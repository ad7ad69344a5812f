"""Emulators reach their bench through declared parts; bench files describe the sample and are checked."""

import numpy as np
import pytest
import pyvisa

from labctl.sim_backends.bench import Bench, VirtualClock
from labctl.sim_backends.bench_file import BenchFile, shipped_benches
from labctl.sim_backends.demo_bench import DemoBench
from labctl.sim_backends.interfaces import Magnet, MemoryDie, RFLine, SpectrumSource, Terminal, WiringError
from labctl.sim_backends.physics.magnet import Electromagnet
from labctl.sim_backends.scpi import Float, ScpiEmulator, Setting
from labctl.sim_backends.stno_bench import STNOBench


def bench_file(tmp_path, params: str = "{}", model: str = "demo_bench:DemoBench", device: str = "") -> str:
    path = tmp_path / "bench.yaml"
    path.write_text(
        'spec: "1.1"\n'
        f"x-bench: {{model: 'labctl.sim_backends.{model}', seed: 3, params: {params}}}\n"
        "devices:\n"
        "  inst:\n"
        f"{device}"
        "    eom: {GPIB INSTR: {q: \"\\n\", r: \"\\n\"}}\n"
        "    dialogues: [{q: \"*IDN?\", r: \"ACME,X,1,1.0\"}]\n"
        "resources:\n"
        "  GPIB0::3::INSTR: {device: inst}\n"
    )
    return f"{path}@labsim"


def smu_on(part: str) -> str:
    return ("    x-model: labctl.sim_backends.keithley2400:Keithley2400Emulator\n"
            f"    x-options: {{dut: {part}}}\n")


@pytest.mark.parametrize("path", shipped_benches(), ids=lambda p: p.name)
def test_every_part_a_shipped_bench_offers_satisfies_an_interface(path):
    bench = BenchFile.load(path).build_bench()
    assert bench.parts()
    assert "(" in bench.offer() and "no parts" not in bench.offer()


def test_the_shipped_benches_offer_their_parts_by_interface():
    stno = BenchFile.load("stno.yaml").build_bench()
    parts = stno.parts()
    assert [n for n in parts if n.startswith("pillar")] == ["pillar1", "pillar2", "pillar3", "pillar4"]
    assert isinstance(parts["pillar2"], Terminal) and isinstance(parts["magnet"], Magnet)
    assert isinstance(parts["strip_line"], RFLine) and isinstance(parts["rf_output"], SpectrumSource)
    rram = BenchFile.load("rram.yaml").build_bench()
    assert isinstance(rram.part("die", MemoryDie), MemoryDie)
    assert isinstance(rram.part("test_structure", Terminal), Terminal)


def test_a_part_the_bench_lacks_is_refused_naming_it_and_what_the_bench_offers(tmp_path):
    with pytest.raises(WiringError) as err:
        pyvisa.ResourceManager(bench_file(tmp_path, device=smu_on("pillar7")))
    message = str(err.value)
    assert "'pillar7'" in message and "Keithley2400Emulator 'inst'" in message
    assert "diode (Terminal), resistor (Terminal)" in message


def test_a_part_of_the_wrong_kind_is_refused(tmp_path):
    device = "    x-model: labctl.sim_backends.magnet:KepcoBOP3612Emulator\n    x-options: {magnet: diode}\n"
    with pytest.raises(WiringError, match="part 'diode' of DemoBench is a Diode, not a Magnet"):
        pyvisa.ResourceManager(bench_file(tmp_path, device=device))


def test_emulators_wired_to_named_parts_drive_them(tmp_path):
    rm = pyvisa.ResourceManager(bench_file(tmp_path, device=smu_on("resistor")))
    smu = rm.open_resource("GPIB0::3::INSTR", read_termination="\n", write_termination="\n")
    smu.write(":SOUR:FUNC VOLT;:SENS:CURR:PROT 0.1;:FORM:ELEM CURR;:OUTP ON;:SOUR:VOLT 1")
    resistance = rm.visalib.bench.resistor.resistance
    assert float(smu.query(":READ?")) == pytest.approx(1 / resistance, rel=1e-3)
    rm.close()


def test_unknown_bench_parameters_are_refused_with_the_names_the_bench_takes(tmp_path):
    msg = r"bench.yaml: x-bench: DemoBench has no parameter 'temprature'.*temperature, diode, resistor"
    with pytest.raises(ValueError, match=msg):
        pyvisa.ResourceManager(bench_file(tmp_path, params="{temprature: 4.0}"))
    with pytest.raises(TypeError, match=r"'device' has no parameter 'raduis'.*radius, thickness"):
        STNOBench(seed=1, device={"raduis": 1e-7})
    with pytest.raises(TypeError, match=r"'magnet' has no parameter 'field'.*field_per_amp"):
        STNOBench(seed=1, magnet={"field": 0.1})
    with pytest.raises(TypeError, match=r"'spread' has no parameter 'mu0_ms'"):
        STNOBench(seed=1, spread={"mu0_ms": 0.1})
    with pytest.raises(TypeError, match="r_s must be a number"):
        DemoBench(diode={"r_s": "small"})
    with pytest.raises(TypeError, match="Bench has no parameter 'x'"):
        Bench(seed=0, x=1)


def test_stno_bench_file_describes_the_sample(tmp_path):
    params = ("{n_oscillators: 2, device: {radius: 150.0e-9, temperature: 0.0}, spread: {radius: 0.0},"
              " magnet: {field_per_amp: 0.1, remanence: 1.0e-3}, strip_line: {width: 2.0e-5}}")
    bench = BenchFile.load(bench_file(tmp_path, params, model="stno_bench:STNOBench")[: -len("@labsim")]
                           ).build_bench()
    assert bench.chip.radius.tolist() == [150e-9, 150e-9]  # no radius spread asked
    assert np.all(bench.chip.temperature == 0.0)
    assert bench.chip.thickness[0] != bench.chip.thickness[1]  # the other spreads keep their defaults
    bench.magnet.command(1.0, 5.0)
    bench.clock.advance(60.0)
    assert bench.magnet.field() == pytest.approx(1e-3 + 0.1)
    assert bench.strip_line.line.width == 2e-5
    assert list(bench.parts())[:2] == ["pillar1", "pillar2"] and "pillar3" not in bench.parts()
    sample = bench.snapshot()  # what a run file records of the sample: (value, units)
    assert sample["nominal_device"]["radius"] == (150e-9, "m") and sample["device_spread"]["radius"] == (0.0, "1")
    assert sample["magnet"]["remanence"] == (1e-3, "T")


def test_demo_bench_file_describes_the_diode_and_the_resistor():
    plain = DemoBench(seed=5)
    other = DemoBench(seed=5, diode={"i_s": 1e-12, "n": 2.0, "i_s_spread": 0.0},
                      resistor={"resistance": "4.7e3", "tolerance": 0})
    assert other.diode.i_s == 1e-12 and other.diode.n == 2.0 and other.diode.r_s == plain.diode.r_s
    assert other.resistor.resistance == 4.7e3
    assert other.diode.current(0.5) < plain.diode.current(0.5) / 100


def test_the_magnet_part_is_the_physics_magnet():
    assert isinstance(Electromagnet(VirtualClock()), Magnet)


def test_on_change_takes_a_function_not_a_name():
    with pytest.raises(TypeError, match="must be a function"):
        Setting(":X", Float(), 0.0, on_change="_changed")

    seen = []

    class Emulator(ScpiEmulator):
        def _changed(self, value):
            seen.append(value)

        level = Setting(":LEVel", Float(), 0.0, on_change=_changed)

    em = Emulator(Bench(seed=0))
    em.process(b":LEV 2;:LEV 2;:LEV 3")
    assert seen == [2.0, 3.0]  # called on a change only
