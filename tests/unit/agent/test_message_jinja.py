"""Message templates with Jinja syntax, rendered in the sandbox."""

from __future__ import annotations

from typing import Any

from unit.agent.conftest import Runner, chain, said


def say(run: Runner, template: str, query: str = "hi", **variables: Any) -> str:
    raw = chain(("m", "Message", {"content": [template]}))
    raw["variables"] = {name: {"type": "object", "value": v} for name, v in variables.items()}
    events, turn = run(raw, query)
    assert turn.error is None
    return said(events)


def test_conditions_and_loops_over_references(run: Runner) -> None:
    template = '{% if {sys.query} == "hi" %}Hello!{% else %}Bye.{% endif %}'
    assert say(run, template, "hi") == "Hello!"
    assert say(run, template, "ho") == "Bye."
    template = "{% for f in {env.fruits} %}- {{ f | upper }}\n{% endfor %}"
    assert say(run, template, fruits=["fig", "pear"]) == "- FIG\n- PEAR\n"


def test_a_reference_outside_jinja_tags_is_filled_in(run: Runner) -> None:
    assert say(run, "{{ 6 * 7 }} and {sys.query}", "why") == "42 and why"


def test_a_streamed_llm_answer_is_read_whole(run: Runner) -> None:
    raw = chain(
        ("llm", "LLM", {}), ("m", "Message", {"content": ["[{{ {llm@content} | length }}]"]})
    )
    events, _ = run(raw, "q")
    assert said(events) == f"[{len('Fake answer to: q')}]"
    assert [e.data["content"] for e in events if e.event == "message"] == [said(events)]


def test_the_sandbox_refuses_unsafe_attributes(run: Runner) -> None:
    template = "{{ {sys.query}.__class__.__mro__ }}"
    assert say(run, template, "x") == "{{ x.__class__.__mro__ }}"


def test_a_broken_template_is_said_as_it_is(run: Runner) -> None:
    assert say(run, "{% if %}{sys.query}", "q") == "{% if %}q"
