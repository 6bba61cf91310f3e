"""Agents: RAGFlow's canvas DSL, loaded (``dsl``), checked per component (``components``) and run
(``runner``) with RAGFlow's semantics. What a run needs from outside (chat models, dataset
search) comes through ``environment.Environment``, which the services implement."""
