"""The dashboard's TensorBoard processes: started on demand, capped, reaped when idle, and never
left behind.

- One instance per view (`key`): a run ("12"), or several runs compared ("3+12+40"), each served
  under its own path prefix (`/tb/<key>/`) on a loopback port the operating system picks.
- At most `cap` instances: opening one more stops the least recently used.
- An instance that no request (proxied or a UI heartbeat) touched for `idle_timeout` seconds
  (TB_IDLE_TIMEOUT) is stopped by the reaper loop.
- Each dashboard process records its instances' process ids in
  `<data dir>/tensorboard/owner-<dashboard pid>.json`. A dashboard that starts stops the
  instances recorded by dashboards that are gone (killed with SIGKILL, say): no orphan outlives
  the next start. A record's process is stopped only if it still is a TensorBoard this module
  started (its command line carries the path prefix), so a reused process id is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from visionyard.dashboard.periodic import PeriodicTask

log = logging.getLogger("visionyard.dashboard.tensorboard")

#: how long a new TensorBoard may take to say where it listens
START_TIMEOUT = 90.0
#: the line TensorBoard prints once it serves ("TensorBoard 2.21.0 at http://127.0.0.1:40123/tb/1/")
SERVING = re.compile(r"TensorBoard [^ ]+ at http://127\.0\.0\.1:(\d+)/")
PREFIX_ROOT = "/tb/"


class TensorBoardError(RuntimeError):
    """A TensorBoard could not be started; the message says why."""


@dataclass
class Instance:
    key: str
    port: int
    process: subprocess.Popen[bytes]
    last_used: float

    @property
    def prefix(self) -> str:
        return f"{PREFIX_ROOT}{self.key}"

    def alive(self) -> bool:
        return self.process.poll() is None


def command(key: str, logdirs: Sequence[tuple[str, Path]]) -> list[str]:
    """The TensorBoard command line for `key` over `logdirs` ((name, folder) pairs)."""
    if len(logdirs) == 1:
        where = ["--logdir", str(logdirs[0][1])]
    else:
        where = ["--logdir_spec", ",".join(f"{name}:{folder}" for name, folder in logdirs)]
    return [
        sys.executable, "-m", "tensorboard.main", *where,
        "--host", "127.0.0.1", "--port", "0",
        "--path_prefix", f"{PREFIX_ROOT}{key}",
        "--reload_interval", "5",
        "--load_fast", "false",
        "--window_title", f"Visionyard {key}",
    ]  # fmt: skip


def _is_ours(pid: int) -> bool:
    """True if process `pid` is a TensorBoard started by a dashboard (reused ids are not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (
        b"tensorboard.main" in cmdline
        and b"--path_prefix" in cmdline
        and any(arg.startswith(PREFIX_ROOT.encode()) for arg in cmdline)
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop one of our own instances (and its group): SIGTERM, then SIGKILL after `grace`."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _stop_orphan(pid: int, grace: float = 5.0) -> None:
    """Stop an instance another (dead) dashboard started: init reaps it, so polling works."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)


class TensorBoards:
    """The instances of one dashboard process. Thread-safe: the proxy opens instances from
    worker threads while the reaper runs on the event loop."""

    def __init__(
        self,
        state_dir: Path,
        *,
        cap: int = 4,
        idle_timeout: float = 300.0,
        reap_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state_dir = state_dir
        self.cap = cap
        self.idle_timeout = idle_timeout
        self.reap_interval = reap_interval or max(1.0, min(30.0, idle_timeout / 4))
        self._clock = clock
        self._instances: dict[str, Instance] = {}
        self._lock = threading.Lock()
        self._starting: dict[str, threading.Lock] = {}
        self._reaper = PeriodicTask(
            "visionyard-tensorboard-reaper",
            lambda: asyncio.to_thread(self.reap_idle),
            interval=self.reap_interval,
            log=log,
        )
        self.state_file = state_dir / f"owner-{os.getpid()}.json"
        #: the proxy's client for the instances, one per start (loopback only; TensorBoard can
        #: be slow to answer a large run's first data request)
        self.http = self._new_client()

    # ---- service lifecycle ------------------------------------------------------------------

    @staticmethod
    def _new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0), trust_env=False)

    async def start(self) -> None:
        if self.http.is_closed:
            self.http = self._new_client()
        await asyncio.to_thread(self.stop_orphans)
        self._reaper.start()

    async def stop(self) -> None:
        await self._reaper.stop()
        await self.http.aclose()
        await asyncio.to_thread(self.stop_all)

    # ---- instances --------------------------------------------------------------------------

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._instances)

    def get(self, key: str) -> Instance | None:
        """The live instance of `key`, marked as used now; None if there is none."""
        with self._lock:
            instance = self._instances.get(key)
            if instance is None:
                return None
            if not instance.alive():
                del self._instances[key]
                self._write_state()
                return None
            instance.last_used = self._clock()
            return instance

    def open(self, key: str, logdirs: Sequence[tuple[str, Path]]) -> Instance:
        """The instance of `key`, started over `logdirs` if it is not running (the least
        recently used one stopped first when `cap` are). Blocks while it starts."""
        with self._lock:
            gate = self._starting.setdefault(key, threading.Lock())
        with gate:  # one start per key; others wait for it and then find it
            found = self.get(key)
            if found is not None:
                return found
            evicted: list[Instance] = []
            with self._lock:
                while len(self._instances) >= self.cap:
                    oldest = min(self._instances.values(), key=lambda i: i.last_used)
                    del self._instances[oldest.key]
                    evicted.append(oldest)
            for oldest in evicted:  # stopped outside the lock: other views keep being served
                log.info("TensorBoard %s stopped: %s are open at most", oldest.key, self.cap)
                _stop_process(oldest.process)
            instance = self._spawn(key, logdirs)
            with self._lock:
                self._instances[key] = instance
                self._write_state()
            return instance

    def _spawn(self, key: str, logdirs: Sequence[tuple[str, Path]]) -> Instance:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        process = subprocess.Popen(
            command(key, logdirs),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own group: stopped with whatever it spawns
        )
        output: list[str] = []
        port: list[int] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            with process.stderr:
                for raw in process.stderr:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if not port:
                        output.append(line)
                        if found := SERVING.search(line):
                            port.append(int(found.group(1)))
                            ready.set()
                    # later lines are drained (a full pipe would block TensorBoard) and dropped
            ready.set()

        threading.Thread(target=read, name=f"tensorboard-{key}-output", daemon=True).start()
        ready.wait(START_TIMEOUT)
        if not port:
            _stop_process(process, grace=1.0)
            said = "; ".join(output[-5:]) or "nothing"
            raise TensorBoardError(f"TensorBoard for {key} did not start (it said: {said})")
        return Instance(key, port[0], process, self._clock())

    def close(self, key: str) -> bool:
        """Stop the instance of `key`; False if there was none."""
        with self._lock:
            instance = self._instances.pop(key, None)
            self._write_state()
        if instance is None:
            return False
        _stop_process(instance.process)
        return True

    def reap_idle(self) -> list[str]:
        """Stop the instances idle for `idle_timeout` (or dead); their keys."""
        now = self._clock()
        with self._lock:
            idle = [
                i
                for i in self._instances.values()
                if not i.alive() or now - i.last_used >= self.idle_timeout
            ]
            for instance in idle:
                del self._instances[instance.key]
            if idle:
                self._write_state()
        for instance in idle:
            log.info("TensorBoard %s stopped after %.0f s idle", instance.key, self.idle_timeout)
            _stop_process(instance.process)
        return [i.key for i in idle]

    def stop_all(self) -> None:
        with self._lock:
            instances = list(self._instances.values())
            self._instances.clear()
        for instance in instances:
            _stop_process(instance.process)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    # ---- records, for the next start after a crash -------------------------------------------

    def _write_state(self) -> None:
        """Record this process's instances (called with the lock held)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pids = {key: i.process.pid for key, i in self._instances.items()}
        temp = self.state_file.with_suffix(".tmp")
        temp.write_text(json.dumps({"dashboard": os.getpid(), "instances": pids}))
        temp.replace(self.state_file)

    def stop_orphans(self) -> list[int]:
        """Stop the instances recorded by dashboard processes that are gone; their pids."""
        stopped: list[int] = []
        for record in sorted(self.state_dir.glob("owner-*.json")):
            try:
                owner = int(record.stem.removeprefix("owner-"))
                pids = json.loads(record.read_text())["instances"].values()
            except (ValueError, KeyError, OSError, json.JSONDecodeError):
                record.unlink(missing_ok=True)
                continue
            if owner != os.getpid() and _pid_alive(owner):
                continue  # another dashboard on this data folder, still running
            for pid in pids:
                if isinstance(pid, int) and _pid_alive(pid) and _is_ours(pid):
                    _stop_orphan(pid)
                    stopped.append(pid)
            record.unlink(missing_ok=True)
        if stopped:
            log.warning("stopped %d TensorBoard(s) left by a dashboard that died", len(stopped))
        return stopped
