"""A cancelled run stops between components and while a Message streams."""

from __future__ import annotations

import threading

from ragserve.agent import dsl as dsl_module
from ragserve.agent.runner import Run, RunCall
from unit.agent.conftest import Environment, chain, said
from unit.agent.test_loops import loop_dsl


def test_cancel_between_components(environment: Environment) -> None:
    flag = threading.Event()
    turn = Run(dsl_module.load(loop_dsl(maximum=1000)), environment, RunCall("go", cancel=flag))
    events = []
    for event in turn.events():
        events.append(event)
        if event.event == "node_finished" and event.data["component_id"] == "add":
            flag.set()
    finished = [e.data["component_id"] for e in events if e.event == "node_finished"]
    assert finished == ["begin", "start", "add"]
    assert turn.error == "Task has been canceled."
    assert said(events) == "**ERROR**: Task has been canceled."
    assert events[-1].event == "workflow_finished"
    assert turn.dsl()["history"][-1] == ["assistant", "**ERROR**: Task has been canceled."]


def test_cancel_while_a_message_streams(environment: Environment) -> None:
    flag = threading.Event()
    raw = chain(("llm", "LLM", {}), ("m", "Message", {"content": ["{llm@content}"]}))
    turn = Run(dsl_module.load(raw), environment, RunCall("tell me a long story", cancel=flag))
    pieces = []
    for event in turn.events():
        if event.event == "message":
            pieces.append(event.data["content"])
            flag.set()
    assert len(pieces) == 2  # one piece of the answer, then the error
    assert pieces[1] == "**ERROR**: Task has been canceled."
    assert turn.error == "Task has been canceled."


def test_a_flag_not_set_changes_nothing(environment: Environment) -> None:
    turn = Run(dsl_module.load(loop_dsl(maximum=2)), environment,
               RunCall("go", cancel=threading.Event()))  # fmt: skip
    assert said(list(turn.events())) == "2 go++"
