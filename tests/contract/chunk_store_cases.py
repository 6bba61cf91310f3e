"""The chunk store contract: ``ChunkStoreContract`` holds the cases every backend must pass.

A backend's test module subclasses it and overrides the ``store`` fixture::

    from contract.chunk_store_cases import ChunkStoreContract

    class TestMyChunkStore(ChunkStoreContract):
        @pytest.fixture
        def store(self, tmp_path: Path) -> Iterator[ChunkStore]: ...

It lives here rather than in a ``test_`` module so that importing it does not make pytest
collect another backend's tests twice. Records and vectors are small and deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy
import pytest

from ragserve.store import (
    Candidate,
    ChunkCounts,
    ChunkFilter,
    ChunkNotFound,
    ChunkRecord,
    ChunkStore,
    ChunkStoreError,
    ScoredChunk,
    VectorsChanged,
    chunk_id,
    vector_fingerprint,
)

DIM = 16
TENANT = "tenant-a"
OTHER_TENANT = "tenant-b"
DATASET = "dataset-1"
OTHER_DATASET = "dataset-2"
DOCUMENT = "document-1"


def unit_vector(seed: int, dim: int = DIM) -> numpy.ndarray:
    """A random float32 unit vector fixed by ``seed``."""
    vector = numpy.random.default_rng(seed).standard_normal(dim).astype(numpy.float32)
    normalised: numpy.ndarray = vector / numpy.linalg.norm(vector)
    return normalised


def make_chunk(
    content: str = "",
    *,
    order: int = 0,
    tenant_id: str = TENANT,
    dataset_id: str = DATASET,
    document_id: str = DOCUMENT,
    tokens: str | None = None,
    seed: int | None = None,
    **fields: Any,
) -> ChunkRecord:
    """A chunk whose content tokens default to its content and whose vector defaults to
    ``unit_vector(seed)`` (no vector when ``seed`` is None); ``fields`` set any other field."""
    content = content or f"chunk {order} of {document_id}"
    fields.setdefault("vector", None if seed is None else unit_vector(seed))
    return ChunkRecord(
        id=chunk_id(document_id, content, order),
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        document_id=document_id,
        document_name=f"{document_id}.pdf",
        content=content,
        content_tokens=content.lower() if tokens is None else tokens,
        order=order,
        **fields,
    )


def scope(
    *,
    tenants: Sequence[str] = (TENANT,),
    datasets: Sequence[str] = (DATASET,),
    documents: Sequence[str] | None = None,
    available_only: bool = True,
) -> ChunkFilter:
    return ChunkFilter(
        tenant_ids=list(tenants),
        dataset_ids=list(datasets),
        document_ids=None if documents is None else list(documents),
        available_only=available_only,
    )


def ids(hits: Sequence[ScoredChunk]) -> list[str]:
    return [hit.chunk.id for hit in hits]


def by_id(candidates: Sequence[Candidate]) -> dict[str, Candidate]:
    found = {candidate.chunk_id: candidate for candidate in candidates}
    assert len(found) == len(candidates), "a chunk appears twice among the candidates"
    return found


def search(
    store: ChunkStore, kind: str, chunk: ChunkRecord, filters: ChunkFilter, top_k: int = 10
) -> list[ScoredChunk]:
    """Search for ``chunk`` by its first content token (``kind="text"``) or its vector."""
    if kind == "text":
        return store.search_text(chunk.content_tokens.split()[:1], filters, top_k)
    assert chunk.vector is not None
    return store.search_vector(chunk.vector, filters, top_k)


def exact_neighbours(
    query: numpy.ndarray, chunks: Sequence[ChunkRecord], top_k: int
) -> list[tuple[str, float]]:
    """The ``top_k`` chunks nearest to ``query`` by cosine similarity, computed by numpy."""
    with_vectors = [chunk for chunk in chunks if chunk.vector is not None]
    matrix = numpy.stack([chunk.vector for chunk in with_vectors if chunk.vector is not None])
    scores = matrix @ query / (numpy.linalg.norm(matrix, axis=1) * numpy.linalg.norm(query))
    order = numpy.argsort(-scores, kind="stable")[:top_k]
    return [(with_vectors[i].id, float(scores[i])) for i in order]


SEARCH_KINDS = ["text", "vector"]


def fillers(count: int = 6) -> list[ChunkRecord]:
    """Chunks sharing no query term used below, so that BM25's IDF stays positive."""
    text = "filler number{} lorem ipsum"
    return [make_chunk(text.format(i), order=100 + i, document_id="fill") for i in range(count)]


class ChunkStoreContract:
    """The behaviour every ``ChunkStore`` must show."""

    @pytest.fixture
    def store(self) -> Iterator[ChunkStore]:
        raise NotImplementedError("a backend's test class provides the store")

    # insert / get

    def test_round_trip_keeps_every_field(self, store: ChunkStore) -> None:
        full = ChunkRecord(
            id=chunk_id(DOCUMENT, "自然语言处理", 7),
            tenant_id=TENANT,
            dataset_id=DATASET,
            document_id=DOCUMENT,
            document_name="报告 report.pdf",
            content='自然语言处理 — natural "language"\n processing',
            content_tokens="自然语言 处理 natur languag process",
            title_tokens="报告 report",
            keyword_tokens="nlp 中文 what nlp",
            important_keywords=["NLP", "中文"],
            questions=["What is NLP?"],
            positions=[[1, 10, 200, 30, 60], [2, 0, 5, 6, 7]],
            image_id="dataset-1-img",
            available=False,
            token_count=42,
            order=7,
            create_time=1_700_000_000.25,
            fields={"row": {"a": 1, "b": [1.5, None, "x"]}, "answer": "é"},
            vector=unit_vector(3),
        )
        bare = make_chunk("bare chunk", order=1)
        store.insert([full, bare])

        got = store.get([full.id, bare.id], [TENANT])

        assert [replace(chunk, vector=None) for chunk in got] == [replace(full, vector=None), bare]
        assert got[0].vector is not None and got[0].vector.dtype == numpy.float32
        numpy.testing.assert_allclose(got[0].vector, unit_vector(3), atol=1e-7)

    def test_get_keeps_the_order_asked_and_skips_unknown_and_foreign(
        self, store: ChunkStore
    ) -> None:
        mine = [make_chunk(order=i) for i in range(3)]
        foreign = make_chunk(order=9, tenant_id=OTHER_TENANT)
        store.insert([*mine, foreign])

        got = store.get([mine[2].id, "feedfacefeedface", mine[0].id, foreign.id], [TENANT])

        assert [chunk.id for chunk in got] == [mine[2].id, mine[0].id]
        assert store.get([foreign.id], [OTHER_TENANT, TENANT])[0].tenant_id == OTHER_TENANT
        assert store.get([], [TENANT]) == []
        assert store.get([mine[0].id], []) == []

    def test_duplicate_ids_raise_and_write_nothing(self, store: ChunkStore) -> None:
        first = make_chunk("first", seed=1)
        store.insert([first])
        fresh = make_chunk("fresh", order=1, seed=2)

        with pytest.raises(ChunkStoreError):
            store.insert([fresh, make_chunk("first", seed=3)])
        with pytest.raises(ChunkStoreError):
            store.insert([fresh, fresh])

        assert store.get([fresh.id], [TENANT]) == []
        assert store.counts(dataset_id=DATASET) == ChunkCounts(chunks=1, tokens=0)
        stored = store.get([first.id], [TENANT])[0]
        assert stored.vector is not None
        numpy.testing.assert_allclose(stored.vector, unit_vector(1), atol=1e-7)

    def test_a_dataset_keeps_one_vector_dimension(self, store: ChunkStore) -> None:
        store.insert([make_chunk("a", seed=1)])

        with pytest.raises(ChunkStoreError):
            store.insert([make_chunk("b", order=1, vector=numpy.ones(DIM + 1, numpy.float32))])
        other = make_chunk("c", dataset_id=OTHER_DATASET, vector=unit_vector(1, dim=DIM + 1))
        store.insert([other])

        assert store.counts(dataset_id=DATASET).chunks == 1
        assert store.counts(dataset_id=OTHER_DATASET).chunks == 1

    # text search

    def test_keyword_then_title_tokens_outrank_content(self, store: ChunkStore) -> None:
        in_keywords = make_chunk("alpha beta gamma", keyword_tokens="zeta")
        in_title = make_chunk("alpha beta delta", order=1, title_tokens="zeta")
        in_content = make_chunk("zeta beta gamma", order=2)
        store.insert([in_content, in_title, in_keywords, *fillers()])

        hits = store.search_text(["zeta"], scope(), 10)

        assert ids(hits) == [in_keywords.id, in_title.id, in_content.id]
        assert hits[0].score > hits[1].score > hits[2].score > 0

    def test_more_matching_terms_rank_higher(self, store: ChunkStore) -> None:
        one = make_chunk("red yellow purple", order=0)
        two = make_chunk("red green purple", order=1)
        three = make_chunk("red green blue", order=2)
        store.insert([one, two, three, *fillers()])

        hits = store.search_text(["red", "green", "blue"], scope(), 10)

        assert ids(hits) == [three.id, two.id, one.id]
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)

    def test_no_matching_term_finds_nothing(self, store: ChunkStore) -> None:
        store.insert([make_chunk("red green blue"), *fillers()])

        assert store.search_text(["violet"], scope(), 10) == []
        assert store.search_text([], scope(), 10) == []
        assert store.search_text(["  ", "\t"], scope(), 10) == []
        assert store.search_text(["red"], scope(), 0) == []

    def test_top_k_limits_the_hits(self, store: ChunkStore) -> None:
        store.insert([make_chunk(f"common word{i}", order=i) for i in range(8)] + fillers())

        assert len(store.search_text(["common"], scope(), 3)) == 3

    def test_tokens_are_matched_whole_as_given(self, store: ChunkStore) -> None:
        cjk = make_chunk("自然语言处理", tokens="自然语言 处理")
        code = make_chunk("C++ and Node.js", order=1, tokens="c++ node.js connect")
        store.insert([cjk, code, *fillers()])

        assert ids(store.search_text(["自然语言"], scope(), 10)) == [cjk.id]
        assert store.search_text(["自然"], scope(), 10) == []
        assert ids(store.search_text(["c++"], scope(), 10)) == [code.id]
        assert store.search_text(["c"], scope(), 10) == []
        assert ids(store.search_text(["node.js"], scope(), 10)) == [code.id]
        assert store.search_text(["connected"], scope(), 10) == []
        assert ids(store.search_text(["connect"], scope(), 10)) == [code.id]

    def test_query_syntax_in_tokens_is_literal(self, store: ChunkStore) -> None:
        chunk = make_chunk("plain", tokens='plain "quoted" a*b')
        store.insert([chunk, *fillers()])

        for token in ['"', "AND", "OR", "NOT", "a*", "NEAR(x", "-plain", "col:x", "^plain", "*"]:
            assert store.search_text([token], scope(), 10) == [], token
        assert ids(store.search_text(['"quoted"', "a*b"], scope(), 10)) == [chunk.id]

    # filters, for both kinds of search

    @pytest.mark.parametrize("kind", SEARCH_KINDS)
    def test_other_tenants_chunks_are_never_found(self, store: ChunkStore, kind: str) -> None:
        mine = make_chunk("shared apple", seed=1)
        theirs = make_chunk("shared apple", document_id="theirs", tenant_id=OTHER_TENANT, seed=1)
        store.insert([mine, theirs, *fillers()])

        for datasets in ([DATASET], [DATASET, OTHER_DATASET]):
            hits = search(store, kind, mine, scope(datasets=datasets))
            assert ids(hits) == [mine.id]
        assert ids(search(store, kind, mine, scope(tenants=[OTHER_TENANT]))) == [theirs.id]
        assert search(store, kind, mine, scope(tenants=[])) == []

    @pytest.mark.parametrize("kind", SEARCH_KINDS)
    def test_dataset_and_document_filters(self, store: ChunkStore, kind: str) -> None:
        first = make_chunk("shared apple", seed=1)
        second = make_chunk("shared apple", document_id="document-2", seed=2)
        elsewhere = make_chunk("shared apple", dataset_id=OTHER_DATASET, document_id="d3", seed=3)
        store.insert([first, second, elsewhere, *fillers()])

        assert set(ids(search(store, kind, first, scope()))) == {first.id, second.id}
        both = scope(datasets=[DATASET, OTHER_DATASET])
        assert set(ids(search(store, kind, first, both))) == {first.id, second.id, elsewhere.id}
        assert ids(search(store, kind, first, scope(datasets=[OTHER_DATASET]))) == [elsewhere.id]
        assert ids(search(store, kind, first, scope(documents=["document-2"]))) == [second.id]
        assert search(store, kind, first, scope(documents=["d3"])) == []
        assert search(store, kind, first, scope(documents=[])) == []
        assert search(store, kind, first, scope(datasets=[])) == []

    @pytest.mark.parametrize("kind", SEARCH_KINDS)
    def test_documents_of_other_datasets_asked_for_do_not_crowd_out_the_rest(
        self, store: ChunkStore, kind: str
    ) -> None:
        """Filters naming documents outside their datasets or tenants find the best rows that
        pass all of it, however well the others rank."""
        mine = make_chunk("apple", seed=1)
        crowd = [
            make_chunk("apple apple apple", order=i, document_id="d3", dataset_id=OTHER_DATASET)
            for i in range(12)
        ] + [
            make_chunk("apple apple apple", order=i, document_id="d4", tenant_id=OTHER_TENANT)
            for i in range(12)
        ]
        crowd = [replace(chunk, vector=mine.vector) for chunk in crowd]  # ties, inserted first
        store.insert([*crowd, mine, *fillers()])

        asked = scope(documents=["d3", "d4", DOCUMENT])
        assert ids(search(store, kind, mine, asked, top_k=3)) == [mine.id]

    @pytest.mark.parametrize("kind", SEARCH_KINDS)
    def test_available_only(self, store: ChunkStore, kind: str) -> None:
        shown = make_chunk("shared apple", seed=1)
        hidden = make_chunk("shared apple", order=1, seed=2, available=False)
        store.insert([shown, hidden, *fillers()])

        assert ids(search(store, kind, shown, scope())) == [shown.id]
        found = search(store, kind, shown, scope(available_only=False))
        assert set(ids(found)) == {shown.id, hidden.id}

    # hybrid candidates

    def test_candidates_join_text_and_vector_hits_with_both_scores(self, store: ChunkStore) -> None:
        query = unit_vector(7)
        by_text = make_chunk("walrus tusk", seed=1)
        by_vector = make_chunk("unrelated words", order=1, vector=query)
        both = make_chunk("walrus again", order=2, vector=unit_vector(7) + 0.1 * unit_vector(8))
        store.insert([by_text, by_vector, both, *fillers()])

        found = by_id(store.candidates(["walrus"], query, scope(), 3))

        assert set(found) >= {by_text.id, by_vector.id, both.id}
        chunks = {c.id: c for c in [by_text, by_vector, both, *fillers()]}
        for key, candidate in found.items():
            vector = chunks[key].vector
            assert vector is not None
            expected = float(vector @ query / numpy.linalg.norm(vector))
            assert candidate.vector_similarity == pytest.approx(expected, abs=1e-5)
            assert candidate.document_id == chunks[key].document_id
            assert candidate.document_name == chunks[key].document_name
        assert found[by_vector.id].term_similarity == 0.0
        assert 0.0 < found[by_text.id].term_similarity < 1.0
        assert 0.0 < found[both.id].term_similarity < 1.0
        assert found[by_vector.id].vector_similarity == pytest.approx(1.0, abs=1e-5)

    def test_candidate_term_similarity_ranks_as_bm25(self, store: ChunkStore) -> None:
        chunks = [
            make_chunk("red green blue", order=0),
            make_chunk("red green", order=1),
            make_chunk("red", order=2),
            make_chunk("blue blue blue", order=3),
        ]
        store.insert([*chunks, *fillers()])
        tokens = ["red", "green", "blue"]

        found = by_id(store.candidates(tokens, None, scope(), 10))
        ranked = sorted(found, key=lambda key: -found[key].term_similarity)

        assert ranked == ids(store.search_text(tokens, scope(), 10))
        assert ranked[0] == chunks[0].id
        assert all(c.vector_similarity == 0.0 for c in found.values())
        assert all(0.0 < c.term_similarity < 1.0 for c in found.values())

    def test_term_statistics_come_only_from_the_datasets_searched(self, store: ChunkStore) -> None:
        """Document frequencies and lengths of chunks outside the search's datasets and
        tenants (another tenant's, another dataset of the same tenant) neither tell whether
        a word occurs there nor move the scores (issue 21, point 1)."""
        theirs = [
            make_chunk(f"huntera42 password{i} of a longer chunk", order=i, document_id="a",
                       tenant_id=OTHER_TENANT, dataset_id=OTHER_DATASET)
            for i in range(5)
        ] + [
            make_chunk(f"huntera42 note{i}", order=i, document_id="b", dataset_id=OTHER_DATASET)
            for i in range(5)
        ]  # fmt: skip
        store.insert(theirs[:5])
        mine = [
            make_chunk(word, order=i)
            for i, word in enumerate(("huntera42", "zqxjvk42", "huntera43"))
        ]
        store.insert(mine)

        def term_scores(tokens: list[str]) -> dict[str, float]:
            return {
                c.chunk_id: c.term_similarity for c in store.candidates(tokens, None, scope(), 10)
            }

        probe = term_scores(["huntera42", "zqxjvk42"])
        control = term_scores(["huntera43", "zqxjvk42"])
        assert probe[mine[0].id] == pytest.approx(probe[mine[1].id], rel=1e-6)
        assert probe[mine[0].id] == pytest.approx(control[mine[2].id], rel=1e-6)
        assert probe[mine[1].id] == pytest.approx(control[mine[1].id], rel=1e-6)
        text = [(hit.chunk.id, hit.score) for hit in store.search_text(["huntera42"], scope(), 10)]

        store.insert(theirs[5:])
        store.insert(
            [make_chunk("zqxjvk42 " * 9, order=9, tenant_id=OTHER_TENANT, dataset_id=DATASET)]
        )
        assert term_scores(["huntera42", "zqxjvk42"]) == pytest.approx(probe, rel=1e-6)
        again = [(hit.chunk.id, hit.score) for hit in store.search_text(["huntera42"], scope(), 10)]
        assert [key for key, _ in again] == [key for key, _ in text]
        assert [score for _, score in again] == pytest.approx(
            [score for _, score in text], rel=1e-6
        )

    def test_term_statistics_of_several_datasets_are_taken_together(
        self, store: ChunkStore
    ) -> None:
        """A word common in one searched dataset is common for the whole search: a chunk
        matching a word rare across both datasets outranks one matching a word that is rare
        only in its own dataset."""
        rare = make_chunk("alpha")
        common = [make_chunk("beta", order=1 + i) for i in range(10)]
        beta = make_chunk("beta", dataset_id=OTHER_DATASET, document_id="d2")
        filler = [
            make_chunk(
                f"filler{i} lorem ipsum", order=i, dataset_id=OTHER_DATASET, document_id="d2"
            )
            for i in range(30)
        ]
        store.insert([rare, *common, beta, *filler])
        both = scope(datasets=[DATASET, OTHER_DATASET])

        hits = store.search_text(["alpha", "beta"], both, 3)
        found = by_id(store.candidates(["alpha", "beta"], None, both, 20))

        assert ids(hits)[0] == rare.id
        assert found[rare.id].term_similarity > found[beta.id].term_similarity
        alone = by_id(
            store.candidates(["alpha", "beta"], None, scope(datasets=[OTHER_DATASET]), 20)
        )
        assert alone[beta.id].term_similarity > found[beta.id].term_similarity

    def test_candidates_found_by_vector_get_their_term_score(self, store: ChunkStore) -> None:
        query = unit_vector(3)
        strong = [make_chunk(f"apple apple {i}", order=i, seed=100 + i) for i in range(5)]
        weak = make_chunk("apple pie recipe text", order=9, vector=query)
        store.insert([*strong, weak, *fillers()])

        found = by_id(store.candidates(["apple"], query, scope(), 2))

        assert weak.id in found
        assert found[weak.id].term_similarity > 0.0
        text_ids = {key for key, c in found.items() if key != weak.id}
        assert len(text_ids) >= 2

    def test_candidates_bound_each_side_by_its_own_count(self, store: ChunkStore) -> None:
        query = unit_vector(6)
        by_text = [make_chunk(f"otter {i}", order=i, seed=200 + i) for i in range(4)]
        nearest = make_chunk("unrelated", order=9, vector=query)
        store.insert([*by_text, nearest, *fillers()])

        found = by_id(store.candidates(["otter"], query, scope(), 1, text_k=10))
        assert set(found) == {nearest.id, *(c.id for c in by_text)}
        only_vector = by_id(store.candidates(["otter"], query, scope(), 1, text_k=0))
        assert set(only_vector) == {nearest.id}

    def test_candidates_take_the_vector_as_a_function_called_once(self, store: ChunkStore) -> None:
        query = unit_vector(4)
        mine = make_chunk("kiwi", vector=query)
        hidden = make_chunk("kiwi", order=1, vector=query, available=False)
        other = make_chunk("kiwi fruit", order=2, vector=unit_vector(5), document_id="doc-2")
        store.insert([mine, hidden, other, *fillers()])
        calls: list[int] = []

        def later() -> numpy.ndarray:
            calls.append(1)
            return query

        for filters in (scope(), scope(documents=[DOCUMENT])):
            calls.clear()
            given = store.candidates(["kiwi"], query, filters, 10)
            deferred = store.candidates(["kiwi"], later, filters, 10)
            assert calls == [1]
            assert by_id(deferred) == by_id(given)
            assert hidden.id not in by_id(deferred)

    def test_candidates_honour_filters(self, store: ChunkStore) -> None:
        query = unit_vector(4)
        mine = make_chunk("kiwi", vector=query)
        hidden = make_chunk("kiwi", order=1, vector=query, available=False)
        foreign = make_chunk("kiwi", order=2, vector=query, tenant_id=OTHER_TENANT)
        elsewhere = make_chunk("kiwi", vector=query, document_id="doc-2")
        store.insert([mine, hidden, foreign, elsewhere, *fillers()])

        found = by_id(store.candidates(["kiwi"], query, scope(documents=[DOCUMENT]), 10))
        assert set(found) == {mine.id}
        assert store.candidates(["kiwi"], query, scope(documents=[]), 10) == []
        assert store.candidates(["kiwi"], query, scope(), 0) == []
        assert store.candidates([], None, scope(), 10) == []

    def test_set_available_hides_and_shows_a_document(self, store: ChunkStore) -> None:
        query = unit_vector(5)
        chunks = [make_chunk(f"mango {i}", order=i, vector=query) for i in range(3)]
        kept = make_chunk("mango", document_id="doc-2", seed=9)
        store.insert([*chunks, kept, *fillers()])

        assert store.set_available(DOCUMENT, False) == 3
        assert ids(store.search_text(["mango"], scope(), 10)) == [kept.id]
        assert set(by_id(store.candidates(["mango"], query, scope(), 10))) == {kept.id}
        listed, total = store.list_document_chunks(DOCUMENT)
        assert total == 3 and not any(chunk.available for chunk in listed)

        assert store.set_available(DOCUMENT, True) == 3
        assert len(store.search_text(["mango"], scope(), 10)) == 4
        assert store.set_available("no-such-document", True) == 0

    def test_rename_document_renames_its_chunks_and_their_title(self, store: ChunkStore) -> None:
        chunks = [make_chunk(f"mango {i}", order=i, title_tokens="old") for i in range(3)]
        other = make_chunk("mango", document_id="doc-2", title_tokens="old")
        store.insert([*chunks, other, *fillers()])

        assert store.rename_document(DOCUMENT, "papaya.pdf", "papaya") == 3
        assert set(ids(store.search_text(["papaya"], scope(), 10))) == {c.id for c in chunks}
        assert ids(store.search_text(["old"], scope(), 10)) == [other.id]
        listed, _ = store.list_document_chunks(DOCUMENT)
        assert {chunk.document_name for chunk in listed} == {"papaya.pdf"}
        assert store.get([other.id], [TENANT])[0].document_name == "doc-2.pdf"
        found = store.candidates(["mango"], None, scope(), 10)
        assert {c.chunk_id: c.document_name for c in found} == {
            **{c.id: "papaya.pdf" for c in chunks},
            other.id: "doc-2.pdf",
        }
        assert store.rename_document("no-such-document", "x.pdf", "x") == 0

    # vector search

    def test_vector_search_finds_the_chunk_itself_first(self, store: ChunkStore) -> None:
        chunks = [make_chunk(order=i, seed=i) for i in range(60)]
        store.insert(chunks)

        for chunk in chunks[::7]:
            assert chunk.vector is not None
            hits = store.search_vector(chunk.vector, scope(), 1)
            assert ids(hits) == [chunk.id]
            assert hits[0].score == pytest.approx(1.0, abs=1e-5)

    def test_vector_scores_are_cosine_similarities(self, store: ChunkStore) -> None:
        chunks = [make_chunk(order=i, seed=i) for i in range(60)]
        store.insert(chunks)
        query = unit_vector(1000) * 3.0  # not normalised: cosine ignores the length

        hits = store.search_vector(query, scope(), 10)

        expected = exact_neighbours(query, chunks, 10)
        assert ids(hits) == [chunk for chunk, _ in expected]
        for hit, (_, score) in zip(hits, expected, strict=True):
            assert hit.score == pytest.approx(score, abs=1e-5)
            assert -1.0 <= hit.score <= 1.0

    def test_vector_search_merges_datasets(self, store: ChunkStore) -> None:
        chunks = [
            make_chunk(order=i, seed=i, dataset_id=(DATASET, OTHER_DATASET)[i % 2])
            for i in range(40)
        ]
        store.insert(chunks)
        query = unit_vector(2000)

        hits = store.search_vector(query, scope(datasets=[DATASET, OTHER_DATASET]), 12)

        assert ids(hits) == [chunk for chunk, _ in exact_neighbours(query, chunks, 12)]

    def test_vector_search_skips_chunks_without_vectors(self, store: ChunkStore) -> None:
        with_vector = make_chunk("apple one", seed=1)
        without = make_chunk("apple two", order=1)
        bare_dataset = make_chunk("apple three", dataset_id=OTHER_DATASET)
        store.insert([with_vector, without, bare_dataset, *fillers()])
        both = scope(datasets=[DATASET, OTHER_DATASET])

        assert ids(store.search_vector(unit_vector(5), both, 10)) == [with_vector.id]
        assert len(store.search_text(["apple"], both, 10)) == 3

    def test_vector_of_the_wrong_dimension_raises(self, store: ChunkStore) -> None:
        store.insert([make_chunk(seed=1)])

        with pytest.raises(ChunkStoreError):
            store.search_vector(unit_vector(1, dim=DIM * 2), scope(), 5)
        with pytest.raises(ChunkStoreError):
            store.search_vector(numpy.zeros(DIM, numpy.float32), scope(), 5)

    # replace_document

    def test_replace_document_swaps_its_chunks(self, store: ChunkStore) -> None:
        old = [make_chunk(f"old apple {i}", order=i, seed=i, token_count=10) for i in range(3)]
        other = make_chunk("other apple", document_id="document-2", seed=50, token_count=1)
        store.insert([*old, other, *fillers()])
        new = [make_chunk(f"new pear {i}", order=i, seed=10 + i, token_count=5) for i in range(5)]

        store.replace_document(DOCUMENT, new)

        assert store.get([chunk.id for chunk in old], [TENANT]) == []
        assert len(store.get([chunk.id for chunk in new], [TENANT])) == 5
        assert store.counts(document_id=DOCUMENT) == ChunkCounts(chunks=5, tokens=25)
        assert ids(store.search_text(["apple"], scope(), 10)) == [other.id]
        assert len(store.search_text(["pear"], scope(), 10)) == 5
        assert old[0].vector is not None and new[0].vector is not None
        assert store.search_vector(old[0].vector, scope(), 1)[0].chunk.id != old[0].id
        assert ids(store.search_vector(new[0].vector, scope(), 1)) == [new[0].id]

    def test_replace_document_with_the_same_ids_and_with_nothing(self, store: ChunkStore) -> None:
        chunks = [make_chunk(order=i, seed=i) for i in range(3)]
        store.insert(chunks)

        store.replace_document(DOCUMENT, chunks)
        assert store.counts(document_id=DOCUMENT).chunks == 3
        store.replace_document(DOCUMENT, [])
        assert store.counts(document_id=DOCUMENT).chunks == 0
        assert store.search_vector(unit_vector(0), scope(), 5) == []

    def test_failed_replace_document_changes_nothing(self, store: ChunkStore) -> None:
        old = [make_chunk(order=i) for i in range(3)]
        elsewhere = make_chunk("elsewhere", document_id="document-2")
        store.insert([*old, elsewhere])

        with pytest.raises(ChunkStoreError):
            store.replace_document(DOCUMENT, [make_chunk("x", document_id="document-2")])
        with pytest.raises(ChunkStoreError):
            clash = make_chunk("new")
            store.replace_document(DOCUMENT, [clash, clash])
        with pytest.raises(ChunkStoreError):
            stolen = make_chunk("elsewhere", document_id="document-2")
            store.replace_document(DOCUMENT, [make_chunk("new"), stolen])

        assert len(store.get([chunk.id for chunk in old], [TENANT])) == 3
        assert store.counts() == ChunkCounts(chunks=4, tokens=0)

    def test_readers_see_the_old_or_the_new_document(self, store: ChunkStore) -> None:
        versions = [
            [make_chunk(f"version a {i}", order=i) for i in range(3)],
            [make_chunk(f"version b {i}", order=i) for i in range(5)],
        ]
        expected = [{chunk.id for chunk in version} for version in versions]
        store.insert(versions[0])
        seen: list[set[str]] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                listed, total = store.list_document_chunks(DOCUMENT, limit=100)
                seen.append({chunk.id for chunk in listed})
                assert total == len(listed)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for round_ in range(30):
                store.replace_document(DOCUMENT, versions[(round_ + 1) % 2])
        finally:
            done.set()
            reader.join()
        assert seen
        assert all(ids_seen in expected for ids_seen in seen)

    # replace_vectors (a dataset embedded again by another model)

    def test_replace_vectors_swaps_every_vector_even_to_another_dimension(
        self, store: ChunkStore
    ) -> None:
        chunks = [make_chunk(order=i, seed=i) for i in range(40)]
        other = make_chunk(order=0, dataset_id=OTHER_DATASET, document_id="document-2", seed=99)
        bare = make_chunk("no vector", order=50)
        store.insert([*chunks, other, bare])
        mine = scope()
        assert ids(store.search_vector(unit_vector(7), mine, 1)) == [chunks[7].id]
        expected = {c.id: vector_fingerprint(c.vector) for c in chunks if c.vector is not None}
        wide = {c.id: unit_vector(1000 + i, 24) for i, c in enumerate(chunks)}

        store.replace_vectors(DATASET, wide, expected)

        got = {c.id: c.vector for c in store.get([c.id for c in chunks], [TENANT])}
        for key, vector in wide.items():
            numpy.testing.assert_allclose(got[key], vector, atol=1e-7)
        assert store.get([bare.id], [TENANT])[0].vector is None
        assert ids(store.search_vector(unit_vector(1007, 24), mine, 1)) == [chunks[7].id]
        with pytest.raises(ChunkStoreError):
            store.search_vector(unit_vector(7), mine, 1)
        theirs = scope(datasets=[OTHER_DATASET])
        assert ids(store.search_vector(unit_vector(99), theirs, 1)) == [other.id]
        # new chunks of the dataset must now have the new dimension
        with pytest.raises(ChunkStoreError):
            store.insert([make_chunk(order=60, seed=60)])
        store.insert([make_chunk(order=61, vector=unit_vector(61, 24))])

    def test_replace_vectors_refuses_when_the_dataset_changed(self, store: ChunkStore) -> None:
        chunks = [make_chunk(order=i, seed=i) for i in range(4)]
        store.insert(chunks)
        expected = {c.id: vector_fingerprint(c.vector) for c in chunks if c.vector is not None}
        new = {c.id: unit_vector(100 + i) for i, c in enumerate(chunks)}
        store.update(replace(chunks[1], vector=unit_vector(51)))  # re-embedded meanwhile

        with pytest.raises(VectorsChanged):
            store.replace_vectors(DATASET, new, expected)

        assert store.get([chunks[0].id], [TENANT])[0].vector is not None
        numpy.testing.assert_allclose(
            store.get([chunks[0].id], [TENANT])[0].vector, unit_vector(0), atol=1e-7
        )
        expected[chunks[1].id] = vector_fingerprint(unit_vector(51))
        added = make_chunk(order=9, seed=9)
        store.insert([added])
        with pytest.raises(VectorsChanged):
            store.replace_vectors(DATASET, new, expected)
        with pytest.raises(ChunkStoreError):  # ids of vectors and expected differ
            store.replace_vectors(DATASET, {}, expected)
        expected[added.id], new[added.id] = vector_fingerprint(unit_vector(9)), unit_vector(109)
        store.replace_vectors(DATASET, new, expected)
        numpy.testing.assert_allclose(
            store.get([added.id], [TENANT])[0].vector, unit_vector(109), atol=1e-7
        )

    # update

    def test_update_is_searchable_at_once(self, store: ChunkStore) -> None:
        chunk = make_chunk("old words", seed=1, token_count=2)
        store.insert([chunk, *fillers()])
        changed = make_chunk("old words", seed=2, token_count=3)
        changed.content = "new words"
        changed.content_tokens = "fresh words"
        changed.important_keywords = ["fresh"]
        changed.questions = ["Is it fresh?"]

        store.update(changed)

        assert store.get([chunk.id], [TENANT]) == [changed]
        assert ids(store.search_text(["fresh"], scope(), 10)) == [chunk.id]
        assert store.search_text(["old"], scope(), 10) == []
        hits = store.search_vector(unit_vector(2), scope(), 1)
        assert ids(hits) == [chunk.id]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert store.counts() == ChunkCounts(chunks=7, tokens=3)

    def test_update_availability_and_vector_removal(self, store: ChunkStore) -> None:
        chunk = make_chunk("apple", seed=1)
        store.insert([chunk, *fillers()])

        chunk.available = False
        store.update(chunk)
        assert store.search_text(["apple"], scope(), 5) == []
        assert store.search_vector(unit_vector(1), scope(), 5) == []
        assert ids(store.search_text(["apple"], scope(available_only=False), 5)) == [chunk.id]

        chunk.available, chunk.vector = True, None
        store.update(chunk)
        assert ids(store.search_text(["apple"], scope(), 5)) == [chunk.id]
        assert store.search_vector(unit_vector(1), scope(), 5) == []

    def test_update_refuses_unknown_and_moved_chunks(self, store: ChunkStore) -> None:
        chunk = make_chunk("apple")
        store.insert([chunk])

        with pytest.raises(ChunkNotFound):
            store.update(make_chunk("never stored"))
        moved = make_chunk("apple", dataset_id=OTHER_DATASET)
        moved.id = chunk.id
        with pytest.raises(ChunkStoreError):
            store.update(moved)
        assert store.get([chunk.id], [TENANT]) == [chunk]
        assert issubclass(ChunkNotFound, ChunkStoreError)

    # deletes

    def test_delete_by_ids(self, store: ChunkStore) -> None:
        chunks = [make_chunk(f"apple {i}", order=i, seed=i) for i in range(4)]
        store.insert([*chunks, *fillers()])

        assert store.delete([chunks[0].id, chunks[1].id, "feedfacefeedface"]) == 2
        assert store.delete([]) == 0

        assert store.get([chunks[0].id, chunks[1].id], [TENANT]) == []
        assert set(ids(store.search_text(["apple"], scope(), 10))) == {
            chunks[2].id,
            chunks[3].id,
        }
        assert chunks[0].vector is not None
        found = ids(store.search_vector(chunks[0].vector, scope(documents=[DOCUMENT]), 10))
        assert set(found) == {chunks[2].id, chunks[3].id}
        found = ids(store.search_vector(chunks[0].vector, scope(), 10))
        assert set(found) == {chunks[2].id, chunks[3].id}

    def test_delete_document(self, store: ChunkStore) -> None:
        doomed = [make_chunk(f"apple {i}", order=i, seed=i) for i in range(3)]
        kept = make_chunk("apple kept", document_id="document-2", seed=9)
        store.insert([*doomed, kept])

        assert store.delete_document(DOCUMENT) == 3
        assert store.delete_document(DOCUMENT) == 0

        assert ids(store.search_text(["apple"], scope(), 10)) == [kept.id]
        assert ids(store.search_vector(unit_vector(0), scope(), 10)) == [kept.id]
        assert store.counts(document_id=DOCUMENT).chunks == 0

    def test_delete_dataset(self, store: ChunkStore) -> None:
        doomed = [make_chunk(f"apple {i}", order=i, seed=i) for i in range(3)]
        kept = make_chunk("apple kept", dataset_id=OTHER_DATASET, document_id="d2", seed=9)
        store.insert([*doomed, kept])
        both = scope(datasets=[DATASET, OTHER_DATASET])
        assert len(store.search_vector(unit_vector(0), both, 10)) == 4

        assert store.delete_dataset(DATASET) == 3

        assert ids(store.search_text(["apple"], both, 10)) == [kept.id]
        assert ids(store.search_vector(unit_vector(0), both, 10)) == [kept.id]
        assert store.counts(dataset_id=DATASET) == ChunkCounts(chunks=0, tokens=0)
        # the dataset can be filled again, even with vectors of another dimension
        again = make_chunk("apple again", vector=unit_vector(1, dim=DIM * 2))
        store.insert([again])
        assert again.vector is not None
        assert ids(store.search_vector(again.vector, scope(), 5)) == [again.id]

    # counts and listing

    def test_counts(self, store: ChunkStore) -> None:
        store.insert([])
        assert store.counts() == ChunkCounts(chunks=0, tokens=0)
        store.insert(
            [
                make_chunk(order=0, token_count=5),
                make_chunk(order=1, token_count=7),
                make_chunk(order=2, document_id="document-2", token_count=11),
                make_chunk(order=3, dataset_id=OTHER_DATASET, document_id="d3", token_count=13),
            ]
        )

        assert store.counts(document_id=DOCUMENT) == ChunkCounts(chunks=2, tokens=12)
        assert store.counts(dataset_id=DATASET) == ChunkCounts(chunks=3, tokens=23)
        assert store.counts(dataset_id=OTHER_DATASET, document_id="d3") == ChunkCounts(1, 13)
        assert store.counts(dataset_id=OTHER_DATASET, document_id=DOCUMENT) == ChunkCounts(0, 0)
        assert store.counts() == ChunkCounts(chunks=4, tokens=36)

    def test_list_document_chunks_by_order_with_paging(self, store: ChunkStore) -> None:
        chunks = {order: make_chunk(order=order) for order in (3, 1, 4, 0, 2)}
        chunks[1].available = False
        store.insert([*chunks.values(), make_chunk(order=0, document_id="document-2")])

        listed, total = store.list_document_chunks(DOCUMENT)
        assert [chunk.order for chunk in listed] == [0, 1, 2, 3, 4]
        assert total == 5
        assert listed[1] == chunks[1]

        page, total = store.list_document_chunks(DOCUMENT, offset=1, limit=2)
        assert [chunk.order for chunk in page] == [1, 2]
        assert total == 5
        assert store.list_document_chunks(DOCUMENT, offset=10) == ([], 5)
        assert store.list_document_chunks("no-such-document") == ([], 0)

    def test_list_document_chunks_by_terms_and_id(self, store: ChunkStore) -> None:
        contents = ["apple pie", "apple tart", "äpfel und birnen", "pear"]
        chunks = [make_chunk(text, order=i) for i, text in enumerate(contents)]
        titled = make_chunk("plum", order=4, title_tokens="orchard")
        store.insert([*chunks, titled])

        listed, total = store.list_document_chunks(DOCUMENT, terms=["apple"])
        assert ([chunk.content for chunk in listed], total) == (contents[:2], 2)
        listed, total = store.list_document_chunks(DOCUMENT, terms=["äpfel", "pear"])
        assert ([chunk.content for chunk in listed], total) == (contents[2:4], 2)
        listed, total = store.list_document_chunks(DOCUMENT, terms=["apple"], limit=1, offset=1)
        assert ([chunk.content for chunk in listed], total) == (contents[1:2], 2)
        assert store.list_document_chunks(DOCUMENT, terms=["orchard"])[1] == 1
        assert store.list_document_chunks(DOCUMENT, terms=['"a" OR *']) == ([], 0)
        assert store.list_document_chunks(DOCUMENT, terms=[]) == ([], 0)
        assert store.list_document_chunks("other-document", terms=["apple"]) == ([], 0)
        assert store.list_document_chunks(DOCUMENT, chunk_id=chunks[3].id) == ([chunks[3]], 1)
        assert store.list_document_chunks(DOCUMENT, chunk_id="feedfacefeedface") == ([], 0)
        assert store.list_document_chunks(DOCUMENT, chunk_id=chunks[3].id, terms=["x"])[1] == 0

    # ids and lifecycle

    def test_chunk_id(self) -> None:
        key = chunk_id(DOCUMENT, "content", 3)

        assert len(key) == 16 and int(key, 16) >= 0
        assert key == chunk_id(DOCUMENT, "content", 3)
        assert len({key, chunk_id(DOCUMENT, "content", 4), chunk_id("d", "content", 3)}) == 3
        assert chunk_id(DOCUMENT, "content", 3) != chunk_id(DOCUMENT, "content3", 3)

    def test_check_and_close(self, store: ChunkStore) -> None:
        store.check()
        store.close()
        store.close()
