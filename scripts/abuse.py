#!/usr/bin/env python3
"""Measures what hostile clients cost ova-server: memory, CPU, and whether a normal call still answers.

Starts its own ova-server (127.0.0.1, free port, temporary data dir, ENVIRONMENT=development),
samples the server's VmRSS and CPU from /proc every 100 ms, runs one scenario against it with raw
OVA/1 frames (clients/python/ova_client/wire.py), prints a compact report and optionally writes
JSON, then stops the server. Every loop is bounded in count and in time.

Scenarios (see docs/PERFORMANCE.md, "Memory and CPU under abuse"):
  zero-read       N connections advertise 2^31-1 windows, open Echo/ServerStream calls with large
                  responses and never read their sockets; a normal client calls Echo/Unary meanwhile.
  rapid-reset     one connection opens Echo/Unary streams and resets each at once.
  deadline-burst  concurrent Echo/Unary calls (delay_ms 2000) with a 300 ms timeout, RESET(CANCELLED)
                  at each call's deadline as PROTOCOL.md section 10 requires; then one more call.
  control-flood   a flood of SETTINGS ACK, PING ACK, PING, unknown or WINDOW_UPDATE frames.
  all             each of the above with its defaults, a fresh server for each.

Needs the `protobuf` package (4.21 <= version < 5) for the generated echo_pb2; `make abuse` runs
this with a venv in .build/abuse-venv.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from ova_client import Channel, OvaError  # noqa: E402
from ova_client import wire  # noqa: E402
from ova_client._common import make_ssl_context  # noqa: E402
from ova_client.generated.ova.v1 import echo_pb2  # noqa: E402
from ova_client.status import StatusCode  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL = 0.1
UNARY = "ova.v1.Echo/Unary"
SERVER_STREAM = "ova.v1.Echo/ServerStream"


def status_name(code: int) -> str:
    try:
        return StatusCode(code).name
    except ValueError:
        return str(code)


# ---- the server under test ------------------------------------------------------------------


def default_server_bin() -> pathlib.Path:
    for candidate in ("/work/main/.build/release/ova-server", str(ROOT / ".build/release/ova-server"),
                      "/work/main/.build/debug/ova-server", str(ROOT / ".build/debug/ova-server")):
        if pathlib.Path(candidate).exists():
            return pathlib.Path(candidate)
    return pathlib.Path(str(ROOT / ".build/release/ova-server"))


def die_with_parent() -> None:
    """In the server's child process: SIGKILL it when this tool dies, even by SIGKILL (prctl PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An ova-server of our own: started on a free loopback port, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, binary: pathlib.Path, env_overrides: Dict[str, str], kill_mib: float = 6144) -> None:
        if not binary.exists():
            sys.exit(f"abuse: no ova-server at {binary} (build it, or pass --server-bin)")
        self.binary = binary
        self.data = pathlib.Path(tempfile.mkdtemp(prefix="ova-abuse-"))
        self.host, self.port = "127.0.0.1", free_port()
        self.log_path = self.data / "server.log"
        env = dict(os.environ, ENVIRONMENT="development", OVA_DATA_DIR=str(self.data), **env_overrides)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [str(binary), "--listen", f"{self.host}:{self.port}", "--data-dir", str(self.data),
                 "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
        self.pid = self.process.pid
        self.kill_mib = kill_mib
        self.killed_over_mib: Optional[float] = None
        threading.Thread(target=self._guard, daemon=True).start()
        self._wait_ready(deadline=time.monotonic() + 60)

    def _guard(self) -> None:
        """Guards the (shared) machine for the server's whole life: SIGKILL once its RSS passes
        `kill_mib`, since a server that buffers for hostile clients may go on after they are gone."""
        while self.process.poll() is None:
            rss = read_rss_mib(self.pid)
            if rss is not None and rss > self.kill_mib:
                self.killed_over_mib = rss
                self.process.kill()
                return
            time.sleep(SAMPLE_INTERVAL / 2)

    @property
    def ca(self) -> str:
        return str(self.data / "dev-cert.pem")

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"ova-server exited {self.process.returncode}:\n{self.log()}")
            if (self.data / "dev-cert.pem").exists():
                try:
                    with Channel(self.host, self.port, ca=self.ca, connect_timeout=2) as ch:
                        ch.ping()
                    return
                except (OvaError, OSError):
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ova-server did not start:\n{self.log()}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)
        return self.process.returncode


def read_rss_mib(pid: int) -> Optional[float]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def read_cpu_seconds(pid: int) -> Optional[float]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Sample:
    t: float        # seconds since the sampler started
    rss_mib: float
    cpu_pct: float  # of one core over the last interval (200 = both cores of this machine)


class Sampler:
    """Samples the server's VmRSS and CPU every 100 ms on a thread; `mark` timestamps the scenario's phases.

    Past `limit_mib` it sets `over_limit`: the scenario then stops its abuse."""

    def __init__(self, pid: int, max_seconds: float, limit_mib: float = 4096) -> None:
        self.pid = pid
        self.max_seconds = max_seconds
        self.limit_mib = limit_mib
        self.over_limit = threading.Event()
        self.samples: List[Sample] = []
        self.marks: Dict[str, float] = {}
        self.start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic() - self.start

    def mark(self, name: str) -> float:
        self.marks[name] = round(self.now(), 3)
        return self.marks[name]

    def _run(self) -> None:
        last_t, last_cpu = time.monotonic(), read_cpu_seconds(self.pid)
        while not self._stop.wait(SAMPLE_INTERVAL) and time.monotonic() - self.start < self.max_seconds:
            t, cpu, rss = time.monotonic(), read_cpu_seconds(self.pid), read_rss_mib(self.pid)
            if cpu is None or rss is None or last_cpu is None:
                break  # the server is gone
            self.samples.append(Sample(round(t - self.start, 3), round(rss, 1),
                                       round(100 * (cpu - last_cpu) / max(t - last_t, 1e-6), 1)))
            last_t, last_cpu = t, cpu
            if rss > self.limit_mib:
                self.over_limit.set()

    def latest_rss(self) -> float:
        return self.samples[-1].rss_mib if self.samples else (read_rss_mib(self.pid) or 0.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def window(self, start: float, end: float) -> List[Sample]:
        return [s for s in self.samples if start < s.t <= end]

    def cpu_avg(self, start: float, end: float) -> Optional[float]:
        w = self.window(start, end)
        return round(statistics.fmean(s.cpu_pct for s in w), 1) if w else None

    def rss_max(self, start: float, end: float) -> Optional[float]:
        w = self.window(start, end)
        return max(s.rss_mib for s in w) if w else None

    def rss_at(self, t: float) -> Optional[float]:
        before = [s for s in self.samples if s.t <= t]
        return before[-1].rss_mib if before else None

    def idle_after(self, start: float, threshold: float = 5.0, hold: float = 0.5) -> Optional[float]:
        """Seconds after `start` until the CPU stays below `threshold` % for `hold` s; None if never."""
        need = max(1, round(hold / SAMPLE_INTERVAL))
        run = 0
        for s in self.samples:
            if s.t <= start:
                continue
            run = run + 1 if s.cpu_pct < threshold else 0
            if run >= need:
                return round(s.t - start - (need - 1) * SAMPLE_INTERVAL, 1)
        return None

    def per_second(self, start: float, seconds: int) -> List[Dict[str, float]]:
        out = []
        for i in range(seconds):
            w = self.window(start + i, start + i + 1)
            if w:
                out.append({"second": i + 1, "cpu_pct": round(statistics.fmean(s.cpu_pct for s in w), 1),
                            "rss_mib": w[-1].rss_mib})
        return out


# ---- raw connections ------------------------------------------------------------------------


def echo_request(**kw) -> bytes:
    return echo_pb2.EchoRequest(**kw).SerializeToString()


class RawConnection:
    """A TLS connection speaking raw frames: sends exactly what it is told, reads only when asked."""

    def __init__(self, server: Server, settings: wire.Settings, rcvbuf: Optional[int] = None,
                 timeout: float = 10.0) -> None:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the kernel advertises the small window from the start
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect((server.host, server.port))
        self.local_port = raw.getsockname()[1]
        self.sock = make_ssl_context(server.ca).wrap_socket(raw, server_hostname=server.host)
        self.decoder = wire.FrameDecoder(from_client=False, max_frame_size=1 << 24)
        self.goaway: Optional[wire.GoAwayFrame] = None
        self.closed = False
        self.trailers: Dict[int, wire.TrailersFrame] = {}
        self.resets: Dict[int, wire.ResetFrame] = {}
        self.message_bytes = 0
        self.sock.sendall(wire.PREFACE + wire.encode_frame(wire.SettingsFrame(settings.entries())))
        deadline = time.monotonic() + timeout
        first = None
        while first is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no SETTINGS from the server")
            frames = self.decoder.feed(self.sock.recv(65536))
            if frames:
                first, rest = frames[0], frames[1:]
                self._note(rest)
        if not isinstance(first, wire.SettingsFrame) or first.ack:
            raise RuntimeError(f"the server's first frame is {first!r}")
        self.sock.sendall(wire.encode_frame(wire.SettingsFrame([], ack=True)))

    def send(self, *frames: wire.Frame, timeout: float = 5.0) -> bool:
        """False when the server has closed the connection (or stopped reading for `timeout` s)."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(b"".join(wire.encode_frame(f) for f in frames))
            return True
        except (OSError, ssl.SSLError):
            self.closed = True
            return False

    def poll(self, wait: float = 0.0, max_bytes: int = 16 << 20) -> None:
        """Reads what has arrived (waiting up to `wait` s for the first bytes), at most `max_bytes`."""
        if self.closed:
            return
        got = 0
        self.sock.settimeout(wait if wait > 0 else 0.0)
        try:
            while got < max_bytes:
                data = self.sock.recv(1 << 20)
                if not data:
                    self.closed = True
                    return
                got += len(data)
                self._note(self.decoder.feed(data))
                self.sock.settimeout(0.0)
        except (ssl.SSLWantReadError, BlockingIOError, socket.timeout):
            return
        except (OSError, ssl.SSLError, wire.WireError):
            self.closed = True

    def wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return done()
            self.poll(wait=min(left, 0.1))
        return True

    def _note(self, frames: List[wire.Frame]) -> None:
        for f in frames:
            if isinstance(f, wire.GoAwayFrame):
                self.goaway = self.goaway or f
            elif isinstance(f, wire.TrailersFrame):
                self.trailers[f.stream_id] = f
            elif isinstance(f, wire.ResetFrame):
                self.resets[f.stream_id] = f
            elif isinstance(f, wire.MessageFrame):
                self.message_bytes += len(f.data)
            elif isinstance(f, wire.PingFrame) and not f.ack:
                self.send(wire.PingFrame(f.data, ack=True))

    def goaway_json(self) -> Optional[dict]:
        g = self.goaway
        return None if g is None else {"last_stream_id": g.last_stream_id, "code": status_name(g.code),
                                       "message": g.debug_message}

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def tcp_states(local_ports: List[int], server_port: int) -> Dict[str, int]:
    """How the kernel sees our sockets: open, closed by the server (CLOSE_WAIT) or reset (gone)."""
    names = {"01": "open", "08": "closed by server"}
    found: Dict[int, str] = {}
    unread = 0
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                cols = line.split()
                local, remote = int(cols[1].split(":")[1], 16), int(cols[2].split(":")[1], 16)
                if remote == server_port and local in local_ports:
                    found[local] = names.get(cols[3], f"state {cols[3]}")
                    unread += int(cols[4].split(":")[1], 16)  # rx_queue: bytes the client left unread
    except OSError:
        pass
    counts: Dict[str, int] = {}
    for port in local_ports:
        state = found.get(port, "reset by server")
        counts[state] = counts.get(state, 0) + 1
    counts["unread_bytes_in_client_kernel"] = unread
    return counts


def normal_call(server: Server, timeout: float, channel: Optional[Channel] = None) -> Dict[str, object]:
    """A well-behaved client's Echo/Unary: on `channel` (already connected), else on a fresh
    Channel, TLS handshake included."""
    start = time.monotonic()
    try:
        if channel is not None:
            reply = channel.unary(UNARY, echo_pb2.EchoRequest(text="normal"), echo_pb2.EchoResponse, timeout=timeout)
            return {"ok": reply.text == "normal", "total_ms": round(1000 * (time.monotonic() - start), 1)}
        with Channel(server.host, server.port, ca=server.ca, connect_timeout=timeout) as ch:
            ch.connect()
            connected = time.monotonic()
            reply = ch.unary(UNARY, echo_pb2.EchoRequest(text="normal"), echo_pb2.EchoResponse, timeout=timeout)
            end = time.monotonic()
        return {"ok": reply.text == "normal", "connect_ms": round(1000 * (connected - start), 1),
                "call_ms": round(1000 * (end - connected), 1), "total_ms": round(1000 * (end - start), 1)}
    except (OvaError, OSError) as e:
        return {"ok": False, "error": str(e)[:200], "total_ms": round(1000 * (time.monotonic() - start), 1)}


class Prober:
    """The normal client during the abuse: every second, on its own thread (so a stuck call does not
    delay the next), one Echo/Unary on a fresh connection and one on a connection opened before."""

    def __init__(self, server: Server, timeout: float, t0: float) -> None:
        self.server, self.timeout, self.t0 = server, timeout, t0
        self.channel = Channel(server.host, server.port, ca=server.ca, connect_timeout=timeout).connect()
        self.fresh: List[dict] = []
        self.open: List[dict] = []
        self.threads: List[threading.Thread] = []

    def probe(self) -> None:
        at = round(time.monotonic() - self.t0, 1)
        for results, channel in ((self.fresh, None), (self.open, self.channel)):
            def run(results: List[dict] = results, channel: Optional[Channel] = channel) -> None:
                result = normal_call(self.server, self.timeout, channel)
                result["at_s"] = at
                results.append(result)
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        deadline = time.monotonic() + self.timeout + 2
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.channel.close()

    @staticmethod
    def summary(results: List[dict], tried: int) -> dict:
        ok = [r["total_ms"] for r in results if r.get("ok")]
        return {"tried": tried, "ok": len(ok), "ms_median": statistics.median(ok) if ok else None,
                "ms_max": max(ok, default=None),
                "errors": sorted({r["error"] for r in results if "error" in r}),
                "calls": sorted(results, key=lambda r: r["at_s"])}


# ---- scenarios ------------------------------------------------------------------------------


def zero_read(server: Server, args: argparse.Namespace) -> dict:
    sampler = Sampler(server.pid, max_seconds=args.duration + args.after + 60, limit_mib=args.rss_limit_mib)
    time.sleep(0.5)
    baseline = sampler.latest_rss()
    settings = wire.Settings(max_frame_size=16_777_215, initial_stream_window=wire.MAX_WINDOW,
                             initial_connection_window=wire.MAX_WINDOW, max_message_size=0xFFFFFFFF)
    request = echo_request(text="abuse", response_count=args.response_count, response_size=args.response_size)
    prober = Prober(server, args.normal_timeout, time.monotonic())
    hostile: List[RawConnection] = []
    failed = [0]
    t_start = sampler.mark("abuse_start")
    prober.t0 = time.monotonic()
    stop = threading.Event()

    def open_hostile() -> None:
        # On a thread: with the server busy, each TLS handshake may take seconds, and the normal
        # client's probes and the safety limit must not wait for them.
        for _ in range(args.connections):
            if stop.is_set():
                return
            try:
                conn = RawConnection(server, settings, rcvbuf=args.rcvbuf, timeout=2.0)
            except (OSError, ssl.SSLError, RuntimeError):
                failed[0] += 1
                continue
            frames: List[wire.Frame] = []
            for i in range(args.streams):
                sid = 2 * i + 1
                frames += [wire.RequestHeadersFrame(sid, SERVER_STREAM, 0, []),
                           wire.MessageFrame(sid, request, end_stream=True)]
            conn.send(*frames)
            hostile.append(conn)  # never read from again
        sampler.mark("connections_open")

    opener = threading.Thread(target=open_hostile, daemon=True)
    opener.start()

    stop_reason = "duration"
    tried = 0
    end = time.monotonic() + args.duration
    next_probe = time.monotonic() + min(1.0, args.duration / 2)
    while time.monotonic() < end:
        if not server.alive():
            stop_reason = "server exited"
            break
        if sampler.over_limit.is_set():
            stop_reason = f"safety limit: server RSS over {args.rss_limit_mib:.0f} MiB"
            break
        if time.monotonic() >= next_probe:
            prober.probe()
            tried += 1
            next_probe += 1.0
        time.sleep(0.02)
    stop.set()
    opener.join(3)
    states = tcp_states([c.local_port for c in hostile], server.port)
    t_close = sampler.mark("hostile_closed")
    for conn in hostile:
        conn.close()
    prober.finish()  # calls still running when the hostile connections closed may finish now
    time.sleep(max(0.0, t_close + args.after - sampler.now()))
    t_end = sampler.mark("after_end")
    after_call = normal_call(server, args.normal_timeout) if server.alive() else {"ok": False}
    sampler.stop()

    peak = max(sampler.samples, key=lambda s: s.rss_mib, default=None)
    return {
        "scenario": "zero-read",
        "params": {"connections": args.connections, "streams": args.streams, "response_size": args.response_size,
                   "response_count": args.response_count, "rcvbuf": args.rcvbuf, "duration_s": args.duration,
                   "after_s": args.after, "rss_limit_mib": args.rss_limit_mib, "rss_kill_mib": args.rss_kill_mib},
        "connected": len(hostile), "failed_connects": failed[0],
        "stop_reason": stop_reason, "abuse_seconds": round(t_close - t_start, 1),
        "seconds_to_open_all": None if "connections_open" not in sampler.marks
                               else round(sampler.marks["connections_open"] - t_start, 1),
        "rss_baseline_mib": baseline,
        "rss_peak_mib": None if peak is None else peak.rss_mib,
        "rss_peak_at_s": None if peak is None else round(peak.t - t_start, 1),
        "seconds_to_plus_1gib": next((round(s.t - t_start, 1) for s in sampler.samples
                                      if s.t > t_start and s.rss_mib > baseline + 1024), None),
        "rss_at_close_mib": sampler.rss_at(t_close),
        "cpu_during_avg_pct": sampler.cpu_avg(t_start, t_close),
        "hostile_sockets_at_close": states,
        "normal_calls_fresh_connection": Prober.summary(prober.fresh, tried),
        "normal_calls_open_connection": Prober.summary(prober.open, tried),
        "after_close": {
            "rss_end_mib": sampler.rss_at(t_end),
            "cpu_busy_seconds": sampler.idle_after(t_close),
            "per_second": sampler.per_second(t_close, int(args.after)),
            "normal_call": after_call,
        },
        "server_alive": server.alive(),
        "server_killed_over_rss_mib": server.killed_over_mib,
        "marks": sampler.marks,
        "samples": [s.__dict__ for s in sampler.samples],
    }


def rapid_reset(server: Server, args: argparse.Namespace) -> dict:
    sampler = Sampler(server.pid, max_seconds=args.max_seconds + 10)
    conn = RawConnection(server, wire.Settings())
    request = echo_request(text="reset", delay_ms=1000)
    t_start = sampler.mark("start")
    deadline = time.monotonic() + args.max_seconds
    sent = 0
    while sent < args.streams and conn.goaway is None and not conn.closed and time.monotonic() < deadline:
        frames: List[wire.Frame] = []
        for _ in range(min(args.batch, args.streams - sent)):
            sid = 2 * sent + 1
            frames += [wire.RequestHeadersFrame(sid, UNARY, 0, []), wire.MessageFrame(sid, request, end_stream=True),
                       wire.ResetFrame(sid, StatusCode.CANCELLED)]
            sent += 1
        if not conn.send(*frames):
            break
        conn.poll()
    t_sent = sampler.mark("sending_stopped")
    conn.wait_for(lambda: conn.goaway is not None or conn.closed, timeout=1.0)
    time.sleep(2.0)
    t_end = sampler.mark("end")
    conn.close()
    sampler.stop()
    return {
        "scenario": "rapid-reset",
        "params": {"streams": args.streams, "batch": args.batch},
        "streams_sent": sent, "send_seconds": round(t_sent - t_start, 2),
        "goaway": conn.goaway_json(), "connection_closed": conn.closed,
        "streams_accepted_per_goaway": None if conn.goaway is None else (conn.goaway.last_stream_id + 1) // 2,
        "cpu_during_avg_pct": sampler.cpu_avg(t_start, t_sent),
        "cpu_next_2s": sampler.per_second(t_sent, 2),
        "rss_peak_mib": sampler.rss_max(t_start, t_end),
        "server_alive": server.alive(),
    }


def deadline_burst(server: Server, args: argparse.Namespace) -> dict:
    sampler = Sampler(server.pid, max_seconds=30)
    conn = RawConnection(server, wire.Settings())
    request = echo_request(text="slow", delay_ms=args.delay_ms)
    timeout_s = args.timeout_ms / 1000
    t_start = sampler.mark("start")
    started: Dict[int, float] = {}
    frames: List[wire.Frame] = []
    for i in range(args.calls):
        sid = 2 * i + 1
        frames += [wire.RequestHeadersFrame(sid, UNARY, args.timeout_ms * 1000, []),
                   wire.MessageFrame(sid, request, end_stream=True)]
        started[sid] = time.monotonic()
    conn.send(*frames)
    # At each call's local deadline, RESET(CANCELLED) unless its TRAILERS already came (PROTOCOL.md section 10).
    resets_sent = 0
    pending = sorted(started, key=started.get)
    while pending and not conn.closed:
        sid = pending[0]
        wait = started[sid] + timeout_s - time.monotonic()
        if wait > 0:
            conn.poll(wait=min(wait, 0.05))
            continue
        due = [s for s in pending if started[s] + timeout_s <= time.monotonic()]
        resets = [wire.ResetFrame(s, StatusCode.CANCELLED) for s in due if s not in conn.trailers]
        if resets and conn.send(*resets):
            resets_sent += len(resets)
        pending = [s for s in pending if s not in due]
    t_reset = sampler.mark("resets_sent")
    conn.wait_for(lambda: conn.goaway is not None or conn.closed, timeout=1.0)
    # A later call on the same connection.
    later_sid = 2 * args.calls + 1
    later: Dict[str, object] = {"sent": False}
    if conn.goaway is None and not conn.closed:
        t0 = time.monotonic()
        later["sent"] = conn.send(wire.RequestHeadersFrame(later_sid, UNARY, 5_000_000, []),
                                  wire.MessageFrame(later_sid, echo_request(text="after"), end_stream=True))
        conn.wait_for(lambda: later_sid in conn.trailers or later_sid in conn.resets or conn.goaway is not None,
                      timeout=5.0)
        end = conn.trailers.get(later_sid) or conn.resets.get(later_sid)
        later["status"] = None if end is None else status_name(end.status if isinstance(end, wire.TrailersFrame)
                                                               else end.code)
        later["ms"] = round(1000 * (time.monotonic() - t0), 1)
    t_end = sampler.mark("end")
    statuses: Dict[str, int] = {}
    for sid in started:
        tr = conn.trailers.get(sid)
        name = status_name(tr.status) if tr else "no TRAILERS (reset by client)"
        statuses[name] = statuses.get(name, 0) + 1
    conn.close()
    sampler.stop()
    return {
        "scenario": "deadline-burst",
        "params": {"calls": args.calls, "delay_ms": args.delay_ms, "timeout_ms": args.timeout_ms},
        "resets_sent": resets_sent, "trailers": statuses,
        "goaway": conn.goaway_json(), "connection_closed": conn.closed,
        "later_call": later,
        "cpu_avg_pct": sampler.cpu_avg(t_start, t_end),
        "seconds": round(t_reset - t_start, 2),
        "server_alive": server.alive(),
    }


def control_frame(kind: str, i: int) -> wire.Frame:
    if kind == "settings-ack":
        return wire.SettingsFrame([], ack=True)
    if kind == "ping-ack":
        return wire.PingFrame(i.to_bytes(8, "big"), ack=True)
    if kind == "ping":
        return wire.PingFrame(i.to_bytes(8, "big"))
    if kind == "unknown":
        return wire.UnknownFrame(0x0F, 0, 0, b"")
    if kind == "window-update":  # +1 on the connection window; 20,000 of them stay far below 2^31-1
        return wire.WindowUpdateFrame(0, 1)
    raise ValueError(kind)


CONTROL_KINDS = ("settings-ack", "ping-ack", "ping", "unknown", "window-update")


def control_flood(server: Server, args: argparse.Namespace) -> dict:
    sampler = Sampler(server.pid, max_seconds=args.max_seconds + 10)
    conn = RawConnection(server, wire.Settings())
    t_start = sampler.mark("start")
    deadline = time.monotonic() + args.max_seconds
    sent = 0
    goaway_after: Optional[int] = None
    while sent < args.count and not conn.closed and time.monotonic() < deadline:
        n = min(args.batch, args.count - sent)
        if not conn.send(*(control_frame(args.kind, sent + i) for i in range(n))):
            break
        sent += n
        conn.poll()
        if conn.goaway is not None:
            goaway_after = sent
            break
    t_sent = sampler.mark("sending_stopped")
    sent_at = time.monotonic()
    # A call queued right behind the flood: its answer times how long the server took to get
    # through the frames, and shows whether the connection is still usable.
    sid = 1
    usable: Optional[bool] = None
    call_after_ms = None
    if conn.goaway is None and conn.send(wire.RequestHeadersFrame(sid, UNARY, 5_000_000, []),
                                         wire.MessageFrame(sid, echo_request(text="after"), end_stream=True)):
        conn.wait_for(lambda: sid in conn.trailers or conn.goaway is not None, timeout=5.0)
        usable = sid in conn.trailers and conn.trailers[sid].status == StatusCode.OK
        if usable:
            call_after_ms = round(1000 * (time.monotonic() - sent_at), 1)
    conn.wait_for(lambda: conn.goaway is not None or conn.closed, timeout=0.5)
    if goaway_after is None and conn.goaway is not None:
        goaway_after = sent
    time.sleep(2.0)
    sampler.mark("end")
    conn.close()
    sampler.stop()
    return {
        "scenario": "control-flood",
        "params": {"kind": args.kind, "count": args.count, "batch": args.batch},
        "frames_sent": sent, "send_seconds": round(t_sent - t_start, 2),
        "goaway": conn.goaway_json(), "goaway_after_frames_sent": goaway_after,
        "connection_closed": conn.closed, "call_after_flood_ok": usable,
        "call_after_flood_ms": call_after_ms,
        "cpu_during_avg_pct": sampler.cpu_avg(t_start, t_sent),
        "cpu_next_2s": sampler.per_second(t_sent, 2),
        "server_alive": server.alive(),
    }


# ---- report ---------------------------------------------------------------------------------


def pct(value: Optional[float]) -> str:
    return "- (shorter than one sample)" if value is None else f"{value} %"


def summary_rows(r: dict) -> List[tuple]:
    s = r["scenario"]
    g = r.get("goaway")
    goaway = "none" if g is None else f"{g['code']} \"{g['message']}\" (last stream {g['last_stream_id']})"
    if s == "zero-read":
        ac = r["after_close"]

        def calls(c: dict) -> str:
            text = f"{c['ok']}/{c['tried']} ok, median {c['ms_median']} ms, max {c['ms_max']} ms"
            return text + (f"; {c['errors'][0]}" if c["errors"] else "")
        return [
            ("hostile connections", f"{r['connected']} × {r['params']['streams']} streams, "
                                    f"{r['params']['response_size']} B responses ({r['failed_connects']} failed to connect; "
                                    f"all opened after {r['seconds_to_open_all']} s)"),
            ("abuse ran", f"{r['abuse_seconds']} s ({r['stop_reason']})"
                          + (f"; server SIGKILLed by the safety guard at RSS {r['server_killed_over_rss_mib']:.0f} MiB"
                             if r["server_killed_over_rss_mib"] else "")),
            ("server RSS", f"baseline {r['rss_baseline_mib']} MiB, +1 GiB after {r['seconds_to_plus_1gib']} s, "
                           f"{r['rss_at_close_mib']} MiB at close, peak {r['rss_peak_mib']} MiB at {r['rss_peak_at_s']} s"),
            ("server CPU during", f"{r['cpu_during_avg_pct']} %"),
            ("hostile sockets at close", ", ".join(f"{k} {v}" for k, v in r["hostile_sockets_at_close"].items())),
            ("normal call, new connection", calls(r["normal_calls_fresh_connection"])),
            ("normal call, open connection", calls(r["normal_calls_open_connection"])),
            ("after close", f"CPU busy for {ac['cpu_busy_seconds']} s (None: never below 5 %), "
                            f"RSS {ac['rss_end_mib']} MiB {r['params']['after_s']:.0f} s after close"),
            ("after close, per second", " ".join(f"{p['cpu_pct']}%/{p['rss_mib']:.0f}M" for p in ac["per_second"])),
            ("normal call after", f"{'ok' if ac['normal_call'].get('ok') else 'FAILED'} "
                                  f"{ac['normal_call'].get('total_ms')} ms"),
        ]
    if s == "rapid-reset":
        return [
            ("streams opened+reset", f"{r['streams_sent']} written in {r['send_seconds']} s before GOAWAY was read"),
            ("GOAWAY", goaway),
            ("streams the server accepted", str(r["streams_accepted_per_goaway"])),
            ("server CPU during", pct(r["cpu_during_avg_pct"])),
            ("server CPU next 2 s", " ".join(f"{p['cpu_pct']}%" for p in r["cpu_next_2s"])),
            ("server RSS peak", f"{r['rss_peak_mib']} MiB"),
        ]
    if s == "deadline-burst":
        later = r["later_call"]
        return [
            ("calls", f"{r['params']['calls']} × Echo/Unary delay {r['params']['delay_ms']} ms, "
                      f"timeout {r['params']['timeout_ms']} ms"),
            ("RESET(CANCELLED) sent", str(r["resets_sent"])),
            ("TRAILERS", ", ".join(f"{k} {v}" for k, v in r["trailers"].items())),
            ("GOAWAY", goaway),
            ("later call on the connection", "not possible (GOAWAY/closed)" if not later.get("sent")
             else f"{later.get('status')} in {later.get('ms')} ms"),
        ]
    return [
        ("flood", f"{r['frames_sent']} × {r['params']['kind']} in {r['send_seconds']} s"),
        ("GOAWAY", goaway + ("" if r["goaway_after_frames_sent"] is None
                             else f" after ≤ {r['goaway_after_frames_sent']} frames")),
        ("call after the flood", "not sent (GOAWAY first)" if r["call_after_flood_ok"] is None
         else f"OK {r['call_after_flood_ms']} ms after the last flood frame was written" if r["call_after_flood_ok"]
         else "no OK answer" + (" (GOAWAY)" if g else "")),
        ("server CPU during / next 2 s", f"{pct(r['cpu_during_avg_pct'])} / "
                                         + " ".join(f"{p['cpu_pct']}%" for p in r["cpu_next_2s"])),
    ]


def print_report(results: List[dict]) -> None:
    for r in results:
        title = r["scenario"] + (f" {r['params']['kind']}" if r["scenario"] == "control-flood" else "")
        print(f"\n## {title}" + ("" if r.get("server_alive", True) else "  (SERVER DIED)"))
        rows = summary_rows(r)
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"  {k.ljust(width)}  {v}")


# ---- main -----------------------------------------------------------------------------------


SCENARIOS = {"zero-read": zero_read, "rapid-reset": rapid_reset, "deadline-burst": deadline_burst,
             "control-flood": control_flood}


def add_zero_read(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--streams", type=int, default=8, help="Echo/ServerStream calls per connection")
    p.add_argument("--response-size", type=int, default=1 << 20, help="bytes per response (default 1 MiB)")
    p.add_argument("--response-count", type=int, default=100_000, help="responses per call")
    p.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF of the hostile sockets")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of abuse")
    p.add_argument("--after", type=float, default=10.0, help="seconds observed after the hostile connections close")
    p.add_argument("--normal-timeout", type=float, default=10.0, help="timeout of the normal client's call")
    p.add_argument("--rss-limit-mib", type=float, default=4096,
                   help="safety stop: close the hostile connections once the server's RSS passes this")
    p.add_argument("--rss-kill-mib", type=float, default=6144,
                   help="safety kill: SIGKILL the server once its RSS passes this (a shared machine)")


def add_rapid_reset(p: argparse.ArgumentParser) -> None:
    p.add_argument("--streams", type=int, default=5000)
    p.add_argument("--batch", type=int, default=10, help="streams per write")
    p.add_argument("--max-seconds", type=float, default=30.0)


def add_deadline_burst(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls", type=int, default=150)
    p.add_argument("--delay-ms", type=int, default=2000)
    p.add_argument("--timeout-ms", type=int, default=300)


def add_control_flood(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=CONTROL_KINDS + ("all",), default="all")
    p.add_argument("--count", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=100, help="frames per write")
    p.add_argument("--max-seconds", type=float, default=30.0)


def watchdog_expired(server: Server, scenario: str, budget: float) -> None:
    """The last resort that keeps the tool bounded in time whatever the server does."""
    print(f"abuse: {scenario} still running after {budget:.0f} s; killing the server and exiting", file=sys.stderr)
    server.process.kill()
    shutil.rmtree(server.data, ignore_errors=True)
    os._exit(3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", type=pathlib.Path, default=None,
                        help="ova-server to test (default: /work/main/.build/release, else this tree's, else debug)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the server, e.g. OVA_MAX_CONNECTION_BUFFER=8388608")
    parser.add_argument("--json", type=pathlib.Path, help="write the full results (with the samples) here")
    parser.add_argument("--label", help="what the binary is, for the report (e.g. 'release, 9ca72a0')")
    sub = parser.add_subparsers(dest="scenario", required=True)
    for name, add, text in (
            ("zero-read", add_zero_read, "connections that never read, with 2^31-1 windows"),
            ("rapid-reset", add_rapid_reset, "one connection opening and resetting streams"),
            ("deadline-burst", add_deadline_burst, "concurrent calls that all hit their deadline"),
            ("control-flood", add_control_flood, "a flood of one kind of control frame")):
        add(sub.add_parser(name, help=text))
    everything = sub.add_parser("all", help="every scenario with its defaults (zero-read options apply)")
    add_zero_read(everything)
    args = parser.parse_args()

    binary = args.server_bin or default_server_bin()
    env = dict(kv.split("=", 1) for kv in args.server_env)
    resolved = str(binary.resolve())
    guess = "release" if "/release/" in resolved else "debug" if "/debug/" in resolved else "build unknown"
    header = {"server_bin": str(binary), "build": args.label or guess,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "server_env": env}

    runs: List[tuple] = []
    if args.scenario == "all":
        defaults = {name: argparse.ArgumentParser() for name in ("rapid-reset", "deadline-burst", "control-flood")}
        add_rapid_reset(defaults["rapid-reset"])
        add_deadline_burst(defaults["deadline-burst"])
        add_control_flood(defaults["control-flood"])
        runs.append(("zero-read", args))
        runs.append(("rapid-reset", defaults["rapid-reset"].parse_args([])))
        runs.append(("deadline-burst", defaults["deadline-burst"].parse_args([])))
        for kind in CONTROL_KINDS:
            runs.append(("control-flood", defaults["control-flood"].parse_args(["--kind", kind])))
    elif args.scenario == "control-flood" and args.kind == "all":
        for kind in CONTROL_KINDS:
            runs.append(("control-flood", argparse.Namespace(**{**vars(args), "kind": kind})))
    else:
        runs.append((args.scenario, args))

    print(f"# ova-server abuse report: {header['server_bin']} ({header['build']}), {header['date']}"
          + (f", env {env}" if env else ""))
    # SIGTERM (e.g. from `timeout`) unwinds through the `finally` that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    for name, run_args in runs:
        server = Server(binary, env, kill_mib=getattr(run_args, "rss_kill_mib", 6144))  # a fresh server per scenario: no scenario inherits another's memory
        budget = getattr(run_args, "duration", 0) + getattr(run_args, "after", 0) + getattr(run_args, "max_seconds", 0) + 60
        watchdog = threading.Timer(budget, watchdog_expired, args=(server, name, budget))
        watchdog.daemon = True
        watchdog.start()
        try:
            result = SCENARIOS[name](server, run_args)
        finally:
            watchdog.cancel()
            exit_code = server.stop()
        result["server_exit_code"] = exit_code
        results.append(result)
        print_report([result])
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps({"header": header, "results": results}, indent=1) + "\n")
        print(f"\nabuse: JSON in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
