"""Configuration from the environment and configure(): defaults, overrides, bad values."""

import logging

import pytest

from contrail.sdk.config import DEFAULT_HOST, resolve


def test_defaults_without_environment():
    config = resolve(env={})
    assert config.host == DEFAULT_HOST and config.enabled and config.sample_rate == 1.0
    assert config.auth_header() is None
    assert config.ingest_url == DEFAULT_HOST + "/api/v1/ingest"


def test_environment_is_read_and_overrides_win():
    env = {
        "CONTRAIL_HOST": "https://contrail.example.com/",
        "CONTRAIL_PUBLIC_KEY": "pk-a",
        "CONTRAIL_SECRET_KEY": "sk-b",
        "CONTRAIL_ENABLED": "false",
        "CONTRAIL_SAMPLE_RATE": "0.25",
        "CONTRAIL_ENVIRONMENT": "prod",
        "CONTRAIL_RELEASE": "1.0",
        "CONTRAIL_CAPTURE": "0",
        "CONTRAIL_REDACT_PII": "yes",
        "CONTRAIL_BATCH_SIZE": "50",
    }
    config = resolve({"environment": "staging"}, env=env)
    assert config.ingest_url == "https://contrail.example.com/api/v1/ingest"
    assert (config.enabled, config.capture, config.redact_pii) == (False, False, True)
    assert (config.sample_rate, config.batch_size) == (0.25, 50)
    assert (config.environment, config.release) == ("staging", "1.0")
    assert config.auth_header() == "Basic cGstYTpzay1i"


@pytest.mark.parametrize(
    ("env", "field", "default"),
    [
        ({"CONTRAIL_SAMPLE_RATE": "lots"}, "sample_rate", 1.0),
        ({"CONTRAIL_SAMPLE_RATE": "7"}, "sample_rate", 1.0),
        ({"CONTRAIL_ENABLED": "maybe"}, "enabled", True),
        ({"CONTRAIL_BATCH_SIZE": "0"}, "batch_size", 512),
    ],
)
def test_bad_values_warn_and_fall_back(env, field, default, caplog):
    with caplog.at_level(logging.WARNING, logger="contrail"):
        config = resolve(env=env)
    assert getattr(config, field) == default
    assert len(caplog.records) == 1
    assert next(iter(env)) in caplog.text or field in caplog.text


def test_unknown_configure_option_is_a_type_error():
    with pytest.raises(TypeError, match="unknown setting 'hots'"):
        resolve({"hots": "x"})
