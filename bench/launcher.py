"""Ranks started by a launcher: who this process is, what it binds to, and the barriers that
start every phase on every rank together.

    torchrun --standalone --nproc-per-node 2 -m bench run --device cpu     (RANK, LOCAL_RANK, ...)
    srun --ntasks-per-node 4 python -m bench run --device cuda              (SLURM_PROCID, ...)
    bench run --device all        (one rank per visible GPU, through torch.distributed.run)

The launchers own process start-up; this module reads what they set (``detect``), binds each
rank to ``cuda:LOCAL_RANK`` or to a disjoint share of the node's cores (``bind_device``,
``cpu_share``), and joins the ranks in a gloo process group (``Fleet``) whose barriers the
runner calls before the idle baseline and before each phase's warm-up and windows.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from bench.errors import BenchError

# A barrier waits for the slowest rank's build (a big model's compile takes minutes).
BARRIER_TIMEOUT_S = 30 * 60
_MAX_OUT_OF_STEP_KEPT = 20  # out-of-step barriers recorded per file; the count is always kept


@dataclass(frozen=True)
class Launch:
    """This process's place among the ranks, as the launcher set it."""

    launcher: str  # "torchrun" or "slurm"
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    node: str  # host name the rank runs on
    node_id: int | None  # torchrun GROUP_RANK, Slurm SLURM_NODEID

    def to_dict(self) -> dict[str, Any]:
        return {
            "launcher": self.launcher, "rank": self.rank, "local_rank": self.local_rank,
            "world_size": self.world_size, "local_world_size": self.local_world_size,
            "node": self.node, "node_id": self.node_id,
        }


def _int(env: Mapping[str, str], name: str) -> int:
    text = env.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise BenchError(f"{name}={text!r}: the launcher's variable is not a whole number") from None


def tasks_per_node(text: str) -> list[int]:
    """Slurm's compressed tasks-per-node list, e.g. ``2(x3),1`` -> [2, 2, 2, 1]."""
    counts: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", part)
        if not match:
            raise BenchError(f"SLURM_TASKS_PER_NODE={text!r}: expected counts like 2(x3),1")
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def detect(env: Mapping[str, str] | None = None) -> Launch | None:
    """The launch this process is part of, or None when no launcher started it.

    torchrun wins where both are set (torchrun inside an srun step: torchrun started this process).
    Slurm counts only inside a step (``srun``): a batch script's own shell has SLURM_PROCID 0 and the
    allocation's task count, but no step, and must not wait for ranks that were never started.
    """
    env = os.environ if env is None else env
    node = env.get("SLURMD_NODENAME") or socket.gethostname()
    if "RANK" in env and "WORLD_SIZE" in env:
        world = _int(env, "WORLD_SIZE")
        launch = Launch(
            "torchrun", _int(env, "RANK"), _int(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0, world,
            _int(env, "LOCAL_WORLD_SIZE") if "LOCAL_WORLD_SIZE" in env else world, node,
            _int(env, "GROUP_RANK") if "GROUP_RANK" in env else None,
        )
    elif "SLURM_PROCID" in env and ("SLURM_STEP_ID" in env or "SLURM_STEPID" in env):
        node_id = _int(env, "SLURM_NODEID") if "SLURM_NODEID" in env else 0
        world = _int(env, "SLURM_STEP_NUM_TASKS") if "SLURM_STEP_NUM_TASKS" in env else _int(env, "SLURM_NTASKS")
        per_node_text = env.get("SLURM_STEP_TASKS_PER_NODE") or env.get("SLURM_TASKS_PER_NODE")
        if per_node_text:
            per_node = tasks_per_node(per_node_text)
            if node_id >= len(per_node):
                raise BenchError(f"SLURM_NODEID={node_id} but SLURM_TASKS_PER_NODE={per_node_text!r} lists {len(per_node)} node(s)")
            local_world = per_node[node_id]
        else:
            local_world = _int(env, "SLURM_NTASKS_PER_NODE") if "SLURM_NTASKS_PER_NODE" in env else world
        launch = Launch("slurm", _int(env, "SLURM_PROCID"), _int(env, "SLURM_LOCALID"), world, local_world, node, node_id)
    else:
        return None
    if not 0 <= launch.rank < launch.world_size or not 0 <= launch.local_rank < launch.local_world_size:
        raise BenchError(
            f"{launch.launcher}: rank {launch.rank} of {launch.world_size}, local rank {launch.local_rank} of "
            f"{launch.local_world_size}: out of range"
        )
    return launch


def rendezvous_env(launch: Launch, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """MASTER_ADDR and MASTER_PORT for the process group. torchrun sets both; under srun a batch
    script sets them (README), except that a one-node step may meet on this host."""
    env = os.environ if env is None else env
    out = {k: env[k] for k in ("MASTER_ADDR", "MASTER_PORT") if env.get(k)}
    if launch.launcher == "slurm":
        nodes = int(env.get("SLURM_STEP_NUM_NODES") or env.get("SLURM_NNODES") or 1)
        if "MASTER_ADDR" not in out and nodes == 1:
            out["MASTER_ADDR"] = "127.0.0.1"
        if "MASTER_PORT" not in out and "SLURM_JOB_ID" in env:
            out["MASTER_PORT"] = str(20000 + _int(env, "SLURM_JOB_ID") % 20000)  # one port per job
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in out]
    if missing:
        raise BenchError(
            f"{launch.launcher} rank {launch.rank}: {' and '.join(missing)} not set; the ranks meet at "
            "MASTER_ADDR:MASTER_PORT (export them in the batch script, see README 'Fleets')"
        )
    return out


# -- binding ---------------------------------------------------------------------------------


def bind_device(spec: str, launch: Launch, cuda_count: int) -> str:
    """The --device this rank runs on: ``cuda:LOCAL_RANK`` of the visible GPUs, or the CPU."""
    spec = spec.strip().lower()
    if spec == "cpu":
        return "cpu"
    if spec == "auto" and cuda_count == 0:
        return "cpu"
    if spec not in ("auto", "cuda", "all"):
        if launch.local_world_size > 1:
            raise BenchError(
                f"--device {spec} on every one of {launch.local_world_size} ranks of node {launch.node}: "
                "pass --device cuda, and each rank takes cuda:LOCAL_RANK"
            )
        return spec
    if cuda_count == 0:
        raise BenchError(f"rank {launch.rank}: --device {spec} asked for, but torch sees no CUDA GPU on {launch.node}")
    if cuda_count >= launch.local_world_size:
        return f"cuda:{launch.local_rank}"
    if cuda_count == 1:
        # The launcher gave each task its own GPU (srun --gpus-per-task=1, CUDA_VISIBLE_DEVICES per rank).
        return "cuda:0"
    raise BenchError(
        f"{launch.local_world_size} ranks on node {launch.node} but {cuda_count} visible GPUs: "
        "start at most one rank per GPU"
    )


def cpu_share(cores: Sequence[int], local_rank: int, local_world_size: int) -> list[int]:
    """This rank's disjoint, contiguous share of the node's cores (the first ranks get one more
    where they do not divide evenly), so ranks of a node never fight over a core."""
    cores = sorted(cores)
    if len(cores) < local_world_size:
        raise BenchError(
            f"{local_world_size} ranks on this node but only {len(cores)} cores to share: start at most one rank per core"
        )
    base, extra = divmod(len(cores), local_world_size)
    start = local_rank * base + min(local_rank, extra)
    return cores[start:start + base + (1 if local_rank < extra else 0)]


def apply_cpu_share(share: Sequence[int], threads: int | None) -> dict[str, Any]:
    """Pin every thread of this process to ``share`` and size torch's and numba's pools to it;
    mine's threads default to the affinity (kernels/sha256d_cpu.default_threads)."""
    if not hasattr(os, "sched_setaffinity"):
        raise BenchError("CPU ranks need core affinity (Linux) to share a node's cores; run one rank per node here")
    if threads is not None and threads > len(share):
        raise BenchError(f"--threads {threads} is more than this rank's share of {len(share)} cores ({_ranges(share)})")
    # Threads started before this (a library's helper) keep their own mask unless set one by one.
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), share)
        except (OSError, ValueError):
            pass
    os.sched_setaffinity(0, share)
    import numba
    import torch

    torch.set_num_threads(len(share))
    numba.set_num_threads(min(len(share), numba.config.NUMBA_NUM_THREADS))
    return {"cores": list(share), "cores_text": _ranges(share), "torch_threads": len(share),
            "mine_threads": threads or len(share)}


def _affinity() -> list[int]:
    """The cores this process may run on (all of them where the OS has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _ranges(cores: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts: list[str] = []
    for core in sorted(cores):
        if parts and parts[-1][1] == core - 1:
            parts[-1] = (parts[-1][0], core)
        else:
            parts.append((core, core))
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in parts)


# -- the ranks together ---------------------------------------------------------------------


class Sync(Protocol):
    """What the runner calls to keep ranks in step: a Fleet, or ALONE for a run of its own."""

    def barrier(self, label: str) -> None: ...

    def end(self, label: str) -> None: ...


class _Alone:
    def barrier(self, label: str) -> None:
        pass

    def end(self, label: str) -> None:
        pass


ALONE = _Alone()


@dataclass
class Fleet:
    """The ranks of one launch in a gloo process group: the rank map, and barriers that record
    what they saw (``record``, which the result file keeps as its ``rank`` object)."""

    launch: Launch
    members: list[dict[str, Any]] = field(default_factory=list)  # rank, local_rank, node of every rank
    fleet_id: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    _group: Any = None

    @classmethod
    def open(cls, launch: Launch, *, timeout_s: float = BARRIER_TIMEOUT_S) -> "Fleet":
        fleet = cls(launch)
        me = {"rank": launch.rank, "local_rank": launch.local_rank, "node": launch.node,
              "cores": _affinity()}
        candidate = uuid.uuid4().hex
        if launch.world_size > 1:
            import torch.distributed as dist

            os.environ.update(rendezvous_env(launch))
            try:
                dist.init_process_group(
                    "gloo", init_method="env://", rank=launch.rank, world_size=launch.world_size,
                    timeout=timedelta(seconds=timeout_s),
                )
            except (RuntimeError, ValueError) as exc:
                raise BenchError(f"rank {launch.rank}: the ranks could not meet ({_one_line(exc)})") from None
            fleet._group = dist
            gathered: list[Any] = [None] * launch.world_size
            dist.all_gather_object(gathered, (me, candidate))
            fleet.members = [m for m, _ in gathered]
            fleet.fleet_id = gathered[0][1]  # rank 0's: one id for every file of the launch
        else:
            fleet.members, fleet.fleet_id = [me], candidate
        fleet.record = {
            **launch.to_dict(), "fleet_id": fleet.fleet_id, "node_ranks": fleet.node_ranks(),
            "node_meter_reader": fleet.node_reader(),
            "sync": {"barriers": 0, "out_of_step": 0, "out_of_step_at": [], "lost": None},
        }
        return fleet

    def node_ranks(self) -> list[int]:
        return sorted(m["rank"] for m in self.members if m["node"] == self.launch.node)

    def cpu_share(self, own: Sequence[int] | None = None) -> list[int]:
        """This rank's cores: its own mask where the launcher already gave the node's ranks disjoint
        ones (srun --cpus-per-task with CPU binding), else its part of the mask they share."""
        own = sorted(_affinity() if own is None else own)
        here = [set(m["cores"]) for m in self.members if m["node"] == self.launch.node]
        if len(here) > 1 and all(a.isdisjoint(b) for i, a in enumerate(here) for b in here[i + 1:]):
            return own
        return cpu_share(own, self.launch.local_rank, self.launch.local_world_size)

    def node_reader(self) -> int:
        """The rank that reads this node's node-level meter: the node's lowest rank."""
        return self.node_ranks()[0]

    def _gather(self, label: str) -> list[str] | None:
        """Every rank's label at this collective; None once a rank is gone (then no more barriers)."""
        sync = self.record["sync"]
        if self._group is None or sync["lost"] is not None:
            return None
        labels: list[Any] = [None] * self.launch.world_size
        try:
            self._group.all_gather_object(labels, label)
        except Exception as exc:  # gloo raises RuntimeError subclasses when a peer's socket closes
            sync["lost"] = {"at": label, "error": _one_line(exc)}
            print(f"rank {self.launch.rank}: lost the other ranks at '{label}' ({_one_line(exc)}); "
                  "going on without barriers", file=sys.stderr)
            return None
        sync["barriers"] += 1
        return labels

    def barrier(self, label: str) -> None:
        """Wait until every rank reaches a barrier. A rank that left the current workload (it
        failed) answers from ``end``; the others go on and the file names it."""
        labels = self._gather(label)
        if labels is not None and any(other != label for other in labels):
            sync = self.record["sync"]
            sync["out_of_step"] += 1
            if len(sync["out_of_step_at"]) < _MAX_OUT_OF_STEP_KEPT:
                sync["out_of_step_at"].append(
                    {"at": label, "ranks": {str(r): l for r, l in enumerate(labels) if l != label}}
                )

    def end(self, label: str) -> None:
        """Leave a workload: join the others' barriers until every rank has left it too, so each
        rank calls the same number of collectives whether its workload finished or failed."""
        while True:
            labels = self._gather(label)
            if labels is None or all(other == label for other in labels):
                return

    def close(self) -> None:
        if self._group is not None:
            try:
                self._group.destroy_process_group()
            except Exception:  # a lost peer leaves the group half-closed; nothing more to do
                pass
            self._group = None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# -- --device all ------------------------------------------------------------------------------


def forwarded_arguments(params: Mapping[str, Any], command: Any) -> list[str]:
    """``bench run`` options as the user gave them, without --device, for each rank's command."""
    args: list[str] = []
    for param in command.params:
        if param.name == "device_spec" or param.name not in params:
            continue
        value = params[param.name]
        flag = param.opts[0]
        if value is None or value is False or (param.multiple and not value):
            continue
        if getattr(param, "is_flag", False):
            args.append(flag)
        elif param.multiple:
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def run_all(arguments: Sequence[str], gpus: int) -> int:
    """One rank per visible GPU on this machine, started by torch's own launcher; its exit code."""
    if gpus == 0:
        raise BenchError("--device all: torch sees no CUDA GPU on this machine; run --device cpu, or --device cuda on a GPU machine")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={gpus}",
               "-m", "bench", "run", "--device", "cuda", *arguments]
    print(f"starting {gpus} ranks, one per GPU: {' '.join(command[2:])}", file=sys.stderr)
    return subprocess.run(command, check=False).returncode
