"""The one settings object: environment variables ``RAGSERVE_*``, then an optional TOML file.

Precedence, highest first: values passed to ``Settings(...)`` (the CLI flags), environment
variables, the TOML file named by ``--config`` or ``RAGSERVE_CONFIG``, the defaults below.
Every field is documented in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "RAGSERVE_"
GiB = 1024**3


class OAuthChannel(BaseModel):
    """One single-sign-on channel of ``oauth_channels``: an OpenID Connect provider or GitHub.
    Documented in ``docs/auth.md`` and ``docs/configuration.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["oidc", "github"] = Field(
        default="oidc", description="`oidc` (any OpenID Connect provider) or `github`."
    )
    display_name: str = Field(default="", description="Shown on the login page; default: the name.")
    icon: str = Field(default="sso", description="Icon name the web client shows.")
    client_id: str = Field(description="The client id registered at the provider.")
    client_secret: SecretStr | None = Field(default=None, description="The client secret.")
    client_secret_file: Path | None = Field(
        default=None, description="A file holding the client secret (wins over `client_secret`)."
    )
    issuer: str | None = Field(
        default=None, description="OIDC issuer; ID tokens must name it exactly."
    )
    discovery_url: str | None = Field(
        default=None,
        description="OIDC discovery document; default: `issuer` + "
        "`/.well-known/openid-configuration`.",
    )
    scope: str | None = Field(
        default=None,
        description="Scopes asked for; default `openid email profile` (OIDC), `read:user "
        "user:email` (GitHub).",
    )
    allowed_domains: list[str] = Field(
        default=[], description="E-mail domains that may sign in; empty: any."
    )
    redirect_uri: str | None = Field(
        default=None,
        description="The callback address registered at the provider; default: `public_url` "
        "(else the request's address) + `/v1/user/oauth/callback/<name>`.",
    )
    github_url: str = Field(
        default="https://github.com", description="GitHub's web address (GitHub Enterprise)."
    )
    github_api_url: str = Field(
        default="https://api.github.com", description="GitHub's API address (GitHub Enterprise)."
    )
    timeout: float = Field(
        default=10, gt=0, description="Seconds one call to the provider may take."
    )

    @model_validator(mode="after")
    def _oidc_needs_a_provider(self) -> OAuthChannel:
        if self.type == "oidc" and not (self.issuer or self.discovery_url):
            raise ValueError("an oidc channel needs `issuer` or `discovery_url`")
        return self

    def secret(self) -> str:
        """The client secret, read from ``client_secret_file`` when one is named."""
        if self.client_secret_file is not None:
            return self.client_secret_file.read_text().strip()
        return self.client_secret.get_secret_value() if self.client_secret else ""

    def allows(self, email: str) -> bool:
        """Whether ``email``'s domain may sign in through this channel (case ignored)."""
        if not self.allowed_domains:
            return True
        domain = email.rpartition("@")[2].lower()
        return domain in {allowed.lower().lstrip("@") for allowed in self.allowed_domains}


class Settings(BaseSettings):
    """Everything ragserve can be told. Loaded once at start-up and passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    home: Path = Field(
        default=Path("ragserve-data"),
        description="Directory for the embedded database, files and keys.",
    )
    host: str = Field(default="127.0.0.1", description="Address `ragserve serve` listens on.")
    port: int = Field(default=9380, ge=1, le=65535, description="Port `ragserve serve` listens on.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite file in `home`.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs web session tokens; default: a random key kept in `home`.",
    )
    session_max_age: int = Field(
        default=30 * 24 * 3600, ge=60, description="Seconds a web session token stays valid."
    )
    register_enabled: bool = Field(default=True, description="Allow `/v1/user/register`.")
    cors_origins: list[str] = Field(
        default=["*"], description="Origins allowed by CORS; an empty list turns CORS off."
    )
    max_body_size: int = Field(
        default=GiB, ge=1, description="Largest request body accepted, in bytes."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the server."
    )
    admin_email: str | None = Field(
        default=None,
        description="E-mail of the first administrator, created at start-up with the password "
        "in `admin_password_file` when no administrator exists yet; unset: none is created.",
    )
    admin_password_file: Path | None = Field(
        default=None,
        description="File holding the password of `admin_email` (its first line).",
    )
    admin_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Also serve the admin API (`/api/v1/admin`, and only it) on this port; "
        "unset: no admin port.",
    )
    admin_on_main_port: bool = Field(
        default=True,
        description="Serve the admin API on `port` too; false keeps it to `admin_port`.",
    )
    rsa_private_key_file: Path | None = Field(
        default=None,
        description="PEM private key for RAGFlow-style RSA-encrypted passwords; off if unset.",
    )
    rsa_private_key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of `rsa_private_key_file`, if it has one."
    )
    default_embedding_model: str = Field(
        default="all-MiniLM-L6-v2-q8@Builtin",
        description="Embedding model (`name@factory`) given to new tenants.",
    )
    default_chat_model: str = Field(
        default="", description="Chat model (`name@factory`) given to new tenants; may be empty."
    )
    llm_api_base: str | None = Field(
        default=None,
        description="Base URL sent with `llm_api_key` (an OpenAI-compatible server, vLLM, "
        "Ollama...); unset: each provider's public endpoint.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key sent to model providers when the tenant has none for the model.",
    )
    llm_timeout: float = Field(
        default=60, gt=0, description="Seconds one call to a model provider may take."
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        description="Times a failed call to a model provider is retried (rate limits, 5xx).",
    )
    agent_run_timeout: float = Field(
        default=600, gt=0, description="Seconds one turn of an agent may run before it stops."
    )
    mcp_timeout: float = Field(
        default=10,
        gt=0,
        description="Seconds one MCP server call (connect, list tools, call a tool) may take "
        "when the request names no `timeout`; also the limit of an Agent's MCP tool calls.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let server-side requests to user-given URLs (MCP servers, and agents: "
        "Invoke, Crawler, SearXNG, ExeSQL and other URLs or hosts written in a DSL) reach "
        "loopback, private, link-local and other non-public addresses.",
    )
    agent_tool_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL of a web-API tool's service by component name "
        '(`{"Wikipedia": "https://..."}`), replacing the public one.',
    )
    agent_tool_api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="API key of a web-API tool by component name, used when its node gives none.",
    )
    agent_sqlite_dir: Path | None = Field(
        default=None,
        description="Directory whose SQLite files ExeSQL may open (`db_type: sqlite`); "
        "unset: none.",
    )
    agent_code_exec_enabled: bool = Field(
        default=False,
        description="Let agents run Python (CodeExec) in a bubblewrap sandbox.",
    )
    agent_code_exec_timeout: float = Field(
        default=10,
        gt=0,
        le=600,
        description="Seconds of CPU and of wall time one CodeExec may use.",
    )
    agent_code_exec_memory_mb: int = Field(
        default=256, ge=32, description="Memory (address space, MiB) one CodeExec may use."
    )
    tavily_base_url: str = Field(
        default="https://api.tavily.com",
        description="Base URL of Tavily's search API, used by assistants with a `tavily_api_key`.",
    )
    web_search_results: int = Field(
        default=5, ge=1, le=20, description="Web pages one web search adds to the knowledge."
    )
    research_max_rounds: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Rounds of sub-questions deep research (`reasoning`) may run before answering.",
    )
    research_max_tokens: int = Field(
        default=24000,
        ge=1000,
        description="Tokens (sent and received) deep research may spend before it must answer.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=0,
        description="Worker processes `serve` starts for parsing; 0 parses inside the server, "
        "or, with a `queue_url`, only queues (API only: `ragserve worker` processes parse).",
    )
    queue_url: str | None = Field(
        default=None,
        description="Task queue: `redis://…` for Redis; default: a SQLite file in `home`.",
    )
    chunk_store_url: str | None = Field(
        default=None,
        description="Chunk store: `postgresql://…` for PostgreSQL with pgvector (shared by "
        "several servers and workers); default: SQLite and vector files in `home`.",
    )
    task_timeout: int = Field(
        default=3600,
        ge=1,
        description="Seconds a parse task (a document, or pages of a PDF) may take; then it fails.",
    )
    task_lease: int = Field(
        default=120,
        ge=2,
        description="Seconds a worker holds a task without renewing; then it is retried.",
    )
    task_attempts: int = Field(
        default=3, ge=1, description="Times a task is tried when its worker dies, before failing."
    )
    task_page_size: int = Field(
        default=12,
        ge=1,
        description="PDF pages per parse task; longer PDFs are parsed as page ranges in parallel.",
    )
    task_memory_limit: int = Field(
        default=2048,
        ge=0,
        description="MB of heap each worker process may use (RLIMIT_DATA); 0: no limit.",
    )
    embedding_batch_size: int = Field(default=32, ge=1, description="Chunks embedded per batch.")
    chunk_llm_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Chat-model calls one parse task makes at once for auto keywords and "
        "questions (keep it under the provider's rate limit).",
    )
    models_dir: Path | None = Field(
        default=None,
        description="Directory of the models ragserve builds from installed ones (the int8 "
        "builtin model, built on the first start, ~23 MB); unset: `models` in `home`.",
    )
    server_embedding_threads: int = Field(
        default=2,
        ge=1,
        description="Threads one builtin-model embedding call may use in the server process "
        "(questions, edited chunks); worker processes: `worker_embedding_threads`.",
    )
    worker_embedding_threads: int = Field(
        default=0,
        ge=0,
        description="Threads one builtin-model embedding call may use in a worker process; "
        "0: the machine's cores divided among the worker processes (at least 1).",
    )
    oauth_channels: dict[str, OAuthChannel] = Field(
        default={},
        description="Single-sign-on channels by name (OIDC providers, GitHub); see docs/auth.md.",
    )
    public_url: str | None = Field(
        default=None,
        description="The server's address as browsers reach it (for OAuth redirect URIs); "
        "default: the address of each request.",
    )
    login_redirect_url: str = Field(
        default="/",
        description="Where a single sign-on ends: `?auth=<session token>` or `?error=<text>`.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server that sends password-reset codes; unset: no reset."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of `smtp_host`.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="How the SMTP connection is protected."
    )
    smtp_username: str | None = Field(default=None, description="SMTP login; unset: none.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(
        default="ragserve@localhost", description="Sender address of password-reset mail."
    )
    smtp_timeout: float = Field(default=10, gt=0, description="Seconds an SMTP exchange may take.")
    reset_code_lifetime: int = Field(
        default=600, ge=1, description="Seconds a password-reset code (and its verification) lasts."
    )
    captcha_lifetime: int = Field(
        default=300, ge=1, description="Seconds a password-reset captcha lasts."
    )
    blob_backend: Literal["local", "s3"] = Field(
        default="local", description="Where uploaded files are kept."
    )
    blob_dir: Path | None = Field(
        default=None, description="Directory of the local blob store; default: `home`/blobs."
    )
    s3_bucket: str = Field(default="", description="Bucket of the S3 blob store.")
    s3_prefix: str = Field(default="", description="Key prefix inside the S3 bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible service; default: AWS."
    )
    s3_region: str | None = Field(default=None, description="Region of the S3 bucket.")
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key; default: boto3's credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")

    @field_validator("database_url")
    @classmethod
    def _normalise_driver(cls, url: str | None) -> str | None:
        """Pick the drivers ragserve ships when a URL names only the database kind."""
        if url is None:
            return None
        for plain, with_driver in (
            ("postgresql://", "postgresql+psycopg://"),
            ("postgres://", "postgresql+psycopg://"),
            ("mysql://", "mysql+pymysql://"),
            ("mariadb://", "mysql+pymysql://"),
        ):
            if url.startswith(plain):
                return with_driver + url[len(plain) :]
        return url

    @field_validator("queue_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("queue_url must be a redis://, rediss:// or unix:// URL")
        return url

    @field_validator("chunk_store_url")
    @classmethod
    def _postgresql_url(cls, url: str | None) -> str | None:
        """A libpq URL (the driver name SQLAlchemy URLs carry is dropped)."""
        if url is None:
            return None
        for prefix in ("postgresql+psycopg://", "postgres://"):
            if url.startswith(prefix):
                url = "postgresql://" + url[len(prefix) :]
        if not url.startswith("postgresql://"):
            raise ValueError("chunk_store_url must be a postgresql:// URL")
        return url

    @model_validator(mode="after")
    def _admin_needs_a_password(self) -> Settings:
        if self.admin_email is not None and self.admin_password_file is None:
            raise ValueError("admin_email needs admin_password_file (there is no default password)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = settings_cls.model_config.get("toml_file") or os.environ.get(
            ENV_PREFIX + "CONFIG"
        )
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            path = Path(str(config_file))
            if not path.is_file():
                raise FileNotFoundError(f"config file not found: {path}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def resolved_database_url(self) -> str:
        """The metadata store URL, defaulting to a SQLite file in ``home``."""
        return self.database_url or f"sqlite:///{self.home.resolve() / 'ragserve.db'}"

    @property
    def runs_tasks_inline(self) -> bool:
        """Whether ``serve`` runs parse tasks inside itself: ``workers = 0`` on the embedded
        queue. With a Redis ``queue_url``, ``workers = 0`` is an API-only server: it queues and
        the ``ragserve worker`` processes that share the queue (on any machine) parse."""
        return self.workers == 0 and not self.queue_url

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    def signing_key(self) -> str:
        """The session signing key; created once in ``home`` when none is configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.home / "secret_key"
        if not key_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; ``config_file`` wins over ``RAGSERVE_CONFIG``. ``None`` overrides
    are ignored so that unset CLI flags fall through to the environment and file."""
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
        settings_cls = type("FileSettings", (Settings,), {"model_config": config})
    return settings_cls(**{k: v for k, v in overrides.items() if v is not None})
