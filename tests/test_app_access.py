"""Application secrets and the services' IRSA roles; secret hygiene of the whole plan."""

from __future__ import annotations

import json

import pytest

from offline.mocks import PlatformMocks
from tests.conftest import account, as_list, planned, policy, statements

SERVICE_ACCOUNTS = {"gateway": "ecomind-gateway", "api": "ecomind-api", "worker": "ecomind-worker"}


def inline_policies(plan, service):
    return {p.name.removeprefix(f"app-{service}-"): policy(p, "policy")
            for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(f"app-{service}-")}


def test_generated_secrets_live_in_secrets_manager_under_the_cmk(stack_plan):
    for purpose in ("jwt-secret", "gateway-hmac-secret"):
        secret = stack_plan.one("aws:secretsmanager/secret:Secret", f"secrets-{purpose}")
        assert secret.inputs["name"] == f"ecomind/{stack_plan.stack}/{purpose}"
        assert secret.inputs["kmsKeyId"].startswith("arn:aws:kms:")
        assert stack_plan.one("aws:kms/key:Key", "secrets-key-key").urn in secret.dependencies
        version = stack_plan.one("aws:secretsmanager/secretVersion:SecretVersion", f"secrets-{purpose}")
        assert version.inputs["secretString"] == "[secret]"
        for slot in ("odd", "even"):
            password = stack_plan.one("random:index/randomPassword:RandomPassword", f"secrets-{purpose}-{slot}")
            assert password.inputs["length"] >= 32


def test_no_generated_secret_value_appears_in_the_plan(stack_plan):
    text = json.dumps(stack_plan.as_json())
    mocks = PlatformMocks("us-east-1")
    for password in stack_plan.of_type("random:index/randomPassword:RandomPassword"):
        import pulumi
        _, state = mocks.new_resource(pulumi.runtime.MockResourceArgs(typ=password.type, name=password.name, inputs={}))
        assert state["result"] not in text


def test_outputs_carrying_secrets_are_secret(stack_plan):
    assert stack_plan.outputs["kubeconfig"] == "[secret]"
    for name, arn in stack_plan.outputs["secretArns"].items():
        assert arn.startswith("arn:aws:secretsmanager:"), name


@pytest.mark.parametrize("service", SERVICE_ACCOUNTS)
def test_each_role_trusts_only_its_own_service_account(stack_plan, service):
    role = stack_plan.one("aws:iam/role:Role", f"app-{service}-role")
    [trust] = statements(policy(role, "assumeRolePolicy"))
    condition = trust["Condition"]["StringEquals"]
    assert [v for k, v in condition.items() if k.endswith(":sub")] == [
        f"system:serviceaccount:ecomind:{SERVICE_ACCOUNTS[service]}"]
    assert stack_plan.outputs["appRoleArns"][service].startswith(f"arn:aws:iam::{account(stack_plan.stack)}:role/")


def test_no_application_role_has_a_wildcard_or_managed_policy(stack_plan):
    for service in SERVICE_ACCOUNTS:
        for document in inline_policies(stack_plan, service).values():
            for statement in statements(document):
                assert statement["Effect"] == "Allow"
                assert not any(a == "*" or a.endswith(":*") for a in as_list(statement["Action"]))
                assert not any(r == "*" or r.endswith(":*") for r in as_list(statement["Resource"]))
    attached = [a.name for a in stack_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.name.startswith("app-")]
    assert attached == []


def actions_on(document, fragment):
    return {a for s in statements(document) for a in as_list(s["Action"])
            if any(fragment in r for r in as_list(s["Resource"]))}


def idempotent_writes(document) -> list[str]:
    return [r for s in statements(document) if "kafka-cluster:WriteDataIdempotently" in as_list(s["Action"])
            for r in as_list(s["Resource"])]


@pytest.mark.parametrize("service", ["gateway", "worker"])
def test_producers_may_write_idempotently_on_their_cluster_only(stack_plan, service):
    """Current Kafka clients default to enable.idempotence=true; MSK checks that as
    kafka-cluster:WriteDataIdempotently on the cluster ARN (MSK developer guide)."""
    assert idempotent_writes(inline_policies(stack_plan, service)["kafka"]) == [stack_plan.outputs["kafkaClusterArn"]]


def test_gateway_may_only_produce_raw_events(stack_plan):
    policies = inline_policies(stack_plan, "gateway")
    assert set(policies) == {"kafka"}
    kafka = policies["kafka"]
    assert actions_on(kafka, "/events.raw") == {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}
    assert not actions_on(kafka, "/events.enriched") and not actions_on(kafka, ":group/")


def test_worker_consumes_raw_produces_enriched_in_its_group_and_writes_exports(stack_plan):
    policies = inline_policies(stack_plan, "worker")
    assert set(policies) == {"kafka", "exports", "database"}
    kafka = policies["kafka"]
    assert actions_on(kafka, "/events.raw") == {"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"}
    assert actions_on(kafka, "/events.enriched") == {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}
    assert actions_on(kafka, ":group/") == {"kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"}
    objects = [s for s in statements(policies["exports"]) if "s3:PutObject" in as_list(s["Action"])]
    assert objects and all(r.endswith("/exports/*") for r in as_list(objects[0]["Resource"]))


def test_api_reads_and_writes_reports_only(stack_plan):
    policies = inline_policies(stack_plan, "api")
    assert set(policies) == {"reports", "database"}
    [objects] = [s for s in statements(policies["reports"]) if "s3:GetObject" in as_list(s["Action"])]
    assert all(r.startswith("arn:aws:s3:::storage-reports-") and r.endswith("/reports/*")
               for r in as_list(objects["Resource"]))
    [listing] = [s for s in statements(policies["reports"]) if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["reports/*"]
    [kms] = [s for s in statements(policies["reports"]) if s["Sid"] == "BucketKey"]
    assert kms["Resource"].startswith(f"arn:aws:kms:us-east-1:{account(stack_plan.stack)}:key/")


def test_the_api_and_worker_may_log_in_to_this_database_as_the_application_role_only(stack_plan):
    instance = stack_plan.one("aws:rds/instance:Instance")
    assert instance.inputs["iamDatabaseAuthenticationEnabled"] is True
    for service in ("api", "worker"):
        [statement] = statements(inline_policies(stack_plan, service)["database"])
        assert statement["Action"] == "rds-db:connect" and statement["Effect"] == "Allow"
        # arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>: this instance, this role.
        assert statement["Resource"] == f"arn:aws:rds-db:us-east-1:{account(stack_plan.stack)}:dbuser:db-" \
            f"{statement['Resource'].split(':dbuser:db-')[1].split('/')[0]}/ecomind_app"
        assert statement["Resource"].split(":dbuser:")[1].split("/")[0] != "*"
    assert "database" not in inline_policies(stack_plan, "gateway")


def test_with_the_in_cluster_engine_no_role_gets_rds_access():
    plan = planned("prod", ("databaseEngine=timescaledb",))
    for service in ("api", "worker"):
        assert "database" not in inline_policies(plan, service)


def test_kafka_grants_name_topics_of_this_cluster(stack_plan):
    cluster_arn = stack_plan.outputs["kafkaClusterArn"]
    cluster_path = cluster_arn.split(":cluster/", 1)[1]
    kafka = inline_policies(stack_plan, "worker")["kafka"]
    resources = [r for s in statements(kafka) for r in as_list(s["Resource"])]
    assert cluster_arn in resources
    assert f"arn:aws:kafka:us-east-1:{account(stack_plan.stack)}:topic/{cluster_path}/events.raw" in resources
    assert f"arn:aws:kafka:us-east-1:{account(stack_plan.stack)}:group/{cluster_path}/ecomind-worker" in resources


def test_stack_outputs_give_the_chart_what_it_needs(stack_plan):
    outputs = stack_plan.outputs
    # a broker per zone
    assert outputs["kafkaBootstrapBrokers"].count(":9098") == len(outputs["availabilityZoneIds"])
    assert outputs["cache"]["port"] == 6379 and outputs["cache"]["authSecretArn"].startswith("arn:aws:secretsmanager:")
    assert outputs["reportsBucket"] and outputs["assetsBucket"] and outputs["cdnDomain"].endswith(".cloudfront.net")
    assert set(outputs["ecrRepositories"]) == {"gateway", "api", "worker", "ui"}
    assert set(outputs["secretArns"]) == {"jwt", "gatewayHmac", "database", "cache"}


@pytest.mark.parametrize("service,policy_name", [("api", "reports"), ("worker", "exports")])
def test_bucket_keys_are_usable_only_through_s3(stack_plan, service, policy_name):
    [key] = [s for s in statements(inline_policies(stack_plan, service)[policy_name]) if s["Sid"] == "BucketKey"]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
