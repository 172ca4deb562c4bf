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


def test_more_threads_than_the_machine_runs_are_refused_naming_the_limit(capsys, tmp_path):
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--threads", "100000", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "--threads 100000", "at most")


@pytest.mark.parametrize("option", ["--watts", "--cpu-tdp-watts"])
@pytest.mark.parametrize("value", ["1e-320", "1e308"])
def test_watts_outside_physical_sense_are_refused(capsys, tmp_path, option, value):
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--workload", "mine", option, value, "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, option, "outside")
    assert not list(tmp_path.rglob("*.json"))


def test_watts_beside_cpu_tdp_watts_is_refused_as_conflicting(capsys, tmp_path):
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--watts", "100", "--cpu-tdp-watts", "65", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "--watts and --cpu-tdp-watts both given")


def test_a_watts_command_printing_binary_is_one_line(capsys, tmp_path):
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--workload", "mine", "--out", str(tmp_path),
                          "--watts-command", "printf '\\377\\376\\000garbage'")
    assert code == 2
    _assert_one_line_error(err, "not a number of watts")


def test_an_empty_out_is_refused(capsys):
    code, _, err = _bench(capsys, "run", "--out", "")
    assert code == 2
    _assert_one_line_error(err, "--out", "empty")


def test_an_undocumented_dtype_is_refused(capsys, tmp_path):
    code, _, err = _bench(capsys, "run", "--dtype", "float64", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "'float64' is not one of")


def test_the_preset_choice_is_the_runners_table():
    from bench.cli import run
    from bench.runner import PRESETS

    [preset] = [p for p in run.params if p.name == "preset"]
    assert list(preset.type.choices) == list(PRESETS)


def test_a_machine_subfolder_that_is_a_file_is_refused_before_measuring(capsys, tmp_path):
    from bench.fingerprint import machine_name

    (tmp_path / machine_name()).write_text("not a folder")
    code, _, err = _bench(capsys, "run", "--device", "cpu", "--out", str(tmp_path))
    assert code == 2
    _assert_one_line_error(err, "cannot write results to", machine_name())


def test_an_option_no_chosen_workload_reads_is_refused_in_one_line(capsys):
    code, _, err = _bench(capsys, "run", "--workload", "mine", "--dtype", "float16")
    assert code == 2 and err.strip() == (
        "error: --dtype applies to infer and train, not to mine: leave it out or add --workload infer")


def test_json_is_the_alias_of_format_json_and_contradicting_them_is_refused(capsys):
    code, out, _ = _bench(capsys, "devices", "--json")
    assert code == 0 and out.lstrip().startswith("{")
    code, _, err = _bench(capsys, "devices", "--json", "--format", "csv")
    assert code == 2 and "--json contradicts --format csv" in err


@pytest.mark.parametrize("command", ["run", "devices", "economics", "compare", "report"])
def test_every_help_shows_an_example(capsys, command):
    code, out, _ = _bench(capsys, command, "--help")
    assert code == 0 and "Example" in out and f"bench {command} " in out.split("Example", 1)[1]


def test_a_command_stopped_by_sigterm_exits_143_not_130(capsys, monkeypatch):
    import signal

    from bench import report_run
    from bench.termination import Terminated

    def stopped():
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(report_run, "device_listing", stopped)
    code, _, err = _bench(capsys, "devices")
    assert code == 143 and err.strip() == "interrupted by SIGTERM: nothing unfinished was saved"
