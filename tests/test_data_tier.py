"""Database, Kafka and cache, as both stacks plan them."""

from __future__ import annotations

import json

import pytest

import settings
from offline.mocks import resource_id_for
from tests.conftest import account, minimal_config, stack_settings

RDS = "aws:rds/instance:Instance"
MSK = "aws:msk/cluster:Cluster"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def data_subnet_ids(plan):
    return sorted(resource_id_for(s.type, s.name) for s in plan.of_type("aws:ec2/subnet:Subnet")
                  if s.inputs["tags"]["tier"] == "data")


def key_arn_of(plan, key_name):
    """The CMK ARN a dependant received, found through the dependency on that key."""
    return plan.one("aws:kms/key:Key", key_name).urn


def ingress_of(plan, security_group_name):
    group = plan.one(SG, security_group_name)
    return [r for r in plan.of_type(INGRESS) if group.urn in r.dependencies]


@pytest.mark.parametrize("group,port", [("database-sg", 5432), ("streaming-sg", 9098), ("cache-sg", 6379)])
def test_data_services_admit_only_the_cluster_security_group_on_their_port(stack_plan, group, port):
    rules = ingress_of(stack_plan, group)
    assert len(rules) == 1
    [rule] = rules
    assert rule.inputs["referencedSecurityGroupId"] == stack_plan.outputs["clusterSecurityGroupId"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (port, port, "tcp")
    assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs
    inline = stack_plan.one(SG, group).inputs
    assert "ingress" not in inline and "egress" not in inline  # no inline rules, no egress at all


def test_only_the_alb_admits_a_cidr_and_only_on_its_listener_ports(stack_plan):
    alb = stack_plan.one(SG, "web-alb")
    by_cidr = [r for r in stack_plan.of_type(INGRESS) if "cidrIpv4" in r.inputs or "cidrIpv6" in r.inputs]
    assert by_cidr and all(alb.urn in r.dependencies for r in by_cidr)
    opened = sorted((r.inputs["cidrIpv4"], r.inputs["fromPort"], r.inputs["toPort"]) for r in by_cidr)
    if stack_plan.stack == "prod":  # internet-facing: HTTPS, and HTTP only to redirect
        assert opened == [("0.0.0.0/0", 80, 80), ("0.0.0.0/0", 443, 443)]
    else:  # internal: the VPC on 80
        assert opened == [(stack_settings(stack_plan.stack).network.vpc_cidr, 80, 80)]


# --- PostgreSQL ---------------------------------------------------------------------------------

def test_database_is_private_postgres_in_the_data_subnets(stack_plan):
    db = stack_plan.one(RDS).inputs
    assert db["engine"] == "postgres" and db["engineVersion"] in ("16", "17")
    assert db["publiclyAccessible"] is False
    subnet_group = stack_plan.one("aws:rds/subnetGroup:SubnetGroup")
    assert sorted(subnet_group.inputs["subnetIds"]) == data_subnet_ids(stack_plan)
    assert db["vpcSecurityGroupIds"] == [resource_id_for(SG, "database-sg")]


def test_database_storage_is_gp3_encrypted_with_its_own_cmk_and_autoscales(stack_plan):
    db = stack_plan.one(RDS)
    assert db.inputs["storageType"] == "gp3" and db.inputs["storageEncrypted"] is True
    assert db.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert key_arn_of(stack_plan, "database-storage-key") in db.dependencies
    assert db.inputs["maxAllocatedStorage"] > db.inputs["allocatedStorage"]


def test_master_password_is_managed_by_rds_and_never_passed(stack_plan):
    db = stack_plan.one(RDS)
    assert db.inputs["manageMasterUserPassword"] is True
    assert "password" not in db.inputs and "passwordWo" not in db.inputs
    assert db.inputs["masterUserSecretKmsKeyId"].startswith("arn:aws:kms:")
    assert key_arn_of(stack_plan, "secrets-key-key") in db.dependencies
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True


def test_parameter_group_forces_tls_and_logs_slow_statements(stack_plan):
    group = stack_plan.one("aws:rds/parameterGroup:ParameterGroup")
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "1"
    assert int(parameters["log_min_duration_statement"]) > 0
    assert "timescaledb" not in parameters["shared_preload_libraries"]
    assert stack_plan.one("aws:rds/parameterGroup:ParameterGroup").inputs["family"] == "postgres17"


def test_database_observability(stack_plan):
    db = stack_plan.one(RDS).inputs
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade", "iam-db-auth-error"]
    assert db["performanceInsightsEnabled"] is True and db["performanceInsightsKmsKeyId"].startswith("arn:aws:kms:")
    groups = {g.inputs["name"] for g in stack_plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert {f"/aws/rds/instance/ecomind-infra-{stack_plan.stack}/{kind}"
            for kind in ("postgresql", "upgrade", "iam-db-auth-error")} <= groups


def test_backups_follow_the_environment(dev_plan, prod_plan):
    dev, prod = dev_plan.one(RDS).inputs, prod_plan.one(RDS).inputs
    assert dev["backupRetentionPeriod"] >= 7 and prod["backupRetentionPeriod"] >= 14
    assert dev["copyTagsToSnapshot"] is True and prod["copyTagsToSnapshot"] is True


def test_prod_database_is_multi_az_protected_and_keeps_a_final_snapshot(dev_plan, prod_plan):
    prod, dev = prod_plan.one(RDS), dev_plan.one(RDS)
    assert prod.protect and prod.inputs["multiAz"] is True and prod.inputs["deletionProtection"] is True
    assert prod.inputs["skipFinalSnapshot"] is False
    assert prod.inputs["finalSnapshotIdentifier"] == "ecomind-infra-prod-final"
    assert not dev.protect and dev.inputs["multiAz"] is False and dev.inputs["deletionProtection"] is False


def test_asking_rds_for_timescaledb_says_why_and_what_instead():
    values = minimal_config(databasePreloadLibraries=json.dumps(["pg_stat_statements", "timescaledb"]))
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(values, stack="t", region="us-east-1")
    message = str(caught.value)
    assert "databasePreloadLibraries" in message and "cannot load timescaledb" in message
    assert "pg_partman" in message and "docs/adr/" in message


def test_database_interface_is_engine_independent(stack_plan):
    assert set(stack_plan.outputs["database"]) == {"engine", "host", "port", "name", "secretArn", "securityGroupId"}
    assert stack_plan.outputs["database"]["port"] == 5432


# --- Kafka ----------------------------------------------------------------------------------------

def test_kafka_version_is_supported_and_brokers_span_the_zones(stack_plan):
    msk = stack_plan.one(MSK).inputs
    assert msk["kafkaVersion"] == settings.KAFKA_VERSION
    zones = len(stack_plan.outputs["availabilityZoneIds"])
    assert msk["numberOfBrokerNodes"] % zones == 0
    assert sorted(msk["brokerNodeGroupInfo"]["clientSubnets"]) == data_subnet_ids(stack_plan)
    assert msk["brokerNodeGroupInfo"]["connectivityInfo"]["publicAccess"]["type"] == "DISABLED"


def test_kafka_encrypts_at_rest_with_a_cmk_and_speaks_only_tls(stack_plan):
    msk = stack_plan.one(MSK)
    encryption = msk.inputs["encryptionInfo"]
    assert encryption["encryptionAtRestKmsKeyArn"].startswith("arn:aws:kms:")
    assert key_arn_of(stack_plan, "streaming-storage-key") in msk.dependencies
    assert encryption["encryptionInTransit"] == {"clientBroker": "TLS", "inCluster": True}


def test_kafka_clients_authenticate_with_iam_only(stack_plan):
    auth = stack_plan.one(MSK).inputs["clientAuthentication"]
    assert auth["sasl"]["iam"] is True and auth["sasl"].get("scram") is False
    assert auth["unauthenticated"] is False


def test_kafka_logs_and_monitoring(stack_plan):
    msk = stack_plan.one(MSK).inputs
    assert msk["loggingInfo"]["brokerLogs"]["cloudwatchLogs"]["enabled"] is True
    prometheus = msk["openMonitoring"]["prometheus"]
    assert prometheus["jmxExporter"]["enabledInBroker"] and prometheus["nodeExporter"]["enabledInBroker"]


def server_properties(plan):
    text = plan.one("aws:msk/configuration:Configuration").inputs["serverProperties"]
    return dict(line.split("=", 1) for line in text.strip().splitlines())


def test_topics_are_never_created_implicitly_and_prod_writes_need_two_replicas(dev_plan, prod_plan):
    prod, dev = server_properties(prod_plan), server_properties(dev_plan)
    assert prod["auto.create.topics.enable"] == dev["auto.create.topics.enable"] == "false"
    assert prod["default.replication.factor"] == "3" and prod["min.insync.replicas"] == "2"
    assert prod["unclean.leader.election.enable"] == "false"


def test_ecomind_topics_exist_with_the_stack_partitions(dev_plan, prod_plan):
    for plan, partitions in ((dev_plan, 3), (prod_plan, 12)):
        topics = {t.inputs["name"]: t.inputs for t in plan.of_type("aws:msk/topic:Topic")}
        assert set(topics) == {"events.raw", "events.enriched"}
        # three copies where there are three brokers (prod); dev's two zones hold two
        copies = min(3, len(plan.outputs["availabilityZoneIds"]))
        assert all(t["partitionCount"] == partitions and t["replicationFactor"] == copies for t in topics.values())
    prod_configs = json.loads(prod_plan.one("aws:msk/topic:Topic", "streaming-events-raw").inputs["configs"])
    assert prod_configs["min.insync.replicas"] == "2"


def test_broker_storage_autoscales_up_to_the_ceiling(stack_plan):
    target = stack_plan.one("aws:appautoscaling/target:Target")
    assert target.inputs["scalableDimension"] == "kafka:broker-storage:VolumeSize"
    assert target.inputs["maxCapacity"] == (100 if stack_plan.stack == "dev" else 1000)
    policy = stack_plan.one("aws:appautoscaling/policy:Policy").inputs
    spec = policy["targetTrackingScalingPolicyConfiguration"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "KafkaBrokerStorageUtilization"
    assert spec["disableScaleIn"] is True


# --- Cache ----------------------------------------------------------------------------------------

def test_cache_is_valkey_encrypted_at_rest_and_in_transit_with_auth(stack_plan):
    cache = stack_plan.one(CACHE)
    assert cache.inputs["engine"] == "valkey" and cache.inputs["engineVersion"] == settings.VALKEY_VERSION
    assert cache.inputs["atRestEncryptionEnabled"] is True
    assert key_arn_of(stack_plan, "cache-storage-key") in cache.dependencies
    assert cache.inputs["transitEncryptionEnabled"] is True and cache.inputs["transitEncryptionMode"] == "required"
    assert cache.inputs["authToken"] == "[secret]"
    subnets = stack_plan.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]
    assert sorted(subnets) == data_subnet_ids(stack_plan)


def test_prod_cache_fails_over_across_zones_and_keeps_snapshots(dev_plan, prod_plan):
    prod, dev = prod_plan.one(CACHE), dev_plan.one(CACHE)
    assert prod.inputs["numCacheClusters"] == 3
    assert prod.inputs["automaticFailoverEnabled"] is True and prod.inputs["multiAzEnabled"] is True
    assert len(set(prod.inputs["preferredCacheClusterAzs"])) == 3
    assert prod.inputs["snapshotRetentionLimit"] >= 7 and prod.inputs["finalSnapshotIdentifier"]
    assert prod.protect
    assert dev.inputs["numCacheClusters"] == 1 and dev.inputs["automaticFailoverEnabled"] is False


def test_cache_slow_log_goes_to_cloudwatch(stack_plan):
    [delivery] = stack_plan.one(CACHE).inputs["logDeliveryConfigurations"]
    assert delivery["logType"] == "slow-log" and delivery["destinationType"] == "cloudwatch-logs"


def test_cache_credentials_live_in_secrets_manager_under_the_secrets_key(stack_plan):
    secret = stack_plan.one("aws:secretsmanager/secret:Secret", "cache-auth")
    assert secret.inputs["name"] == f"ecomind/{stack_plan.stack}/cache-auth"
    assert key_arn_of(stack_plan, "secrets-key-key") in secret.dependencies
    version = stack_plan.one("aws:secretsmanager/secretVersion:SecretVersion", "cache-auth")
    assert version.inputs["secretString"] == "[secret]"



def test_the_database_logs_every_schema_change(stack_plan):
    parameters = {p["name"]: p["value"] for p in stack_plan.one("aws:rds/parameterGroup:ParameterGroup").inputs[
        "parameters"]}
    assert parameters["log_statement"] == "ddl"


def test_enhanced_monitoring_samples_every_minute_through_a_role_for_this_instance(stack_plan):
    import json

    database = stack_plan.one("aws:rds/instance:Instance")
    assert database.inputs["monitoringInterval"] == 60
    role = stack_plan.one("aws:iam/role:Role", "database-monitoring")
    assert database.inputs["monitoringRoleArn"] == role.arn
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:rds:us-east-1:{account(stack_plan.stack)}:db:ecomind-infra-{stack_plan.stack}"}
