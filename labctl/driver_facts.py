"""What labctl knows about instrument drivers beyond their code: the units of their controls, and the
controls that set one physical quantity under several names.

Both are about safety limits (:mod:`labctl.limits`): a limit written in mA is compared in the
control's own units, and a limit on a quantity must bound every control that reaches it, or the
station guards one door of two (a SET compliance limited in A, and the word-line voltage that sets
the same current left free). A driver may declare both itself, as class attributes, as labctl's own
drivers do::

    UNITS = {"set_compliance": "A", "set_gate": "V"}
    LIMIT_GROUPS = {"SET compliance current": ("set_compliance", "set_gate")}

Stock pymeasure drivers declare neither: :data:`STOCK` holds them here, by class, from their
documentation. Names are properties, or ``method.argument``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["STOCK", "control_units", "limit_groups"]

_KEITHLEY_2400 = {
    "units": {
        "source_voltage": "V", "source_current": "A", "compliance_voltage": "V", "compliance_current": "A",
        "source_voltage_range": "V", "source_current_range": "A", "voltage_range": "V", "current_range": "A",
        "resistance_range": "ohm", "source_delay": "s", "trigger_delay": "s",
        "target_voltage": "V", "target_current": "A",  # ramp_to_voltage / ramp_to_current
    },
    "groups": {},
}

#: Units and limit groups of stock pymeasure drivers, by ``module.qualname`` of the class.
STOCK: dict[str, Mapping[str, Mapping]] = {
    "pymeasure.instruments.keithley.keithley2400.Keithley2400": _KEITHLEY_2400,
    "pymeasure.instruments.agilent.agilent8257D.Agilent8257D": {
        "units": {
            "power": "dBm", "start_power": "dBm", "stop_power": "dBm",
            "frequency": "Hz", "start_frequency": "Hz", "stop_frequency": "Hz", "center_frequency": "Hz",
            "internal_frequency": "Hz", "pulse_frequency": "Hz", "dwell_time": "s",
            "low_freq_out_amplitude": "V",
        },
        "groups": {
            "RF output power": ("power", "start_power", "stop_power"),
            "RF output frequency": ("frequency", "start_frequency", "stop_frequency", "center_frequency"),
        },
    },
    "pymeasure.instruments.kepco.kepcobop.KepcoBOP3612": {
        "units": {"current_setpoint": "A", "voltage_setpoint": "V"},
        "groups": {},
    },
}


def _facts(cls: type, key: str, attribute: str) -> list[Mapping]:
    """Declarations along the MRO, most derived first: the class's own attribute, then :data:`STOCK`."""
    out = []
    for klass in cls.__mro__:
        own = vars(klass).get(attribute)
        if isinstance(own, Mapping):
            out.append(own)
        stock = STOCK.get(f"{klass.__module__}.{klass.__qualname__}")
        if stock is not None:
            out.append(stock[key])
    return out


def control_units(cls: type, name: str) -> str | None:
    """Units of control ``name`` (a property, or a method argument) of driver class ``cls``;
    None when nobody declared them."""
    leaf = name.rpartition(".")[2]
    for units in _facts(cls, "units", "UNITS"):
        for key in (name, leaf):
            if key in units:
                return units[key]
    return None


def limit_groups(cls: type) -> dict[str, tuple[str, ...]]:
    """Quantity -> the controls of ``cls`` that set it (a limit on one must come with all)."""
    out: dict[str, tuple[str, ...]] = {}
    for groups in reversed(_facts(cls, "groups", "LIMIT_GROUPS")):
        out.update({str(k): tuple(v) for k, v in groups.items()})
    return out
