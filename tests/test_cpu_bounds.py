"""What the mining benchmark's bounds and yardstick read: the microarchitecture table by family and
model, and cpuminer-opt's benchmark output (the binary itself is never run here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kernels import cpu_uarch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sha256d.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_sha256d", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "vendor, family, model, name",
    [
        ("AuthenticAMD", 0x19, 0x01, "Zen 3"),  # EPYC 7003 (Milan), this project's CI
        ("AuthenticAMD", 0x19, 0x21, "Zen 3"),  # Ryzen 5000 (Vermeer)
        ("AuthenticAMD", 0x19, 0x11, "Zen 4"),  # EPYC 9004 (Genoa)
        ("AuthenticAMD", 0x19, 0x61, "Zen 4"),  # Ryzen 7000 (Raphael)
        ("AuthenticAMD", 0x1A, 0x02, "Zen 5"),  # EPYC 9005 (Turin)
        ("AuthenticAMD", 0x1A, 0x44, "Zen 5"),  # Ryzen 9000 (Granite Ridge)
        ("GenuineIntel", 6, 0x6A, "Ice Lake"),  # Xeon 3rd gen (Ice Lake-SP)
        ("GenuineIntel", 6, 0x7E, "Ice Lake"),  # Ice Lake client
        ("GenuineIntel", 6, 0x8F, "Sapphire Rapids"),
    ],
)
def test_microarchitecture_follows_family_and_model(vendor, family, model, name):
    assert cpu_uarch.identify(vendor, family, model).name == name


@pytest.mark.parametrize("vendor, family, model", [("AuthenticAMD", 0x17, 0x31), ("GenuineIntel", 6, 0x55), ("HygonGenuine", 0x18, 1), (None, None, None)])
def test_a_cpu_outside_the_table_is_unknown_rather_than_guessed(vendor, family, model):
    assert cpu_uarch.identify(vendor, family, model) is None


def test_issue_rates_differ_by_generation_and_width():
    zen3, zen4, zen5 = (cpu_uarch.identify("AuthenticAMD", f, m) for f, m in ((0x19, 1), (0x19, 0x11), (0x1A, 2)))
    assert "zmm" not in zen3.vector_ops_per_cycle  # no AVX-512 on Zen 3
    assert zen4.vector_ops_per_cycle["zmm"] * 2 == zen4.vector_ops_per_cycle["ymm"]  # 512-bit in two halves
    assert zen5.vector_ops_per_cycle["zmm"] == zen5.vector_ops_per_cycle["ymm"]  # 512-bit pipes
    for rows in cpu_uarch.TABLE.values():
        for row in rows:
            assert row.source and (row.rnds2_cycles is None) == (row.rnds2_latency is None)


def test_cpuinfo_is_read_from_the_first_processor_block(tmp_path):
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel\t\t: 99\n"
    assert cpu_uarch.parse_cpuinfo(text) == ("AuthenticAMD", 25, 1)
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    row, said = cpu_uarch.this_cpu(path)
    assert row.name == "Zen 3" and said == "AuthenticAMD family 0x19 model 0x1"
    assert cpu_uarch.this_cpu(tmp_path / "missing")[0] is None


CPUMINER_OUTPUT = """\
[2026-12-02 17:05:37] 1 of 2 miner threads started using 'sha256d' algorithm
[2026-12-02 17:05:38] Total: 19.60 MH/s, Temp: 0C, Freq: 0.000/0.000 GHz
[2026-12-02 17:05:45] Total: 13.25 MH/s, Temp: 0C, Freq: 0.000/0.000 GHz
[2026-12-02 17:05:50] Total: 12720 kH/s, Temp: 0C, Freq: 0.000/0.000 GHz
[2026-12-02 17:05:55] Total: 12.32 MH/s, Temp: 0C, Freq: 0.000/0.000 GHz
[2026-12-02 17:05:56] Benchmark: 12.50 MH/s
"""


def test_cpuminer_rate_drops_the_first_report_and_takes_the_median():
    bench = _bench_module()
    assert bench.CpuMiner.parse_rate(CPUMINER_OUTPUT) == pytest.approx(12.72e6)


def test_cpuminer_output_with_too_few_reports_is_refused():
    bench = _bench_module()
    with pytest.raises(RuntimeError, match="1 'Total:' reports"):
        bench.CpuMiner.parse_rate(CPUMINER_OUTPUT.splitlines()[1])


def test_benchmark_refuses_a_cpuminer_path_that_is_not_a_program(tmp_path, capsys):
    bench = _bench_module()
    assert bench.main(["--cpuminer", str(tmp_path / "nowhere")]) == 2
    assert "is not an executable file" in capsys.readouterr().err
