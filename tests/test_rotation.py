"""Every generated secret has a rotation path, and a rotated value reaches the pods.

- JWT and gateway HMAC keys: the secret holds {"current", "previous"}; raising the stack's
  generation setting replaces only the slot of the new generation, so the old key stays as
  previous and what it signed keeps verifying.
- The Valkey AUTH token: a new generation with strategy ROTATE (both tokens valid), then SET.
- `make rotate-secret` (ops/rotate_secret.py) makes those edits to the stack file.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import settings
from components.secrets import ApplicationSecrets, ApplicationSecretsArgs, latest_generations
from offline import stack_config
from offline.plan import plan_stack
from ops import rotate_secret
from tests.conftest import PROJECT_DIR, minimal_config, planned, run_component

PASSWORD = "random:index/randomPassword:RandomPassword"
TAGS = {"project": "p", "environment": "dev", "owner": "o", "cost-centre": "c"}


def slots(generation: int) -> dict[str, str]:
    plan = run_component(lambda: ApplicationSecrets("secrets", ApplicationSecretsArgs(
        prefix="ecomind/dev/", account_id="111122223333", tags=TAGS,
        key_generations={"jwt-secret": generation})))
    return {slot: plan.one(PASSWORD, f"secrets-jwt-secret-{slot}").inputs["keepers"]["generation"]
            for slot in ("odd", "even")}


def test_a_new_generation_replaces_only_its_own_slot_so_the_old_key_stays_previous():
    before, after = slots(4), slots(5)
    assert before == {"odd": "3", "even": "4"} and after == {"odd": "5", "even": "4"}
    # pulumi-random replaces a value whose keepers change: only the odd slot gets a new key, and
    # the even slot, generation 4's key, is kept as the previous one.


@pytest.mark.parametrize("generation", [1, 2, 7, 10])
def test_current_is_the_slot_of_the_generation_and_previous_the_one_before(generation):
    latest = latest_generations(generation)
    current = "odd" if generation % 2 else "even"
    assert latest[current] == generation and latest[{"odd": "even", "even": "odd"}[current]] == generation - 1


def test_the_cache_token_rotates_in_two_steps_with_the_strategy_elasticache_applies():
    default = planned("dev").one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
    assert default["authTokenUpdateStrategy"] == "SET", "at rest only the current token is valid"
    rotating = planned("dev", ("cacheAuthTokenGeneration=2", "cacheAuthTokenStrategy=ROTATE"))
    assert rotating.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs["authTokenUpdateStrategy"] \
        == "ROTATE"
    assert rotating.one(PASSWORD, "cache-auth-token").inputs["keepers"] == {"generation": "2"}
    assert planned("dev").one(PASSWORD, "cache-auth-token").inputs["keepers"] == {"generation": "1"}


def test_the_signing_key_generations_reach_the_secrets():
    plan = planned("dev", ("jwtKeyGeneration=3", "gatewayHmacKeyGeneration=2"))
    assert plan.one(PASSWORD, "secrets-jwt-secret-odd").inputs["keepers"] == {"generation": "3"}
    assert plan.one(PASSWORD, "secrets-gateway-hmac-secret-even").inputs["keepers"] == {"generation": "2"}


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("cacheAuthTokenStrategy", "DELETE", "allowed values are SET, ROTATE"),
    ("jwtKeyGeneration", "0", "from 1 to 1,000,000"),
    ("gatewayHmacKeyGeneration", "-3", "from 1 to 1,000,000"),
    ("cacheAuthTokenGeneration", "0", "from 1 to 1,000,000"),
])
def test_a_bad_rotation_setting_is_one_error_naming_it(key, value, allowed):
    with pytest.raises(settings.ConfigError, match=f"ecomind-infra:{key}.*{allowed}"):
        settings.load(minimal_config(**{key: value}), stack="dev", region="us-east-1")


STACK_FILE = """# a comment that stays
config:
  ecomind-infra:environment: dev
  # another comment
  ecomind-infra:appImageTag: "2026.11.20-3f2a1bc"
"""


def test_rotating_a_signing_key_raises_its_generation_and_keeps_the_rest_of_the_file():
    text, _ = rotate_secret.rotate(STACK_FILE, "jwt")
    assert "  ecomind-infra:jwtKeyGeneration: 2\n" in text
    assert text.replace("  ecomind-infra:jwtKeyGeneration: 2\n", "") == STACK_FILE
    text, _ = rotate_secret.rotate(text, "jwt")
    assert "  ecomind-infra:jwtKeyGeneration: 3\n" in text and text.count("jwtKeyGeneration") == 1


def test_a_cache_rotation_is_rotate_then_finish_and_cannot_be_started_twice():
    started, next_step = rotate_secret.rotate(STACK_FILE, "cache")
    assert "cacheAuthTokenGeneration: 2" in started and "cacheAuthTokenStrategy: ROTATE" in started
    assert "FINISH=1" in next_step
    with pytest.raises(rotate_secret.RotationError, match="in progress"):
        rotate_secret.rotate(started, "cache")
    finished, _ = rotate_secret.rotate(started, "cache", finish=True)
    assert "cacheAuthTokenStrategy" not in finished and "cacheAuthTokenGeneration: 2" in finished
    with pytest.raises(rotate_secret.RotationError, match="no cache token rotation"):
        rotate_secret.rotate(finished, "cache", finish=True)
    with pytest.raises(rotate_secret.RotationError, match="SECRET=cache only"):
        rotate_secret.rotate(STACK_FILE, "jwt", finish=True)


def test_a_rotated_stack_file_still_plans(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    for secret in ("jwt", "gateway-hmac", "cache"):
        result = subprocess.run([sys.executable, "-m", "ops.rotate_secret", "--stack", "dev", "--secret", secret,
                                 "--stack-file", str(path)], cwd=PROJECT_DIR, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    # The whole edited file, as the CLI would read it over Pulumi.yaml, through every check.
    config = stack_config.load(PROJECT_DIR, "dev", path)
    loaded = settings.load(config.values, stack="dev", region="us-east-1")
    assert loaded.signing_keys.jwt_generation == loaded.signing_keys.gateway_hmac_generation == 2
    assert loaded.cache.auth_token_generation == 2 and loaded.cache.auth_token_strategy == "ROTATE"
    plan = plan_stack("dev", path)[0]
    assert plan.one(PASSWORD, "cache-auth-token").inputs["keepers"] == {"generation": "2"}


def test_every_secret_names_a_rotation_procedure_the_runbook_gives():
    runbook = (PROJECT_DIR / "docs" / "DEPLOYMENT.md").read_text()
    section = runbook[runbook.index("**Rotate the generated secrets.**"):runbook.index("**Scale.**")]
    section = " ".join(section.replace("STACK=prod ", "").split())
    seen = set()
    for plan in (planned("dev"), planned("prod"), planned("prod", ("databaseEngine=timescaledb",))):
        for secret in plan.of_type("aws:secretsmanager/secret:Secret"):
            procedure, how = secret.inputs["tags"]["rotation"].split(": ", 1)
            seen.add(procedure)
            assert f"({procedure}" in section, (secret.name, procedure)
            assert how.removeprefix("docs/DEPLOYMENT.md ") in section, (secret.name, how)
    assert seen == {"dual-key", "rotate-then-set", "manual"}
