"""Full-text tokens (the same function at index and query time) and cl100k token counts.

``tokenize`` does NFKC + case folding, then splits the text into runs of Han characters and the
rest. Han runs are folded traditional -> simplified (OpenCC ``t2s``) and segmented by jieba
(precise mode, HMM on); other runs give words of letters/digits (``_`` splits words, decimals such
as ``3.14`` stay whole), English stop words are dropped and pure-ASCII words are Snowball-stemmed.
Other scripts (accented Latin, Cyrillic, kana, Hangul, ...) are kept case-folded and unstemmed.

``count_tokens``/``truncate_tokens`` use cl100k_base from the BPE file bundled inside the
installed litellm package: nothing is ever downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import logging
import re
import threading
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import Stemmer  # type: ignore[import-not-found]  # C extension without stubs
import tiktoken

__all__ = ["TokenizerDataError", "count_tokens", "tokenize", "tokenize_to_text", "truncate_tokens"]

_MAX_TOKEN_LEN = 100  # longer "words" are base64/garbage, not search terms

_EN_STOP_WORDS = """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn d did didn do does doesn doing don
    down during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just ll m me more most my
    myself no nor not of off on once only or other our ours ourselves out over own re s same
    she should shouldn so some such t than that the their theirs them themselves then there
    these they this those through to too under until up ve very was wasn we were weren what
    when where which while who whom why will with would wouldn you your yours yourself
    yourselves
"""
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_ZH_STOP_WORDS = (
    "的 了 和 是 在 也 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 它 这 那 之 以 为 于 被 把 等"
)
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_SPLIT = re.compile(f"([{_HAN}]+)")


def _mark_class() -> str:
    """Combining marks of the BMP as a regex class body (they belong inside Indic/Thai words)."""
    spans: list[list[int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me"):
            if spans and spans[-1][1] == cp - 1:
                spans[-1][1] = cp
            else:
                spans.append([cp, cp])
    return "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in spans)


# A word starts with a letter/digit, may go on with letters, digits and combining marks, and keeps
# decimal parts after a digit ("3.14", "v1.2.3"). Underscores are blanked out beforehand.
_WORD = re.compile(rf"[^\W_][\w{_mark_class()}]*(?:(?<=\d)\.\d+)*")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:(?<=\d)\.\d+)*")

_local = threading.local()
_cjk_lock = threading.Lock()
_cjk: tuple[Any, Any, frozenset[str]] | None = None  # (OpenCC t2s, jieba.Tokenizer, trad chars)


def _stemmer() -> Any:
    """Per-thread stemmer: PyStemmer objects are not thread-safe."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def _latin(words: list[str], ascii_only: bool) -> list[str]:
    kept = [w for w in words if w not in _EN_STOP and len(w) <= _MAX_TOKEN_LEN]
    stems: list[str] = _stemmer().stemWords(kept)
    if ascii_only:
        return stems
    return [s if w.isascii() else w for w, s in zip(kept, stems, strict=True)]


def _load_cjk() -> tuple[Any, Any, frozenset[str]]:
    """OpenCC t2s, a private jieba dictionary (loaded once, ~1 s) and the chars t2s may change."""
    global _cjk
    with _cjk_lock:
        if _cjk is None:
            with warnings.catch_warnings():
                # jieba 0.42 has invalid escapes in its regexes: a warning when compiled afresh.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", SyntaxWarning)
                import jieba  # type: ignore[import-untyped]
                import opencc  # type: ignore[import-untyped]
            jieba.setLogLevel(logging.WARNING)  # silence "Building prefix dict ..."
            segmenter = jieba.Tokenizer()  # private: others' add_word cannot skew the index
            segmenter.initialize()
            converter = opencc.OpenCC("t2s")
            _cjk = (converter, segmenter, _t2s_trigger_chars(Path(opencc.__file__).parent))
        return _cjk


def _t2s_trigger_chars(opencc_dir: Path) -> frozenset[str]:
    """Chars whose presence means t2s may change a run; runs without any skip OpenCC (slow)."""
    chars: set[str] = set()
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        text = (opencc_dir / "dictionary" / name).read_text(encoding="utf-8")
        for line in text.splitlines():
            key, _, value = line.partition("\t")
            value = value.split(" ")[0]
            if len(key) == 1 or len(key) != len(value):
                chars.update(key)
            else:
                chars.update(k for k, v in zip(key, value, strict=True) if k != v)
    return frozenset(chars)


def _han(run: str) -> list[str]:
    converter, segmenter, trad = _cjk or _load_cjk()
    if not trad.isdisjoint(run):
        run = converter.convert(run)
    words: list[str] = segmenter.lcut(run, HMM=True)
    return [w for w in words if w not in _ZH_STOP and not w.isspace()]


def tokenize(text: str | None) -> list[str]:
    """Search terms of ``text``, in order; used for documents and queries alike."""
    if not text:
        return []
    if text.isascii():
        return _latin(_ASCII_WORD.findall(text.lower()), ascii_only=True)
    text = unicodedata.normalize("NFKC", text).casefold()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    # "_" splits words; casefold("İ") is "i" + U+0307, which would never match a typed "i".
    text = text.replace("_", " ").replace("i\u0307", "i")
    tokens: list[str] = []
    for i, part in enumerate(_HAN_SPLIT.split(text)):
        if i % 2:
            tokens.extend(_han(part))
        elif part:
            tokens.extend(_latin(_WORD.findall(part), ascii_only=part.isascii()))
    return tokens


def tokenize_to_text(text: str | None) -> str:
    """The tokens joined by single spaces: what the chunk store indexes and matches."""
    return " ".join(tokenize(text))


# ---- cl100k token counts ---------------------------------------------------------------------

_CL100K_FILE = ("litellm_core_utils", "tokenizers", "9b5ad71b2ce5302211f9c61530b329a4922fc6a4")
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
_enc_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


class TokenizerDataError(RuntimeError):
    """The bundled cl100k_base BPE file is missing or damaged."""


def cl100k_path() -> Path:
    """Where litellm bundles cl100k_base (found without importing litellm, which is slow)."""
    spec = importlib.util.find_spec("litellm")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location).joinpath(*_CL100K_FILE)
        if path.is_file():
            return path
    raise TokenizerDataError(
        "cl100k_base BPE file not found: expected litellm/"
        + "/".join(_CL100K_FILE)
        + f" in the installed litellm package (searched {locations or 'nothing: no litellm'})"
    )


def _load_encoding() -> tiktoken.Encoding:
    global _encoding
    with _enc_lock:
        if _encoding is None:
            path = cl100k_path()
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != _CL100K_SHA256:
                raise TokenizerDataError(f"{path} is not the cl100k_base BPE file (bad sha256)")
            ranks: dict[bytes, int] = {}
            for line in data.splitlines():
                if line:
                    token, rank = line.split()
                    ranks[base64.b64decode(token)] = int(rank)
            _encoding = tiktoken.Encoding(
                name="cl100k_base",
                pat_str=_CL100K_PAT,
                mergeable_ranks=ranks,
                special_tokens=_CL100K_SPECIAL,
            )
        return _encoding


def count_tokens(text: str | None) -> int:
    """cl100k_base tokens in ``text``; special-token strings count as ordinary text."""
    if not text:
        return 0
    return len((_encoding or _load_encoding()).encode_ordinary(text))


def truncate_tokens(text: str | None, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` cl100k tokens (whole characters)."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if not text or limit == 0:
        return ""
    enc = _encoding or _load_encoding()
    ids = enc.encode_ordinary(text)
    if len(ids) <= limit:
        return text
    # A cut may split a multi-byte character: drop the partial tail rather than emit U+FFFD.
    return enc.decode_bytes(ids[:limit]).decode("utf-8", errors="ignore")
