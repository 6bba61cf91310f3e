"""ragserve: a RAG engine with RAGFlow's HTTP API that runs as one process."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ragserve")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
