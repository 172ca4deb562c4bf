"""HOST arguments of ``bench asic``: addresses, names, ranges (a.b.c.d-e.f.g.h or a.b.c.d-h),
networks (a.b.c.d/n) and @files of any of these, one a line. Pure: nothing is resolved here."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from bench.errors import BenchError

# A range or network larger than this is a typo (10.0.0.1-10.9.0.1), not a farm to scan.
MAX_HOSTS = 65536


def expand_hosts(arguments: list[str] | tuple[str, ...]) -> list[str]:
    """Every host the arguments name, in order, each once; BenchError naming a bad one."""
    hosts: list[str] = []
    for argument in arguments:
        hosts += _expand(argument.strip(), from_file=None)
    unique = list(dict.fromkeys(hosts))
    if not unique:
        raise BenchError("no hosts: give miner addresses, names, a range (10.0.0.1-10.0.0.20) or @file")
    if len(unique) > MAX_HOSTS:
        raise BenchError(f"{len(unique)} hosts is more than {MAX_HOSTS}: narrow the ranges")
    return unique


def _expand(text: str, from_file: Path | None) -> list[str]:
    where = f" (in {from_file})" if from_file else ""
    if not text:
        raise BenchError(f"empty host{where}")
    if text.startswith("@"):
        if from_file is not None:
            raise BenchError(f"{text}{where}: a host file cannot name another host file")
        return _read_file(Path(text[1:]))
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise BenchError(f"host {text!r}{where}: not a network like 10.0.0.0/24") from None
        if network.num_addresses > MAX_HOSTS:
            raise BenchError(f"network {text}{where} holds {network.num_addresses} addresses, more than {MAX_HOSTS}")
        # A /31 or /32 has no network and broadcast address to leave out.
        return [str(a) for a in (network.hosts() if network.num_addresses > 2 else network)]
    if "-" in text and _looks_like_range(text):
        return _range(text, where)
    if any(c.isspace() for c in text) or text.startswith("-"):
        raise BenchError(f"host {text!r}{where}: not an address, name or range")
    try:
        return [str(ipaddress.ip_address(text))]
    except ValueError:
        pass
    if not all(part and len(part) <= 63 for part in text.rstrip(".").split(".")) or len(text) > 253:
        raise BenchError(f"host {text!r}{where}: not an address, name or range")
    return [text]  # a name, resolved when the miners are polled


def _looks_like_range(text: str) -> bool:
    start = text.split("-", 1)[0]
    try:
        ipaddress.IPv4Address(start)
    except ValueError:
        return False
    return True


def _range(text: str, where: str) -> list[str]:
    start_text, end_text = text.split("-", 1)
    start = ipaddress.IPv4Address(start_text)
    try:
        if "." in end_text:
            end = ipaddress.IPv4Address(end_text)
        else:  # 10.0.0.1-20: the last octet
            last = int(end_text)
            if not 0 <= last <= 255:
                raise ValueError
            end = ipaddress.IPv4Address(int(start) // 256 * 256 + last)
    except ValueError:
        raise BenchError(f"range {text!r}{where}: expected 10.0.0.1-10.0.0.20 or 10.0.0.1-20") from None
    if end < start:
        raise BenchError(f"range {text!r}{where}: ends before it starts")
    count = int(end) - int(start) + 1
    if count > MAX_HOSTS:
        raise BenchError(f"range {text!r}{where} holds {count} addresses, more than {MAX_HOSTS}")
    return [str(ipaddress.IPv4Address(a)) for a in range(int(start), int(end) + 1)]


def _read_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BenchError(f"@{path}: no such host file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"@{path}: cannot read host file ({exc})") from None
    hosts: list[str] = []
    for line in lines:
        line = line.split("#", 1)[0].strip()  # comments and blank lines
        for word in line.replace(",", " ").split():
            hosts += _expand(word, from_file=path)
    if not hosts:
        raise BenchError(f"@{path}: the host file names no host")
    return hosts
