"""What a result file says produced it: the tool and its commit, the machine, the device."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import __version__, fingerprint
from bench.devices import Device


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "code.py").write_text("x = 1\n")
    _git(repo, "add", "code.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first")
    return repo


def test_a_clean_checkout_gives_its_commit_and_not_dirty(checkout: Path) -> None:
    commit, dirty = fingerprint._git_state(checkout)
    assert commit == _git(checkout, "rev-parse", "HEAD").strip() and len(commit) == 40
    assert dirty is False


def test_a_changed_tracked_file_marks_the_checkout_dirty(checkout: Path) -> None:
    (checkout / "code.py").write_text("x = 2\n")
    assert fingerprint._git_state(checkout)[1] is True


def test_an_untracked_file_does_not_mark_it_dirty(checkout: Path) -> None:
    (checkout / "notes.txt").write_text("scratch\n")  # results/ and scratch files are not code
    assert fingerprint._git_state(checkout)[1] is False


def test_no_checkout_gives_no_commit_rather_than_a_guess(tmp_path: Path) -> None:
    assert fingerprint._git_state(tmp_path) == (None, None)


def test_tool_info_names_the_tool_and_its_version() -> None:
    info = fingerprint.tool_info()
    assert info["name"] == "joulebench" and info["version"] == __version__
    assert set(info) == {"name", "version", "commit", "dirty"}


def test_machine_info_counts_cores_and_records_package_versions() -> None:
    info = fingerprint.machine_info()
    assert info["cpu_cores_logical"] >= 1 and info["memory_bytes"] > 0
    assert info["packages"]["numpy"] is not None  # installed: its version, not None
    assert set(info["cpu_flags_simd"]) <= {"avx2", "avx512f", "avx512bw", "avx512vl", "sha_ni", "neon", "asimd", "sha2"}


def test_simd_flags_are_read_from_the_cpuinfo_flags_line(monkeypatch, tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx2 sha_ni avx512f ht\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    assert fingerprint._simd_flags() == ["avx2", "avx512f", "sha_ni"]


def test_a_cpu_device_records_its_name_slug_and_cores() -> None:
    info = fingerprint.device_info(Device("cpu", None, "AMD EPYC"))
    assert info["kind"] == "cpu" and info["name"] == "AMD EPYC" and info["slug"] == "cpu-amd-epyc"
    assert info["cores_logical"] >= 1
