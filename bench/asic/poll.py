"""Identify miners and poll them, concurrently, through pyasic: the one module that imports it.

Only pyasic's read calls are made: ``get_miner`` (identification), ``get_data`` restricted to
figures that pyasic reads over the miner's RPC or web API (never those it reads by logging in
over SSH), and the read-only ``summary`` (cgminer-style APIs) or ``system/info`` (ESP-Miner)
for the share counters. Nothing that changes a setting is ever sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pyasic
from pyasic.miners.data import DataOptions, RPCAPICommand, WebAPICommand

from bench.asic.fields import (
    Fields, ShareCounters, fields_for, shares_from_cgminer_summary, shares_from_espminer_info,
)

PYASIC_VERSION = pyasic.__version__

IDENTITY_OPTIONS = (DataOptions.MAC, DataOptions.HOSTNAME, DataOptions.FW_VERSION, DataOptions.API_VERSION,
                    DataOptions.EXPECTED_HASHRATE)
POLL_OPTIONS = (DataOptions.HASHRATE, DataOptions.HASHBOARDS, DataOptions.WATTAGE, DataOptions.FANS,
                DataOptions.ENVIRONMENT_TEMP, DataOptions.UPTIME)
# Ports pyasic's identification tries: to tell "nothing there" from "something that is no miner".
_PROBE_PORTS = (80, 4028)
_PROBE_TIMEOUT_S = 2.0


class HostFailed(Exception):
    """A host that cannot be polled; the message is the one line naming why."""


@dataclass
class Identity:
    host: str  # as given
    address: str  # what pyasic talks to
    miner: Any  # the pyasic miner object
    make: str | None
    model: str | None
    firmware: str | None
    firmware_version: str | None
    api_version: str | None
    hostname: str | None
    mac: str | None
    algorithm: str
    backend: str  # pyasic class, e.g. BOSMinerS19Pro
    backend_chain: list[str]
    expected_hashrate_per_s: float | None
    expected_hashboards: int | None
    expected_fans: int | None
    fields: Fields

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.make, self.model) if p) or f"miner at {self.host}"


@dataclass
class Poll:
    index: int  # scheduled poll number
    t: float  # monotonic seconds when the reply was complete
    utc: str
    hashrate_per_s: float | None = None
    hashrate_from: str | None = None  # "miner" or "hashboards"
    watts: float | None = None
    boards: list[dict[str, Any]] = field(default_factory=list)
    fans_rpm: list[int | None] = field(default_factory=list)
    env_temp_c: float | None = None
    uptime_s: int | None = None
    shares: ShareCounters | None = None
    error: str | None = None  # why this poll gave nothing

    def figures(self) -> dict[str, Any]:
        """What the firmware reported at this poll, for the window's meter_details."""
        return {
            "poll": self.index, "utc": self.utc, "hashrate_per_s": self.hashrate_per_s,
            "hashrate_from": self.hashrate_from, "reported_watts": self.watts, "hashboards": self.boards,
            "fans_rpm": self.fans_rpm, "env_temp_c": self.env_temp_c, "uptime_s": self.uptime_s,
            "shares": self.shares.to_dict() if self.shares else None,
        }


def quiet_pyasic() -> Callable[[], None]:
    """pyasic logs to the root logger (set up at its import) and warns about models it half
    knows; here every host's trouble is one line of ours. Returns the undo."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL + 1)
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    warnings.simplefilter("ignore")

    def undo() -> None:
        catcher.__exit__(None, None, None)
        root.setLevel(level)

    return undo


async def resolve(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostFailed(f"cannot resolve the name ({exc.args[-1] if exc.args else exc})") from None
    return infos[0][4][0]


async def identify(host: str) -> Identity:
    """Which miner answers at ``host``, or HostFailed saying why none does."""
    address = await resolve(host)
    try:
        miner = await pyasic.get_miner(address)
    except UnicodeDecodeError:
        raise HostFailed("answers with bytes that are not text, not as any miner firmware pyasic knows "
                         "(garbled reply)") from None
    if miner is None:
        if await _anything_listening(address):
            raise HostFailed("answers on port 80 or 4028 but not as any miner firmware pyasic knows (garbled reply?)")
        raise HostFailed("no answer (nothing listening on ports 80 and 4028, or unreachable)")
    algorithm = str(getattr(miner, "algo", "unknown"))
    chain = [cls.__name__ for cls in type(miner).__mro__]
    firmware = _text(getattr(miner, "firmware", None))
    data = await _get_data(miner, _readable(miner, IDENTITY_OPTIONS))
    return Identity(
        host=host, address=address, miner=miner, make=_text(getattr(miner, "make", None)),
        model=_text(getattr(miner, "raw_model", None)), firmware=firmware,
        firmware_version=_text(data.fw_ver), api_version=_text(data.api_ver), hostname=_text(data.hostname),
        mac=_text(data.mac), algorithm=algorithm, backend=type(miner).__name__, backend_chain=chain,
        expected_hashrate_per_s=_hashes_per_s(data.expected_hashrate),
        expected_hashboards=getattr(miner, "expected_hashboards", None),
        expected_fans=getattr(miner, "expected_fans", None),
        fields=fields_for(chain, firmware),
    )


async def poll(identity: Identity, index: int) -> Poll:
    """One reading of the miner's figures (no timeout here: the caller bounds it)."""
    miner = identity.miner
    data, shares = await asyncio.gather(_get_data(miner, _readable(miner, POLL_OPTIONS)), _share_counters(miner))
    result = Poll(index=index, t=time.monotonic(), utc=datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    result.shares = shares
    result.boards = [_board(b) for b in data.hashboards]
    result.hashrate_per_s = _hashes_per_s(data.raw_hashrate)
    result.hashrate_from = "miner" if result.hashrate_per_s is not None else None
    if result.hashrate_per_s is None:
        board_rates = [b["hashrate_per_s"] for b in result.boards if b["hashrate_per_s"] is not None]
        if board_rates:
            result.hashrate_per_s, result.hashrate_from = sum(board_rates), "hashboards"
    result.watts = float(data.wattage) if isinstance(data.wattage, (int, float)) and data.wattage > 0 else None
    result.fans_rpm = [f.speed for f in data.fans]
    result.env_temp_c = data.env_temp
    result.uptime_s = data.uptime
    if result.hashrate_per_s is None:
        result.error = "the reply held no hash rate (garbled, or not mining)"
    return result


async def _get_data(miner: Any, options: list[str]) -> Any:
    """``get_data`` for ``options``; pyasic fails the whole call when one figure's reader raises
    (a web API that refuses, a field of another type), so then each is asked for alone and the
    ones that fail stay empty."""
    try:
        return await miner.get_data(include=options)
    except Exception:
        pass
    data = await miner.get_data(include=[])
    parts = await asyncio.gather(*(miner.get_data(include=[o]) for o in options), return_exceptions=True)
    for option, part in zip(options, parts):
        if not isinstance(part, BaseException):
            value = getattr(part, "raw_hashrate" if option == "hashrate" else option, None)
            if value is not None and value != []:
                setattr(data, option, value)
    return data


async def _share_counters(miner: Any) -> ShareCounters | None:
    try:
        rpc, web = getattr(miner, "rpc", None), getattr(miner, "web", None)
        if rpc is not None and hasattr(rpc, "summary"):
            return shares_from_cgminer_summary(await rpc.summary())
        if web is not None and hasattr(web, "system_info"):
            return shares_from_espminer_info(await web.system_info())
    except Exception:  # a miner whose share counters cannot be read still has its hash rate
        return None
    return None


def _readable(miner: Any, options: tuple[DataOptions, ...]) -> list[str]:
    """The options pyasic reads for this miner over its RPC or web API; the others it reads by
    logging in over SSH (Braiins OS hostname, fault light), which is more than reading an API."""
    wanted = []
    for option in options:
        location = getattr(miner.data_locations, str(option), None)
        kwargs = getattr(location, "kwargs", None) or []
        if any(isinstance(k, (RPCAPICommand, WebAPICommand)) for k in kwargs):
            wanted.append(str(option))
    return wanted


async def _anything_listening(address: str) -> bool:
    for port in _PROBE_PORTS:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), _PROBE_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True
    return False


def _hashes_per_s(rate: Any) -> float | None:
    """pyasic's rate object (a number in some unit, e.g. TH/s) as hashes per second."""
    if rate is None:
        return None
    try:
        value = float(rate.rate) * float(rate.unit.value)
    except (AttributeError, TypeError, ValueError):
        return None
    return value if value > 0 and value != float("inf") else None


def _board(board: Any) -> dict[str, Any]:
    return {
        "slot": board.slot, "hashrate_per_s": _hashes_per_s(board.hashrate), "temp_c": board.temp,
        "chip_temp_c": board.chip_temp, "chips": board.chips, "expected_chips": board.expected_chips,
        "missing": board.missing, "active": board.active,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
