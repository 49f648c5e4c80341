"""`keyvid serve` under load: M concurrent clients × R requests on loopback (issue 24).

Starts `python -m keyvid serve` (the shipped synth model by default) as a subprocess on a
free loopback port, waits until it answers, sends one warm-up request, then M client
threads, each its own gradio_client session, send R `/predict` requests each, one after
the other, all within --time-limit seconds. Records:

- answered, and errors by kind (queue_full: refused by the full queue; app_error: a
  message from the server; timeout: past the time limit; not_sent: the time limit came
  first; bad_output: an answer without a video; anything else by exception name);
- latency p50 / p95 / max, submit to result (the wait in the queue included);
- throughput over the load window: answered requests and generated frames per second;
- the server's resident memory: VmRSS of the server and its children polled every
  0.1 s (after start-up, after the warm-up, peak under load, by third of the load
  window, at the end) and the server's own high-water mark (VmHWM). Memory is bounded
  when the peak of the last third is no higher than that of the first.

    python -m benchmarks.serve_load [--clients 8] [--requests 3] [--frames 32]
        [--samples 1] [--concurrency 1] [--queue-size 16] [--max-frames 128]
        [--checkpoint synth] [--time-limit 600] [--name serve_load]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_result
from keyvid.io import write_image
from keyvid.pipeline.demo import demo_actors

MAX_CLIENTS = 64
MAX_REQUESTS = 100  # per client
START_TIMEOUT = 300  # seconds for the server to load the model and answer
POLL = 0.1  # seconds between memory samples
MIB = 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kib(pid: int, field: str) -> int:
    """A ``VmRSS``-like field of /proc/<pid>/status in KiB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/<pid>/task/*/children)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return pids


class MemoryMonitor(threading.Thread):
    """Samples the resident memory (MiB) of a process tree every ``POLL`` seconds."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []  # (perf_counter, MiB)
        self._halt = threading.Event()

    def rss(self) -> float:
        return sum(_status_kib(p, "VmRSS") for p in _tree(self.pid)) / 1024

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._halt.wait(POLL)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, start: float = 0.0, end: float = float("inf")) -> float:
        inside = [m for t, m in self.samples if start <= t <= end]
        return max(inside, default=float("nan"))


def start_server(args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "keyvid", "serve", "--checkpoint", args.checkpoint,
            "--host", "127.0.0.1", "--port", str(port), "--concurrency", str(args.concurrency),
            "--queue-size", str(args.queue_size), "--max-frames", str(args.max_frames)]  # fmt: skip
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url + "config", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer in {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def error_kind(error: BaseException) -> str:
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    if isinstance(error, QueueError):
        return "queue_full"
    if isinstance(error, AppError):
        return "app_error"
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


def run_client(client, image: str, args, index: int, deadline: float, out: list) -> None:
    """R requests one after the other; appends (latency or None, error kind or None, message)."""
    from gradio_client import handle_file

    for r in range(args.requests):
        left = deadline - time.perf_counter()
        if left <= 0:
            out.append((None, "not_sent", "the time limit came first"))
            continue
        seed = index * args.requests + r
        start = time.perf_counter()
        job = client.submit(handle_file(image), "squats", args.frames, args.samples, seed, False,
                            api_name="/predict")  # fmt: skip
        try:
            gif, _ = job.result(timeout=left)
        except Exception as e:  # every failure is counted, by its kind
            job.cancel()
            out.append((None, error_kind(e), str(e)[:300]))
            continue
        latency = time.perf_counter() - start
        if not gif or not Path(gif).is_file() or Path(gif).stat().st_size == 0:
            out.append((None, "bad_output", repr(gif)))
        else:
            out.append((latency, None, ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (M)")
    parser.add_argument("--requests", type=int, default=3, help="requests per client (R)")
    parser.add_argument("--frames", type=int, default=32, help="frames a request generates")
    parser.add_argument("--samples", type=int, default=1, help="samples a request generates")
    parser.add_argument("--concurrency", type=int, default=1, help="keyvid serve --concurrency")
    parser.add_argument("--queue-size", type=int, default=16, help="keyvid serve --queue-size")
    parser.add_argument("--max-frames", type=int, default=128, help="keyvid serve --max-frames")
    parser.add_argument("--checkpoint", default="synth", help="keyvid serve --checkpoint")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds for the load")
    parser.add_argument("--name", default="serve_load", help="result file name")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--clients 1 to {MAX_CLIENTS}, --requests 1 to {MAX_REQUESTS}")
    if not 0 < args.time_limit <= 3600:
        parser.error("--time-limit must be from 0 to 3600 seconds")

    from gradio_client import Client, handle_file

    load_before = os.getloadavg()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as folder:
        image = str(write_image(Path(folder) / "actor.png", demo_actors(1)[0]))
        log = Path(folder) / "server.log"
        started = time.perf_counter()
        proc = start_server(args, port, log)
        monitor = MemoryMonitor(proc.pid)
        monitor.start()
        try:
            wait_ready(proc, url, log)
            startup_s = time.perf_counter() - started
            rss_idle = monitor.rss()
            warm = Client(url, verbose=False)
            t0 = time.perf_counter()
            warm.predict(handle_file(image), "squats", args.frames, args.samples, 0, False,
                         api_name="/predict")  # fmt: skip
            warmup_s = time.perf_counter() - t0
            rss_warm = monitor.rss()
            clients = [Client(url, verbose=False) for _ in range(args.clients)]
            outcomes: list[list] = [[] for _ in clients]
            begin = time.perf_counter()
            deadline = begin + args.time_limit
            threads = [
                threading.Thread(target=run_client, args=(c, image, args, i, deadline, outcomes[i]))
                for i, c in enumerate(clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=max(1.0, deadline + 60 - time.perf_counter()))
            end = time.perf_counter()
            time.sleep(2 * POLL)
            rss_end = monitor.rss()
            hwm = _status_kib(proc.pid, "VmHWM") / 1024
            alive = proc.poll() is None
        finally:
            monitor.stop()
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    results = [o for client in outcomes for o in client]
    latencies = [lat for lat, kind, _ in results if kind is None]
    errors = Counter(kind for _, kind, _ in results if kind is not None)
    examples = {kind: msg for _, kind, msg in results if kind is not None}
    wall = end - begin
    thirds = [begin + wall * k / 3 for k in range(4)]
    by_third = [round(monitor.peak(a, b), 1) for a, b in itertools.pairwise(thirds)]
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (np.nan, np.nan)
    row = {
        "clients": args.clients,
        "requests": args.clients * args.requests,
        "answered": len(latencies),
        "errors": sum(errors.values()),
        "p50_s": round(float(p50), 2),
        "p95_s": round(float(p95), 2),
        "max_s": round(max(latencies, default=float("nan")), 2),
        "req_per_s": round(len(latencies) / wall, 3),
        "frames_per_s": round(len(latencies) * args.frames * args.samples / wall, 2),
        "wall_s": round(wall, 1),
        "rss_idle_mib": round(rss_idle, 1),
        "rss_warm_mib": round(rss_warm, 1),
        "rss_peak_mib": round(monitor.peak(begin, end), 1),
        "rss_end_mib": round(rss_end, 1),
        "server_hwm_mib": round(hwm, 1),
    }
    print_table([row], list(row))
    bounded = bool(by_third and by_third[-1] <= by_third[0] * 1.05 + 1)
    if errors:
        print("errors:", dict(errors), examples)
    write_result(
        args.name,
        [row],
        settings={
            "checkpoint": args.checkpoint,
            "clients": args.clients,
            "requests_per_client": args.requests,
            "frames": args.frames,
            "samples": args.samples,
            "concurrency": args.concurrency,
            "queue_size": args.queue_size,
            "max_frames": args.max_frames,
            "time_limit_s": args.time_limit,
            "server_omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_average_before": [round(x, 2) for x in load_before],
        },
        errors_by_kind=dict(errors),
        error_examples=examples,
        startup_s=round(startup_s, 1),
        warmup_request_s=round(warmup_s, 2),
        rss_peak_mib_by_third_of_load=by_third,
        memory_bounded=bounded,
        server_alive_after_load=alive,
        latencies_s=[round(x, 3) for x in sorted(latencies)],
    )


if __name__ == "__main__":
    main()
