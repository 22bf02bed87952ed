"""Read untrusted workbooks in a child process, so that no file can take the server down.

The reader already refuses what it knows to be dangerous before calamine parses it (see `reader`), but a
native crash in calamine (Rust aborts on a failed allocation) would end the whole process: the CLI with exit
134 and no JSON, the Streamlit server for every viewer. Here files are read by a worker process
(`python -m pipelines.workbook.safe_read`, reused across files: the import cost is paid once) under an address-space
limit (RLIMIT_AS, set once the worker's imports are done so that its resident memory can never grow past
MEMORY_LIMIT_MB: address space and resident memory grow together, so the headroom left in one bounds the other)
and a per-file time limit. A worker that crashes, is killed or runs out of time turns into
one `file_parse_failed` problem for that file ("文件无法读取…"); the next file starts a fresh worker.
A plain subprocess rather than multiprocessing: multiprocessing children re-import the caller's __main__
(the Streamlit or pytest command line), which costs time and is not ours to run.

`read_workbook` / `read_registry` have the reader's signatures; ingest and the upload page call these.
`DJ_PARSE_FAULT=abort:<file name>` makes the child abort on that file (fault injection for tests; the
variable is read by the caller, so only whoever starts the server or CLI can set it).
A worker error that is not a crash (a reader bug raising) comes back as an exception in the worker's log and a
crash here: the reader itself never raises on bad input.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import queue
import resource
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines import config
from pipelines.workbook.model import ParsedWorkbook, Problem, RegistryEntry
from pipelines.workbook.problems import make

MEMORY_LIMIT_MB = 200  # peak resident memory a worker may reach while reading any file (issue 9: under 200 MB)
TIME_LIMIT_S = 60.0  # wall time for one file; a template reads in well under a second
FAULT_ENV = "DJ_PARSE_FAULT"
ROOT = Path(__file__).resolve().parents[2]
_HEADER = struct.Struct("<Q")
_SAME_REGISTRY = "same-registry-as-before"  # the request's registry: the one this worker was last sent


@dataclass
class Outcome:
    """What one isolated read gave: the reader's result, or why the worker failed; and the worker's peak RSS."""

    result: object = None
    failure: str = ""  # Chinese reason when the worker crashed, was killed or timed out
    peak_kb: int = 0  # the worker's peak resident memory so far (VmHWM), when it answered


class _Worker:
    """One long-lived `python -m pipelines.workbook.safe_read` process; requests are length-prefixed pickles."""

    def __init__(self, memory_mb: int):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.memory_mb = memory_mb
        # The registry (a dict of about 1,000 entries at a large school) costs more to pickle than a workbook
        # to read; a batch passes one dict for all its files, so it is sent once per worker and batch.
        self.registry: object = None
        self.proc = subprocess.Popen([sys.executable, "-m", "pipelines.workbook.safe_read", str(memory_mb)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, request: tuple, seconds: float) -> Outcome:
        body = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
            head = self._read(_HEADER.size, seconds)
            result, peak = pickle.loads(self._read(_HEADER.unpack(head)[0], seconds))
            return Outcome(result=result, peak_kb=peak)
        except TimeoutError:
            self.stop()
            return Outcome(failure=f"超过 {seconds:g} 秒仍未读完")
        except (OSError, EOFError, pickle.UnpicklingError, struct.error):
            self.stop()
            return Outcome(failure="读取程序异常中止（常见原因是内容过多、占用内存超过上限）")

    def _read(self, n: int, seconds: float) -> bytes:
        out = self.proc.stdout
        fd = out.fileno()
        chunks, got = [], 0
        while got < n:
            ready, _, _ = select.select([fd], [], [], seconds)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, min(n - got, 2**20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


WORKER_NICENESS = 10  # the workers' CPU priority below the server's (which serves viewers) when both want the CPU
WORKERS = max(1, min(2, os.cpu_count() or 1))
"""Worker processes a batch is read by at once (`read_many`); each is capped at MEMORY_LIMIT_MB on its own."""
_locks = [threading.Lock() for _ in range(WORKERS)]  # one file at a time per worker (sessions queue here)
_workers: list[_Worker | None] = [None] * WORKERS
_worker: _Worker | None = None  # worker 0, the one `run` uses unless told otherwise


def run(kind: str, source: Path | bytes | str, file_name: str | None, registry=None, *,
        memory_mb: int = MEMORY_LIMIT_MB, seconds: float = TIME_LIMIT_S, slot: int = 0) -> Outcome:
    """Run `reader.read_workbook` (kind "workbook") or `reader.read_registry` (kind "registry") in worker
    `slot`, starting one when there is none (or after a crash); the worker is reused across files."""
    global _worker
    name = _name(source, file_name)
    spec = os.environ.get(FAULT_ENV, "")
    fault = spec.split(":", 1)[0] if spec.partition(":")[2] == name else ""
    env = {k: v for k, v in os.environ.items() if k.startswith("DJ_") and k != FAULT_ENV}
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    with _locks[slot]:
        worker = _worker if slot == 0 else _workers[slot]
        if worker is None or not worker.alive() or worker.memory_mb != memory_mb:
            if worker is not None:
                worker.stop()
            worker = _Worker(memory_mb)
            _workers[slot] = worker
            if slot == 0:
                _worker = worker
        sent = registry
        if registry is not None and registry is worker.registry:
            sent = _SAME_REGISTRY
        out = worker.ask((kind, source, file_name, sent, env, fault), seconds)
        if worker.alive():  # a fresh worker after a failure is sent it again
            worker.registry = registry
        return out


def read_many(sources: list, read: Callable[[object, int], object]) -> Iterator:
    """read(source, slot) for each source, spread over the WORKERS worker processes (threads here only wait
    for them); results in the order of `sources`, as they come. One file's crash or timeout still ends only
    its own worker (the next file on that slot starts a fresh one)."""
    if WORKERS == 1 or len(sources) < 2:
        yield from (read(x, 0) for x in sources)
        return
    free: queue.SimpleQueue[int] = queue.SimpleQueue()
    for k in range(WORKERS):
        free.put(k)

    def one(x):
        k = free.get()
        try:
            return read(x, k)
        finally:
            free.put(k)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="safe-read") as pool:
        yield from pool.map(one, sources)


def _name(source, file_name: str | None) -> str:
    if file_name:
        return file_name
    return "上传文件" if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).name


def _sha256(source) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    h = hashlib.sha256()
    try:
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(2**20), b""):
                h.update(chunk)
    except OSError:
        return ""
    return h.hexdigest()


def _failed(name: str, failure: str) -> Problem:
    return make("file_parse_failed", file=name, file_name=name, reason=failure)


def read_workbook(source: Path | bytes | str, file_name: str | None = None, *,
                  registry: dict[str, RegistryEntry] | None = None, slot: int = 0) -> ParsedWorkbook:
    """`reader.read_workbook` in a child process (worker `slot`); a crash, kill or timeout is a
    `file_parse_failed` problem."""
    out = run("workbook", source, file_name, registry, slot=slot)
    if not out.failure:
        return out.result
    name = _name(source, file_name)
    return ParsedWorkbook(file_name=name, sha256=_sha256(source), problems=[_failed(name, out.failure)])


def read_registry(source: Path | bytes | str, file_name: str | None = None
                  ) -> tuple[list[RegistryEntry], list[Problem]]:
    """`reader.read_registry` in a child process; a crash, kill or timeout is a `file_parse_failed` problem."""
    out = run("registry", source, file_name)
    if not out.failure:
        return out.result
    return [], [_failed(_name(source, file_name), out.failure)]



_state: dict = {"registry": None, "env": None}  # the worker's: the last registry and settings it was sent


def _answer(request: tuple) -> tuple:
    from pipelines.workbook import reader

    kind, source, file_name, registry, env, fault = request
    if registry == _SAME_REGISTRY:
        registry = _state["registry"]
    else:
        _state["registry"] = registry
    if env != _state["env"]:
        for k in [k for k in os.environ if k.startswith("DJ_")]:
            del os.environ[k]
        os.environ.update(env)  # the caller's settings (guide path) as of this call
        config.settings.cache_clear()
        _state["env"] = env
    if fault == "abort":
        os.abort()
    if kind == "workbook":
        result = reader.read_workbook(source, file_name, registry=registry)
    else:
        result = reader.read_registry(source, file_name)
    return result, _peak_kb()


def _peak_kb() -> int:
    """This process's peak resident memory in KB. VmHWM rather than ru_maxrss: Linux carries ru_maxrss over
    exec, so a worker started by a big caller would report the caller's size."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space so that resident memory stays under `memory_mb`: whatever the worker maps from
    now on counts against both, so the address space may grow by at most the resident headroom left."""
    try:
        headroom_kb = memory_mb * 1024 - _status_kb("VmRSS")
        limit = (_status_kb("VmSize") + max(headroom_kb, 0)) * 1024
    except (OSError, StopIteration, ValueError):  # no /proc: a plain address-space cap
        limit = memory_mb * 4 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(memory_mb: int) -> None:
    """The worker's loop: read a request from stdin, answer on the original stdout, until stdin closes."""
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
    try:  # reading an upload is background work: on a busy server the viewers' pages go first
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    from pipelines.workbook import reader  # noqa: F401  (imported once, before the first request)
    from pipelines.guide import guide

    try:
        guide()
    except Exception:  # a broken guide is reported per file, by the reader
        pass
    _limit_memory(memory_mb)
    while head := inp.read(_HEADER.size):
        body = pickle.dumps(_answer(pickle.loads(inp.read(_HEADER.unpack(head)[0]))),
                            protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(body)) + body)
        out.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
