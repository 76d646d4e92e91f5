"""docker-compose.yml mirrors the fleet of `make cluster` (no Docker engine here: it is read, and
its HAProxy configuration checked by the haproxy binary the cluster tests run)."""

import subprocess
from pathlib import Path

import yaml

from fleet.launcher import haproxy_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_web_and_listener_scale_without_host_ports():
    for name in ("web", "listener"):
        service = SERVICES[name]
        assert "ports" not in service, f"{name} publishes a host port: replicas would collide"
        assert service["deploy"]["replicas"] >= 2
    assert [SERVICES[name].get("ports") for name in SERVICES if SERVICES[name].get("ports")] == [
        SERVICES["lb"]["ports"]
    ], "only the load balancer publishes a port"


def test_migrations_run_once_before_the_app():
    assert SERVICES["migrate"]["command"][:3] == ["python", "manage.py", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "listener"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_healthchecks_and_stop_grace():
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "/metrics" in " ".join(SERVICES["listener"]["healthcheck"]["test"])
    assert SERVICES["lb"]["depends_on"]["web"] == {"condition": "service_healthy"}
    for name in ("web", "listener", "lb"):
        assert SERVICES[name]["stop_grace_period"]


def test_redis_is_a_master_a_replica_and_three_sentinels_that_the_app_uses():
    assert "--replicaof" in SERVICES["redis-replica"]["command"]
    sentinels = [name for name in SERVICES if name.startswith("sentinel-")]
    assert len(sentinels) == 3
    env = SERVICES["web"]["environment"]
    assert env["REDIS_SENTINELS"] == ",".join(f"{name}:26379" for name in sentinels)
    assert SERVICES["listener"]["environment"]["REDIS_SENTINELS"] == env["REDIS_SENTINELS"]
    conf = (ROOT / "deploy" / "sentinel.conf").read_text()
    assert f"sentinel monitor {env['REDIS_SENTINEL_MASTER']} redis-master 6379 2" in conf


def test_the_load_balancer_config_is_valid():
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "option httpchk GET /healthz" in (ROOT / "deploy" / "haproxy.cfg").read_text()
