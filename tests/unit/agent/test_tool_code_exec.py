"""CodeExec in its bubblewrap sandbox: results and outputs, off by default, and what the code
cannot do (network, files outside its scratch directory, ragserve's environment, unbounded
CPU or memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragserve.settings import Settings
from unit.agent.conftest import Environment, Runner, chain


@pytest.fixture
def enabled(environment: Environment) -> Environment:
    environment.settings = Settings(
        agent_code_exec_enabled=True, agent_code_exec_timeout=3, agent_code_exec_memory_mb=128
    )
    return environment


def execute(run: Runner, script: str, **params: Any) -> tuple[str | None, dict[str, Any]]:
    node = {"script": script, **params}
    _events, turn = run(chain(("CodeExec:c", "CodeExec", node)), query="cranes")
    return turn.error, turn.state.outputs.get("CodeExec:c", {})


def test_main_gets_the_arguments_and_its_value_is_the_output(
    run: Runner, enabled: Environment
) -> None:
    script = "def main(question, n):\n    print('working')\n    return {'q': question * n}"
    error, outputs = execute(
        run, script, arguments={"question": "sys.query", "n": 2},
        outputs={"answer": {"type": "Object", "value": ""}},
    )  # fmt: skip
    assert error is None, error
    assert outputs["answer"] == {"q": "cranescranes"}
    assert outputs["actual_type"] == "Object"
    assert outputs["content"] == '{\n  "q": "cranescranes"\n}'
    assert outputs["stdout"] == "working\n"


def test_the_declared_type_is_checked(run: Runner, enabled: Environment) -> None:
    outputs = {"numbers": {"type": "Array<Number>", "value": []}}
    error, found = execute(run, "def main():\n    return [1, 2.5]", outputs=outputs)
    assert (
        error is None and found["numbers"] == [1, 2.5] and found["actual_type"] == "Array<Number>"
    )
    error, _ = execute(run, "def main():\n    return [1, 'x']", outputs=outputs)
    assert error == "CodeExec: `numbers` should be Array<Number>, not Array<Any>."


def test_off_unless_enabled(run: Runner) -> None:
    error, _ = execute(run, "def main():\n    return 1")
    assert error == "CodeExec is off on this server (setting `agent_code_exec_enabled`)."


def test_script_errors_are_reported(run: Runner, enabled: Environment) -> None:
    assert execute(run, "def main():\n    return 1 / 0")[0] == (
        "CodeExec: ZeroDivisionError: division by zero"
    )
    assert execute(run, "x = 1")[0] == "CodeExec: NameError: the script has no main function"


def test_javascript_is_refused_when_the_dsl_loads(run: Runner, enabled: Environment) -> None:
    from ragserve.agent import dsl as dsl_module
    from ragserve.agent.errors import DslError

    with pytest.raises(DslError, match="only Python runs"):
        dsl_module.load(chain(("CodeExec:c", "CodeExec", {"lang": "javascript"})))


def test_no_network(run: Runner, enabled: Environment) -> None:
    script = (
        "import socket\n"
        "def main():\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    except OSError as e:\n"
        "        return type(e).__name__ + ' ' + str(e.errno)\n"
        "    return 'connected'\n"
    )
    error, outputs = execute(run, script)
    assert error is None, error
    assert outputs["result"] == "OSError 101"  # ENETUNREACH: no interface


def test_files_are_read_only_outside_scratch(
    run: Runner, enabled: Environment, tmp_path: Path
) -> None:
    script = (
        "import os, pathlib\n"
        "def main():\n"
        "    seen = {}\n"
        "    for path in ['/usr/evil', '/etc/evil', '/scratch/ok.txt', '/tmp/ok.txt']:\n"
        "        try:\n"
        "            pathlib.Path(path).write_text('x')\n"
        "            seen[path] = 'written'\n"
        "        except OSError as e:\n"
        "            seen[path] = type(e).__name__\n"
        f"    seen['home'] = os.path.exists({str(Path.cwd())!r})\n"
        f"    seen['tests'] = os.path.exists({str(tmp_path)!r})\n"
        "    seen['env'] = sorted(os.environ)\n"
        "    seen['cwd'] = os.getcwd()\n"
        "    return seen\n"
    )
    error, outputs = execute(run, script)
    assert error is None, error
    seen = outputs["result"]
    assert seen["/usr/evil"] == "OSError"  # read-only file system
    assert seen["/etc/evil"] in ("OSError", "FileNotFoundError")
    assert seen["/scratch/ok.txt"] == seen["/tmp/ok.txt"] == "written"
    assert seen["home"] is False and seen["tests"] is False  # ragserve's files are not there
    assert seen["env"] == ["HOME", "LANG", "PATH", "PWD"]
    assert seen["cwd"] == "/scratch"
    assert not Path("/usr/evil").exists()


def test_cpu_time_is_bounded(run: Runner, enabled: Environment) -> None:
    error, _ = execute(run, "def main():\n    while True:\n        pass")
    # the CPU limit, or on a very busy machine the wall-time limit, stops it
    assert error in (
        "CodeExec: the script used more than 3 s of CPU.",
        "CodeExec: the script ran longer than 11 s.",
    )


def test_memory_is_bounded(run: Runner, enabled: Environment) -> None:
    error, _ = execute(run, "def main():\n    return len(bytearray(512 * 1024 * 1024))")
    assert error == "CodeExec: MemoryError: "


def test_the_scratch_directory_goes_away(run: Runner, enabled: Environment) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("ragserve-code-*"))
    execute(run, "def main():\n    open('big.txt', 'w').write('x' * 1000)\n    return 1")
    after = set(Path(tempfile.gettempdir()).glob("ragserve-code-*"))
    assert after <= before


def test_an_agent_writes_and_runs_code(run: Runner, enabled: Environment) -> None:
    agent = {"llm_id": "openai/fake-chat",
             "tools": [{"component_name": "CodeExec", "name": "python", "params": {}}]}  # fmt: skip
    question = "def main():\n    return sum(range(10))"  # the fake model sends the question
    _events, turn = run(chain(("Agent:a", "Agent", agent)), query=question)
    assert turn.error is None, turn.error
    used = turn.state.outputs["Agent:a"]["use_tools"]
    assert used[0]["name"] == "python" and used[0]["results"] == "45"
