"""Many miners at once: identify them all, then poll every one on the same schedule, concurrently.

A host that cannot be identified, or that stops answering, is one line and the others go on.
Ctrl-C, SIGTERM and SIGHUP cancel the polling; every window finished by then is already saved.
"""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from bench.asic import poll as polling
from bench.asic.record import NoPower, Recorder, ReportedPower

IDENTIFY_AT_ONCE = 64  # pyasic opens several connections per host while identifying
# pyasic bounds its own steps (3 s to find the type, 3 s the model, 5 s a web call); past this a
# host stalls every other one's start.
IDENTIFY_TIMEOUT_S = 30.0
ALGORITHM = "SHA256"  # what `mine` measures; a Scrypt or kHeavyHash miner's hashes are another unit


@dataclass
class Outcome:
    host: str
    recorder: Recorder | None = None
    error: str | None = None
    stopped_answering: bool = False


@dataclass
class Survey:
    outcomes: list[Outcome] = field(default_factory=list)
    signum: int | None = None  # the signal that ended the polling, if one did


def poll_count(seconds: float, interval_s: float) -> int:
    """Polls at 0, interval, 2 x interval ... up to ``seconds``: one more than the windows."""
    return math.floor(seconds / interval_s + 1e-9) + 1


def poll_timeout(interval_s: float) -> float:
    """A poll still unanswered when the next one is due is missed (at least 1 s, at most 10 s)."""
    return max(1.0, min(interval_s, 10.0))


def run(
    hosts: list[str], *, seconds: float, interval_s: float, user_power: Callable[[], Any] | None,
    make_recorder: Callable[[polling.Identity, Any, float], Recorder], say: Callable[[str], None],
) -> Survey:
    """Identify and poll ``hosts``; return what happened to each (signals end it early)."""
    survey = Survey()
    undo = polling.quiet_pyasic()
    try:
        asyncio.run(_main(survey, hosts, seconds, interval_s, user_power, make_recorder, say))
    finally:
        # pyasic leaves identification tasks failing in the background on garbled hosts; asyncio
        # logs "exception was never retrieved" when they are collected, so that happens while quiet.
        gc.collect()
        undo()
    return survey


async def _main(survey: Survey, hosts: list[str], seconds: float, interval_s: float,
                user_power: Callable[[], Any] | None, make_recorder: Callable[..., Recorder],
                say: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    work = asyncio.ensure_future(_survey(survey, hosts, seconds, interval_s, user_power, make_recorder, say))

    def on_signal(signum: int) -> None:
        if survey.signum is None:
            survey.signum = signum
            work.cancel()

    handled = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await work
    except asyncio.CancelledError:
        if survey.signum is None:
            raise
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def _survey(survey: Survey, hosts: list[str], seconds: float, interval_s: float,
                  user_power: Callable[[], Any] | None, make_recorder: Callable[..., Recorder],
                  say: Callable[[str], None]) -> None:
    gate = asyncio.Semaphore(IDENTIFY_AT_ONCE)

    async def identify(host: str) -> Outcome:
        outcome = Outcome(host)
        survey.outcomes.append(outcome)
        started = time.monotonic()
        async with gate:
            try:
                identity = await asyncio.wait_for(polling.identify(host), IDENTIFY_TIMEOUT_S)
            except polling.HostFailed as exc:
                outcome.error = str(exc)
            except asyncio.TimeoutError:
                outcome.error = f"identification took over {IDENTIFY_TIMEOUT_S:g} s (a miner API that stalls)"
            except Exception as exc:  # pyasic tripping on a reply it did not expect: this host only
                outcome.error = f"identification failed ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
            else:
                # pyasic's "Generic (Unknown)" is a model it does not know, not another algorithm.
                if identity.algorithm.upper() != ALGORITHM and not identity.algorithm.startswith("Generic"):
                    outcome.error = (f"{identity.name} mines {identity.algorithm}, not SHA-256d: its hashes are "
                                     "not the hashes `mine` counts")
                else:
                    power = user_power() if user_power else None
                    outcome.recorder = make_recorder(identity, power, time.monotonic() - started)
        if outcome.error:
            say(f"{host}: {outcome.error}")
        else:
            identity = outcome.recorder.identity
            say(f"{host}: {identity.name}, {identity.fields.firmware}"
                f"{' ' + identity.firmware_version if identity.firmware_version else ''} (pyasic {identity.backend})")
        return outcome

    outcomes = await asyncio.gather(*(identify(h) for h in hosts))
    recorders = [o for o in outcomes if o.recorder is not None]
    if not recorders:
        return
    count = poll_count(seconds, interval_s)
    start = asyncio.get_running_loop().time() + 0.05
    await asyncio.gather(*(_watch(o, start, count, interval_s, say) for o in recorders))


async def _watch(outcome: Outcome, start: float, count: int, interval_s: float, say: Callable[[str], None]) -> None:
    recorder = outcome.recorder
    assert recorder is not None
    loop = asyncio.get_running_loop()
    timeout = poll_timeout(interval_s)
    for index in range(count):
        delay = start + index * interval_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        recorded = False  # whether the recorder already noted this poll as missed
        try:
            result = await asyncio.wait_for(polling.poll(recorder.identity, index), timeout)
        except asyncio.TimeoutError:
            why: str | None = f"no answer within {timeout:g} s"
        except Exception as exc:  # one poll garbled or refused: missed, and the next is tried
            why = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        else:
            if recorder.power is None and result.error is None:
                recorder.power = _firmware_power(recorder, result, interval_s, say)
            if recorder.power is None:
                why = result.error
            else:
                missed = len(recorder.missed)
                recorder.add(result)
                recorded = len(recorder.missed) > missed
                why = recorder.missed[-1]["why"] if recorded else None
        if why is not None:
            if not recorded:
                recorder.miss(index, _now(), why)
            if recorder.answered and not outcome.stopped_answering:
                outcome.stopped_answering = True
                say(f"{outcome.host}: poll {index} unanswered ({why}); its finished polls are kept, polling goes on")


def _firmware_power(recorder: Recorder, first: polling.Poll, interval_s: float, say: Callable[[str], None]) -> Any:
    """The power source, decided at the first answered poll when none was given."""
    if first.watts is not None:
        return ReportedPower(recorder.identity, interval_s)
    power = NoPower(recorder.identity)
    say(f"{recorder.identity.host}: {recorder.identity.fields.firmware} reports no power; saving the hash rate "
        "alone (give --watts W or --watts-command CMD for energy)")
    return power


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
