"""Ingestion: parse uploaded files, chunk them, embed and index the chunks."""
