"""The full-text tokenizer (index = query) and cl100k token counting from the bundled file."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ragserve import tokenizer as tok
from ragserve.tokenizer import count_tokens, tokenize, tokenize_to_text, truncate_tokens

SRC = Path(__file__).resolve().parents[2] / "src"

# ---- English and other non-Han text -----------------------------------------------------------


def test_english_stemming() -> None:
    assert tokenize("running runs ran") == ["run", "run", "ran"]
    assert tokenize("Databases indexing") == ["databas", "index"]
    assert tokenize("database index") == tokenize("databases indexed")


def test_english_stop_words_removed() -> None:
    assert tokenize("the quick brown fox and the lazy dog") == [
        "quick",
        "brown",
        "fox",
        "lazi",
        "dog",
    ]
    assert tokenize("What is it? It is the one they were about to do.") == ["one"]
    assert tokenize("don't John's it's") == ["john"]


def test_case_folding() -> None:
    assert tokenize("HELLO World") == tokenize("hello world") == ["hello", "world"]
    assert tokenize("STRASSE") == tokenize("Straße")
    assert tokenize("İstanbul") == tokenize("istanbul") == ["istanbul"]


def test_nfkc() -> None:
    assert tokenize("ｆｕｌｌ-width") == ["full", "width"]
    assert tokenize("ﬁle") == ["file"]
    assert tokenize("ＡＢＣ１２３") == ["abc123"]
    assert tokenize("ｶﾀｶﾅ") == ["カタカナ"]  # half-width katakana


def test_numbers() -> None:
    assert tokenize("Version 3.14 released in 2024.") == ["version", "3.14", "releas", "2024"]
    assert tokenize("v1.2.3 and python3.11") == ["v1.2.3", "python3.11"]
    assert tokenize("1,000 items") == ["1", "000", "item"]
    assert tokenize("Chapter 7. Next") == ["chapter", "7", "next"]


def test_punctuation_and_underscores_split() -> None:
    text = 'Hello, world! (test) [x]; a-b/c <tag> "quoted" snake_case #hash @at ~tilde'
    assert tokenize(text) == [
        "hello", "world", "test", "x", "b", "c", "tag", "quot", "snake", "case", "hash", "tild",
    ]  # fmt: skip
    assert tokenize("... !!! ??? --- ___") == []


def test_other_scripts_kept_folded_and_unstemmed() -> None:
    assert tokenize("Привет МИР") == ["привет", "мир"]
    assert tokenize("Cafés naïve résumés") == ["cafés", "naïve", "résumés"]
    assert tokenize("مرحبا بالعالم") == ["مرحبا", "بالعالم"]
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # combining vowel signs stay inside words


def test_japanese_and_korean() -> None:
    assert tokenize("ひらがな カタカナ") == ["ひらがな", "カタカナ"]
    assert tokenize("東京に行きます") == ["东京", "に", "行", "きます"]
    assert tokenize("한국어 텍스트 입니다") == ["한국어", "텍스트", "입니다"]


def test_emoji_dropped() -> None:
    assert tokenize("emoji 🎉😀 done 👍🏽") == ["emoji", "done"]
    assert tokenize("🎉") == []


@pytest.mark.parametrize("empty", ["", None, "   \n\t ", "\u3000"])
def test_empty_input(empty: str | None) -> None:
    assert tokenize(empty) == []
    assert tokenize_to_text(empty) == ""


def test_tokens_never_contain_whitespace_or_are_empty() -> None:
    text = "Tabs\tand\nnewlines\u00a0nbsp\u2003em 数据\u3000库 RAG\u200bFlow x\u2028y 資料 庫"
    tokens = tokenize(text)
    assert tokens
    assert all(t and not any(c.isspace() for c in t) for t in tokens)


def test_overlong_words_dropped() -> None:
    assert tokenize("a" * 101 + " keep " + "b" * 100) == ["keep", "b" * 100]


# ---- Chinese ----------------------------------------------------------------------------------


def test_chinese_segmentation() -> None:
    tokens = tokenize("我来到北京清华大学")
    assert "北京" in tokens
    assert "清华大学" in tokens


def test_chinese_stop_words_and_punctuation_dropped() -> None:
    assert tokenize("我们的数据库，也是他们的。") == ["数据库"]
    assert tokenize("「你好」、【世界】《测试》……") == ["你好", "世界", "测试"]


def test_traditional_folded_to_simplified() -> None:
    assert tokenize("資料庫") == tokenize("资料库") == ["资料库"]
    assert tokenize("臺灣的電腦") == tokenize("台湾的电脑") == ["台湾", "电脑"]
    assert tokenize("沈默是金") == tokenize("沉默是金")  # a phrase entry of t2s


def test_mixed_chinese_and_latin() -> None:
    assert tokenize("RAGFlow支持PDF解析") == ["ragflow", "支持", "pdf", "解析"]
    assert tokenize("用 Python3.11 跑 BM25 检索") == ["用", "python3.11", "跑", "bm25", "检索"]


def test_tokenize_to_text() -> None:
    text = "RAGFlow支持PDF解析 and running"
    assert tokenize_to_text(text) == "ragflow 支持 pdf 解析 run"
    assert tokenize_to_text(text) == " ".join(tokenize(text))


# ---- symmetry, long input, speed, threads -----------------------------------------------------


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("Vector Databases", "Chunks are stored in vector databases, then retrieved."),
        ("ＰＤＦ parsing", "We support pdf parsing: scanned PDFs too."),
        ("資料庫", "这个资料库。很大"),
        ("清华大学", "我来到北京清华大学，很开心。"),
        ("RAGFlow 解析", "本文介绍RAGFlow 解析文档的方法"),
    ],
)
def test_query_document_symmetry(query: str, document: str) -> None:
    q = tokenize(query)
    assert q
    assert _contains(tokenize(document), q)


def test_very_long_input() -> None:
    text = "Retrieval-augmented generation indexes 1,024 passages; 检索增强生成。 " * 20_000
    tokens = tokenize(text)
    assert len(tokens) == 20_000 * len(tokenize(text[: len(text) // 20_000]))
    assert tokens[:6] == ["retriev", "augment", "generat", "index", "1", "024"]
    assert tokenize("x" * 1_000_000 + " end") == ["end"]


def test_english_throughput_at_least_1_mb_per_s() -> None:
    words = [
        "The",
        "retrieval",
        "system",
        "parses",
        "documents",
        "into",
        "chunks",
        "and",
        "indexes",
        "them",
        "quickly",
    ]
    text = " ".join(words[i % len(words)] + str(i % 7) * (i % 3 == 0) for i in range(200_000))
    size = len(text.encode())
    start = time.perf_counter()
    tokenize(text)
    elapsed = time.perf_counter() - start
    assert size / elapsed > 1_000_000, f"{size / elapsed / 1e6:.2f} MB/s"


def test_thread_safety_and_single_lazy_init(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        "Running databases; 我来到北京清华大学。",
        "臺灣的電腦軟體 RAGFlow支持PDF解析",
        "The quick brown foxes jumped over 3.14 lazy dogs",
        "Привет ひらがな 한국어 ﬁle ｆｕｌｌ",
    ] * 25
    expected = [tokenize(t) for t in texts]
    monkeypatch.setattr(tok, "_cjk", None)  # every thread races into the lazy jieba/OpenCC init
    loads: list[object] = []
    real_load = tok._load_cjk

    def counting_load() -> object:
        state = real_load()
        loads.append(state)
        return state

    monkeypatch.setattr(tok, "_load_cjk", counting_load)
    barrier = threading.Barrier(8)
    results: list[list[list[str]]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        barrier.wait()
        for _ in range(5):
            results[slot].append([w for t in texts for w in tokenize(t)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [w for e in expected for w in e]
    assert all(r == [flat] * 5 for r in results)
    assert loads and all(state is loads[0] for state in loads)  # one jieba/OpenCC instance


def test_jieba_log_silenced(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
                            caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    monkeypatch.setattr(tok, "_cjk", None)
    jieba_logger = logging.getLogger("jieba")
    level = jieba_logger.level
    jieba_logger.setLevel(logging.DEBUG)  # as on a fresh import of jieba
    try:
        with caplog.at_level(logging.DEBUG):
            assert tokenize("北京") == ["北京"]
    finally:
        jieba_logger.setLevel(level)
    assert "prefix dict" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.name.startswith("jieba")]


def test_fresh_import_emits_no_warning_or_log(tmp_path: Path) -> None:
    # An empty pycache prefix makes Python compile jieba afresh (its regexes warn when compiled).
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONPATH": str(SRC)}
    code = "from ragserve.tokenizer import tokenize; print(tokenize('我来到北京'))"
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['我', '来到', '北京']"
    assert proc.stderr == ""


# ---- cl100k token counts ----------------------------------------------------------------------


def test_count_tokens_facts() -> None:
    assert count_tokens("hello world") == 2
    assert count_tokens("tiktoken is great!") == 6
    assert count_tokens("") == 0
    assert count_tokens(None) == 0
    assert count_tokens("<|endoftext|>") > 1  # special tokens are counted as plain text


def test_truncate_tokens() -> None:
    assert truncate_tokens("hello world", 1) == "hello"
    assert truncate_tokens("hello world", 2) == "hello world"
    assert truncate_tokens("hello world", 100) == "hello world"
    assert truncate_tokens("hello world", 0) == ""
    assert truncate_tokens("", 5) == ""
    text = "你好世界，检索增强生成。" * 10
    for limit in range(1, 30):
        cut = truncate_tokens(text, limit)
        assert "\ufffd" not in cut
        assert text.startswith(cut)
        assert count_tokens(cut) <= limit
    with pytest.raises(ValueError, match="limit"):
        truncate_tokens("hello", -1)


def test_count_tokens_offline_from_bundled_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    litellm_was_loaded = "litellm" in sys.modules
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))

    def no_network(self: socket.socket, *args: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(tok, "_encoding", None)
    assert count_tokens("hello world") == 2
    assert count_tokens("tiktoken is great!") == 6
    assert list(tmp_path.iterdir()) == []
    assert tok.cl100k_path().parts[-3:-1] == ("litellm_core_utils", "tokenizers")
    if not litellm_was_loaded:
        assert "litellm" not in sys.modules  # located, not imported


def test_missing_bpe_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tok, "_encoding", None)
    monkeypatch.setattr(tok, "_CL100K_FILE", ("litellm_core_utils", "tokenizers", "nope"))
    with pytest.raises(tok.TokenizerDataError, match=r"cl100k_base BPE file not found.*nope"):
        count_tokens("hello")


def test_damaged_bpe_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "cl100k"
    bad.write_bytes(b"aGVsbG8= 0\n")
    monkeypatch.setattr(tok, "_encoding", None)
    monkeypatch.setattr(tok, "cl100k_path", lambda: bad)
    with pytest.raises(tok.TokenizerDataError, match="sha256"):
        count_tokens("hello")
