"""The ``bench`` command line: run, devices (and the commands of bench/commands/)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

from bench import __version__
from bench.errors import BenchError
from bench.formats import format_option
from bench.protocol import PRESETS
from bench.workloads import WorkloadOptions, check_options, run_names as workload_names_known

positive_int = click.IntRange(min=1)
positive_float = click.FloatRange(min=0.0, min_open=True)
DTYPES = ("float32", "bfloat16", "float16")
# mine's largest CPU step is 2**21 nonces a thread (sha-ni), and a step must fit the 32-bit nonce
# space: past this many threads one step would scan beyond it.
MAX_MINE_THREADS_BY_NONCES = 2**32 // 2**21


def _out_dir_option(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    if not value.strip():
        raise click.BadParameter("must name a folder, not an empty string", ctx=ctx, param=param)
    return Path(value)


def max_threads() -> int:
    """Mining threads this machine runs at once (its logical CPUs), within the nonce space."""
    import psutil

    return min(psutil.cpu_count(logical=True) or os.cpu_count() or 1, MAX_MINE_THREADS_BY_NONCES)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="joulebench")
def cli() -> None:
    """joulebench: is this device worth more mining Bitcoin or doing AI work?

    Measures hashes per joule (SHA-256d mining) and tokens per joule (transformer inference and
    training) on one device under one protocol, and prices both.
    """


@cli.command()
@click.option("--device", "device_spec", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, or all (one rank per visible GPU, through torchrun).")
@click.option(
    "--workload", "workload_names", multiple=True, type=click.Choice(workload_names_known()),
    help="Workload to run; repeat for several. Default: all three.",
)
@click.option("--preset", type=click.Choice(list(PRESETS)), default="quick", show_default=True,
              help="quick: ~1 s windows; standard: 10 s windows; long: 600 s per phase (MLPerf Power minimum).")
@click.option("--out", "out_dir", type=click.Path(), default="results", show_default=True, callback=_out_dir_option,
              help="Directory for result files (<machine>/<timestamp>_<device>.json).")
@format_option
@click.option("--threads", type=positive_int, help="mine on CPU: worker threads (default: all cores).")
@click.option("--kernel", type=click.Choice(["auto", "sha-ni", "simd"]), default=None,
              help="mine on CPU: kernel variant (default auto: the fastest here, measured once and cached).")
@click.option("--model", help="infer/train: model shape (tiny, gpt2-124m, llama-1b, llama-8b).")
@click.option("--dtype", type=click.Choice(DTYPES), help="infer/train: float32, bfloat16 or float16 (default bf16 on CUDA, float32 on CPU).")
@click.option("--batch-size", type=positive_int, help="infer: sequences decoded together.")
@click.option("--prompt-tokens", type=positive_int, help="infer: prompt length.")
@click.option("--output-tokens", type=positive_int, help="infer: tokens generated per sequence.")
@click.option("--train-batch-size", type=positive_int, help="train: sequences per step.")
@click.option("--train-seq-len", type=positive_int, help="train: tokens per sequence.")
@click.option("--cpu-tdp-watts", type=positive_float, help="Estimated meter: the CPU's TDP, instead of the built-in table.")
@click.option("--watts", type=positive_float, help="A wall-meter reading in watts, used as the device's constant draw.")
@click.option("--watts-command", help="A shell command that prints the current draw in watts; sampled during windows.")
@click.option("--power-limit", metavar="W[,W...]",
              help="NVIDIA GPU: measure at each power cap (NVML, needs root); the original limit is restored after.")
def run(
    device_spec: str, workload_names: tuple[str, ...], preset: str, out_dir: Path, output_format: str,
    threads: int | None, kernel: str | None, model: str | None, dtype: str | None, batch_size: int | None,
    prompt_tokens: int | None, output_tokens: int | None, train_batch_size: int | None,
    train_seq_len: int | None, cpu_tdp_watts: float | None, watts: float | None, watts_command: str | None,
    power_limit: str | None = None,
) -> int:
    """Measure the workloads on one device and write a result file.

    \b
    Examples:
      bench run                                   every workload on the GPU, else the CPU
      bench run --workload mine --preset standard --watts-command 'my-meter --watts'
      bench run --device cuda:1 --workload infer --model llama-1b --format json > run.json
    """
    from rich.console import Console

    from bench import fingerprint, report_run, runner
    from bench.devices import resolve_device
    from bench.meters import select_meter
    from bench.results import parse_result
    from bench.storage import new_result_path
    from bench.workloads import make_workload

    as_json = output_format == "json"
    console = _console(stderr=output_format != "table")  # stdout carries the json, csv or markdown
    protocol = runner.protocol_for(preset)
    if threads is not None and threads > max_threads():
        raise BenchError(
            f"--threads {threads} is more than this machine runs at once: at most {max_threads()} "
            f"({os.cpu_count()} logical CPUs; a mining step must fit the 32-bit nonce space, "
            f"{MAX_MINE_THREADS_BY_NONCES} threads at most)"
        )
    from bench import launcher

    launch = launcher.detect()  # torchrun or srun started this process: bind it to its share
    if launch is None and device_spec.strip().lower() == "all":
        from bench.devices import cuda_device_count

        return launcher.run_all(launcher.forwarded_arguments(click.get_current_context().params, run), cuda_device_count())
    if launch is not None:
        from bench.devices import cuda_device_count

        device_spec = launcher.bind_device(device_spec, launch, cuda_device_count())
    device = resolve_device(device_spec)
    binding: dict = {"device": device.torch_device}
    # The ranks meet before the workloads are configured: a CPU rank's share decides its threads.
    fleet = launcher.Fleet.open(launch) if launch is not None else None
    if fleet is not None and device.kind == "cpu":
        binding.update(launcher.apply_cpu_share(fleet.cpu_share(), threads))
    _writable_dir(out_dir)
    _writable_dir(out_dir / fingerprint.machine_name())  # checked before measuring, not after
    options = WorkloadOptions(
        threads=threads, kernel=kernel, model=model, dtype=dtype, batch_size=batch_size, prompt_tokens=prompt_tokens,
        output_tokens=output_tokens, train_batch_size=train_batch_size, train_seq_len=train_seq_len,
    )
    names = list(dict.fromkeys(workload_names)) or list(workload_names_known())
    check_options(names, options)
    # Every option is checked before anything is measured.
    workloads = [make_workload(name, preset, device, options) for name in names]
    if power_limit is not None:  # one whole run per cap, the original limit restored after (bench/power_limit.py)
        from bench import power_limit as capping

        ctx = click.get_current_context()
        return capping.run_sweep(device, power_limit, out_dir / fingerprint.machine_name(),
                                 lambda: ctx.invoke(run, **{**ctx.params, "power_limit": None}))
    meter = select_meter(device, cpu_tdp_watts=cpu_tdp_watts, watts=watts, watts_command=watts_command)
    if fleet is not None:
        from bench.meters import for_rank

        meter = for_rank(meter, device, rank=launch.rank, reader=fleet.node_reader(), node=launch.node,
                         node_ranks=fleet.node_ranks(), cpu_tdp_watts=cpu_tdp_watts)
        fleet.record["binding"] = binding
    try:
        document = runner.new_document(
            tool=fingerprint.tool_info(), machine=fingerprint.machine_info(),
            device=fingerprint.device_info(device), protocol=protocol, meter=meter.describe(),
        )
        if fleet is not None:
            document["rank"] = fleet.record  # the live record: barriers seen so far, saved with every save
        rank_slug = f"-rank{launch.rank}" if launch is not None else ""
        path = new_result_path(out_dir, fingerprint.machine_name(), device.slug + rank_slug)
        where = f"rank {launch.rank}/{launch.world_size} on {launch.node} ({launch.launcher}): " if launch else ""
        console.print(
            f"{where}joulebench {__version__}: {', '.join(names)} on {device.name} ({device.torch_device}), "
            f"preset {preset}, energy: {document['meter'].get('label', meter.name)}",
            markup=False,
        )
        with report_run.progress_bars(console, names) as progress:
            try:
                runner.run(document, workloads, device, meter, protocol, path, progress=progress, sync=fleet)
            except runner.RunInterrupted as interrupted:
                progress.stop()
                where = f"saved to {interrupted.path}" if interrupted.path else "nothing had finished, nothing saved"
                done = sum(1 for w in interrupted.document["workloads"] if w["status"] == "ok")
                click.echo(f"interrupted: {done} finished workload(s) {where} (status partial)", err=True)
                return interrupted.exit_code
            except runner.SaveFailed:
                progress.stop()
                raise
    finally:
        meter.close()
        if fleet is not None:
            fleet.close()
    result = parse_result(document, str(path))
    report_run.print_summary(console, result)
    report_run.print_economics(console, result)
    # One unwrapped line, not rich markup: scripts and users copy the path from it.
    console.print(f"saved {document['status']} result to {path}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    elif output_format != "table":
        click.echo(report_run.summary_text(result, output_format), nl=False)
    failed = [w for w in document["workloads"] if w["status"] != "ok"]
    for entry in failed:
        click.echo(f"error: workload {entry['name']} failed: {entry['error']}", err=True)
    return 1 if failed else 0


def _console(stderr: bool) -> "Console":  # noqa: F821 - rich.console.Console
    """A rich console that prints on any terminal: at least 40 columns (COLUMNS=0 gives none)."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if console.width < 40:
        console.width = 80
    return console


def _tolerant_streams() -> None:
    """Characters the terminal's encoding lacks (PYTHONIOENCODING=ascii) become '?', not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def _writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise BenchError(f"cannot write results to {path}: {exc.strerror or exc}") from None
    return path


@cli.command()
@format_option
def devices(output_format: str) -> int:
    """List the devices this machine offers and which energy meters can read them.

    \b
    Examples:
      bench devices
      bench devices --format json
    """
    from rich.console import Console

    from bench import report_run

    from bench.devices import cuda_compiler_pieces

    listing = report_run.device_listing()
    # What the CUDA mining kernel compiles and runs with: listed as notes, so the table shows them.
    listing["cuda_compiler"] = [piece.to_dict() for piece in cuda_compiler_pieces()]
    for piece in listing["cuda_compiler"]:
        state = f"{piece['version']} at {piece['where']}" if piece["found"] else f"not found: {piece['where']}"
        listing["notes"].append(f"CUDA compiler piece {piece['name']}: {state}")
    if output_format == "json":
        click.echo(json.dumps(listing, indent=2))
    elif output_format != "table":
        from bench.formats import as_text

        rows = [(d["device"], d["name"], m["meter"], m["usable"], m.get("reason") or "")
                for d in listing["devices"] for m in d["meters"]]
        click.echo(as_text(output_format, ("device", "name", "meter", "usable", "why or how"), rows), nl=False)
    else:
        report_run.print_devices(Console(), listing)
    return 0


def _register_optional_commands() -> None:
    """Commands living in bench/commands/ (economics, compare, report)."""
    from bench.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every user-facing error is one line on stderr and a non-zero exit."""
    _tolerant_streams()
    try:
        _register_optional_commands()
        code = cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        click.echo(f"error: {exc}", err=True)
        code = 2
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort) as exc:
        import signal

        from bench.termination import Terminated

        # SIGTERM and SIGHUP exit as their signal (143, 129), Ctrl-C as SIGINT (130)
        cause = exc if isinstance(exc, Terminated) else exc.__cause__  # click wraps it in Abort
        signum = cause.signum if isinstance(cause, Terminated) else 2
        click.echo(f"interrupted by {signal.Signals(signum).name}: nothing unfinished was saved", err=True)
        code = 128 + signum
    except Exception as exc:  # a bug, not bad input: still one line unless asked for the traceback
        if os.environ.get("JOULEBENCH_DEBUG"):
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} (JOULEBENCH_DEBUG=1 shows the traceback)", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
