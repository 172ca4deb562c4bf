"""The CLI's contract for bad input: one line naming the problem, exit 2, no traceback."""

import pytest

from bench import __version__
from bench.cli import main


def _bench(capsys, *args):
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def _assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_version_prints_the_tool_version(capsys):
    code, out, _ = _bench(capsys, "--version")
    assert code == 0 and __version__ in out


def test_unknown_device(capsys, tmp_path):
    code, _, err = _bench(capsys, "run", "--device", "tpu", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "unknown device 'tpu'")


def test_cuda_on_a_machine_without_one(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("bench.devices.cuda_device_count", lambda: 0)
    code, _, err = _bench(capsys, "run", "--device", "cuda", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "device 'cuda' asked for")


def test_unknown_workload(capsys):
    code, _, err = _bench(capsys, "run", "--workload", "fold")
    assert code == 2
    _assert_one_line_error(err, "'fold' is not one of")


def test_unknown_preset(capsys):
    code, _, err = _bench(capsys, "run", "--preset", "turbo")
    assert code == 2
    _assert_one_line_error(err, "'turbo' is not one of")


def test_non_positive_numbers_are_refused(capsys):
    code, _, err = _bench(capsys, "run", "--batch-size", "0")
    assert code == 2
    _assert_one_line_error(err, "--batch-size")
    code, _, err = _bench(capsys, "run", "--watts", "-5")
    assert code == 2
    _assert_one_line_error(err, "--watts")


def test_unwritable_out_directory(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--out", str(blocker / "results"))
    assert code == 2
    _assert_one_line_error(err, "cannot write results to")
    assert blocker.read_text() == "not a directory"


def test_unknown_command(capsys):
    code, _, err = _bench(capsys, "mine-harder")
    assert code == 2
    _assert_one_line_error(err, "No such command 'mine-harder'")
