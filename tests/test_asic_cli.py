"""bench asic's command line: bad input is one line and exit 2 before anything is polled; pyasic
is imported only by bench asic; SIGTERM and Ctrl-C keep every finished poll."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from standin_miners import BraiinsStandIn, GarbageStandIn, free_loopback_address

REPO = Path(__file__).resolve().parent.parent


def _bench(capsys, *args):
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.parametrize("args, says", [
    (["10.0.0.1", "--interval", "0.1"], "--interval 0.1 s is shorter than 0.5 s"),
    (["10.0.0.1", "--seconds", "2", "--interval", "5"], "--seconds 2 is shorter than --interval 5"),
    (["10.0.0.1", "--seconds", "100000"], "more than a day"),
    (["10.0.0.1", "10.0.0.2", "--watts", "1400"], "--watts is one miner's draw, but 2 hosts were given"),
    (["10.0.0.1-3", "--watts-command", "echo 5"], "--watts-command is one miner's draw, but 3 hosts were given"),
    (["10.0.0.1", "--watts", "5", "--watts-command", "echo 5"], "--watts and --watts-command both given"),
    (["10.0.0.1", "--watts", "5e9"], "outside"),
    (["10.0.0.1", "--watts-command", "  "], "--watts-command is empty"),
    (["10.0.0.1", "--watts-command", "exit 3"], "exited with status 3"),
    (["10.0.0.1", "--watts-command", "echo lots"], "not a number of watts"),
    (["10.0.0.9-10.0.0.1"], "ends before it starts"),
    (["@/nonexistent/farm.txt"], "no such host file"),
    (["10.0.0.1", "--out", ""], "--out must name a folder"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, says):
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path)]
    code, out, err = _bench(capsys, "asic", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], err
    assert not list(tmp_path.rglob("*.json"))


def test_an_unwritable_out_is_refused_before_polling(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _bench(capsys, "asic", "10.0.0.1", "--out", str(blocker))
    assert code == 2 and err.startswith(f"error: cannot write results to {blocker}")


def test_bench_run_does_not_import_pyasic():
    # GPU machines lack pyasic: bench.cli and bench run must not need it.
    probe = ("import sys\nfrom bench.cli import main\n"
             "try:\n    main(['run', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyasic', 'bench') and 'asic' in m))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().splitlines()[-1]
    # bench.asics (the datasheet table) may load; pyasic and bench.asic.* (its poller) must not.
    assert "pyasic" not in loaded and "bench.asic." not in loaded and "'bench.asic'" not in loaded, loaded


def test_bench_asic_without_pyasic_is_one_line(tmp_path):
    # A machine without pyasic: bench asic says what to install; the import is blocked here.
    probe = ("import sys\nsys.modules['pyasic'] = None\nfrom bench.cli import main\n"
             f"main(['asic', '10.0.0.1', '--out', {str(tmp_path)!r}])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "needs pyasic" in done.stderr, done.stderr


def _wait_for_a_window(out_dir: Path, process: subprocess.Popen, timeout_s: float = 60) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        files = list(out_dir.rglob("*.json"))
        if files:
            try:
                if len(json.loads(files[0].read_text())["workloads"][0]["phases"][0]["windows"]) >= 2:
                    return files[0]
            except (ValueError, LookupError):
                pass
        time.sleep(0.1)
    raise AssertionError("no window saved in time")


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_keeps_every_finished_poll(tmp_path, signum, code):
    miner = BraiinsStandIn()
    with miner:
        process = subprocess.Popen(
            [sys.executable, "-c", "from bench.cli import main; main()", "asic", miner.address,
             "--seconds", "60", "--interval", "1", "--out", str(tmp_path)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        path = _wait_for_a_window(tmp_path, process)
        os.kill(process.pid, signum)
        out, err = process.communicate(timeout=30)
        served = list(miner.served)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    document = json.loads(path.read_text())
    assert document["status"] == "partial"
    assert document["partial_reason"].startswith(f"interrupted by {signal.Signals(signum).name} after ")
    windows = document["workloads"][0]["phases"][0]["windows"]
    # Every poll answered before the signal is a window's end: none lost.
    assert len(windows) >= 2 and len(windows) in (len(served) - 1, len(served) - 2)
    assert [w["rate_per_s"] for w in windows] == pytest.approx([s["mhs_1m"] * 1e6 for s in served[1:len(windows) + 1]])


def test_pyasic_logs_nothing_of_its_own(tmp_path):
    # pyasic logs to the root logger (stderr) and warns; in a real process (not under pytest's
    # capture) every stderr line must still be ours, one per host.
    garbage, hung = GarbageStandIn(), BraiinsStandIn(hang_after=2)
    nothing = free_loopback_address((80, 4028))
    with garbage, hung:
        done = subprocess.run(
            [sys.executable, "-c", "from bench.cli import main; main()", "asic", garbage.address, hung.address,
             nothing, "--seconds", "3", "--interval", "1", "--out", str(tmp_path)],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 1, done.stderr
    hosts = (garbage.address, hung.address, nothing)
    lines = done.stderr.splitlines()
    assert all(line.startswith(("bench asic: ", "interrupted")) or line.split(":")[0] in hosts for line in lines), \
        done.stderr
    assert sum(line.startswith(f"{hung.address}: poll 2 unanswered") for line in lines) == 1
