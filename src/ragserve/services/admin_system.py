"""The admin API's view of the system: the services ragserve runs or connects to, checked now,
and the read-only settings and environment."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ragserve import __version__
from ragserve.db.models import IngestTask, TaskStatus, TenantModel
from ragserve.errors import DataError
from ragserve.health import Component, ProbeResult, run_probes
from ragserve.runtime import Runtime
from ragserve.schemas.admin import ConfigEntry, EnvironmentEntry, ServiceDetail, ServicePublic
from ragserve.settings import Settings
from ragserve.timeutil import now_ms

STARTED = time.time()
PROVIDER_TIMEOUT_S = 3.0
HIDDEN = "********"
SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "PASSPHRASE", "TOKEN")


def _redacted_url(url: str | None) -> str | None:
    """``url`` without its password."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:{HIDDEN}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _host_port(url: str | None) -> tuple[str, int | None]:
    if not url:
        return "", None
    try:
        parts = urlsplit(url)
        return parts.hostname or "", parts.port
    except ValueError:
        return "", None


def _result(component: Component) -> ProbeResult:
    return run_probes({"it": component})["it"]


def _probed(
    service_id: int, name: str, service_type: str, component: Component, **fields: Any
) -> ServiceDetail:
    result = _result(component)
    return ServiceDetail(
        id=service_id,
        name=name,
        service_type=service_type,
        backend=result.kind,
        status="alive" if result.ok else "down",
        latency_ms=result.elapsed_ms,
        error=result.error,
        **fields,
    )


def _database_version(runtime: Runtime) -> str:
    if runtime.engine.dialect.name == "sqlite":
        return sqlite3.sqlite_version
    info = runtime.engine.dialect.server_version_info
    return ".".join(str(part) for part in info) if info else ""


def _api_server(runtime: Runtime, service_id: int) -> ServiceDetail:
    settings = runtime.settings
    return ServiceDetail(
        id=service_id,
        name="ragserve",
        service_type="api_server",
        backend="uvicorn",
        host=settings.host,
        port=settings.port,
        status="alive",
        version=__version__,
        latency_ms=0.0,
        detail={
            "pid": os.getpid(),
            "uptime_s": round(time.time() - STARTED, 1),
            "python": platform.python_version(),
            "admin_port": settings.admin_port,
            "admin_on_main_port": settings.admin_on_main_port,
        },
    )


def _task_executor(runtime: Runtime, service_id: int) -> ServiceDetail:
    started = time.perf_counter()
    with runtime.read() as session:
        counts = dict(
            session.execute(
                select(IngestTask.status, func.count(IngestTask.id))
                .where(IngestTask.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]))
                .group_by(IngestTask.status)
            ).all()
        )
        running = session.execute(
            select(IngestTask.worker_id, IngestTask.document_id, IngestTask.lease_expires_at)
            .where(IngestTask.status == TaskStatus.RUNNING)
            .order_by(IngestTask.worker_id)
        ).all()
    try:
        pending: int | None = runtime.queue.pending()
    except Exception:  # the queue's own service reports why; here only the count is missing
        pending = None
    now = now_ms()
    live = [row for row in running if row.lease_expires_at > now]
    workers = sorted({row.worker_id for row in live})
    inline = runtime.settings.runs_tasks_inline
    return ServiceDetail(
        id=service_id,
        name="workers",
        service_type="task_executor",
        backend="inline" if inline else "huey",
        status="busy" if live else "idle",
        version=__version__,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        detail={
            "configured_processes": runtime.settings.workers,
            "queue_depth": counts.get(TaskStatus.QUEUED, 0),
            "queue_messages": pending,
            "running_tasks": len(live),
            "stale_tasks": len(running) - len(live),
            "active_workers": workers,
            "tasks": [{"worker_id": row.worker_id, "document_id": row.document_id} for row in live],
        },
    )


def _providers(session: Session, settings: Settings) -> list[tuple[str, str, list[str]]]:
    """(name, api base, models) of each model provider the server or a tenant configured."""
    found: dict[tuple[str, str], list[str]] = {}
    for model_id in (settings.default_chat_model, settings.default_embedding_model):
        if model_id:
            factory = model_id.rsplit("@", 1)[1] if "@" in model_id else "LiteLLM"
            found.setdefault((factory, settings.llm_api_base or ""), []).append(model_id)
    rows = session.execute(
        select(TenantModel.factory, TenantModel.api_base, TenantModel.name).order_by(
            TenantModel.factory, TenantModel.name
        )
    ).all()
    for factory, api_base, name in rows:
        models = found.setdefault((factory, api_base or ""), [])
        if name not in models:
            models.append(name)
    return [(factory, base, models) for (factory, base), models in sorted(found.items())]


def _provider_probe(api_base: str) -> Callable[[], None]:
    def probe() -> None:
        with httpx.Client(timeout=PROVIDER_TIMEOUT_S) as client:
            client.get(api_base.rstrip("/") + "/models")

    return probe


def _provider(service_id: int, name: str, api_base: str, models: list[str]) -> ServiceDetail:
    host, port = _host_port(api_base)
    fields: dict[str, Any] = {
        "host": host,
        "port": port,
        "detail": {"api_base": api_base, "models": models},
    }
    if not api_base:  # a provider's public endpoint, or the builtin model: not called here
        return ServiceDetail(
            id=service_id,
            name=name,
            service_type="model_provider",
            backend=name,
            status="unchecked",
            **fields,
        )
    return _probed(
        service_id, name, "model_provider", Component(name, _provider_probe(api_base)), **fields
    )


def services(runtime: Runtime) -> list[ServiceDetail]:
    """Every service, checked now, with its detail."""
    settings = runtime.settings
    probes = runtime.probes()
    database_host, database_port = _host_port(settings.database_url)
    queue_host, queue_port = _host_port(settings.queue_url)
    chunks_host, chunks_port = _host_port(settings.chunk_store_url)
    found = [
        _api_server(runtime, 0),
        _task_executor(runtime, 1),
        _probed(
            2,
            "metadata database",
            "database",
            probes["database"],
            host=database_host,
            port=database_port,
            version=_database_version(runtime),
            detail={"url": make_url(settings.resolved_database_url).render_as_string()},
        ),
        _probed(
            3,
            "blob store",
            "blob_store",
            probes["storage"],
            detail={
                "backend": settings.blob_backend,
                "location": (
                    f"s3://{settings.s3_bucket}/{settings.s3_prefix}"
                    if settings.blob_backend == "s3"
                    else str(settings.resolved_blob_dir)
                ),
            },
        ),
        _probed(
            4,
            "chunk store",
            "chunk_store",
            probes["doc_engine"],
            host=chunks_host,
            port=chunks_port,
            version="" if settings.chunk_store_url else sqlite3.sqlite_version,
            detail=(
                {"url": _redacted_url(settings.chunk_store_url)}
                if settings.chunk_store_url
                else {"path": str(settings.home / "chunks.db")}
            ),
        ),
        _probed(
            5,
            "task queue",
            "queue",
            probes["queue"],
            host=queue_host,
            port=queue_port,
            detail={"url": _redacted_url(settings.queue_url) or str(settings.home / "queue.db")},
        ),
    ]
    with runtime.read() as session:
        providers = _providers(session, settings)
    for name, api_base, models in providers:
        found.append(_provider(len(found), name, api_base, models))
    return found


def list_services(runtime: Runtime) -> list[ServicePublic]:
    return [
        ServicePublic.model_validate(service.model_dump(exclude={"detail"}))
        for service in services(runtime)
    ]


def show_service(runtime: Runtime, service_id: int) -> ServiceDetail:
    for service in services(runtime):
        if service.id == service_id:
            return service
    raise DataError(f"Service {service_id} not found!")


def configs(settings: Settings) -> list[ConfigEntry]:
    """Every setting as it is in force, secrets hidden (read-only: change them and restart)."""
    entries = []
    for name, field in Settings.model_fields.items():
        value: Any = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = HIDDEN
        elif name in (
            "database_url",
            "queue_url",
            "chunk_store_url",
            "llm_api_base",
            "s3_endpoint_url",
        ):
            value = _redacted_url(value)
        elif value is not None and not isinstance(value, bool | int | float | str | list):
            value = str(value)
        entries.append(ConfigEntry(name=name, value=value, description=field.description or ""))
    return entries


def environments(runtime: Runtime) -> list[EnvironmentEntry]:
    """What the server runs on, and the ``RAGSERVE_*`` variables it was started with (values
    of secret-looking ones hidden)."""
    settings = runtime.settings
    entries = {
        "version": __version__,
        "doc_engine": "postgresql" if settings.chunk_store_url else "sqlite",
        "db_type": runtime.engine.dialect.name,
        "storage_impl": settings.blob_backend,
        "queue_impl": "redis" if settings.queue_url else "sqlite",
        "default_superuser_email": settings.admin_email or "",
        "device": "cpu",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for name in sorted(os.environ):
        if name.startswith("RAGSERVE_"):
            secret = any(word in name for word in SECRET_WORDS) or name.endswith("_URL")
            entries[name] = HIDDEN if secret else os.environ[name]
    return [EnvironmentEntry(name=name, value=value) for name, value in entries.items()]
