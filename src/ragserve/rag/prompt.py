"""Assembling what the model reads: the knowledge block, the system prompt, the history, all
within the model's context budget (counted in cl100k tokens).

Every prompt ragserve sends a model lives here (in ragserve's own words): answering, refining
a follow-up question, keywords, translation, related questions, deep research, and at parse time the
table of contents and each chunk's keywords and questions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ragserve.errors import DataError
from ragserve.store.base import ChunkRecord
from ragserve.tokenizer import count_tokens

CITATION_GUIDE = """

When you use a passage of the knowledge base, cite it right after the sentence with its ID in \
the form [ID:n], e.g. "Cranes migrate in autumn [ID:0]." Cite only IDs that appear in the \
knowledge base, never more than three per sentence, and do not list the sources at the end."""

NO_MODEL_NOTE = (
    "No generative model is configured for this assistant, so here are the passages of the "
    "knowledge base that match the question best:"
)

_VARIABLE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Variable:
    key: str
    optional: bool


def knowledge_block(chunks: Sequence[ChunkRecord], budget: int) -> tuple[str, int]:
    """The chunks as the model sees them, numbered from 0, and how many fit in ``budget``
    tokens (at least one, cut to fit)."""
    parts: list[str] = []
    used = 0
    for number, chunk in enumerate(chunks):
        part = f"ID: {number}\n├── Title: {chunk.document_name}\n└── Content:\n{chunk.content}\n"
        cost = count_tokens(part)
        if parts and used + cost > budget:
            break
        parts.append(part)
        used += cost
    return "\n".join(parts), len(parts)


def system_prompt(
    template: str, variables: Sequence[Variable], values: Mapping[str, str], quote: bool
) -> str:
    """The template with each declared ``{key}`` replaced (``knowledge`` included); a missing
    required value raises ``DataError``. Braces that are not declared keys stay as written."""
    declared = {variable.key: variable for variable in variables}
    for key, variable in declared.items():
        if not variable.optional and key not in values:
            raise DataError(f"Miss parameter: {key}")

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in declared or key == "knowledge":
            return values.get(key, "")
        return match.group(0)

    text = _VARIABLE.sub(fill, template)
    return text + CITATION_GUIDE if quote and "knowledge" in values else text


def fit_history(messages: Sequence[Mapping[str, str]], budget: int) -> list[dict[str, str]]:
    """The latest messages whose tokens fit ``budget``; the last one always stays."""
    kept: list[dict[str, str]] = []
    used = 0
    for message in reversed(messages):
        cost = count_tokens(message.get("content", "")) + 4
        if kept and used + cost > budget:
            break
        kept.append({"role": message["role"], "content": message.get("content", "")})
        used += cost
    kept.reverse()
    while len(kept) > 1 and kept[0]["role"] != "user":
        kept.pop(0)
    return kept


ASK_PROMPT = """You answer questions from the passages of a knowledge base below. Use only what \
the passages say; when they do not answer the question, say so plainly. Answer in the language \
of the question.

Knowledge base:
{knowledge}"""

RELATED_PROMPT = """Suggest {count} short search queries a user might try next to learn more \
about the topic of the question below{industry}. Answer with a numbered list, one query per \
line ("1. ..."), and nothing else."""

REFINE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation "
    "before it: resolve pronouns and references to earlier turns. Answer with the rewritten "
    "question only, in its original language."
)

KEYWORDS_PROMPT = (
    "Extract at most {count} search keywords or short key phrases from the user's question, "
    "in the question's language, most important first. Answer with the keywords only, "
    "separated by commas, without numbering or explanation."
)

TRANSLATE_PROMPT = (
    "Translate the user's text into each of these languages: {languages}. Answer with one "
    "translation per line, in that order, with no labels, quotes or explanation."
)

# --- deep research (``reasoning``) -------------------------------------------------------------

RESEARCH_PLAN_PROMPT = """You plan the research needed to answer a user's question from a \
document collection{web}. Break the question into at most {count} short, self-contained search \
queries, each about one thing the answer needs. A simple question needs a single query. Answer \
with a numbered list, one query per line ("1. ..."), and nothing else."""

RESEARCH_CHECK_PROMPT = """You review research in progress. Below are the user's question and \
what the searches so far have found. Decide whether the findings are enough to answer the \
question well. If they are, answer with the single word ENOUGH. If they are not, answer with \
the word MORE on the first line, then at most {count} new search queries that would find what \
is missing, as a numbered list ("1. ..."), one per line. Never repeat a query already made."""

# --- table of contents (``toc_extraction`` at parse time) ---------------------------------------

TOC_PROMPT = """Below are the numbered passages of one document, in order, each shortened to its \
beginning, with its line breaks shown as " | ". Build the document's table of contents: its \
headings, in order, each with the numbers of the passages under it (up to the next heading \
of the same or a higher level). Use the headings the document itself shows; do not invent \
any. Answer with a JSON array and nothing else, one object per heading: \
{{"title": "...", "level": 1, "passages": [0, 1]}} (level 1 for top headings, 2 below them, \
and so on). A document without headings gets []."""

# --- auto keywords and questions (``auto_keywords`` / ``auto_questions`` at parse time) --------

AUTO_KEYWORDS_PROMPT = """The user's message is one passage of a document. Give the {count} \
keywords or short key phrases that someone searching for this passage would most likely type, \
in the passage's language, most important first. Take them from what the passage is about, \
not from its wording alone. Answer with the keywords only, separated by commas, on one line, \
without numbering or explanation."""

AUTO_QUESTIONS_PROMPT = """The user's message is one passage of a document. Write {count} \
different questions that this passage answers, in the passage's language, each complete and \
understandable without the passage (name the subject instead of saying "it" or "this"). \
Answer with one question per line and nothing else: no numbering, no answers."""

GRAPH_EXTRACT_PROMPT = """You build a knowledge graph from documents. The user's message is one \
passage. List the entities it names whose type is one of: {entity_types}, and the relations \
the passage states between those entities. Write one record per line, fields separated by <|>:
entity<|>NAME<|>TYPE<|>one sentence on what the passage says about the entity
relation<|>SOURCE NAME<|>TARGET NAME<|>one sentence on how they are related<|>keywords, \
comma separated<|>strength from 1 to 10
Use the names as the passage writes them and the types exactly as listed. Write nothing else; \
if there is nothing to record, answer DONE."""

GRAPH_GLEAN_PROMPT = """Some entities or relations of the passage may be missing from your \
records. Write the missing records in the same format, or answer DONE if none is missing."""

GRAPH_RESOLVE_PROMPT = """Two entities of a knowledge graph have similar names. Decide whether \
they name the same thing. Answer yes or no, nothing else.
First: {first} ({first_type}): {first_description}
Second: {second} ({second_type}): {second_description}"""

GRAPH_COMMUNITY_PROMPT = """Below are entities of a knowledge graph that form a community, with \
the relations between them. Write a short report on this community: its first line a title \
(no more than ten words), then one paragraph on what connects these entities and why they \
matter, using only what is written below.
{content}"""

TABLE_SQL_PROMPT = """You answer questions about a table by writing one SQLite query. The table:
{schema}
Write one SELECT statement over the table data that answers the user's question. Quote column \
names with double quotes. Unless the query counts, sums, averages or groups rows, select \
_source too, last. Answer with the SQL only: no explanation, no code fence."""

TABLE_SQL_RETRY = """The query failed: {error}
Write a corrected query, SQL only."""

META_FILTER_PROMPT = """You choose which documents a search should look in. The documents carry \
these metadata fields (name, type, some values):
{metadata}
If the user's question names values of these fields, answer with a JSON list of conditions, \
each {{"key": <field>, "op": <one of =, ≠, >, <, ≥, ≤, contains, in>, "value": <value>}}; a \
condition only for what the question says. Otherwise answer []. Answer with the JSON only."""

# --- memory extraction (``services.memory_extraction``) ---------------------------------------

MEMORY_EXTRACT_PROMPT = """You keep the memory of an AI agent. The user's message is one turn \
of a conversation between a user and the agent. Extract what is worth remembering from it, as \
these kinds of items: {kinds}. {guides}
Answer with one JSON object and nothing else: its keys are the kinds asked for, each a list of \
items {{"content": "...", "valid_at": "<ISO 8601 time from which it holds>", "invalid_at": \
"<ISO 8601 time until which it holds, or empty>"}}; a kind with nothing worth keeping is an \
empty list."""

MEMORY_KIND_GUIDES = {
    "semantic": "semantic: lasting facts, preferences and knowledge about the user or the world.",
    "episodic": "episodic: what happened in this turn, when, as a short event record.",
    "procedural": "procedural: how-to knowledge, steps or rules the agent should follow later.",
}

MEMORY_TURN = """Conversation: User Input: {user_input}
Agent Response: {agent_response}
Conversation Time: {time}
Current Time: {time}"""


def memory_extract_prompt(kinds: Sequence[str]) -> str:
    """The default system prompt of a memory of these (non-raw) kinds."""
    guides = " ".join(MEMORY_KIND_GUIDES[k] for k in kinds if k in MEMORY_KIND_GUIDES)
    return MEMORY_EXTRACT_PROMPT.format(kinds=", ".join(kinds), guides=guides)
