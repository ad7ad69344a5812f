"""Real protocols against a served bench, through pyvisa-py and TCP sockets: same results as in-process
with the same seed; with faults on purpose, every point once and every fault seen in the run file."""

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

from labctl.remote_clock import ControlClient
from labctl.runner import run_protocol
from labctl.sim_backends.served import ServerThread, socket_station

pytestmark = pytest.mark.slow

RUNS = {
    "rram": ("rram_bit_error_rate", {"repeats": 1, "compliances": "30e-6, 100e-6"}),
    "stno": ("stno_frequency_vs_current", {"steps": 6, "points": 201}),
}
FAULTS = {"latency": 0.02, "latency_s": 0.01, "no_reply": 0.02, "garbled": 0.02, "disconnect": 0.02,
          "error": 0.02}


def served_station(srv, bench, tmp_path, **kwargs):
    path = tmp_path / f"{bench}_served.yaml"
    path.write_text(yaml.safe_dump(socket_station(bench, srv.server.listing(), srv.control_port, **kwargs)))
    return path


def data(path):
    with h5py.File(path, "r") as f:
        d = f["entry/data"]
        return {k: d[k][()] for k in d if isinstance(d[k], h5py.Dataset)}, f["entry/status"][()].decode()


@pytest.mark.parametrize("bench", sorted(RUNS))
def test_a_served_run_equals_the_in_process_run(bench, tmp_path):
    name, params = RUNS[bench]
    local = run_protocol(name, tmp_path / "local.h5", station=bench, **params)
    with ServerThread(f"{bench}.yaml") as srv:
        station = served_station(srv, bench, tmp_path)
        served = run_protocol(name, tmp_path / "served.h5", station=station, **params)
    assert local.status == served.status == "completed", served.message
    a, _ = data(local.path)
    b, _ = data(served.path)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    with h5py.File(served.path, "r") as f:
        assert f["entry/instrument/smu1/resource" if bench == "stno" else "entry/instrument/die/resource"][
            ()].decode().endswith("::SOCKET")
        assert f["entry/run_clock"][()].decode() == "RemoteClock"


@pytest.mark.parametrize("bench", sorted(RUNS))
def test_with_faults_every_point_is_there_once_and_every_fault_seen_is_recorded(bench, tmp_path):
    name, params = RUNS[bench]
    with ServerThread(f"{bench}.yaml") as srv:
        with ControlClient(srv.control_port) as c:
            c.call("faults", rates=FAULTS, seed=3)
        station = served_station(srv, bench, tmp_path, timeout=300)
        run = run_protocol(name, tmp_path / "faulty.h5", station=station, **params)
        with ControlClient(srv.control_port) as c:
            injected = c.call("faults")["instruments"]
    assert run.status == "completed", run.message
    values, status = data(run.path)
    axis = values["dc_current"] if bench == "stno" else values["compliance"]
    expected = (np.linspace(4.5e-3, 9e-3, params["steps"]) if bench == "stno"
                else np.array([30e-6, 100e-6]))
    np.testing.assert_allclose(axis, expected)  # each point once, in order: none lost, none twice
    with h5py.File(run.path, "r") as f:
        faults = f["entry/link_faults"]
        seen = int(faults["count"][()])
        kinds = {k.decode() for k in faults["kind"][()]} if seen else set()
    total = sum(sum(v["injected"][k] for k in ("no_reply", "garbled", "disconnect")) for v in injected.values())
    assert total > 0 and seen > 0
    assert kinds <= {"no reply", "garbled reply", "connection lost", "instrument error"}


def test_labctl_sim_serve_lists_ports_and_stops_on_sigint():
    proc = subprocess.Popen([sys.executable, "-m", "labctl.cli", "sim", "serve", "rram.yaml", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        assert "TCPIP::127.0.0.1::" in text and "::SOCKET" in text and "control" in text
        port = int(next(ln for ln in lines if "control" in ln).rsplit(":", 1)[1])
        with ControlClient(port) as c:
            assert c.call("clock")["mode"] == "virtual"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
