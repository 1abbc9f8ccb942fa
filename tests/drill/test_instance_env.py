"""The drill's instances run with what the stacks write for an instance: the spec's service settings,
with this machine's cache and store in place of the cloud's."""

from __future__ import annotations

from refarch.service_settings import tuned_settings
from refarch.spec import load_environment
from sample_service.config import ServiceConfig
from tools.drill.fleet import instance_env


def test_instances_get_the_specs_service_settings() -> None:
    spec = load_environment("prod")
    env = instance_env(spec, 6380, "http://127.0.0.1:5000", "redis")
    assert tuned_settings(spec.service).items() <= env.items()
    config = ServiceConfig.from_env(env)
    assert (config.cache_host, config.cache_port, config.cache_tls) == ("127.0.0.1", 6380, False)
    assert config.shutdown_grace_seconds == spec.service.shutdown_grace_seconds
    assert config.session_backend == "redis"
    assert "ALLOW_TEST_ONLY_SETTINGS" not in env


def test_the_control_run_keeps_sessions_in_memory_with_the_opt_in() -> None:
    env = instance_env(load_environment("dev"), 6380, "http://127.0.0.1:5000", "memory")
    assert ServiceConfig.from_env(env).session_backend == "memory"
