"""Stand-in miners on loopback addresses, speaking the real APIs pyasic identifies and reads:

* ``BraiinsStandIn``: Braiins OS's bosminer, the cgminer-style JSON API on TCP 4028 (``version``,
  ``devdetails``, ``summary``, ``devs``, ``temps``, ``tunerstatus``, ``fans``, and ``a+b``
  multi-commands answered as {"a": [reply], "b": [reply]}).
* ``LuxOSStandIn``: LuxOS, the same API with its own commands (``stats``, ``power``, ``config``).
* ``ESPMinerStandIn``: ESP-Miner (Bitaxe) AxeOS, HTTP on port 80: ``/`` and ``/api/system/info``.
* ``GarbageStandIn``: bytes that are no API at all, on both ports.

Each records every command or HTTP request it got, so tests can check nothing but reads was
sent, and every figure it served, so tests can check the result files against them. Counters
(accepted share difficulty) grow with time at a known rate, as a pool's would.
"""

from __future__ import annotations

import http.server
import json
import random
import socket
import socketserver
import threading
import time
from typing import Any

HASHES_PER_DIFFICULTY_1 = 2**32


def free_loopback_address(ports: tuple[int, ...]) -> str:
    """A 127.x.y.z address where ``ports`` are all free (other test runs may hold some)."""
    for _ in range(200):
        address = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(2, 250)}"
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind((address, port))
        except PermissionError:
            raise  # port 80 without root: no address will do
        except OSError:
            continue
        return address
    raise RuntimeError("no free loopback address")


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _HTTPServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class StandIn:
    ports: tuple[int, ...] = ()

    def __init__(self, address: str | None = None) -> None:
        self.address = address or free_loopback_address(self.ports)
        self.requests: list[tuple[str, str]] = []  # ("rpc", command) or ("http", "GET /path")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._servers: list[socketserver.BaseServer] = []
        self.t0 = time.monotonic()

    def start(self) -> "StandIn":
        for server in self._make_servers():
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _make_servers(self) -> list[socketserver.BaseServer]:
        raise NotImplementedError

    def _rpc_server(self, answer) -> socketserver.BaseServer:
        standin = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(5)
                data = b""
                while True:
                    try:
                        chunk = self.request.recv(4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    data += chunk
                    try:
                        command = json.loads(data)
                        break
                    except ValueError:
                        continue
                reply = answer(command)
                if reply is None:  # stopped answering: hold the connection, say nothing
                    standin.stopping.wait(30)
                    return
                try:
                    self.request.sendall(reply)
                except OSError:
                    pass

        return _TCPServer((self.address, 4028), Handler)


class BraiinsStandIn(StandIn):
    """bosminer on an Antminer S9 (3 hashboards of 63 chips, chains 6-8, 2 fans): the Braiins OS
    that pyasic reads entirely over the cgminer API (on newer models it reads gRPC)."""

    ports = (4028,)
    MODEL = "Bitmain Antminer S9"

    def __init__(self, address: str | None = None, *, base_mhs: float = 14e6, base_watts: float = 1350.0,
                 share_ratio: float = 0.97, reports_power: bool = True, hang_after: int | None = None) -> None:
        super().__init__(address)
        self.base_mhs, self.base_watts = base_mhs, base_watts
        self.share_ratio, self.reports_power, self.hang_after = share_ratio, reports_power, hang_after
        self.ticks = 0  # data replies served (multi-commands holding summary)
        self.hanging = hang_after == 0
        self.served: list[dict[str, float]] = []  # per tick: the MHS 1m and watts served

    TICK_COMMAND = "summary"  # a multi-command holding it is one poll: the figures move on

    def _make_servers(self) -> list[socketserver.BaseServer]:
        return [self._rpc_server(self._answer)]

    def _figures(self, tick: int) -> dict[str, float]:
        return {"mhs_1m": self.base_mhs * (1 + 0.02 * (tick % 3)), "watts": self.base_watts + 10 * tick}

    def _status(self, msg: str, ok: bool = True) -> list[dict[str, Any]]:
        return [{"STATUS": "S" if ok else "E", "When": int(time.time()), "Code": 1, "Msg": msg,
                 "Description": "BOSminer bosminer-plus-tuner 0.9.0-2c9c2d45"}]

    def _answer(self, command: dict[str, Any]) -> bytes | None:
        name = str(command.get("command", ""))
        with self.lock:
            self.requests.append(("rpc", name))
            parts = name.split("+")
            if len(parts) > 1 and self.TICK_COMMAND in parts:
                if self.hang_after is not None and self.ticks >= self.hang_after:
                    self.hanging = True
                else:
                    self.ticks += 1
                    self.served.append(self._figures(self.ticks - 1))
            # From the first poll past hang_after on, nothing is answered (a poll's other
            # requests, sent beside its data request, still are until then).
            if self.hanging:
                return None
            current = self.served[-1] if self.served else self._figures(0)
            replies = {part: self._reply(part, current) for part in parts}
        if len(parts) == 1:
            body: dict[str, Any] = replies[parts[0]]
        else:
            body = {part: [reply] for part, reply in replies.items()}
            body["id"] = 1
        return json.dumps(body).encode() + b"\x00"

    def _reply(self, name: str, current: dict[str, float]) -> dict[str, Any]:
        mhs = current["mhs_1m"]
        elapsed = time.monotonic() - self.t0
        difficulty = self.share_ratio * self.base_mhs * 1e6 * elapsed / HASHES_PER_DIFFICULTY_1
        if name == "version":
            return {"STATUS": self._status("BOSminer versions"),
                    "VERSION": [{"BOSminer": "0.9.0-2c9c2d45", "API": "3.7"}], "id": 1}
        if name == "devdetails":
            return {"STATUS": self._status("Device Details"), "DEVDETAILS": [
                {"DEVDETAILS": i, "Name": "Chain", "ID": i + 6, "Driver": "bitmain", "Model": self.MODEL,
                 "Chips": 63, "Frequency": 650} for i in range(3)], "id": 1}
        if name == "summary":
            return {"STATUS": self._status("Summary"), "SUMMARY": [{
                "Elapsed": int(elapsed) + 3600, "MHS av": mhs, "MHS 5s": mhs * 1.01, "MHS 1m": mhs,
                "MHS 5m": mhs, "MHS 15m": mhs, "Accepted": int(difficulty / 16), "Rejected": 3,
                "Difficulty Accepted": difficulty, "Difficulty Rejected": 196608.0}], "id": 1}
        if name == "devs":
            return {"STATUS": self._status("Devs"), "DEVS": [
                {"ID": i + 6, "Name": "Chain", "MHS 1m": mhs / 3, "MHS 5s": mhs / 3, "Nominal MHS": 14e6 / 3}
                for i in range(3)], "id": 1}
        if name == "temps":
            return {"STATUS": self._status("Temps"), "TEMPS": [
                {"ID": i + 6, "Board": 60.0 + i, "Chip": 75.0 + i} for i in range(3)], "id": 1}
        if name == "tunerstatus":
            if not self.reports_power:
                return {"STATUS": self._status("Tuner is disabled", ok=False), "id": 1}
            return {"STATUS": self._status("Tuner Status"), "TUNERSTATUS": [{
                "ApproximateMinerPowerConsumption": current["watts"], "PowerLimit": 1400,
                "TunerChainStatus": [{"HashchainIndex": i, "Status": "Stable"} for i in range(3)]}], "id": 1}
        if name == "fans":
            return {"STATUS": self._status("Fans"), "FANS": [{"ID": i, "RPM": 4200 + i, "Speed": 60}
                                                               for i in range(2)], "id": 1}
        return {"STATUS": self._status(f"Invalid command {name}", ok=False), "id": 1}


class LuxOSStandIn(BraiinsStandIn):
    """LuxOS on an Antminer S19 XP: its hash rate per hashboard in ``stats`` (chain_rate1..3, GH/s)."""

    MODEL = "Antminer S19 XP"
    TICK_COMMAND = "power"  # identification reads stats too; only a poll reads power

    def __init__(self, address: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("base_mhs", 141e6)
        kwargs.setdefault("base_watts", 3031.0)
        super().__init__(address, **kwargs)

    def _figures(self, tick: int) -> dict[str, Any]:
        chains = [self.base_mhs / 3e3 * (1 + 0.01 * ((tick + i) % 4)) for i in range(3)]
        return {"chain_gh": chains, "mhs_1m": sum(chains) * 1e3, "watts": self.base_watts + 7 * tick}

    def _status(self, msg: str, ok: bool = True) -> list[dict[str, Any]]:
        return [{"STATUS": "S" if ok else "E", "When": int(time.time()), "Code": 1, "Msg": msg,
                 "Description": "LUXminer 2024.5.1.110048-62e3c2b5"}]

    def _reply(self, name: str, current: dict[str, Any]) -> dict[str, Any]:
        elapsed = time.monotonic() - self.t0
        difficulty = self.share_ratio * self.base_mhs * 1e6 * elapsed / HASHES_PER_DIFFICULTY_1
        if name == "version":
            return {"STATUS": self._status("LUXminer versions"), "VERSION": [
                {"API": "3.7", "LUXminer": "2024.5.1.110048-62e3c2b5", "Miner": "2024.5.1", "Type": self.MODEL}]}
        if name == "devdetails":
            return {"STATUS": self._status("Device Details"), "DEVDETAILS": [
                {"DEVDETAILS": i, "Name": "Chain", "ID": i, "Model": self.MODEL, "Chips": 110} for i in range(3)]}
        if name == "config":
            return {"STATUS": self._status("Config"), "CONFIG": [{"MACAddr": "02:4c:55:58:00:01", "RedLed": "off"}]}
        if name == "summary":
            return {"STATUS": self._status("Summary"), "SUMMARY": [{
                "Elapsed": int(elapsed) + 600, "GHS 5s": current["mhs_1m"] / 1e3, "GHS av": current["mhs_1m"] / 1e3,
                "Accepted": int(difficulty / 16), "Rejected": 0, "Difficulty Accepted": difficulty}]}
        if name == "stats":
            board = {"Elapsed": int(elapsed) + 600, "total_rateideal": 141000.0, "rate_unit": "GH"}
            for n, rate in enumerate(current["chain_gh"], 1):
                board.update({f"chain_rate{n}": f"{rate:.2f}", f"chain_acn{n}": 110,
                              f"temp_chip{n}": f"{60 + n}-{62 + n}-{64 + n}-{66 + n}",
                              f"temp_pcb{n}": f"{50 + n}-{52 + n}-{54 + n}-{56 + n}"})
            return {"STATUS": self._status("Stats"), "STATS": [{"STATS": 0, "ID": "BC50"}, board]}
        if name == "power":
            return {"STATUS": self._status("Power"), "POWER": [{"Watts": current["watts"], "PSU": False}]}
        if name == "fans":
            return {"STATUS": self._status("Fans"), "FANS": [{"ID": i, "RPM": 5100 + i} for i in range(4)]}
        return {"STATUS": self._status(f"Invalid command {name}", ok=False)}


class ESPMinerStandIn(StandIn):
    """A Bitaxe Gamma (BM1370) on ESP-Miner; ``garble_after``: data replies after which it sends garbage."""

    ports = (80,)

    def __init__(self, address: str | None = None, *, gh: float = 1180.5, watts: float = 18.0,
                 pool_difficulty: float = 4.0, share_ratio: float = 0.95, garble_after: int | None = None) -> None:
        super().__init__(address)
        self.gh, self.watts, self.pool_difficulty = gh, watts, pool_difficulty
        self.share_ratio, self.garble_after = share_ratio, garble_after
        self.info_replies = 0

    def info(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.t0
        shares = int(self.share_ratio * self.gh * 1e9 * elapsed / (self.pool_difficulty * HASHES_PER_DIFFICULTY_1))
        return {
            "power": self.watts, "voltage": 5102.0, "current": 3590.0, "temp": 58.25, "vrTemp": 49,
            "hashRate": self.gh, "bestDiff": "1.2G", "sharesAccepted": shares, "sharesRejected": 1,
            "uptimeSeconds": int(elapsed) + 7200, "asicCount": 1, "smallCoreCount": 2040, "ASICModel": "BM1370",
            "stratumURL": "public-pool.io", "stratumPort": 21496, "stratumDiff": self.pool_difficulty,
            "version": "v2.6.1", "axeOSVersion": "v2.6.1", "hostname": "bitaxe-gamma", "macAddr": "aa:bb:cc:00:11:22",
            "fanrpm": 3812, "fanspeed": 65, "frequency": 525, "coreVoltage": 1150,
        }

    def _make_servers(self) -> list[socketserver.BaseServer]:
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with standin.lock:
                    standin.requests.append(("http", f"GET {self.path}"))
                if self.path == "/":
                    self._send(200, b"<!doctype html><html><head><title>AxeOS</title></head><body></body></html>",
                               "text/html")
                elif self.path == "/api/system/info":
                    with standin.lock:
                        standin.info_replies += 1
                        garbled = standin.garble_after is not None and standin.info_replies > standin.garble_after
                    if garbled:
                        self._send(200, b"\x00\xffgarbage{{{ not json", "application/json")
                    else:
                        self._send(200, json.dumps(standin.info()).encode(), "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def _refuse(self) -> None:
                with standin.lock:
                    standin.requests.append(("http", f"{self.command} {self.path}"))
                self._send(405, b"", "text/plain")

            do_POST = do_PATCH = do_PUT = do_DELETE = _refuse

        return [_HTTPServer((self.address, 80), Handler)]


class GarbageStandIn(StandIn):
    """Something on ports 80 and 4028 that answers every request with bytes of no protocol."""

    ports = (80, 4028)
    GARBAGE = b"\x8f\x02\xfe<<garbage ANSWER>>\x00{{{"

    def _make_servers(self) -> list[socketserver.BaseServer]:
        standin = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(2)
                try:
                    request = self.request.recv(4096)
                    with standin.lock:
                        standin.requests.append(("raw", request[:60].decode("latin-1")))
                    self.request.sendall(GarbageStandIn.GARBAGE)
                except OSError:
                    pass

        return [_TCPServer((self.address, port), Handler) for port in self.ports]
