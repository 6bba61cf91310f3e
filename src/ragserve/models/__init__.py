"""Chat, embedding and rerank models: the registry of known models and their providers."""
