"""The production set-up: docker-compose.yml is valid by the Compose Specification's schema
(vendored, no Docker needed) and has what production needs (a proxy in front of gunicorn, a
health check on every service, a broker and a bounded evicting cache of their own, a GPU reserved
for its worker); ``manage.py check --deploy`` with its settings prints no warning; the health
checks work; ``make run``'s defaults: DEBUG off, a secret key generated once and kept, the styled
404 and 500 pages."""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import RequestFactory

from tests.live_gunicorn import Gunicorn

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose-spec" / "compose-spec.json"
PRODUCTION = {
    "SECRET_KEY": "k3Jq9-vX2_mN8pL4rT6wY0zB5cD7fG1hS3aE9uI2oP4lK6jH8gF0dS2aQ4wE6rT8yU",
    "SITE_HOST": "leaderboard.example.org",
    "POSTGRES_PASSWORD": "a-password",
}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def check_jsonschema() -> str:
    script = Path(sys.executable).with_name("check-jsonschema")
    return str(script) if script.exists() else shutil.which("check-jsonschema") or "missing"


def test_the_compose_file_validates_against_the_compose_specification(tmp_path):
    done = subprocess.run(
        [check_jsonschema(), "--schemafile", str(SCHEMA), str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The check can fail: a misspelt key is refused.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:\n", "    helthcheck:\n", 1))
    done = subprocess.run(
        [check_jsonschema(), "--schemafile", str(SCHEMA), str(broken)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "helthcheck" in done.stdout + done.stderr


def test_every_service_has_a_health_check_and_the_parts_production_needs():
    services = compose()["services"]
    for name, service in services.items():
        if name != "migrate":  # a one-shot job: the others wait for it to complete
            assert "healthcheck" in service, name
    assert "gunicorn" in services["web"]["command"] and "ports" not in services["web"]
    assert services["proxy"]["image"].startswith("nginx")
    assert any(p.endswith(":443") for p in services["proxy"]["ports"])
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    env = services["web"]["environment"]
    assert env["CELERY_BROKER_URL"].startswith("redis://broker:")
    assert env["CACHE_URL"].startswith("redis://cache:")
    assert env["TRUSTED_PROXY_COUNT"] == "1" and env["SITE_URL"].startswith("https://")
    cache = " ".join(services["cache"]["command"])
    assert "--maxmemory" in cache and "--maxmemory-policy allkeys-lru" in cache
    broker = " ".join(services["broker"]["command"])
    assert "--maxmemory" in broker and "noeviction" in broker and "--appendonly yes" in broker
    for worker, queue in (("worker-cpu", "cpu"), ("worker-gpu", "gpu")):
        assert f"inspect ping --destination {queue}@" in services[worker]["healthcheck"]["test"][1]
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "scripts/healthcheck.py" in services["beat"]["healthcheck"]["test"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx


def interpolate(value: str, env: dict) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}."""

    def one(match):
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return rest
        raise AssertionError(f"{name} is required: {rest}")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def production_env() -> dict:
    web = compose()["services"]["web"]["environment"]
    return {name: interpolate(str(value), PRODUCTION) for name, value in web.items()}


def test_check_deploy_with_the_production_settings_prints_no_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env.update(production_env(), VAR_DIR=str(tmp_path), MEDIA_ROOT=str(tmp_path / "media"))
    assert env["DEBUG"] == "0" and env["SITE_URL"] == "https://leaderboard.example.org"
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    # What it checked: the settings are the production ones.
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
            "s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CACHES['default']['BACKEND'])",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.stdout.split() == [
        "False",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "django_redis.cache.RedisCache",
    ], shown.stdout + shown.stderr


def settings_of(env: dict, *names: str) -> list[str]:
    code = "import django; django.setup(); from django.conf import settings as s; " + "; ".join(
        f"print(repr(s.{name}))" for name in names
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[: len(names)]


def test_make_run_defaults_debug_off_and_a_kept_generated_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(VAR_DIR=str(tmp_path / "var"))
    env.pop("DATABASE_URL", None)  # a fresh machine: SQLite under var/
    first = settings_of(env, "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE")
    assert first[0] == "False"
    assert first[2] == "['127.0.0.1', 'localhost', '[::1]']"
    assert first[3] == "False"  # served over http://127.0.0.1: cookies must still work
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == eval(first[1]) and len(eval(first[1])) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings_of(env, "SECRET_KEY") == [first[1]]  # kept: the same at the next start
    assert settings_of({**env, "DEBUG": "1"}, "DEBUG") == ["True"]


@pytest.mark.django_db(transaction=True)
def test_the_served_404_is_the_styled_page_and_the_health_check_passes(tmp_path):
    server = Gunicorn(tmp_path, workers=1, threads=2).start()
    try:
        status, headers, body = server.request("GET", "/no/such/page/")
        assert status == 404 and headers["Content-Type"].startswith("text/html")
        text = body.decode()
        assert "There is no page at this address" in text and "leaderboard/site.css" in text
        assert "URLconf" not in text and "Traceback" not in text
        env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1"}
        healthy = subprocess.run(
            [sys.executable, "scripts/healthcheck.py", "web", str(server.port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    finally:
        server.stop()
    down = subprocess.run(
        [sys.executable, "scripts/healthcheck.py", "web", str(server.port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert down.returncode == 1


def test_the_500_page_is_the_styled_one():
    from config.api_errors import server_error

    response = server_error(RequestFactory().get("/papers/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content and b"site.css" in response.content
    api = server_error(RequestFactory().get("/api/results/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_the_beat_health_check_reads_the_schedule_files_age(tmp_path):
    def check(*args) -> int:
        return subprocess.run(
            [sys.executable, "scripts/healthcheck.py", "beat", str(tmp_path), *args],
            cwd=ROOT,
            capture_output=True,
        ).returncode

    assert check() == 1  # beat never wrote its schedule
    schedule = tmp_path / "celerybeat-schedule"
    schedule.write_bytes(b"")
    assert check() == 0
    old = schedule.stat().st_mtime - 3600
    os.utime(schedule, (old, old))
    assert check() == 1
    assert check("7200") == 0
