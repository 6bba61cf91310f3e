"""A small real HTTP server speaking the part of the OpenAI API that ragserve uses.

``POST /v1/embeddings`` answers vectors derived from a hash of each input (not normalised, so
callers must normalise); ``POST /v1/chat/completions`` answers a deterministic reply, plain or as
an SSE stream (``data: {...}`` chunks, a usage chunk, ``data: [DONE]``); ``POST /v1/rerank``
(the Jina/Cohere protocol vLLM serves) scores each document by the share of the query's words
it contains. ``POST /v1/audio/speech`` answers ``fake_audio(input)`` (bytes, ``audio/mpeg``);
``POST /v1/audio/transcriptions`` (multipart) answers ``{"text": fake_transcript(audio)}``.

Tool calls: when a chat request carries ``tools`` and its last message is not a tool's result,
the reply calls one tool (the first whose name the last user message mentions, else the first),
every string parameter set to that message's text; when the last message is a tool's result
(or with ``tool_choice: none``), the reply is ``tool_reply(messages)`` (by default it names the
tool and quotes the result, citing ``[ID:n]`` when the result holds passages ``ID: n``). Plain
and streamed (a streamed call's arguments come in pieces, as OpenAI sends them).

The API key picks a failure mode (the exact word, or the word followed by ``-anything``):

* ``bad``: 401 with OpenAI's error body (which quotes the key, as OpenAI does, partly);
* ``slow``: sleeps ``slow_seconds`` before answering, past any short client timeout;
* ``limited``: 429 rate limit;
* ``midway``: a streamed reply stops halfway with an error event, as OpenAI's do when a
  server fails during generation;
* ``held``: the request is recorded, then its answer waits until the test calls ``release()``
  (``hold()`` holds the next ones again; a new server holds). ``wait_held(n)`` returns once
  ``n`` requests are waiting, so a test knows they reached the model before it goes on.

Usage::

    with fake_openai(dimension=8) as base_url:  # "http://127.0.0.1:<port>/v1"
        ...

or ``with FakeOpenAI() as server:`` for ``server.base_url`` and ``server.requests``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np

from helpers.local_http import LocalHTTPServer
from ragserve.settings import Settings


def fake_vector(text: str, dimension: int) -> list[float]:
    """The vector the fake server answers for ``text``: seeded by its sha256, not normalised."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    values = np.random.default_rng(seed).standard_normal(dimension) * 3.0
    return [float(v) for v in values]


def fake_audio(text: str) -> bytes:
    """The "mp3" the fake server speaks for ``text``: deterministic, 16 KiB and a bit."""
    return b"ID3\x04" + hashlib.sha256(text.encode()).digest() * 513


def fake_transcript(audio: bytes) -> str:
    """The text the fake server hears in ``audio``."""
    return f"Heard {len(audio)} bytes ({hashlib.sha256(audio).hexdigest()[:12]})."


def _multipart(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """The fields of a multipart body; a file part is kept as ``{"filename", "content"}``."""
    message = BytesParser(policy=email_policy).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    if not message.is_multipart():
        return None
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            fields[str(name)] = {"filename": filename, "content": content}
        else:
            fields[str(name)] = content.decode()
    return fields


def rerank_score(query: str, text: str) -> float:
    """The fake reranker's score: the share of the query's distinct words found in ``text``."""
    words = set(re.findall(r"\w+", query.lower()))
    found = set(re.findall(r"\w+", text.lower()))
    return len(words & found) / len(words) if words else 0.0


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, list):  # content parts
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def default_reply(messages: list[dict[str, Any]]) -> str:
    """ragserve's helper prompts answered as ``option_reply`` does, anything else restated."""
    found = option_reply(messages)
    if found is not None:
        return found
    last: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return f"Fake answer to: {_text(last)}"


# --- deterministic answers to ragserve's helper prompts (rag/prompt.py) ---

RELATED_WORDS = {"birds": "cranes", "bird": "cranes", "loaf": "bread"}
"""Keyword extraction adds these related words to the question's own."""
CHINESE_WORDS = {
    "什么时候": "when",
    "怎么": "how",
    "鹤": "cranes",
    "迁徙": "migrate",
    "面包": "bread",
    "烤": "bake",
    "冬天": "winter",
    "吃": "eat",
}
"""The fake's whole Chinese-English dictionary (translation word by word, in text order)."""
_STOP = {"what", "which", "when", "where", "does", "about", "with", "from", "that", "this"}


def option_reply(messages: list[dict[str, Any]]) -> str | None:
    """The fake's answer to one of ragserve's helper prompts, recognised by the start of the
    system message, or None for any other conversation. Deterministic:

    * keywords: the question's words of 4+ letters (a few stop words left out), then the
      ``RELATED_WORDS`` of those words, comma-separated;
    * translation: into English word by word with ``CHINESE_WORDS``; into any other language
      ``[<language>] <text>``; one line per language;
    * deep-research plan: the question split at " and ", as a numbered list;
    * deep-research review: ``MORE`` and one new query when a search found nothing, else
      ``ENOUGH``;
    * table of contents: each passage whose first line looks like a heading (2+ lines, at most
      4 words, capitalised, no final punctuation) heads the passages up to the next one;
    * auto keywords (N asked): the passage's first N distinct words of 4+ letters (stop words
      left out), comma-separated;
    * memory extraction: for each kind asked, one item ``<kind>: <the user's input>``;
    * auto questions (N asked): for each of those first N words, "What does the passage say
      about <word>?" with the word replaced by its ``QUESTION_WORDS`` synonym, one per line.
    """
    from ragserve.rag import prompt

    system = next((_text(m) for m in messages if m.get("role") == "system"), "")
    user = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    if system.startswith(prompt.KEYWORDS_PROMPT.split("{")[0]):
        words = [w for w in re.findall(r"\w+", user.lower()) if len(w) >= 4 and w not in _STOP]
        related = [RELATED_WORDS[w] for w in words if w in RELATED_WORDS]
        return ", ".join(dict.fromkeys([*words, *related]))
    if system.startswith(prompt.TRANSLATE_PROMPT.split("{")[0]):
        match = re.search(r"languages: (.+?)\. Answer", system)
        languages = [lang.strip() for lang in match.group(1).split(",")] if match else []
        return "\n".join(_translate(user, language) for language in languages)
    if system.startswith(prompt.RESEARCH_PLAN_PROMPT.split("{")[0]):
        parts = [p.strip(" ?") for p in re.split(r"\s+and\s+", user, flags=re.I) if p.strip(" ?")]
        return "\n".join(f"{n}. {part}?" for n, part in enumerate(parts, 1))
    if system.startswith(prompt.RESEARCH_CHECK_PROMPT.split("{")[0]):
        if "(nothing found)" not in user:
            return "ENOUGH"
        question = user.splitlines()[0].removeprefix("Question: ").strip(" ?")
        return f"MORE\n1. {question} (search {user.count('Search: ') + 1})?"
    if system.startswith(prompt.TOC_PROMPT.split("{")[0]):
        return json.dumps(_toc(user))
    graph = _graph_reply(system, user)
    if graph is not None:
        return graph
    if system.startswith(prompt.TABLE_SQL_PROMPT.split("{")[0]):
        return _sql_reply(system, messages)
    if system.startswith(prompt.META_FILTER_PROMPT.split("{")[0]):
        return _filter_reply(system, user)
    if system.startswith(prompt.AUTO_KEYWORDS_PROMPT.split("{")[0]):
        return ", ".join(_passage_words(user, _asked(system)))
    if system.startswith(prompt.MEMORY_EXTRACT_PROMPT.split("{")[0]):
        return json.dumps(_memory_items(system, user))
    if system.startswith(prompt.AUTO_QUESTIONS_PROMPT.split("{")[0]):
        words = _passage_words(user, _asked(system))
        return "\n".join(
            f"What does the passage say about {QUESTION_WORDS.get(w, w)}?" for w in words
        )
    return None


_NAMES = re.compile(r"\b(?:The )?([A-Z][a-z]{2,}(?: [A-Z][a-z]+)*)")


def _graph_reply(system: str, user: str) -> str | None:
    """The knowledge-graph prompts: extraction names each run of capitalised words as an
    entity of the last type asked for, and relates each entity to the next; gleaning finds
    nothing more; resolution says yes when two names share their first five letters; a
    community report is titled with its entities."""
    from ragserve.rag import prompt

    if user.startswith(prompt.GRAPH_GLEAN_PROMPT[:40]):
        return "DONE"
    if system.startswith(prompt.GRAPH_EXTRACT_PROMPT.split("{")[0]):
        found = re.search(r"one of: (.+?), and the relations", system)
        kind = found.group(1).split(",")[-1].strip() if found else "category"
        names = list(dict.fromkeys(_NAMES.findall(user)))
        lines = [f"entity<|>{name}<|>{kind}<|>{name} is named in the passage." for name in names]
        lines += [
            f"relation<|>{a}<|>{b}<|>{a} appears with {b}.<|>together<|>5"
            for a, b in itertools.pairwise(names)
        ]
        return "\n".join(lines) or "DONE"
    if user.startswith(prompt.GRAPH_RESOLVE_PROMPT.split("{")[0]):
        first = re.search(r"First: (.+?) \(", user)
        second = re.search(r"Second: (.+?) \(", user)
        same = first and second and first.group(1)[:5] == second.group(1)[:5]
        return "yes" if same else "no"
    if user.startswith(prompt.GRAPH_COMMUNITY_PROMPT.split("{")[0]):
        names = re.findall(r"^Entity (.+?):", user, flags=re.M)
        return f"Community of {', '.join(names)}\nThese entities appear together."
    return None


def _filter_reply(system: str, question: str) -> str:
    """A metadata filter: ``key = value`` for each listed value the question names."""
    conditions = []
    for key, values in re.findall(r"^- (.+?) \(\w+\): (.*)$", system, flags=re.M):
        for value in values.split(", "):
            if value and re.search(rf"\b{re.escape(value.lower())}\b", question.lower()):
                conditions.append({"key": key, "op": "=", "value": value})
    return json.dumps(conditions)


_COLUMN = re.compile(r'^- "(.+?)" (INTEGER|REAL|TEXT) \(e\.g\. (.*)\)$', re.M)


def _sql_reply(system: str, messages: list[dict[str, Any]]) -> str:
    """SQL for a question about the table: "how many" counts the rows; otherwise the column
    the question names, for the row whose text cell the question names; "nothing" finds no
    row. A question holding "broken" gets invalid SQL first, then the count when the failure
    is reported."""
    question = next(_text(m) for m in messages if m.get("role") == "user").lower()
    retried = _text(messages[-1]).startswith("The query failed")
    if "broken" in question and not retried:
        return "SELEC nothing"
    if "how many" in question or retried:
        return "SELECT COUNT(*) AS rows_found FROM data"
    if "nothing" in question:
        return "SELECT _source FROM data WHERE 1 = 0"
    columns = _COLUMN.findall(system)
    wanted = next((name for name, _t, _e in columns if name.lower() in question), columns[0][0])
    for name, kind, examples in columns:
        for value in examples.split(", "):
            if kind == "TEXT" and value and value.lower() in question:
                return f'SELECT "{wanted}", _source FROM data WHERE "{name}" = \'{value}\''
    return f'SELECT "{wanted}", _source FROM data'


MEMORY_ITEM_TIME = "2026-01-02T03:04:05"


def _memory_items(system: str, turn: str) -> dict[str, list[dict[str, str]]]:
    """One item per kind asked: ``<kind>: <the user's input>``, valid from MEMORY_ITEM_TIME."""
    match = re.search(r"kinds of items: ([a-z, ]+)\.", system)
    kinds = [k.strip() for k in match.group(1).split(",")] if match else []
    said = re.search(r"User Input: (.*?)\nAgent Response:", turn, re.S)
    text = said.group(1).strip() if said else turn
    return {
        kind: [{"content": f"{kind}: {text}", "valid_at": MEMORY_ITEM_TIME, "invalid_at": ""}]
        for kind in kinds
    }


QUESTION_WORDS = {"bread": "loaf", "cranes": "storks", "engine": "turbojet"}
"""Auto questions name these words by a synonym the passage does not contain."""


def _asked(system: str) -> int:
    """The N of an auto keywords / questions prompt (its first number)."""
    match = re.search(r"\d+", system)
    return int(match.group(0)) if match else 1


def _passage_words(text: str, count: int) -> list[str]:
    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) >= 4 and w not in _STOP]
    return list(dict.fromkeys(words))[:count]


def _translate(text: str, language: str) -> str:
    if language.lower() not in ("english", "en"):
        return f"[{language}] {text}"
    found = sorted((text.find(word), english) for word, english in CHINESE_WORDS.items())
    words = [english for at, english in found if at >= 0]
    return " ".join(words) if words else text


def _toc(passages: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for line in passages.splitlines():
        match = re.match(r"\[(\d+)\] (.*)", line)
        if not match:
            continue
        number, parts = int(match.group(1)), match.group(2).split(" | ")
        first = parts[0].strip()
        heading = (
            len(parts) > 1
            and len(first.split()) <= 4
            and first[:1].isupper()
            and first[-1:] not in ".!?:;,"
        )
        if heading:
            entries.append({"title": first, "level": 1, "passages": [number]})
        elif entries:
            entries[-1]["passages"].append(number)
    return entries


def default_tool_reply(messages: list[dict[str, Any]]) -> str:
    """The answer after a tool ran: which tool, what it said, the first passage cited."""
    result = _text(messages[-1])
    call_id = messages[-1].get("tool_call_id")
    name = "the tool"
    for message in reversed(messages):
        for call in message.get("tool_calls") or []:
            if call.get("id") == call_id:
                name = str(call.get("function", {}).get("name", name))
    cited = re.search(r"ID: (\d+)", result)
    if cited:
        return f"According to {name}, here it is [ID:{cited.group(1)}]."
    return f"According to {name}: {' '.join(result.split())[:300]}"


def tool_call_for(messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
    """The tool call the fake makes: ``{"id", "type", "function": {"name", "arguments"}}``."""
    question = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            question = _text(message)
            break
    functions = [t.get("function", {}) for t in tools if isinstance(t, dict)]
    chosen = next((f for f in functions if f.get("name") and f["name"] in question), None)
    function = chosen or (functions[0] if functions else {})
    properties = (function.get("parameters") or {}).get("properties") or {}
    arguments = {
        name: question
        for name, schema in properties.items()
        if isinstance(schema, dict) and schema.get("type", "string") == "string"
    }
    number = sum(1 for m in messages if m.get("role") == "tool")
    return {
        "id": f"call_fake_{number}",
        "type": "function",
        "function": {"name": str(function.get("name", "")), "arguments": json.dumps(arguments)},
    }


@dataclass
class RecordedRequest:
    path: str
    api_key: str | None
    body: dict[str, Any]


def _failure_mode(api_key: str | None) -> str | None:
    for mode in ("bad", "slow", "limited", "midway", "held"):
        if api_key is not None and (api_key == mode or api_key.startswith(mode + "-")):
            return mode
    return None


KNOWN_PATHS = (
    "/v1/embeddings",
    "/v1/chat/completions",
    "/v1/rerank",
    "/v1/audio/speech",
    "/v1/audio/transcriptions",
)

FAKE_CHAT_MODEL = "openai/fake-chat"
"""The LiteLLM model string tests configure: an OpenAI-compatible model at the fake's URL."""


class FakeOpenAI:
    def __init__(
        self,
        *,
        dimension: int = 16,
        slow_seconds: float = 5.0,
        reply: Callable[[list[dict[str, Any]]], str] = default_reply,
        tool_reply: Callable[[list[dict[str, Any]]], str] = default_tool_reply,
    ) -> None:
        self.dimension = dimension
        self.slow_seconds = slow_seconds
        self.reply = reply
        self.tool_reply = tool_reply
        self.requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._held: list[RecordedRequest] = []
        self._held_changed = threading.Condition()
        self._http = LocalHTTPServer(_handler_class(self))

    @property
    def base_url(self) -> str:
        return self._http.origin + "/v1"

    def server_env(self, api_key: str, chat_model: str = FAKE_CHAT_MODEL) -> dict[str, str]:
        """Environment variables that make a ``ragserve serve`` process chat with this fake."""
        return {
            "RAGSERVE_DEFAULT_CHAT_MODEL": chat_model,
            "RAGSERVE_LLM_API_BASE": self.base_url,
            "RAGSERVE_LLM_API_KEY": api_key,
        }

    def settings(self, home: Path, api_key: str, chat_model: str = FAKE_CHAT_MODEL) -> Settings:
        """In-process settings (parsing inline) whose default chat model is this fake."""
        return Settings(
            home=home,
            workers=0,
            default_chat_model=chat_model,
            llm_api_base=self.base_url,
            llm_api_key=api_key,
        )

    def start(self) -> FakeOpenAI:
        self._http.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes "slow" requests
        self._released.set()  # and "held" ones
        self._http.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- holding answers ---

    def hold(self) -> None:
        """Requests with the key ``held`` wait from now on, until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        """Answer the waiting ``held`` requests, and the next ones at once."""
        self._released.set()

    def held(self) -> list[RecordedRequest]:
        """The requests waiting now."""
        with self._held_changed:
            return list(self._held)

    def wait_held(self, count: int, timeout: float = 60) -> list[RecordedRequest]:
        """Wait until ``count`` requests are waiting; ``timeout`` only guards against a hang."""
        with self._held_changed:
            if not self._held_changed.wait_for(lambda: len(self._held) >= count, timeout):
                paths = [request.path for request in self._held]
                raise AssertionError(f"{len(self._held)} requests held, not {count}: {paths}")
            return list(self._held)

    def _wait_for_release(self, request: RecordedRequest) -> None:
        with self._held_changed:
            self._held.append(request)
            self._held_changed.notify_all()
        try:
            self._released.wait()
        finally:
            with self._held_changed:
                self._held[:] = [held for held in self._held if held is not request]
                self._held_changed.notify_all()

    # --- answers ---

    def handle(self, path: str, api_key: str | None, body: dict[str, Any]) -> _Answer:
        recorded = RecordedRequest(path, api_key, body)
        self.requests.append(recorded)
        if path not in KNOWN_PATHS:
            return _error(404, f"Unknown request URL: POST {path}.", "invalid_request_error")
        mode = _failure_mode(api_key)
        if not api_key or mode == "bad":
            return _error(
                401,
                f"Incorrect API key provided: {api_key}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if mode == "limited":
            return _error(
                429,
                "Rate limit reached for requests. Please try again in 1ms.",
                "requests",
                "rate_limit_exceeded",
            )
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)
        if mode == "held":
            self._wait_for_release(recorded)
        if path == "/v1/embeddings":
            return self._embeddings(body)
        if path == "/v1/rerank":
            return self._rerank(body)
        if path == "/v1/audio/speech":
            return self._speech(body)
        if path == "/v1/audio/transcriptions":
            return self._transcription(body)
        answer = self._chat(body)
        if mode == "midway" and answer.stream is not None:
            error = {"message": "The server had an error while processing your request.",
                     "type": "server_error", "param": None, "code": None}  # fmt: skip
            answer.stream = [*answer.stream[: len(answer.stream) // 2], {"error": error}]
        return answer

    def _speech(self, body: dict[str, Any]) -> _Answer:
        text = body.get("input")
        if not isinstance(text, str) or not text:
            return _error(400, "'input' is a required property", "invalid_request_error")
        return _Answer(200, None, audio=fake_audio(text))

    def _transcription(self, body: dict[str, Any]) -> _Answer:
        file = body.get("file")
        if not isinstance(file, dict) or not file.get("content"):
            return _error(400, "'file' is a required property", "invalid_request_error")
        return _Answer(200, {"text": fake_transcript(file["content"])})

    def _rerank(self, body: dict[str, Any]) -> _Answer:
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not isinstance(documents, list):
            return _error(400, "'query' and 'documents' are required", "invalid_request_error")
        results = []
        for index, document in enumerate(documents):
            text = document.get("text", "") if isinstance(document, dict) else str(document)
            results.append({"index": index, "relevance_score": rerank_score(query, text)})
        results.sort(key=lambda item: -float(item["relevance_score"]))
        top_n = body.get("top_n")
        if isinstance(top_n, int):
            results = results[:top_n]
        return _Answer(
            200, {"id": "rerank-fake", "model": body.get("model", ""), "results": results}
        )

    def _embeddings(self, body: dict[str, Any]) -> _Answer:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return _error(400, "'input' is a required property", "invalid_request_error")
        if any(not isinstance(text, str) or not text for text in inputs):
            return _error(400, "'$.input' is invalid.", "invalid_request_error")
        dimension = int(body.get("dimensions") or self.dimension)
        data = []
        for index, text in enumerate(inputs):
            vector = fake_vector(text, dimension)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                raw = np.asarray(vector, dtype="<f4").tobytes()
                embedding = base64.b64encode(raw).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(text.split()) for text in inputs)
        return _Answer(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _chat(self, body: dict[str, Any]) -> _Answer:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' is a required property", "invalid_request_error")
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            if messages[-1].get("role") != "tool" and body.get("tool_choice") != "none":
                return self._tool_call(body, tool_call_for(messages, tools))
            text = self.tool_reply(messages)
        else:
            text = self.reply(messages)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        }
        model = str(body.get("model", ""))
        ident, created = f"chatcmpl-{hashlib.sha256(text.encode()).hexdigest()[:24]}", 1700000000
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return _Answer(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                },
            )
        head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
        pieces = [word + " " for word in text.split(" ")]
        pieces[-1] = pieces[-1][:-1]
        chunks: list[dict[str, Any]] = []
        for number, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
            chunks.append(
                {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            )
        chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append({**head, "choices": [], "usage": usage})
        return _Answer(200, None, chunks)

    def _tool_call(self, body: dict[str, Any], call: dict[str, Any]) -> _Answer:
        model = str(body.get("model", ""))
        head = {"id": f"chatcmpl-{call['id']}", "created": 1700000000, "model": model}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            return _Answer(
                200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        chunk_head = {**head, "object": "chat.completion.chunk"}
        # as OpenAI streams a call: the id and name first, then the arguments in pieces
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        opening = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        deltas = [{"role": "assistant", "content": None,
                   "tool_calls": [{"index": 0, **opening}]}] + [
            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            for piece in (arguments[:half], arguments[half:])
        ]  # fmt: skip
        chunks = [
            {**chunk_head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            for delta in deltas
        ] + [
            {**chunk_head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {**chunk_head, "choices": [], "usage": usage},
        ]
        return _Answer(200, None, chunks)


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None
    stream: list[dict[str, Any]] | None = None
    audio: bytes | None = None


def _error(status: int, message: str, kind: str, code: str | None = None) -> _Answer:
    return _Answer(
        status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )


def _handler_class(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type", "")
            body: Any
            if content_type.startswith("multipart/form-data"):
                body = _multipart(content_type, raw)
            else:
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
            auth = self.headers.get("Authorization", "")
            api_key = auth[7:] if auth.lower().startswith("bearer ") else None
            api_key = api_key or self.headers.get("api-key")
            if not isinstance(body, dict):
                answer = _error(400, "We could not parse the JSON body.", "invalid_request_error")
            else:
                answer = fake.handle(self.path.split("?")[0], api_key, body)
            try:
                if answer.audio is not None:
                    self._send_audio(answer.audio)
                elif answer.stream is not None:
                    self._send_stream(answer.stream)
                else:
                    self._send_json(answer.status, answer.body or {})
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        def _send_json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("retry-after-ms", "1")
            self.end_headers()
            self.wfile.write(data)

        def _send_audio(self, audio: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def _send_stream(self, chunks: list[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def fake_openai(
    *,
    dimension: int = 16,
    slow_seconds: float = 5.0,
    reply: Callable[[list[dict[str, Any]]], str] = default_reply,
    tool_reply: Callable[[list[dict[str, Any]]], str] = default_tool_reply,
) -> Iterator[str]:
    """A running fake server; yields its base URL (``http://127.0.0.1:<port>/v1``)."""
    with FakeOpenAI(
        dimension=dimension, slow_seconds=slow_seconds, reply=reply, tool_reply=tool_reply
    ) as server:
        yield server.base_url
