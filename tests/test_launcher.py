"""bench.launcher: torchrun and srun variables to ranks, device and core binding, barriers that keep
ranks in step, node-level meters read once per node, and --device all."""

from __future__ import annotations

import pytest

from bench import launcher
from bench.devices import Device
from bench.errors import BenchError
from bench.launcher import Fleet, Launch

TORCHRUN = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "1"}
# The same rank as srun starts it: `srun -N 2 --ntasks-per-node 2`, task 3 on the second node.
SRUN = {"SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_NTASKS": "4", "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_NODEID": "1", "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURM_STEP_ID": "0", "SLURMD_NODENAME": "gpu-b"}


def test_torchrun_variables_give_rank_local_rank_world_and_node():
    launch = launcher.detect({**TORCHRUN, "SLURMD_NODENAME": "gpu-b"})
    assert (launch.launcher, launch.rank, launch.local_rank, launch.world_size, launch.local_world_size,
            launch.node_id, launch.node) == ("torchrun", 3, 1, 4, 2, 1, "gpu-b")


def test_a_faked_srun_step_maps_to_the_same_ranks_as_torchrun():
    slurm, torchrun = launcher.detect(SRUN), launcher.detect({**TORCHRUN, "SLURMD_NODENAME": "gpu-b"})
    assert slurm.launcher == "slurm"
    same = ("rank", "local_rank", "world_size", "local_world_size", "node_id", "node")
    assert {k: getattr(slurm, k) for k in same} == {k: getattr(torchrun, k) for k in same}


def test_a_batch_script_shell_is_not_a_rank():
    # sbatch's own shell has SLURM_PROCID and the allocation's tasks but no step: not one of N ranks.
    batch = {k: v for k, v in SRUN.items() if k not in ("SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS")}
    assert launcher.detect(batch) is None
    assert launcher.detect({}) is None


def test_slurm_tasks_per_node_lists_expand():
    assert launcher.tasks_per_node("2(x3),1") == [2, 2, 2, 1]
    with pytest.raises(BenchError, match="SLURM_TASKS_PER_NODE"):
        launcher.tasks_per_node("two")


def test_launcher_variables_out_of_range_or_not_numbers_are_one_line_errors():
    with pytest.raises(BenchError, match="out of range"):
        launcher.detect({**TORCHRUN, "RANK": "4"})
    with pytest.raises(BenchError, match="WORLD_SIZE='x'"):
        launcher.detect({**TORCHRUN, "WORLD_SIZE": "x"})


def _launch(rank=0, local_rank=0, world=2, local_world=2, launcher_name="torchrun"):
    return Launch(launcher_name, rank, local_rank, world, local_world, "node-a", 0)


def test_cuda_ranks_bind_to_their_local_gpu():
    assert launcher.bind_device("cuda", _launch(3, 1, 4, 2), cuda_count=2) == "cuda:1"
    assert launcher.bind_device("all", _launch(0, 0), cuda_count=8) == "cuda:0"
    # srun --gpus-per-task=1: each task sees only its own GPU
    assert launcher.bind_device("cuda", _launch(1, 1), cuda_count=1) == "cuda:0"
    assert launcher.bind_device("auto", _launch(1, 1), cuda_count=0) == "cpu"


def test_more_ranks_than_gpus_or_one_fixed_gpu_for_all_ranks_is_refused():
    with pytest.raises(BenchError, match="4 ranks on node node-a but 2 visible GPUs"):
        launcher.bind_device("cuda", _launch(0, 0, 4, 4), cuda_count=2)
    with pytest.raises(BenchError, match="pass --device cuda"):
        launcher.bind_device("cuda:1", _launch(), cuda_count=2)
    with pytest.raises(BenchError, match="no CUDA GPU"):
        launcher.bind_device("cuda", _launch(), cuda_count=0)


def test_cpu_shares_of_a_node_are_disjoint_and_cover_every_core():
    cores = [0, 1, 2, 3, 8]
    shares = [launcher.cpu_share(cores, r, 2) for r in range(2)]
    assert shares == [[0, 1, 2], [3, 8]]
    shares = [launcher.cpu_share(range(16), r, 3) for r in range(3)]
    assert sorted(c for s in shares for c in s) == list(range(16))
    with pytest.raises(BenchError, match="3 ranks on this node but only 2 cores"):
        launcher.cpu_share([0, 1], 0, 3)


def test_threads_beyond_a_rank_share_are_refused():
    with pytest.raises(BenchError, match="--threads 3 is more than this rank's share of 2 cores"):
        launcher.apply_cpu_share([0, 1], 3)


def test_srun_on_one_node_meets_on_this_host_and_across_nodes_needs_master_addr():
    launch = _launch(launcher_name="slurm")
    env = launcher.rendezvous_env(launch, {"SLURM_NNODES": "1", "SLURM_JOB_ID": "123"})
    assert env == {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "20123"}
    with pytest.raises(BenchError, match="MASTER_ADDR not set"):
        launcher.rendezvous_env(launch, {"SLURM_NNODES": "2", "SLURM_JOB_ID": "123"})


class ScriptedGroup:
    """Stands in for torch.distributed: each all_gather_object returns the next scripted labels
    of the other ranks (this rank's own label in its slot)."""

    def __init__(self, rank, others):
        self.rank, self.others, self.calls = rank, list(others), []

    def all_gather_object(self, out, label):
        self.calls.append(label)
        step = self.others.pop(0)
        if isinstance(step, Exception):
            raise step
        out[:] = [label if i == self.rank else step for i in range(len(out))]


def _fleet(group):
    fleet = Fleet(_launch(0, 0), members=[{"rank": 0, "local_rank": 0, "node": "node-a"},
                                          {"rank": 1, "local_rank": 1, "node": "node-a"}], fleet_id="f")
    fleet.record = {"sync": {"barriers": 0, "out_of_step": 0, "out_of_step_at": [], "lost": None}}
    fleet._group = group
    return fleet


def test_a_barrier_where_another_rank_left_the_workload_is_recorded_out_of_step():
    fleet = _fleet(ScriptedGroup(0, ["mine/hash warm-up", "end mine"]))
    fleet.barrier("mine/hash warm-up")
    fleet.barrier("mine/hash windows")
    sync = fleet.record["sync"]
    assert sync["barriers"] == 2 and sync["out_of_step"] == 1
    assert sync["out_of_step_at"] == [{"at": "mine/hash windows", "ranks": {"1": "end mine"}}]


def test_a_rank_that_failed_keeps_answering_barriers_until_every_rank_left_the_workload():
    group = ScriptedGroup(0, ["mine/hash warm-up", "mine/hash windows", "end mine"])
    fleet = _fleet(group)
    fleet.end("end mine")
    assert group.calls == ["end mine"] * 3  # as many collectives as the rank that measured made


def test_a_lost_rank_stops_the_barriers_and_is_recorded():
    group = ScriptedGroup(0, [RuntimeError("Connection closed by peer [127.0.0.1]:4242")])
    fleet = _fleet(group)
    fleet.barrier("idle baseline")
    fleet.barrier("mine/hash warm-up")  # no second collective: the group is gone
    assert group.calls == ["idle baseline"]
    assert fleet.record["sync"]["lost"] == {"at": "idle baseline",
                                            "error": "Connection closed by peer [127.0.0.1]:4242"}


def test_the_node_reader_is_the_lowest_rank_of_the_node():
    members = [{"rank": r, "local_rank": r % 2, "node": "node-a" if r < 2 else "node-b"} for r in range(4)]
    fleet = Fleet(Launch("torchrun", 3, 1, 4, 2, "node-b", 1), members=members)
    assert fleet.node_ranks() == [2, 3] and fleet.node_reader() == 2


def test_a_node_meter_is_read_by_one_rank_and_the_others_say_which():
    from bench.meters import for_rank
    from bench.meters.user import ConstantPowerMeter

    cpu = Device("cpu", None, "Test CPU")
    reader = for_rank(ConstantPowerMeter(200.0), cpu, rank=0, reader=0, node="node-a", node_ranks=[0, 1])
    other = for_rank(ConstantPowerMeter(200.0), cpu, rank=1, reader=0, node="node-a", node_ranks=[0, 1])
    assert reader.describe()["scope"] == "node" and reader.name == "user-watts"
    assert reader.describe()["label"].startswith("node meter of node-a (ranks 0, 1), read by rank 0")
    assert other.name == "estimated-cpu" and other.describe()["scope"] == "device"
    assert other.describe()["node_meter"] == {"name": "user-watts", "read_by_rank": 0, "node": "node-a"}
    assert "node meter user-watts read by rank 0" in other.describe()["label"]


def test_a_device_meter_is_read_by_every_rank():
    from bench.meters import for_rank
    from bench.meters.estimate import EstimatedCpuMeter, table_median_tdp

    meter = for_rank(EstimatedCpuMeter(table_median_tdp()), Device("cpu", None, "Test CPU"), rank=1, reader=0,
                     node="node-a", node_ranks=[0, 1])
    assert meter.name == "estimated-cpu" and meter.describe()["scope"] == "device"
    assert "node_meter" not in meter.describe()


def test_device_all_starts_one_rank_per_gpu_through_torch_distributed_run(monkeypatch):
    import subprocess

    from bench.cli import main

    started = []
    monkeypatch.setattr("bench.devices.cuda_device_count", lambda: 2)
    monkeypatch.setattr(subprocess, "run", lambda command, check: started.append(command) or
                        subprocess.CompletedProcess(command, 0))
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--device", "all", "--workload", "mine", "--preset", "quick", "--json"])
    assert exit_info.value.code == 0
    [command] = started
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert command[6:10] == ["bench", "run", "--device", "cuda"]
    rest = command[10:]
    assert ["--workload", "mine"] == rest[rest.index("--workload"):rest.index("--workload") + 2]
    assert rest[rest.index("--format"):rest.index("--format") + 2] == ["--format", "json"]  # what --json means
    assert "all" not in rest


def test_device_all_without_a_gpu_is_one_line_and_exit_2(monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setattr("bench.devices.cuda_device_count", lambda: 0)
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--device", "all", "--workload", "mine"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA GPU" in err


class RecordingSync:
    def __init__(self, meter):
        self.meter, self.calls = meter, []

    def barrier(self, label):
        # where the meter stands when the ranks meet: no window may be open across a barrier
        self.calls.append(("barrier", label, sorted(k for k in self.meter.open if "/" in k and k.count("/") > 1)))

    def end(self, label):
        self.calls.append(("end", label, []))


def test_the_runner_meets_the_ranks_before_idle_and_before_each_phase_warm_up_and_windows(tmp_path):
    from bench import runner
    from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload

    clock = FakeClock()
    meter = FakeMeter(clock)
    sync = RecordingSync(meter)
    document = runner.new_document(tool={"version": "test"}, machine={}, device={"name": "Test CPU", "kind": "cpu"},
                                   protocol=runner.PRESETS["quick"], meter={"name": "fake"})
    workloads = [FakeWorkload(clock, phase_names=("prefill", "decode"), name="infer"),
                 FakeWorkload(clock, fail_in="build")]
    runner.run(document, workloads, CPU, meter, runner.PRESETS["quick"], tmp_path / "r.json", clock=clock,
               sleep=clock.sleep, sync=sync)
    assert [(kind, label) for kind, label, _ in sync.calls] == [
        ("barrier", "idle baseline"),
        ("barrier", "infer/prefill warm-up"), ("barrier", "infer/prefill windows"),
        ("barrier", "infer/decode warm-up"), ("barrier", "infer/decode windows"),
        ("end", "end infer"),
        ("end", "end mine"),  # a failed build still leaves the workload with the others
    ]
    assert all(not open_windows for _, _, open_windows in sync.calls)


def test_a_rank_keeps_the_cores_the_launcher_gave_it_and_splits_a_shared_mask():
    launch = _launch(1, 1)
    bound = Fleet(launch, members=[{"rank": 0, "node": "node-a", "cores": [0, 1]},
                                   {"rank": 1, "node": "node-a", "cores": [2, 3]}])
    assert bound.cpu_share(own=[2, 3]) == [2, 3]  # srun --cpus-per-task bound them already
    shared = Fleet(launch, members=[{"rank": 0, "node": "node-a", "cores": [0, 1, 2, 3]},
                                    {"rank": 1, "node": "node-a", "cores": [0, 1, 2, 3]}])
    assert shared.cpu_share(own=[0, 1, 2, 3]) == [2, 3]
