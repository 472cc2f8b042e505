from pathlib import Path

import pytest

from shop.config import InsecureConfigError, load_config, normalise_database_url


def test_production_refuses_to_start_without_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/shop")
    with pytest.raises(InsecureConfigError):
        load_config("production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(InsecureConfigError):
        load_config("production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SHOP_BASE_URL", "https://shop.example")
    assert load_config("production").SECRET_KEY == "x" * 40


@pytest.mark.parametrize("base_url", [None, "http://shop.example", "shop.example"])
def test_production_needs_the_shops_https_address(
    monkeypatch: pytest.MonkeyPatch, base_url: str | None
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/shop")
    if base_url is None:
        monkeypatch.delenv("SHOP_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("SHOP_BASE_URL", base_url)
    with pytest.raises(InsecureConfigError, match="SHOP_BASE_URL must be the shop's https://"):
        load_config("production")


def test_dev_secret_is_generated_once_into_instance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    first = load_config("development").SECRET_KEY
    second = load_config("development").SECRET_KEY
    assert first == second
    assert first and len(first) >= 32
    assert (tmp_path / "secret_key").read_text() == first


def test_processes_starting_at_once_share_the_first_dev_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another server process writes the key between this one's look and its write: this
    one must use that key, not overwrite it (the workers would then sign sessions and CSRF
    tokens with different keys), and never read a half-written file."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    theirs = "a" * 64

    def token_hex(_nbytes: int) -> str:
        (tmp_path / "secret_key").write_text(theirs)  # the other process got there first
        return "b" * 64

    monkeypatch.setattr("shop.config.secrets.token_hex", token_hex)
    key = load_config("development").SECRET_KEY
    assert key == theirs
    assert (tmp_path / "secret_key").read_text() == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_the_dev_secret_is_readable_by_its_owner_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    load_config("development")
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_default_database_is_sqlite_in_instance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    assert load_config("development").database_url() == f"sqlite:///{tmp_path}/shop.sqlite3"


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_unknown_environment_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown SHOP_ENV"):
        load_config("staging")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SHOP_RECOMMENDER_PLACEMENTS",
            "not json",
            "SHOP_RECOMMENDER_PLACEMENTS is not valid JSON",
        ),
        ("SHOP_RECOMMENDER_PLACEMENTS", "[1]", "SHOP_RECOMMENDER_PLACEMENTS must be a JSON object"),
        ("SHOP_PAGE_SIZE", "twelve", "SHOP_PAGE_SIZE must be a whole number, not 'twelve'"),
        ("MAIL_BACKOFF_BASE_S", "0", "MAIL_BACKOFF_BASE_S must be at least 1, not 0"),
        ("MAIL_MAX_ATTEMPTS", "-3", "MAIL_MAX_ATTEMPTS must be at least 1, not -3"),
        ("MAIL_CLAIM_TIMEOUT_S", "0", "MAIL_CLAIM_TIMEOUT_S must be at least 1, not 0"),
        ("SHOP_SHIPPING_STANDARD_PENCE", "-1", "must be at least 0, not -1"),
    ],
)
def test_a_malformed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        load_config("development")


def test_links_in_e_mails_follow_the_dev_server_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`make run` serves on SHOP_PORT; a `flask loyalty ...` command run with the same
    environment must not write links to another port into the e-mails it queues."""
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SHOP_BASE_URL", raising=False)
    monkeypatch.delenv("SHOP_HOST", raising=False)
    monkeypatch.delenv("SHOP_PORT", raising=False)
    assert load_config("development").SHOP_BASE_URL == "http://127.0.0.1:5000"
    monkeypatch.setenv("SHOP_PORT", "5800")
    assert load_config("development").SHOP_BASE_URL == "http://127.0.0.1:5800"
    monkeypatch.setenv("SHOP_HOST", "0.0.0.0")
    monkeypatch.setenv("SHOP_BASE_URL", "https://shop.example/")
    assert load_config("development").SHOP_BASE_URL == "https://shop.example"
