"""Runs a Python ``main(**arguments)`` in a bubblewrap (``bwrap``) sandbox and gives back
what it returned.

What the code can reach:
* Namespaces: its own user, PID, network (no interfaces but a down loopback: no network at
  all), IPC, UTS and cgroup namespaces (``--unshare-all``); it dies with ragserve
  (``--die-with-parent``) and has no terminal (``--new-session``).
* Files: read-only ``/usr``, ``/bin``, ``/lib*`` and the Python installation (the standard
  library only: not ragserve's virtual environment, its code or its data); a fresh ``/proc``,
  a minimal ``/dev``, an empty ``/tmp`` in memory; one writable scratch directory (``/scratch``,
  the working directory, new for each run and deleted after). No environment variables but
  ``PATH``, ``HOME``, ``LANG`` (and ``PWD``).
* Limits, set before the code runs and which it cannot raise: CPU seconds
  (``agent_code_exec_timeout``), address space (``agent_code_exec_memory_mb``), 16 MiB per
  file written, 64 open files; wall time twice ``agent_code_exec_timeout`` + 5 s (a busy
  machine gives the CPU seconds slower), after which the whole sandbox is killed. What it
  prints goes to a file (bounded by the file limit); the first 64 KiB are kept.
* The root of the sandbox is read-only too (``--remount-ro /``): nothing is written but in
  ``/scratch`` and ``/tmp``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragserve.agent.errors import ComponentError

PRINTED = 64 * 1024
FILE_LIMIT = 16 * 1024 * 1024

RUNNER = """
import json, resource, sys
cpu, memory, files = (int(v) for v in sys.argv[1:4])
for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, memory),
                     (resource.RLIMIT_FSIZE, files), (resource.RLIMIT_NOFILE, 64),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
with open(".input.json") as handle:
    given = json.load(handle)
out = open(".result.json", "w")
namespace = {"__name__": "__sandbox__"}
try:
    exec(compile(given["script"], "<script>", "exec"), namespace)
    if not callable(namespace.get("main")):
        raise NameError("the script has no main function")
    result = namespace["main"](**given["arguments"])
    json.dumps(result)
    answer = {"result": result}
except BaseException as error:
    answer = {"error": f"{type(error).__name__}: {error}"}
sys.stdout.flush()
out.write(json.dumps(answer, default=str))
out.close()
"""


@dataclass(frozen=True)
class Outcome:
    result: Any
    printed: str


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _command(bwrap: str, scratch: Path, cpu: int, memory: int) -> list[str]:
    interpreter = Path(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable)
    prefix = Path(sys.base_prefix)
    command = [
        bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PATH", f"{interpreter.parent}:/usr/bin:/bin", "--setenv", "HOME", "/scratch",
        "--setenv", "LANG", "C.UTF-8",
        "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/bin", "/bin",
        "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64", "/lib64",
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",  # noqa: S108 (the sandbox's own, in memory)
        "--bind", str(scratch), "/scratch", "--chdir", "/scratch",
    ]  # fmt: skip
    if not prefix.is_relative_to("/usr"):
        command += ["--ro-bind", str(prefix), str(prefix)]
    command += ["--remount-ro", "/"]  # the sandbox's root: no new files beside the mounts
    return [*command, str(interpreter), "-I", "-S", "-c", RUNNER, str(cpu), str(memory),
            str(FILE_LIMIT)]  # fmt: skip


def run_python(
    script: str, arguments: dict[str, Any], *, timeout: float, memory_mb: int
) -> Outcome:
    """``main(**arguments)``'s value and what the script printed; ``ComponentError`` when the
    script fails, runs out of time or memory, or the sandbox cannot start."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise ComponentError("CodeExec needs bubblewrap (`bwrap`), which is not installed.")
    scratch = Path(tempfile.mkdtemp(prefix="ragserve-code-"))
    try:
        (scratch / ".input.json").write_text(
            json.dumps({"script": script, "arguments": arguments}, default=str)
        )
        cpu = max(1, int(timeout))
        command = _command(bwrap, scratch, cpu, memory_mb * 1024 * 1024)
        with (scratch / ".stdout").open("wb") as printed:
            process = subprocess.Popen(  # noqa: S603 (a fixed command, the script goes in a file)
                command,
                stdin=subprocess.DEVNULL,
                stdout=printed,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                process.wait(timeout=2 * timeout + 5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                message = f"CodeExec: the script ran longer than {2 * timeout + 5:g} s."
                raise ComponentError(message) from None
        output = (scratch / ".stdout").read_bytes()[:PRINTED].decode(errors="replace")
        result_file = scratch / ".result.json"
        if not result_file.exists() or not result_file.stat().st_size:
            raise ComponentError(_died(process.returncode, output, timeout))
        answer = json.loads(result_file.read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "error" in answer:
        raise ComponentError(f"CodeExec: {answer['error']}")
    return Outcome(answer.get("result"), output)


def _died(code: int | None, output: str, timeout: float) -> str:
    killed = {signal.SIGXCPU, signal.SIGKILL}
    if code is not None and (-code in killed or code - 128 in killed):  # bwrap: 128 + signal
        return f"CodeExec: the script used more than {timeout:g} s of CPU."
    if "MemoryError" in output:
        return "CodeExec: the script ran out of memory."
    tail = output.strip().splitlines()[-1:] if output.strip() else []
    return f"CodeExec: the sandbox stopped (exit {code}){': ' + tail[0] if tail else ''}."
