"""Which models a tenant may use, and with which credentials.

A tenant may use a builtin model, the server's default models, and any model it configured
(RAGFlow's ``tenant_llm`` rows, here ``tenant_model``): setting a factory's API key adds a row
for each catalogue model of that factory; adding a model by name adds one row. Keys are stored
encrypted (``services.secrets``) and are only ever shown masked.

A key is tested with one real call before it is stored (``verify``); that call happens outside
any transaction, so callers verify first and then save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ragserve.db.models import Tenant, TenantModel
from ragserve.domain import Validity
from ragserve.errors import ArgumentError, DataError, RagserveError
from ragserve.models.chat import chat_model_for
from ragserve.models.embedding import embedding_model_for
from ragserve.models.provider import scrub
from ragserve.models.registry import (
    BUILTIN_FACTORY,
    CATALOGUE,
    FACTORIES,
    ModelSpec,
    ModelType,
    is_builtin,
    plain_name,
    split_model_id,
)
from ragserve.models.registry import check_embedding_model as check_catalogue_embedding
from ragserve.models.rerank import rerank_model_for
from ragserve.models.speech import silence_wav, speech_model_for, transcription_model_for
from ragserve.runtime import Runtime
from ragserve.schemas.llm import (
    AddModel,
    ApiKeyRequest,
)
from ragserve.services.secrets import SecretBox, mask
from ragserve.settings import Settings

SUPPORTED_TYPES = (ModelType.CHAT, ModelType.EMBEDDING, ModelType.RERANK)
"""The model types ragserve can call in chats and retrieval (and test a factory key on)."""

ADDABLE_TYPES = (*SUPPORTED_TYPES, ModelType.TTS, ModelType.SPEECH2TEXT)
"""The model types ``add_llm`` accepts: those above and the speech models of ``/tts`` and
``/sequence2txt``; it refuses the others."""

HIDDEN_FACTORIES = frozenset({"Youdao", "FastEmbed", "BAAI", BUILTIN_FACTORY})
"""Not offered by ``/v1/llm/factories`` and refused by the key endpoints (as in RAGFlow)."""

SELF_HOSTED_FACTORIES = frozenset({"Ollama", "Xinference", "LocalAI", "LM-Studio"})
"""Factories whose models are ``available`` without a key (RAGFlow's ``self_deployed``)."""


TAGS: dict[str, str] = {
    ModelType.CHAT: "LLM",
    ModelType.EMBEDDING: "TEXT EMBEDDING",
    ModelType.RERANK: "TEXT RE-RANK",
    ModelType.IMAGE2TEXT: "IMAGE2TEXT",
    ModelType.SPEECH2TEXT: "SPEECH2TEXT",
    ModelType.TTS: "TTS",
    ModelType.OCR: "OCR",
}

DEFAULT_MAX_TOKENS = 8192
VALID = Validity.VALID


@dataclass(frozen=True)
class Factory:
    name: str
    model_types: tuple[ModelType, ...]

    @property
    def tags(self) -> str:
        return ",".join(TAGS[model_type] for model_type in self.model_types)


@dataclass(frozen=True)
class Probe:
    """The model a key is tested on."""

    factory: str
    name: str
    model_type: ModelType


@dataclass(frozen=True)
class ConfiguredModel:
    """A tenant's model row as ``my_llms`` shows it: the key only masked."""

    factory: str
    name: str
    model_type: str
    used_tokens: int
    status: str
    api_base: str
    max_tokens: int
    api_key_mask: str | None


@dataclass(frozen=True)
class ListedModel:
    """A model ``/v1/llm/list`` offers the tenant."""

    factory: str
    name: str
    model_type: str
    max_tokens: int
    available: bool
    status: str = VALID


# --- names and factories -----------------------------------------------------------------


def tenant_chat_model(session: Session, settings: Settings, tenant_id: str) -> str:
    """The tenant's default chat model, else the server's; "" when neither is set."""
    tenant = session.get(Tenant, tenant_id)
    return (tenant.llm_id if tenant else "") or settings.default_chat_model


def factory_models(factory: str) -> list[ModelSpec]:
    return [spec for spec in CATALOGUE if spec.factory == factory]


def factory_info(name: str) -> Factory:
    """A factory's model types: those of its catalogue models, else every type ragserve can
    call (RAGFlow offers all seven; ragserve only calls chat, embedding and rerank models)."""
    present = {spec.model_type for spec in factory_models(name)}
    return Factory(name, tuple(t for t in ModelType if t in present) or SUPPORTED_TYPES)


def list_factories() -> list[Factory]:
    return [factory_info(name) for name in sorted(FACTORIES - HIDDEN_FACTORIES)]


def check_factory(factory: str) -> None:
    if factory not in FACTORIES or factory in HIDDEN_FACTORIES:
        raise DataError(f"LLM factory {factory} is not allowed")


def model_type_of(value: str) -> ModelType:
    """A model type ragserve can call, from a request field."""
    for model_type in ADDABLE_TYPES:
        if value == model_type:
            return model_type
    supported = ", ".join(ADDABLE_TYPES)
    raise ArgumentError(f"Model type `{value}` is not supported; use one of: {supported}.")


# --- testing a key -----------------------------------------------------------------------


def key_probe(factory: str, llm_name: str = "", model_type: str = "") -> Probe:
    """What ``set_api_key`` tests: ``llm_name`` when given, else the factory's first catalogue
    model ragserve can call."""
    if llm_name:
        name = plain_name(llm_name)
        if model_type:
            return Probe(factory, name, model_type_of(model_type))
        known = [spec for spec in factory_models(factory) if spec.name == name]
        return Probe(factory, name, known[0].model_type if known else ModelType.CHAT)
    for spec in factory_models(factory):
        if spec.model_type in SUPPORTED_TYPES:
            return Probe(factory, spec.name, spec.model_type)
    raise ArgumentError(
        f"ragserve knows no model of {factory} to test the key with; "
        "give `llm_name` and `model_type`."
    )


def verify(
    settings: Settings,
    probe: Probe,
    api_key: str | None,
    api_base: str | None,
    *,
    failure: str = "Fail to access model({factory}/{name}) using this api key.",
) -> None:
    """One real call to the model; ``DataError`` (102) with the provider's reason if it fails.
    Not retried, so a bad key is reported at once; the message never contains the key."""
    model_id = f"{probe.name}@{probe.factory}"
    timeout = settings.llm_timeout
    try:
        if probe.model_type == ModelType.EMBEDDING:
            embedder = embedding_model_for(
                model_id, api_key=api_key, api_base=api_base, timeout=timeout, max_retries=0
            )
            embedder.embed(["Test if the api key is available"])
        elif probe.model_type == ModelType.RERANK:
            reranker = rerank_model_for(
                model_id, api_key=api_key, api_base=api_base, timeout=timeout, max_retries=0
            )
            reranker.scores("What's the weather?", ["Is it sunny today?"])
        elif probe.model_type == ModelType.TTS:
            speaker = speech_model_for(
                model_id, api_key=api_key, api_base=api_base, timeout=timeout, max_retries=0
            )
            for _piece in speaker.synthesize("Hello~ ragserve!"):
                pass
        elif probe.model_type == ModelType.SPEECH2TEXT:
            listener = transcription_model_for(
                model_id, api_key=api_key, api_base=api_base, timeout=timeout, max_retries=0
            )
            listener.transcribe("silence.wav", silence_wav())
        else:
            chat = chat_model_for(
                model_id, api_key=api_key, api_base=api_base, timeout=timeout, max_retries=0
            )
            chat.complete([{"role": "user", "content": "Hello! How are you doing!"}], max_tokens=16)
    except RagserveError as error:
        message = failure.format(factory=probe.factory, name=probe.name)
        raise DataError(message + scrub(error.message, api_key)) from None


# --- saving ------------------------------------------------------------------------------


def _row(session: Session, tenant_id: str, factory: str, name: str) -> TenantModel | None:
    return session.scalars(
        select(TenantModel).where(
            TenantModel.tenant_id == tenant_id,
            TenantModel.factory == factory,
            TenantModel.name == name,
        )
    ).first()


def _upsert(
    session: Session,
    tenant_id: str,
    factory: str,
    name: str,
    *,
    model_type: ModelType,
    api_key_encrypted: str | None,
    api_base: str,
    max_tokens: int,
) -> None:
    row = _row(session, tenant_id, factory, name)
    if row is None:
        row = TenantModel(tenant_id=tenant_id, factory=factory, name=name, status=VALID)
        session.add(row)
    row.model_type = model_type
    row.api_key_encrypted = api_key_encrypted
    row.api_base = api_base
    row.max_tokens = max_tokens
    session.flush()


def save_factory_key(
    session: Session,
    box: SecretBox,
    tenant_id: str,
    probe: Probe,
    api_key: str,
    api_base: str,
) -> None:
    """Store the (tested) key on one row per catalogue model of the factory, and on the
    probed model's row when it is not in the catalogue."""
    encrypted = box.encrypt(api_key)
    specs = factory_models(probe.factory)
    models = [(spec.name, spec.model_type, spec.max_tokens) for spec in specs]
    if all(spec.name != probe.name for spec in specs):
        models.append((probe.name, probe.model_type, DEFAULT_MAX_TOKENS))
    for name, model_type, max_tokens in models:
        _upsert(
            session,
            tenant_id,
            probe.factory,
            name,
            model_type=model_type,
            api_key_encrypted=encrypted,
            api_base=api_base,
            max_tokens=max_tokens,
        )


def factory_key(
    session: Session, box: SecretBox, tenant_id: str, factory: str
) -> tuple[str, str] | None:
    """The key (and its base URL) the tenant set for the factory, if any."""
    row = session.scalars(
        select(TenantModel)
        .where(
            TenantModel.tenant_id == tenant_id,
            TenantModel.factory == factory,
            TenantModel.api_key_encrypted.is_not(None),
            TenantModel.status == VALID,
        )
        .order_by(TenantModel.update_time.desc())
        .limit(1)
    ).first()
    if row is None or row.api_key_encrypted is None:
        return None
    return box.decrypt(row.api_key_encrypted), row.api_base


def max_tokens_of(probe: Probe, requested: int | None) -> int:
    if requested is not None:
        return requested
    known = [spec for spec in factory_models(probe.factory) if spec.name == probe.name]
    return known[0].max_tokens if known else DEFAULT_MAX_TOKENS


def save_model(
    session: Session,
    box: SecretBox,
    tenant_id: str,
    probe: Probe,
    *,
    api_key: str | None,
    api_base: str,
    max_tokens: int,
) -> None:
    """Store one (tested) model; ``api_key`` None stores none (a keyless self-hosted model)."""
    _upsert(
        session,
        tenant_id,
        probe.factory,
        probe.name,
        model_type=probe.model_type,
        api_key_encrypted=box.encrypt(api_key) if api_key else None,
        api_base=api_base,
        max_tokens=max_tokens,
    )


def delete_model(session: Session, tenant_id: str, factory: str, name: str) -> None:
    session.execute(
        delete(TenantModel).where(
            TenantModel.tenant_id == tenant_id,
            TenantModel.factory == factory,
            TenantModel.name == plain_name(name),
        )
    )


def delete_factory(session: Session, tenant_id: str, factory: str) -> None:
    session.execute(
        delete(TenantModel).where(
            TenantModel.tenant_id == tenant_id, TenantModel.factory == factory
        )
    )


def set_api_key(runtime: Runtime, tenant_id: str, request: ApiKeyRequest) -> None:
    """``/v1/llm/set_api_key``: test the key on one model (outside any transaction), then
    store it for every catalogue model of the factory."""
    factory = request.llm_factory
    check_factory(factory)
    if not request.api_key.strip():
        raise ArgumentError("`api_key` can't be empty.")
    base_url = request.base_url.strip()
    probe = key_probe(factory, request.llm_name, request.model_type)
    verify(runtime.settings, probe, request.api_key, base_url or None)
    box = SecretBox(runtime.settings.signing_key())
    with runtime.transaction() as session:
        save_factory_key(session, box, tenant_id, probe, request.api_key, base_url)


def add_model(runtime: Runtime, tenant_id: str, request: AddModel) -> None:
    """``/v1/llm/add_llm``: test the model (with the factory's stored key when the request
    has none), then store it."""
    factory = request.llm_factory
    check_factory(factory)
    name = plain_name(request.llm_name.strip())
    if not name:
        raise ArgumentError("`llm_name` can't be empty.")
    probe = Probe(factory, name, model_type_of(request.model_type))
    max_tokens = max_tokens_of(probe, request.max_tokens)
    api_key: str | None = request.api_key.strip() or None
    api_base = request.api_base.strip()
    box = SecretBox(runtime.settings.signing_key())
    if api_key is None:  # a model of a factory whose key is already set
        with runtime.read() as session:
            found = factory_key(session, box, tenant_id, factory)
        if found is not None:
            api_key, api_base = found[0], api_base or found[1]
    failure = "Fail to access model({factory}/{name})."
    verify(runtime.settings, probe, api_key, api_base or None, failure=failure)
    with runtime.transaction() as session:
        save_model(
            session,
            box,
            tenant_id,
            probe,
            api_key=api_key,
            api_base=api_base,
            max_tokens=max_tokens,
        )


# --- listing -----------------------------------------------------------------------------


def _rows(session: Session, tenant_id: str) -> list[TenantModel]:
    return list(
        session.scalars(
            select(TenantModel)
            .where(TenantModel.tenant_id == tenant_id)
            .order_by(TenantModel.factory, TenantModel.create_time, TenantModel.name)
        )
    )


def my_models(
    session: Session, box: SecretBox, tenant_id: str, *, include_details: bool
) -> list[ConfiguredModel]:
    """The tenant's models; without details only those with a key or a base URL (RAGFlow
    lists rows with a key; its keyless self-hosted rows hold a dummy key)."""
    result = []
    for row in _rows(session, tenant_id):
        if not include_details and row.api_key_encrypted is None and not row.api_base:
            continue
        key_mask = None
        if include_details and row.api_key_encrypted is not None:
            key_mask = mask(box.decrypt(row.api_key_encrypted))
        result.append(
            ConfiguredModel(
                factory=row.factory,
                name=row.name,
                model_type=row.model_type,
                used_tokens=row.used_tokens,
                status=row.status or VALID,
                api_base=row.api_base or "",
                max_tokens=row.max_tokens or DEFAULT_MAX_TOKENS,
                api_key_mask=key_mask,
            )
        )
    return result


def listed_models(session: Session, tenant_id: str, model_type: str = "") -> list[ListedModel]:
    """RAGFlow's ``/v1/llm/list``: builtin catalogue models and those the tenant configured,
    then the tenant's own models; ``model_type`` filters by substring."""
    rows = _rows(session, tenant_id)
    keyed = {row.factory for row in rows if row.api_key_encrypted and row.status == VALID}
    configured = {(row.factory, row.name) for row in rows if row.status == VALID}
    listed = [
        ListedModel(
            factory=spec.factory,
            name=spec.name,
            model_type=spec.model_type,
            max_tokens=spec.max_tokens,
            available=spec.factory in keyed
            or spec.factory in SELF_HOSTED_FACTORIES
            or spec.factory == BUILTIN_FACTORY,
        )
        for spec in CATALOGUE
        if spec.factory == BUILTIN_FACTORY or (spec.factory, spec.name) in configured
    ]
    in_catalogue = {(spec.factory, spec.name) for spec in CATALOGUE}
    listed += [
        ListedModel(row.factory, row.name, row.model_type, row.max_tokens, True, row.status)
        for row in rows
        if (row.factory, row.name) not in in_catalogue
    ]
    return [model for model in listed if model_type in model.model_type]


# --- using models ------------------------------------------------------------------------


def _usable_row(
    session: Session,
    tenant_id: str,
    name: str,
    factory: str | None,
    model_type: ModelType | None = None,
) -> TenantModel | None:
    """The tenant's enabled row for the model (any factory when ``factory`` is None)."""
    query = select(TenantModel).where(
        TenantModel.tenant_id == tenant_id,
        TenantModel.name == plain_name(name),
        TenantModel.status == VALID,
    )
    if factory is not None:
        query = query.where(TenantModel.factory == factory)
    if model_type is not None:
        query = query.where(TenantModel.model_type == model_type)
    return session.scalars(query.order_by(TenantModel.update_time.desc()).limit(1)).first()


def add_used_tokens(session: Session, tenant_id: str, model_id: str, tokens: int) -> None:
    """Count ``tokens`` on the tenant's row for the chat model (``used_token`` of ``my_llms``);
    a model the tenant has no row for (the server's default) is not counted there."""
    name, factory = split_model_id(model_id)
    row = _usable_row(session, tenant_id, name, factory, ModelType.CHAT)
    if row is not None and tokens > 0:  # one statement: concurrent calls add up, none lost
        session.execute(
            update(TenantModel)
            .where(TenantModel.id == row.id)
            .values(used_tokens=TenantModel.used_tokens + tokens)
            .execution_options(synchronize_session=False)
        )


def credentials(
    session: Session, settings: Settings, tenant_id: str | None, model_id: str
) -> tuple[str | None, str | None]:
    """``(api_key, api_base)`` to call ``model_id`` for the tenant: its row for that model,
    else the key it set for the model's factory, else the server's ``llm_api_key`` and
    ``llm_api_base``. A tenant's row without a key never borrows the server's key, which must
    not reach a base URL the tenant chose."""
    if is_builtin(model_id):
        return None, None
    name, factory = split_model_id(model_id)
    if tenant_id is not None:
        box = SecretBox(settings.signing_key())
        row = _usable_row(session, tenant_id, name, factory)
        if row is not None:
            key = box.decrypt(row.api_key_encrypted) if row.api_key_encrypted else None
            return key, row.api_base or None
        found = factory_key(session, box, tenant_id, factory) if factory else None
        if found is not None:
            return found[0], found[1] or None
    server_key = settings.llm_api_key
    return (server_key.get_secret_value() if server_key else None), settings.llm_api_base


def model_exists(
    session: Session,
    settings: Settings,
    tenant_id: str,
    model_id: str,
    model_type: ModelType,
) -> bool:
    """Whether the tenant may use ``model_id`` (``name@factory``) as a model of this type."""
    if model_type == ModelType.CHAT and model_id == settings.default_chat_model:
        return True
    if model_type == ModelType.EMBEDDING and model_id == settings.default_embedding_model:
        return True
    name, factory = split_model_id(model_id)
    if factory == BUILTIN_FACTORY:
        return any(
            spec.name == name and spec.factory == factory and spec.model_type == model_type
            for spec in CATALOGUE
        )
    return _usable_row(session, tenant_id, name, factory, model_type) is not None


def check_embedding_model(
    session: Session, settings: Settings, tenant_id: str, model_id: str
) -> None:
    """Refuse an embedding model the tenant may not use, with RAGFlow's messages (101
    ``Unsupported model: <id>`` / ``Unauthorized model: <id>``). Allowed: builtin models, the
    server's default, models the tenant configured, and catalogue models of a factory the
    tenant set a key for."""
    if model_exists(session, settings, tenant_id, model_id, ModelType.EMBEDDING):
        return
    check_catalogue_embedding(model_id, _has_key(session, tenant_id))


def _has_key(session: Session, tenant_id: str) -> Callable[[str], bool]:
    def has_key(factory: str) -> bool:
        query = select(TenantModel.id).where(
            TenantModel.tenant_id == tenant_id,
            TenantModel.factory == factory,
            TenantModel.api_key_encrypted.is_not(None),
            TenantModel.status == VALID,
        )
        return session.scalars(query.limit(1)).first() is not None

    return has_key
