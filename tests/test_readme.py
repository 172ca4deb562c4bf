"""The README's first two commands are the contract with a new user and with CI."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_code_block() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("```"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return [line for line in lines[start + 1 : end] if line.strip() and not line.startswith("#")]


def test_readme_opens_with_install_and_run_then_the_test_command():
    install_and_run, test_command = _first_code_block()
    assert install_and_run.endswith("bench run")
    assert "constraints-cpu.txt" in install_and_run and "constraints-cpu.txt" in test_command
    assert "pytest" in test_command


def test_ci_runs_exactly_the_readme_test_command():
    _, test_command = _first_code_block()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines
