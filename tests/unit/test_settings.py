from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ragserve.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RAGSERVE_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 9380)
    assert settings.home == Path("ragserve-data")
    assert settings.max_body_size == 1024**3
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("ragserve-data/ragserve.db")
    assert settings.resolved_blob_dir == Path("ragserve-data/blobs")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGSERVE_PORT", "9999")
    monkeypatch.setenv("RAGSERVE_REGISTER_ENABLED", "false")
    monkeypatch.setenv("RAGSERVE_CORS_ORIGINS", '["https://a.example"]')
    settings = load_settings()
    assert settings.port == 9999
    assert settings.register_enabled is False
    assert settings.cors_origins == ["https://a.example"]


def test_toml_file_with_env_and_flags_taking_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ragserve.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    monkeypatch.setenv("RAGSERVE_HOST", "10.0.0.1")
    settings = load_settings(config)
    assert (settings.port, settings.host, settings.log_level) == (7000, "10.0.0.1", "debug")
    assert load_settings(config, port=7001, host=None).port == 7001


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text("session_max_age = 3600\n")
    monkeypatch.setenv("RAGSERVE_CONFIG", str(config))
    assert load_settings().session_max_age == 3600


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", "0"),
        ("port", "http"),
        ("log_level", "loud"),
        ("max_body_size", "0"),
        ("bogus", "1"),
    ],
)
def test_invalid_values_are_refused(tmp_path: Path, field: str, value: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f'{field} = "{value}"\n')
    with pytest.raises(ValidationError):
        load_settings(config)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://root@h/db", "mysql+pymysql://root@h/db"),
        ("mariadb://root@h/db", "mysql+pymysql://root@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_driver_is_filled_in(given: str, expected: str) -> None:
    assert Settings(database_url=given).resolved_database_url == expected


def test_signing_key_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    key = settings.signing_key()
    assert len(key) >= 48
    assert settings.signing_key() == key
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(home=tmp_path / "home", secret_key="explicit").signing_key() == "explicit"  # type: ignore[arg-type]


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`RAGSERVE_{name.upper()}`" in docs, name
        assert f"`{name}`" in docs, name


def test_oauth_channels(tmp_path: Path) -> None:
    from ragserve.settings import OAuthChannel

    with pytest.raises(ValidationError, match="needs `issuer` or `discovery_url`"):
        OAuthChannel(client_id="c")
    secret_file = tmp_path / "secret"
    secret_file.write_text("  from-file\n")
    channel = OAuthChannel(
        client_id="c",
        issuer="https://id.example.com",
        client_secret="inline",  # type: ignore[arg-type]
        client_secret_file=secret_file,
        allowed_domains=["Example.COM", "@corp.example"],
    )
    assert channel.secret() == "from-file"
    assert channel.allows("a@example.com") and channel.allows("b@CORP.example")
    assert not channel.allows("c@sub.example.com") and not channel.allows("d@example.org")
    github = OAuthChannel(type="github", client_id="g")
    assert github.secret() == "" and github.allows("anyone@anywhere.example")
    env = {
        "RAGSERVE_OAUTH_CHANNELS": '{"corp": {"issuer": "https://id.example.com", "client_id": "c"}}'
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert Settings().oauth_channels["corp"].client_id == "c"
    with pytest.raises(ValidationError):
        Settings(oauth_channels={"x": {"client_id": "c", "bogus": 1}})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("workers", "queue_url", "inline"),
    [(0, None, True), (0, "redis://127.0.0.1:6379/0", False), (2, None, False)],
)
def test_workers_0_parses_inline_only_on_the_embedded_queue(
    workers: int, queue_url: str | None, inline: bool
) -> None:
    """With a Redis queue, ``workers = 0`` is an API-only server: it queues for remote workers."""
    assert Settings(workers=workers, queue_url=queue_url).runs_tasks_inline is inline
