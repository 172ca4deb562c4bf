"""Which firmware field each figure of a polled miner comes from, by pyasic backend.

pyasic hides the field behind ``MinerData.hashrate`` and ``.wattage``; a reader of the result
must know which of the firmware's averages the hash rate is (5 s, 1 min, since boot) and
whether the power is the firmware's estimate or a regulator's reading. The entries name what
pyasic 0.79's backends read (pyasic/miners/backends/<name>.py); a backend not listed is named
as pyasic's and its fields are said to be unnamed, not guessed. Pure: no pyasic import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# One share of difficulty 1 is 2**32 hashes on average (the definition of difficulty 1).
HASHES_PER_DIFFICULTY_1 = 2**32


@dataclass(frozen=True)
class Fields:
    firmware: str  # as shown: "Braiins OS (bosminer)"
    hashrate: str  # the miner-level figure pyasic reads, with its average
    boards_hashrate: str | None  # per-hashboard figure (used when the miner-level one is missing)
    power: str | None  # the power figure and how the firmware obtains it
    shares: str | None  # where accepted shares (and their difficulty) are read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_KNOWN: dict[str, Fields] = {
    "ESPMiner": Fields(
        firmware="ESP-Miner (AxeOS)",
        hashrate="GET /api/system/info hashRate (GH/s; ESP-Miner's rolling estimate from the nonces the ASIC returns)",
        boards_hashrate=None,
        power=("GET /api/system/info power (W, read from the board's power-monitor chip; "
               "pyasic rounds it to whole watts)"),
        shares="GET /api/system/info sharesAccepted x the pool difficulty (stratumDiff or poolDifficulty)",
    ),
    "BOSMiner": Fields(
        firmware="Braiins OS (bosminer)",
        hashrate="cgminer API summary 'MHS 1m' (1-minute average)",
        boards_hashrate="cgminer API devs 'MHS 1m' per hashboard (1-minute average)",
        power="cgminer API tunerstatus ApproximateMinerPowerConsumption (W, the firmware's own estimate, not a meter)",
        shares="cgminer API summary 'Difficulty Accepted'",
    ),
    "BOSer": Fields(
        firmware="Braiins OS+ (boser)",
        hashrate="cgminer API summary 'MHS 1m' (1-minute average)",
        boards_hashrate="gRPC GetHashboards stats (per hashboard)",
        power="gRPC GetMinerStats powerStats.approximatedConsumption (W, the firmware's own estimate, not a meter)",
        shares="cgminer API summary 'Difficulty Accepted'",
    ),
    "LUXMiner": Fields(
        firmware="LuxOS",
        # pyasic 0.79's LUXMiner._get_hashrate returns before reading 'GHS 5s', so the boards' sum is what arrives.
        hashrate="cgminer API summary 'GHS 5s' (5-second average)",
        boards_hashrate="cgminer API stats chain_rate1..3 (GH/s per hashboard)",
        power="cgminer API power Watts (W, as LuxOS reports it)",
        shares="cgminer API summary 'Difficulty Accepted'",
    ),
}


def fields_for(backend_names: list[str], firmware_name: str | None) -> Fields:
    """The entry of the first known backend in the miner class's MRO (class names, nearest first)."""
    for name in backend_names:
        if name in _KNOWN:
            return _KNOWN[name]
    nearest = backend_names[0] if backend_names else "unknown"
    unnamed = f"as pyasic's {nearest} backend reads it (which firmware field and average is not named here)"
    return Fields(
        firmware=firmware_name or "unknown firmware",
        hashrate=f"hash rate {unnamed}",
        boards_hashrate=f"per-hashboard hash rate {unnamed}",
        power=f"power {unnamed}",
        shares="cgminer API summary 'Difficulty Accepted', where the miner has that API",
    )


@dataclass(frozen=True)
class ShareCounters:
    """Cumulative share figures of one reply; difficulty_accepted is the sum of accepted shares' difficulty."""

    accepted: int | None
    rejected: int | None
    difficulty_accepted: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value >= 0 and value == value and value != float("inf") else None


def shares_from_cgminer_summary(reply: Any) -> ShareCounters | None:
    """Counters of a cgminer-style ``summary`` reply ({"SUMMARY": [{...}]}), or None."""
    try:
        summary = reply["SUMMARY"][0]
    except (TypeError, LookupError):
        return None
    if not isinstance(summary, dict):
        return None
    accepted = _number(summary.get("Accepted"))
    rejected = _number(summary.get("Rejected"))
    difficulty = _number(summary.get("Difficulty Accepted"))
    if accepted is None and difficulty is None:
        return None
    return ShareCounters(
        accepted=int(accepted) if accepted is not None else None,
        rejected=int(rejected) if rejected is not None else None,
        difficulty_accepted=difficulty,
    )


def shares_from_espminer_info(reply: Any) -> ShareCounters | None:
    """Counters of ESP-Miner's /api/system/info; difficulty is accepted shares x the pool difficulty
    (ESP-Miner counts shares, not their difficulty), so it holds only while that difficulty holds."""
    if not isinstance(reply, dict):
        return None
    accepted = _number(reply.get("sharesAccepted"))
    rejected = _number(reply.get("sharesRejected"))
    pool_difficulty = _number(reply.get("stratumDiff", reply.get("poolDifficulty")))
    if accepted is None:
        return None
    return ShareCounters(
        accepted=int(accepted),
        rejected=int(rejected) if rejected is not None else None,
        difficulty_accepted=accepted * pool_difficulty if pool_difficulty else None,
    )


def share_rate(first: ShareCounters | None, last: ShareCounters | None, seconds: float) -> dict[str, Any]:
    """Hashes per second implied by the accepted shares between two polls, or why there is none."""
    if first is None or last is None:
        return {"available": False, "why": "the firmware's replies expose no accepted-share counters"}
    if first.difficulty_accepted is None or last.difficulty_accepted is None:
        return {"available": False, "why": "accepted shares are counted but not their difficulty",
                "shares_accepted": _delta(first.accepted, last.accepted)}
    difficulty = last.difficulty_accepted - first.difficulty_accepted
    if difficulty < 0:
        return {"available": False, "why": "the share counters went backwards (miner or pool restarted)"}
    if seconds <= 0:
        return {"available": False, "why": "no time between the first and last poll"}
    shares = _delta(first.accepted, last.accepted)
    out: dict[str, Any] = {
        "available": True,
        "rate_per_s": difficulty * HASHES_PER_DIFFICULTY_1 / seconds,
        "difficulty_accepted": difficulty,
        "shares_accepted": shares,
        "shares_rejected": _delta(first.rejected, last.rejected),
        "seconds": seconds,
    }
    if shares:
        # Shares arrive as a Poisson process: the rate from N of them is within about 2/sqrt(N) (95 %).
        out["relative_uncertainty_95"] = 2 / shares**0.5
    return out


def _delta(first: int | None, last: int | None) -> int | None:
    return last - first if first is not None and last is not None and last >= first else None
