"""``ragserve migrate-store``: copy every chunk, with its vector, from one chunk store to another
(the embedded store to PostgreSQL) without parsing or embedding anything again.

Dataset by dataset, document by document (in the metadata database's order), through the
``ChunkStore`` interface: a document's chunks are read from the source and written to the target
with one ``replace_document``, so a document is in the target whole or not at all. A document
the target already holds with as many chunks as the source is skipped: running it again after an
interruption resumes where it stopped, and running it twice copies nothing twice. Run it with
the servers and workers stopped (a parse during the copy could be missed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ragserve.db.models import Document
from ragserve.store import ChunkRecord, ChunkStore

PAGE = 500


@dataclass
class MigrationReport:
    datasets: int = 0
    documents_copied: int = 0
    documents_skipped: int = 0
    chunks_copied: int = 0


def migrate_chunks(
    sessions: sessionmaker[Session],
    source: ChunkStore,
    target: ChunkStore,
    progress: Callable[[str], None] = lambda _line: None,
) -> MigrationReport:
    """Copy the chunks of every document of the metadata database from ``source`` to
    ``target``; ``progress`` gets a line per dataset."""
    with sessions() as session:
        rows = session.execute(
            select(Document.dataset_id, Document.id).order_by(Document.dataset_id, Document.id)
        ).all()
    by_dataset: dict[str, list[str]] = {}
    for dataset_id, document_id in rows:
        by_dataset.setdefault(dataset_id, []).append(document_id)
    report = MigrationReport()
    for dataset_id, document_ids in by_dataset.items():
        report.datasets += 1
        copied = 0
        for document_id in document_ids:
            chunks = source.counts(document_id=document_id).chunks
            if target.counts(document_id=document_id).chunks == chunks:
                report.documents_skipped += 1
                continue
            records = _document_chunks(source, document_id)
            target.replace_document(document_id, records)
            report.documents_copied += 1
            report.chunks_copied += len(records)
            copied += len(records)
        progress(f"dataset {dataset_id}: {len(document_ids)} documents, {copied} chunks copied")
    return report


def _document_chunks(store: ChunkStore, document_id: str) -> list[ChunkRecord]:
    """Every chunk of the document, vectors included, by ``order``."""
    records: list[ChunkRecord] = []
    while True:
        page, total = store.list_document_chunks(document_id, offset=len(records), limit=PAGE)
        records.extend(page)
        if not page or len(records) >= total:
            return records
