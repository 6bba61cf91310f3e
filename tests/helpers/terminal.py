"""Run ``ragserve`` on a pseudo-terminal, as a person at a terminal of a given width would.

The pseudo-terminal is the command's controlling terminal, so hidden prompts (``getpass``)
turn echo off on it, and ``\\x03`` typed into it is Ctrl-C (SIGINT to the command)::

    with Terminal(["dataset", "list"], env, columns=80) as term:
        term.wait_for("birds")
    assert term.returncode == 0 and "88a27928f22a11f1adfa02fc00000001" in term.text
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _become_session_leader_on(terminal: int) -> None:
    os.setsid()
    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)


class Terminal:
    """``python -m ragserve <args>`` with stdin, stdout and stderr on one pseudo-terminal."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        columns: int = 80,
        cwd: str | None = None,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        environment = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        environment["TERM"] = "xterm-256color"
        self._master = master
        self._raw = bytearray()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ragserve", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            cwd=cwd,
            preexec_fn=lambda: _become_session_leader_on(0),
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 4096)
            except OSError:  # EIO: the command closed its end
                return
            if not data:
                return
            with self._lock:
                self._raw += data

    @property
    def raw(self) -> str:
        with self._lock:
            return self._raw.decode(errors="replace")

    @property
    def text(self) -> str:
        """What was written, without control sequences and carriage returns."""
        return ESCAPES.sub("", self.raw)

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def wait_for(self, pattern: str, timeout: float = 120) -> str:
        """The output once ``pattern`` (a regular expression) appears in it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text):
                return self.text
            if self.process.poll() is not None:
                self._reader.join(5)
                if re.search(pattern, self.text):
                    return self.text
                raise AssertionError(f"exited {self.process.returncode} before {pattern!r}:\n"
                                     f"{self.text[-3000:]}")  # fmt: skip
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} after {timeout} s:\n{self.text[-3000:]}")

    def wait(self, timeout: float = 120) -> int:
        returncode = self.process.wait(timeout)
        self._reader.join(5)
        return returncode

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(5)
        os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
