"""Run a parsing step in a forked child process, so that native code dying on a file (PDFium
aborting when an allocation fails, a crash in a C or Rust library) ends the child, not the
worker process.

The child inherits the worker's memory limit (``RLIMIT_DATA``) and the file's bytes (fork copies
nothing until written), runs the function, sends back its pickled result or exception through a
pipe and exits. How it ended becomes an exception in the caller:

* it ran out of memory (Python's ``MemoryError``, or native code that aborted: ``SIGABRT``, the
  kernel's out-of-memory killer: ``SIGKILL``): ``MemoryError``;
* it died of another signal: ``ParseError`` (the file crashed the parser).

Workers run one task at a time in their main thread, so nothing else holds a lock across the
fork. An exception in the caller (the task's time limit, a shutdown) kills the child first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ragserve.ingest.types import ParseError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGKILL})
CRASHED = "The file could not be parsed: it made the parser crash ({})."
_MEMORY_EXIT = 3  # the child's exit status when even reporting its MemoryError failed


def caused_by_memory(error: BaseException) -> bool:
    """Whether ``error`` is, or was caused by, a ``MemoryError`` (parsers wrap what they meet)."""
    cause: BaseException | None = error
    for _depth in range(10):
        if cause is None:
            return False
        if isinstance(cause, MemoryError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def call_in_child(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)``, run in a forked child process."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is checked by the parent
        os.close(read_end)
        _run_child(parent, write_end, lambda: function(*args, **kwargs))
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _pid, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:  # interrupted (time limit, shutdown): the child goes too
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return _outcome(status, payload)  # type: ignore[no-any-return]


def _run_child(parent: int, pipe: int, work: Callable[[], Any]) -> None:  # pragma: no cover
    code = 0
    try:
        _die_with_parent()
        if os.getppid() != parent:  # the worker died before the line above
            raise SystemExit
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(signum, signal.SIG_DFL)
        try:
            message: tuple[str, Any] = ("value", work())
        except BaseException as error:  # every failure goes back to the parent
            message = ("error", _portable(error))
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        del message
        view = memoryview(payload)
        while view:
            view = view[os.write(pipe, view) :]
    except MemoryError:
        code = _MEMORY_EXIT
    except BaseException:  # nothing may escape into the worker code
        code = 1
    finally:
        os._exit(code)


def _portable(error: BaseException) -> BaseException:
    """An exception that pickles and keeps what the parent needs: message and memory cause."""
    if caused_by_memory(error):
        return MemoryError()
    if isinstance(error, ParseError):
        return ParseError(str(error))
    return RuntimeError(f"{type(error).__name__}: {error}"[:500])


def _outcome(status: int, payload: bytes) -> Any:
    if os.WIFSIGNALED(status):
        signum = signal.Signals(os.WTERMSIG(status))
        logger.warning("the parser child process died of %s", signum.name)
        if signum in OUT_OF_MEMORY_SIGNALS:
            raise MemoryError(f"the parser died of {signum.name}")
        raise ParseError(CRASHED.format(signum.name))
    code = os.WEXITSTATUS(status)
    if code == _MEMORY_EXIT:
        raise MemoryError("the parser ran out of memory")
    if code != 0 or not payload:
        raise RuntimeError(f"the parser child process exited with status {code}")
    kind, value = pickle.loads(payload)  # noqa: S301 - our own child's, through our own pipe
    if kind == "error":
        raise value
    return value


def _die_with_parent() -> None:  # pragma: no cover - in the child
    """Ask the kernel to kill this child when the worker dies (Linux)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
