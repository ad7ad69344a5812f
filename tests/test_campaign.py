"""Campaigns on a two-worker LocalCluster on loopback (started once for the module), with tiny runs."""

import os
import signal
import subprocess
import sys
import textwrap
from importlib import resources

import h5py
import numpy as np
import pytest
from scipy import stats as sp

from labctl.campaign import local_cluster, run_campaign
from labctl.campaign_index import is_campaign_file, open_campaign
from labctl.cli import main
from labctl.results import open_run

distributed = pytest.importorskip("distributed")

# A station whose source may move by 1 V per set: the 3 V sweeps (1.5 V steps in 3 points) fail at their
# second point, mid-run (a plan declares no step for demo_iv), and the other runs go on.
SPEC = {
    "name": "iv",
    "protocol": "demo_iv",
    "parameters": {"points": 3, "compliance": 1e-3},
    "grid": {"v_stop": [0.5, 0.8, 3.0]},
    "chips": {"seeds": [1, 2, 3]},
}


@pytest.fixture(scope="module", autouse=True)
def _stepped_station(tmp_path_factory):
    text = resources.files("labctl").joinpath("stations/demo.yaml").read_text()
    text = text.replace("source_voltage: {abs: 2.0, units: V}", "source_voltage: {abs: 5.0, step: 1.0, units: V}")
    assert "step: 1.0" in text
    path = tmp_path_factory.mktemp("station") / "stepped.yaml"
    path.write_text(text.replace("name: demo", "name: demo_stepped"))
    SPEC["station"] = str(path)
    return path


@pytest.fixture(scope="module")
def client():
    cluster = local_cluster(2)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def campaign(client, tmp_path_factory):
    return run_campaign(SPEC, out=tmp_path_factory.mktemp("camp") / "iv", client=client, progress=False)


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in (folder / "runs").glob("*.h5")}


def test_a_failing_run_is_recorded_and_does_not_stop_the_others(campaign):
    assert campaign.status == "partial" and campaign.exit_code == 1
    table = campaign.table
    assert len(table["key"]) == 9
    for v, status, message in zip(table["v_stop"], table["status"], table["message"], strict=True):
        if v == 3.0:
            assert status == "failed" and "LimitError" in message and "<= 1 V" in message
        else:
            assert status == "completed" and message == ""
    assert campaign.counts() == {"completed": 6, "failed": 3}
    assert np.all(np.isfinite(table["duration"])) and all(w.startswith("tcp://127.0.0.1") for w in table["worker"])
    assert campaign.figure is not None and campaign.figure.is_file()


def test_index_links_resolve_to_every_run_entry(campaign, monkeypatch):
    with h5py.File(campaign.path, "r") as f:
        links = f["campaign/run_entries"]
        assert set(links) == set(campaign.table["key"])
        for key, file, status in zip(campaign.table["key"], campaign.table["file"], campaign.table["status"],
                                     strict=True):
            entry = links[key]  # resolved by HDF5 through the external link
            assert entry.attrs["NX_class"] == "NXentry"
            assert entry["status"][()].decode() == status
            assert entry.file.filename == str(campaign.folder / file)
    monkeypatch.chdir("/")  # links are relative to the campaign file, not to the working directory
    with h5py.File(campaign.path, "r") as f:
        assert all(f["campaign/run_entries"][k]["status"][()] for k in campaign.table["key"])


def test_summaries_equal_statistics_recomputed_from_the_run_files(campaign):
    i_stop = {}
    hits = {}
    for file, v in zip(campaign.table["file"], campaign.table["v_stop"], strict=True):
        with open_run(campaign.folder / file) as run:
            if run.status != "completed":
                continue
            i = run["current"].values
            i_stop.setdefault(v, []).append(i[-1])
            hits.setdefault(v, []).append((np.sum(np.abs(i) >= 0.99e-3), i.size))
    current = campaign.summaries["current_at_stop"]
    rate = campaign.summaries["in_compliance"]
    assert list(campaign.index.grid["v_stop"]) == [0.5, 0.8, 3.0]
    for k, v in enumerate([0.5, 0.8]):
        x = np.array(i_stop[v])
        half = sp.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
        assert current.value[k] == pytest.approx(x.mean(), rel=1e-12)
        assert current.sd[k] == pytest.approx(x.std(ddof=1), rel=1e-9)
        assert (current.low[k], current.high[k]) == pytest.approx((x.mean() - half, x.mean() + half), rel=1e-9)
        assert current.n[k] == 3
        k_hit, n_pts = (sum(c) for c in zip(*hits[v], strict=True))
        z = sp.norm.ppf(0.975)
        centre = (k_hit + z * z / 2) / (n_pts + z * z)
        spread = z * np.sqrt(k_hit * (n_pts - k_hit) / n_pts + z * z / 4) / (n_pts + z * z)
        assert rate.value[k] == pytest.approx(k_hit / n_pts)
        assert rate.successes[k] == k_hit and rate.trials[k] == n_pts
        assert rate.high[k] == pytest.approx(min(1.0, centre + spread))
        assert rate.low[k] == pytest.approx(max(0.0, centre - spread), abs=1e-15)
    assert current.n[2] == 0 and np.isnan(current.value[2])  # every run at 3 V failed


def test_each_task_starts_from_its_chip_as_it_powers_up(client, tmp_path):
    # the same chip four times: a bench carried over from the last run would read other noise
    spec = {"protocol": "demo_iv", "parameters": {"points": 5}, "grid": {"compliance": [0.1, 0.09, 0.08, 0.07]},
            "chips": [{"seed": 4, "bench": {"temperature": 320}}]}
    done = run_campaign(spec, out=tmp_path / "c", client=client, progress=False)
    currents = []
    for file in done.table["file"]:
        with open_run(done.folder / file) as run:
            currents.append(run["current"].values)
            assert run.sample["bench_options"] == "seed=4&temperature=320"
    assert all(np.array_equal(c, currents[0]) for c in currents[1:])


def test_show_and_plot_read_a_campaign_file(campaign, capsys, tmp_path):
    assert is_campaign_file(campaign.path)
    with open_run(campaign.folder / campaign.table["file"][0]):
        pass
    assert not is_campaign_file(campaign.folder / campaign.table["file"][0])
    assert main(["show", str(campaign.path)]) == 0
    out = capsys.readouterr().out
    assert "protocol:   demo_iv" in out and "6 completed, 3 failed" in out
    assert "v_stop=0.8 V" in out and "[95 % wilson]" in out and "LimitError" in out
    assert main(["plot", str(campaign.path), "--out-dir", str(tmp_path)]) == 0
    png = tmp_path / "iv_summary.png"
    assert capsys.readouterr().out.strip() == str(png) and png.stat().st_size > 10_000


def test_the_command_line_runs_a_spec_on_a_given_scheduler(client, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(f"protocol: demo_iv\nstation: {SPEC['station']}\nparameters: {{points: 3}}\n"
                    "grid:\n  v_stop: [0.5, 3]\n")
    argv = ["campaign", str(spec), "--scheduler", client.scheduler.address, "--out", str(tmp_path / "c")]
    assert main([*argv, "-q"]) == 1  # one run failed
    out, err = capsys.readouterr()
    assert "small: 2 runs of demo_iv on 1 chip(s): 1 completed, 1 failed  [partial]" in out
    assert "v_stop=0.5 V" in out and f"campaign file: {tmp_path / 'c' / 'small.h5'}" in out
    assert "labctl show" in err
    assert main([*argv, "--workers", "2"]) == 2
    assert "--scheduler" in capsys.readouterr().err


@pytest.mark.slow
def test_running_again_skips_completed_runs_and_reruns_failed_ones(client, tmp_path):
    first = run_campaign(SPEC, out=tmp_path / "c", client=client, progress=False)
    before = _mtimes(first.folder)
    ran = []
    again = run_campaign(SPEC, out=tmp_path / "c", client=client, progress=False, on_record=ran.append)
    assert sorted(r.task.key for r in ran) == sorted(
        k for k, s in zip(first.table["key"], first.table["status"], strict=True) if s == "failed")
    after = _mtimes(again.folder)
    for key, status in zip(first.table["key"], first.table["status"], strict=True):
        assert (after[f"{key}.h5"] == before[f"{key}.h5"]) == (status == "completed")
    assert again.counts() == first.counts()
    for name, s in first.summaries.items():
        np.testing.assert_array_equal(again.summaries[name].value, s.value)


def test_runs_kept_without_their_campaign_file_keep_the_duration_their_files_record(client, tmp_path):
    first = run_campaign(SPEC, out=tmp_path / "c", client=client, progress=False)
    first.path.unlink()
    again = run_campaign(SPEC, out=tmp_path / "c", client=client, progress=False)
    for file, status, duration in zip(again.table["file"], again.table["status"], again.table["duration"],
                                      strict=True):
        if status == "completed":
            with open_run(again.folder / file) as run:
                assert duration >= 0 and duration == run.duration


@pytest.mark.slow
def test_resume_after_a_kill_runs_only_what_did_not_complete(client, tmp_path):
    spec = {**SPEC, "grid": {"v_stop": [0.5, 0.8]}}
    first = run_campaign(spec, out=tmp_path / "c", client=client, progress=False)
    folder, keys = first.folder, list(first.table["key"])
    # what a kill leaves: a run file cut off while being written, a run never started, a stale index
    with h5py.File(folder / first.table["file"][0], "r+") as f:
        f["entry/status"][()] = "running"
        f["entry"].attrs["writer_pid"] = _dead_pid()
    (folder / first.table["file"][1]).unlink()
    with h5py.File(first.path, "r+") as f:
        f["campaign/status"][()] = "running"
    before = _mtimes(folder)
    ran = []
    resumed = run_campaign(spec, out=tmp_path / "c", client=client, progress=False, on_record=ran.append)
    assert sorted(r.task.key for r in ran) == sorted(keys[:2])
    assert resumed.status == "completed" and resumed.counts() == {"completed": 6}
    after = _mtimes(folder)
    assert all(after[f"{k}.h5"] == before[f"{k}.h5"] for k in keys[2:])
    with open_run(folder / first.table["file"][0]) as run:
        assert run.status == "completed"


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


@pytest.mark.slow
def test_a_killed_campaign_process_resumes(client, tmp_path):
    spec = {**SPEC, "grid": {"v_stop": [0.4, 0.5, 0.6, 0.7]}}
    script = textwrap.dedent(f"""
        import os, signal
        from labctl.campaign import local_cluster, run_campaign
        seen = []
        def on_record(rec):
            seen.append(rec)
            if len(seen) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        if __name__ == "__main__":
            run_campaign({spec!r}, out={str(tmp_path / "c")!r}, scheduler={client.scheduler.address!r},
                         progress=False, on_record=on_record)
        """)
    (tmp_path / "killed.py").write_text(script)
    proc = subprocess.run([sys.executable, str(tmp_path / "killed.py")], cwd=tmp_path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    index = open_campaign(tmp_path / "c" / "iv.h5")  # whatever moment the kill came, the index opens
    assert index.status == "running" and index.n_runs == 12
    resumed = run_campaign(spec, out=tmp_path / "c", client=client, progress=False)
    assert resumed.status == "completed" and resumed.counts() == {"completed": 12}
    assert len(list((tmp_path / "c" / "runs").glob("*.h5"))) == 12


@pytest.mark.slow
def test_ctrl_c_stops_dispatch_and_leaves_a_consistent_index(client, tmp_path):
    spec = {**SPEC, "grid": {"v_stop": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}}

    def interrupt(rec, sent=[]):  # noqa: B006 - once: a second Ctrl-C means "stop waiting"
        if rec.status == "completed" and not sent:
            sent.append(rec)
            os.kill(os.getpid(), signal.SIGINT)

    stopped = run_campaign(spec, out=tmp_path / "c", client=client, progress=False, on_record=interrupt)
    assert stopped.status == "interrupted" and stopped.exit_code == 130
    statuses = list(stopped.table["status"])
    assert set(statuses) <= {"completed", "aborted", "pending"} and "pending" in statuses
    on_disk = open_campaign(stopped.path)
    assert on_disk.status == "interrupted" and list(on_disk.table["status"]) == statuses
    for file, status in zip(on_disk.table["file"], statuses, strict=True):
        if status != "pending":
            with open_run(stopped.folder / file) as run:
                assert run.status == status
    resumed = run_campaign(spec, out=tmp_path / "c", client=client, progress=False)
    assert resumed.status == "completed" and resumed.counts() == {"completed": 18}
