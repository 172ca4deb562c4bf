"""bench.compare.fleet: rank files of one launch summed into fleet and node rows; and, marked slow,
real launches: torchrun with two CPU ranks, and a faked srun step whose rank 1 is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result  # noqa: E402

from bench.compare import Loaded, build_comparison  # noqa: E402
from bench.compare import fleet  # noqa: E402
from bench.errors import BenchError  # noqa: E402
from bench.market import load_scenario  # noqa: E402
from bench.results import parse_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLEET_ID = "f1ee7" + "0" * 27


def rank_doc(rank, world=2, node="node-a", node_ranks=None, scope="device", *, fleet_id=FLEET_ID, **kwargs):
    """A synthetic result of one rank: a 'rank' object as bench run writes it, the meter's scope."""
    doc = make_result("Test GPU", hostname=node, **kwargs)
    doc["rank"] = {"launcher": "torchrun", "rank": rank, "local_rank": rank, "world_size": world,
                   "local_world_size": world, "node": node, "node_id": 0, "fleet_id": fleet_id,
                   "node_ranks": node_ranks if node_ranks is not None else list(range(world)),
                   "node_meter_reader": 0, "sync": {"barriers": 4, "out_of_step": 0, "out_of_step_at": [],
                                                    "lost": None}}
    doc["meter"] = {"name": "test", "kind": doc["meter"]["kind"], "scope": scope}
    return doc


def merged(*docs):
    singles, ranks = fleet.split([Loaded(f"rank{i}.json", parse_result(d)) for i, d in enumerate(docs)])
    assert not singles
    return fleet.merge_fleets(ranks)


def test_fleet_rate_and_watts_are_the_sums_of_the_ranks_and_per_joule_is_of_the_whole():
    [row] = merged(rank_doc(0, mine=(1e6, 1e6, 1e6), watts=100.0), rank_doc(1, mine=(3e6, 3e6, 3e6), watts=50.0))
    mine = row.figures["mine"]
    assert row.kind == "fleet" and row.ranks == 2 and not row.partial
    assert mine.rate_per_s == pytest.approx(1e8 + 1.5e8)  # each rank's rate is per_joule x watts
    assert mine.watts == pytest.approx(150.0)
    assert mine.per_joule == pytest.approx(2.5e8 / 150.0)
    assert mine.per_joule_spread.n == 2
    assert mine.per_joule_spread.min <= mine.per_joule <= mine.per_joule_spread.max
    assert mine.energy_source.startswith("sum over ranks 0, 1 of 2")


def test_a_node_meter_is_counted_once_for_its_node_not_once_per_rank():
    reader = rank_doc(0, mine=(1e6,) * 3, watts=300.0, scope="node")  # the node's whole draw
    other = rank_doc(1, mine=(2e6,) * 3, watts=40.0, energy_kind="estimated")  # its own estimate
    [row] = merged(reader, other)
    mine = row.figures["mine"]
    assert mine.watts == pytest.approx(300.0)
    assert mine.rate_per_s == pytest.approx(3e8 + 0.8e8)
    assert mine.energy_kind == "measured"  # the estimate of rank 1 is not what was counted
    assert row.per_rank["mine"]["1"]["watts"] == pytest.approx(150.0)  # half the node's reading


def test_a_missing_rank_marks_the_fleet_partial_and_names_it():
    [row] = merged(rank_doc(0, world=3, node_ranks=[0, 1, 2]), rank_doc(2, world=3, node_ranks=[0, 1, 2]))
    assert row.partial and row.ranks == 3 and row.present == (0, 2)
    assert "rank 1" in row.missing and "no result file" in row.missing["rank 1"]
    comparison = build_comparison([row])
    assert any(note.startswith("rank 1 ") for note in comparison.rows[0].notes)
    assert row.figures["mine"].energy_source.startswith("sum over ranks 0, 2 of 3")


def test_a_rank_whose_workload_failed_is_named_and_left_out_of_that_sum():
    ok = rank_doc(0, mine=(1e6,) * 3, watts=100.0)
    failed = rank_doc(1, mine=None, failed={"mine": "CUDA error: out of memory"}, watts=100.0)
    [row] = merged(ok, failed)
    assert row.partial and "out of memory" in row.missing["rank 1"]
    assert row.figures["mine"].rate_per_s == pytest.approx(1e8)
    assert row.contributing["mine"] == 1


def test_a_fleet_across_two_nodes_gives_a_row_per_node_and_one_for_the_whole():
    docs = [rank_doc(r, world=4, node=f"node-{r // 2}", node_ranks=[r // 2 * 2, r // 2 * 2 + 1],
                     mine=((r + 1) * 1e6,) * 3, watts=100.0) for r in range(4)]
    rows = {row.kind + (row.nodes[0] if row.kind == "node" else ""): row for row in merged(*docs)}
    assert set(rows) == {"nodenode-0", "nodenode-1", "fleet"}
    assert rows["nodenode-0"].ranks == 2 and rows["nodenode-0"].figures["mine"].rate_per_s == pytest.approx(3e8)
    assert rows["fleet"].figures["mine"].rate_per_s == pytest.approx(10e8)
    assert rows["fleet"].figures["mine"].watts == pytest.approx(400.0)


def with_idle(doc, watts):
    doc["idle"] = {"seconds": 1.0, "joules": watts, "watts": watts}
    return doc


def test_idle_draw_and_each_phase_are_counted_as_the_work_is():
    reader = with_idle(rank_doc(0, infer=(10.0,) * 3, watts=300.0, scope="node"), 120.0)
    other = with_idle(rank_doc(1, infer=(20.0,) * 3, watts=40.0, energy_kind="estimated"), 15.0)
    [row] = merged(reader, other)
    assert row.idle_watts == pytest.approx(120.0)  # the node meter's idle, not 120 + 15
    prefill = row.figures["infer"].phases["prefill"]
    assert prefill.rate_per_s == pytest.approx(5 * 10.0 * 300.0 + 5 * 20.0 * 40.0)
    assert prefill.watts == pytest.approx(300.0)
    [apart] = merged(with_idle(rank_doc(0), 20.0), with_idle(rank_doc(1), 30.0))
    assert apart.idle_watts == pytest.approx(50.0)
    [unknown] = merged(with_idle(rank_doc(0), 20.0), rank_doc(1))
    assert unknown.idle_watts is None


def test_the_same_rank_given_twice_is_refused():
    with pytest.raises(BenchError, match="rank 0 of fleet"):
        merged(rank_doc(0), rank_doc(0, created_utc="2026-01-01T00:00:09Z"))


def test_ranks_that_ran_different_code_are_not_summed():
    with pytest.raises(BenchError, match="cannot sum"):
        merged(rank_doc(0), rank_doc(1, sources={"mine": "9" * 64}))


def test_fleet_economics_per_day_scale_with_the_ranks_and_per_kwh_do_not():
    from bench.economics import rows_for_device

    [row] = merged(rank_doc(0, mine=(2e6,) * 3, watts=100.0), rank_doc(1, mine=(2e6,) * 3, watts=100.0))
    scenario = load_scenario()
    [fleet_mine] = [r for r in fleet.economics_rows(row, scenario) if r.workload == "mine"]
    single = merged(rank_doc(0, world=2, mine=(2e6,) * 3, watts=100.0, fleet_id="0" * 32))[0]
    [one] = [r for r in rows_for_device(single, scenario) if r.workload == "mine"]  # one rank's figures
    assert fleet_mine.revenue_usd_per_day == pytest.approx(2 * one.revenue_usd_per_day)
    assert fleet_mine.watts == pytest.approx(200.0)
    assert fleet_mine.revenue_usd_per_kwh == pytest.approx(one.revenue_usd_per_kwh)
    assert fleet_mine.name.startswith(row.name)


def test_fleet_json_rows_say_kind_fleet_and_ranks():
    [row] = merged(rank_doc(0), rank_doc(1))
    document = json.loads(fleet.to_json(build_comparison([row]), [row]))
    [out] = document["rows"]
    assert out["kind"] == "fleet" and out["ranks"] == 2
    assert out["fleet"]["workloads"]["mine"]["ranks_summed"] == 2


# -- real launches ---------------------------------------------------------------------------


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "TORCHELASTIC_")) and k not in (
               "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(COLUMNS="120", **extra)
    return env


def _compare_json(out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench", "compare", str(out), "--format", "json"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _rank_files(out: Path) -> dict[int, dict]:
    docs = [json.loads(p.read_text()) for p in out.rglob("*.json")]
    return {d["rank"]["rank"]: d for d in docs}


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_write_two_files_that_compare_sums_with_the_node_meter_once(tmp_path):
    out = tmp_path / "results"
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "bench", "run", "--device", "cpu",
         "--workload", "mine", "--preset", "quick", "--out", str(out), "--watts-command", "echo 5"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240,
    )
    files = _rank_files(out)
    assert sorted(files) == [0, 1], done.stderr[-3000:]
    cores = [set(files[r]["rank"]["binding"]["cores"]) for r in (0, 1)]
    assert not cores[0] & cores[1]  # disjoint shares of the node's cores
    assert [files[r]["workloads"][0]["config"]["threads"] for r in (0, 1)] == [len(c) for c in cores]
    assert {files[r]["rank"]["launcher"] for r in (0, 1)} == {"torchrun"}
    assert files[0]["rank"]["fleet_id"] == files[1]["rank"]["fleet_id"]
    assert files[0]["rank"]["sync"]["lost"] is None and files[0]["rank"]["sync"]["barriers"] >= 4
    [row] = _compare_json(out)["rows"]
    assert row["kind"] == "fleet" and row["ranks"] == 2 and not row["partial"]
    # The wall command is a node meter: rank 0 reads it for the node, rank 1 its own estimate.
    assert files[0]["meter"]["scope"] == "node" and files[0]["workloads"][0]["watts"] == pytest.approx(5.0)
    assert files[1]["meter"]["node_meter"]["read_by_rank"] == 0
    assert "node meter user-watts-command read by rank 0" in files[1]["workloads"][0]["energy_source"]
    rates = [files[r]["workloads"][0]["rate_per_s"] for r in (0, 1)]
    assert row["economics"][0]["hashes_per_s"] == pytest.approx(sum(rates))
    assert row["cells"]["hashes_per_joule"]["value"] == pytest.approx(sum(rates) / 5.0)  # 5 W once, not + rank 1's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slurm_task(rank: int, port: int, out: Path, *, watch: bool) -> subprocess.Popen:
    """One task of a faked ``srun -n 2`` step; ``watch``: its stdout (where the header goes) piped."""
    env = _env(SLURM_JOB_ID="4242", SLURM_STEP_ID="0", SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
               SLURM_NODEID="0", SLURM_NTASKS="2", SLURM_STEP_NUM_TASKS="2", SLURM_TASKS_PER_NODE="2",
               SLURM_STEP_NUM_NODES="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--device", "cpu", "--workload", "mine", "--preset", "quick",
         "--out", str(out)], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE if watch else subprocess.DEVNULL, stderr=subprocess.DEVNULL if watch else subprocess.PIPE,
    )


@pytest.mark.slow
def test_a_killed_slurm_rank_leaves_the_other_rank_file_and_a_partial_fleet(tmp_path):
    out = tmp_path / "results"
    port = _free_port()
    survivor, victim = _slurm_task(0, port, out, watch=False), _slurm_task(1, port, out, watch=True)
    try:
        deadline = time.monotonic() + 120
        for line in victim.stdout:  # its header: the ranks have met and rank 1 is running
            if line.startswith("rank 1/2 on") or time.monotonic() > deadline:
                break
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        _, err = survivor.communicate(timeout=180)
    finally:
        for p in (survivor, victim):
            if p.poll() is None:
                p.kill()
    assert survivor.returncode == 0, err[-3000:]
    files = _rank_files(out)
    assert list(files) == [0]  # the faked step mapped to rank 0 of 2, launcher slurm
    rank = files[0]["rank"]
    assert (rank["launcher"], rank["rank"], rank["world_size"], rank["local_world_size"]) == ("slurm", 0, 2, 2)
    assert rank["sync"]["lost"] is not None
    assert files[0]["status"] == "complete"
    [row] = _compare_json(out)["rows"]
    assert row["kind"] == "fleet" and row["partial"] and row["ranks"] == 2
    assert row["fleet"]["ranks_present"] == [0]
    assert any(note.startswith("rank 1 ") for note in row["notes"])


def test_bench_economics_prices_a_launchs_rank_files_as_one_fleet(tmp_path):
    from click.testing import CliRunner

    from bench.commands.economics import economics
    from bench.storage import write_atomic

    for rank in (0, 1):
        write_atomic(tmp_path / f"r{rank}.json", rank_doc(rank, created_utc=f"2026-01-01T00:00:0{rank}Z"))
    paths = [str(tmp_path / "r0.json"), str(tmp_path / "r1.json")]
    result = CliRunner().invoke(economics, [*paths, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    mine = [r for r in rows if r["workload"] == "mine"]
    assert len(mine) == 1 and "2 ranks' sum" in " ".join(mine[0]["notes"])
