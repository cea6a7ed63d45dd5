"""The timescaledb engine: PostgreSQL with TimescaleDB on the cluster, run by CloudNativePG.

Each stack is planned a second time with `databaseEngine=timescaledb` (what
`make plan SET=databaseEngine=timescaledb` does) and compared with its RDS plan.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analyses import cost, guardrails, zone_loss
from analyses.model import Plan
from offline.mocks import resource_id_for
from offline.plan import main as plan_main
from policies import ecomind_rules as rules
from tests.conftest import PROJECT_DIR, STACKS, planned, stack_settings, statements, validate_operator_objects
from tests.test_settings import error_of, load, raw

TIMESCALE = ("databaseEngine=timescaledb",)
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
OPERATOR_KINDS = {"Cluster", "ImageCatalog", "ScheduledBackup", "ObjectStore", "ExternalSecret"}


def timescale_plan(stack: str, extra: tuple[str, ...] = ()) -> Plan:
    return planned(stack, TIMESCALE + extra)


@pytest.fixture(scope="module", params=STACKS)
def stack(request) -> str:
    return request.param


def spec(plan: Plan, typ: str = CLUSTER) -> dict:
    return plan.one(typ).inputs["spec"]


def manifests(plan: Plan) -> list[dict]:
    """Every Kubernetes object the database component plans, as the API server receives it."""
    database = plan.one("ecomind:data:TimescaleDatabase").urn
    return [{k: r.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec", "parameters", "provisioner",
                                       "reclaimPolicy", "volumeBindingMode", "allowVolumeExpansion") if k in r.inputs}
            for r in plan.resources if r.parent == database and r.type.startswith("kubernetes:")
            and r.type.split(":")[1] not in ("helm.sh/v3", "core/v1")]


def flatten(value, path=""):
    if isinstance(value, dict):
        return {p: v for key, item in value.items() for p, v in flatten(item, f"{path}.{key}" if path else key).items()}
    return {path: value}


# --- What switching engines changes ----------------------------------------------------------------

def test_release_values_keep_their_shape_and_change_only_the_database_endpoints(stack):
    rds = planned(stack).one("kubernetes:helm.sh/v3:Release", "ecomind-release").inputs
    timescale = timescale_plan(stack).one("kubernetes:helm.sh/v3:Release", "ecomind-release").inputs
    before, after = flatten(rds["values"]), flatten(timescale["values"])
    assert before.keys() == after.keys()
    # With RDS the services log in as their IAM-auth role; in the cluster, with the secret's credentials.
    assert {path for path in before if before[path] != after[path]} == {"database.host", "secrets.databaseSecretArn",
                                                                         "database.iamAuthUser"}
    assert before["database.iamAuthUser"] == "ecomind_app" and after["database.iamAuthUser"] == ""
    assert after["database.host"] == "ecomind-db-rw.ecomind-db.svc.cluster.local"
    assert {k: v for k, v in rds.items() if k != "values"} == {k: v for k, v in timescale.items() if k != "values"}


def test_switching_engines_swaps_the_database_and_leaves_the_rest_of_the_platform(stack):
    rds, timescale = planned(stack), timescale_plan(stack)
    names = {r.name: r for r in rds.resources}
    other = {r.name: r for r in timescale.resources}
    removed = {n for n in names if n not in other}
    added = {n for n in other if n not in names}
    # The api's and worker's rds-db:connect policies go with the RDS instance, and so does dev's
    # office-hours stop and start of it.
    assert all(n.startswith(("database", "monitoring-rds-", "office-hours-database-")) for n in removed - {
        "app-api-database", "app-worker-database"}), removed
    assert {"app-api-database", "app-worker-database"} <= removed
    assert "database-postgres" in removed and {"monitoring-rds-cpu", "monitoring-rds-free-storage"} <= removed
    assert all(n.startswith(("database", "cluster-database-", "monitoring-database-", "office-hours-database-"))
               for n in added), added
    assert not timescale.of_type("aws:rds/instance:Instance")
    changed = {n for n in names.keys() & other.keys()
               if names[n].inputs != other[n].inputs and not n.startswith("database")}
    # The release's values (endpoints), External Secrets' role, which reads the new secret, and
    # the secret store, which the database's namespace may now use too, the dashboard, which
    # shows the engine's own alarms, and the node-capacity alarm, which counts the database's
    # node groups' maximum too, and (dev) the office-hours role, which scales those groups and no
    # longer stops an RDS instance.
    assert changed == {"ecomind-release", "services-external-secrets-external-secrets", "services-secret-store",
                       "slo-dashboard", "telemetry-nodes-at-capacity",
                       *(["office-hours-role"] if stack == "dev" else [])}, changed


# --- The operator's objects, checked against its schemas -----------------------------------------

def test_operator_objects_validate_against_their_schemas(stack):
    documents = [d for d in manifests(timescale_plan(stack)) if d["kind"] in OPERATOR_KINDS]
    assert {d["kind"] for d in documents} == OPERATOR_KINDS
    results = validate_operator_objects(documents)
    assert [r for r in results if r["errors"]] == []


def test_schema_check_reports_unknown_fields_and_bad_values():
    documents = {d["kind"]: d for d in manifests(timescale_plan("prod"))}
    cluster, store = copy.deepcopy(documents["Cluster"]), copy.deepcopy(documents["ObjectStore"])
    cluster["spec"]["affinity"]["enablePodAntiAffinty"] = True
    cluster["spec"]["postgresql"]["synchronous"]["method"] = "all-of-them"
    store["spec"]["configuration"]["wal"]["compresion"] = "gzip"
    store["spec"]["retentionPolicy"] = "30 days"
    results = {r["kind"]: r["errors"] for r in validate_operator_objects([cluster, store])}
    assert any("enablePodAntiAffinty: not a field of AffinityConfiguration" in e for e in results["Cluster"])
    assert any("synchronous/method must be equal to one of the allowed values" in e for e in results["Cluster"])
    assert any("compresion: not a field of WalBackupConfiguration" in e for e in results["ObjectStore"])
    assert any("retentionPolicy" in e for e in results["ObjectStore"])


def test_storage_class_and_network_policy_validate_for_the_cluster_version(stack, tmp_path):
    plan = timescale_plan(stack)
    documents = [d for d in manifests(plan) if d["kind"] in ("StorageClass", "NetworkPolicy")]
    assert {d["kind"] for d in documents} == {"StorageClass", "NetworkPolicy"}
    for index, document in enumerate(documents):
        (tmp_path / f"{index}.yaml").write_text(yaml.safe_dump(document))
    version = plan.one("eks:index:Cluster").inputs["version"] + ".0"
    result = subprocess.run([str(KUBERNETES_VALIDATE), "--strict", "-k", version,
                             *map(str, sorted(tmp_path.glob("*.yaml")))], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Couldn't find schema" not in result.stdout


# --- Availability, placement, storage ---------------------------------------------------------------

def test_prod_runs_three_instances_one_per_zone_with_synchronous_commit():
    s = spec(timescale_plan("prod"))
    assert s["instances"] == 3
    assert s["affinity"]["podAntiAffinityType"] == "required"
    assert s["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
    assert s["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert s["enablePDB"] is True and s["enableSuperuserAccess"] is False


def test_dev_runs_one_instance_without_waiting_for_a_standby():
    s = spec(timescale_plan("dev"))
    assert s["instances"] == 1 and "synchronous" not in s["postgresql"]


def test_a_single_instance_has_no_disruption_budget_to_block_drains():
    """CloudNativePG cannot switch over a lone instance, so its PDB would stop every drain of
    that node (docs/src/kubernetes_upgrade.md)."""
    assert spec(timescale_plan("dev"))["enablePDB"] is False


def test_instances_run_only_on_one_database_node_group_per_zone(stack):
    plan = timescale_plan(stack)
    s = spec(plan)
    groups = [g for g in plan.of_type("eks:index:ManagedNodeGroup") if g.name.startswith("cluster-database-")]
    assert len(groups) == s["instances"]
    zone_of = {resource_id_for(subnet.type, subnet.name): subnet.inputs["availabilityZoneId"]
               for subnet in plan.of_type("aws:ec2/subnet:Subnet")}
    zones = [zone_of[subnet] for group in groups for subnet in group.inputs["subnetIds"]]
    assert len(zones) == len(set(zones)) == s["instances"], "one group per zone, each in one zone"
    for group in groups:
        assert all(group.inputs["labels"][k] == v for k, v in s["affinity"]["nodeSelector"].items())
        [taint] = group.inputs["taints"]
        [toleration] = s["affinity"]["tolerations"]
        assert (taint["key"], taint["value"], taint["effect"]) == (
            toleration["key"], toleration["value"], "NO_SCHEDULE") and toleration["effect"] == "NoSchedule"
        assert group.inputs["capacityType"] == "ON_DEMAND"
    requests = s["resources"]["requests"]
    assert requests == s["resources"]["limits"], "requests equal limits: the Guaranteed QoS class"


def test_volumes_use_a_storage_class_encrypted_with_the_stack_volume_key(stack):
    plan = timescale_plan(stack)
    storage_class = plan.one(STORAGE_CLASS).inputs
    assert storage_class["provisioner"] == "ebs.csi.aws.com"
    assert storage_class["parameters"]["type"] == "gp3" and storage_class["parameters"]["encrypted"] == "true"
    assert storage_class["parameters"]["kmsKeyId"] == plan.outputs["volumeKeyArn"]
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class["reclaimPolicy"] == ("Retain" if stack == "prod" else "Delete")
    s = spec(plan)
    assert s["storage"]["storageClass"] == s["walStorage"]["storageClass"] == storage_class["metadata"]["name"]


def test_clients_must_use_tls():
    postgresql = spec(timescale_plan("prod"))["postgresql"]
    assert {"hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"} <= set(postgresql["pg_hba"])
    assert postgresql["parameters"]["ssl_min_protocol_version"] == "TLSv1.3"
    assert postgresql["shared_preload_libraries"] == ["timescaledb"]


# --- Backups and recovery ---------------------------------------------------------------------------

def test_wal_and_daily_base_backups_go_to_the_kms_encrypted_backup_bucket(stack):
    plan = timescale_plan(stack)
    store = spec(plan, OBJECT_STORE)
    assert store["configuration"]["destinationPath"] == f"s3://{plan.outputs['databaseBackupBucket']}/"
    assert store["configuration"]["s3Credentials"] == {"inheritFromIAMRole": True}
    assert "encryption" not in store["configuration"].get("data", {}), "barman's aws:kms would use the AWS key"
    assert store["retentionPolicy"] == {"dev": "7d", "prod": "30d"}[stack]
    # The recovery point on a quiet day: a WAL segment is shipped at least every 5 minutes.
    assert spec(plan)["postgresql"]["parameters"]["archive_timeout"] == "5min"
    [archiver] = spec(plan)["plugins"]
    assert archiver["isWALArchiver"] is True
    assert archiver["parameters"]["barmanObjectName"] == plan.one(OBJECT_STORE).inputs["metadata"]["name"]
    backup = spec(plan, SCHEDULED_BACKUP)
    assert backup["method"] == "plugin" and backup["cluster"]["name"] == "ecomind-db"
    # Dev stops at night (officeHours): its base backup runs in the working day, as RDS's backup
    # window does (settings OfficeHours.backup_window, 11:00 UTC); prod's at 03:00 UTC.
    hours = stack_settings(stack).office_hours
    assert backup["schedule"] == ("0 0 11 * * *" if stack == "dev" else "0 0 3 * * *")
    assert (hours is None) == (stack == "prod")
    if hours:
        assert backup["schedule"].split()[2] == hours.backup_window[:2].lstrip("0")
    encryption = next(r for r in plan.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.name.startswith("database-backups"))
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_no_backup_inside_its_retention_window_can_be_destroyed(stack):
    plan = timescale_plan(stack)
    bucket = plan.one("aws:s3/bucket:Bucket", "database-backups")
    assert bucket.inputs["objectLockEnabled"] is True, "Object Lock can only be turned on at creation"
    lock = plan.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                    "database-backups-object-lock")
    days = {"dev": 7, "prod": 30}[stack]
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": days}
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning", "database-backups-versioning")
    assert versioning.urn in lock.dependencies
    # The cluster's role deletes without version IDs (delete markers), which the lock allows.
    [inline] = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "database-backups-backups"]
    assert "s3:DeleteObjectVersion" not in inline.inputs["policy"] and "BypassGovernance" not in inline.inputs["policy"]


def test_backup_role_trusts_the_instances_service_account_and_reaches_only_its_bucket_and_key(stack):
    plan = timescale_plan(stack)
    role = plan.one("aws:iam/role:Role", "database-backups-role")
    condition = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert [v for k, v in condition.items() if k.endswith(":sub")] == ["system:serviceaccount:ecomind-db:ecomind-db"]
    [inline] = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "database-backups-backups"]
    granted = {statement["Resource"]: set(statement["Action"]) for statement in
               statements(json.loads(inline.inputs["policy"]))}
    bucket = f"arn:aws:s3:::{plan.outputs['databaseBackupBucket']}"
    [encryption] = [r for r in plan.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.name == "database-backups-encryption"]
    key = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert granted == {f"{bucket}/*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
                       bucket: {"s3:ListBucket", "s3:GetBucketLocation"},
                       key: {"kms:Decrypt", "kms:GenerateDataKey"}}
    annotation = spec(plan)["serviceAccountTemplate"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    role_arn = rf"arn:aws:iam::\d{{12}}:role/ecomind-infra/{stack}/database-backups-role-[0-9a-f]+"
    assert re.fullmatch(role_arn, annotation), annotation


def test_a_recovery_is_a_new_cluster_restored_from_the_old_one_to_a_point_in_time():
    plan = timescale_plan("prod", ("timescaledbClusterName=ecomind-db-r1", "timescaledbRecoverFrom=ecomind-db",
                                   "timescaledbRecoveryTargetTime=2026-11-20T09:30:00Z"))
    s = spec(plan)
    assert plan.one(CLUSTER).inputs["metadata"]["name"] == "ecomind-db-r1"
    assert "initdb" not in s["bootstrap"]
    assert s["bootstrap"]["recovery"]["source"] == "ecomind-db"
    assert s["bootstrap"]["recovery"]["recoveryTarget"] == {"targetTime": "2026-11-20T09:30:00Z"}
    [origin] = s["externalClusters"]
    assert origin["plugin"]["parameters"]["serverName"] == "ecomind-db"
    assert plan.one("kubernetes:helm.sh/v3:Release", "ecomind-release").inputs["values"]["database"]["host"] == \
        "ecomind-db-r1-rw.ecomind-db.svc.cluster.local"
    role = plan.one("aws:iam/role:Role", "database-backups-role")
    assert "system:serviceaccount:ecomind-db:ecomind-db-r1" in role.inputs["assumeRolePolicy"]


# --- Credentials ------------------------------------------------------------------------------------

def test_owner_credentials_live_in_secrets_manager_and_reach_initdb_through_external_secrets(stack):
    plan = timescale_plan(stack)
    secret = plan.one("aws:secretsmanager/secret:Secret", "database-owner")
    assert secret.inputs["name"] == f"ecomind/{stack}/database-owner"
    assert secret.inputs["kmsKeyId"] == plan.one("aws:secretsmanager/secret:Secret", "secrets-jwt-secret").inputs[
        "kmsKeyId"], "the stack's secrets key, like every application secret"
    assert plan.one("aws:secretsmanager/secretVersion:SecretVersion", "database-owner").inputs["secretString"] \
        == "[secret]"
    external = next(r.inputs for r in plan.of_type("kubernetes:external-secrets.io/v1:ExternalSecret"))
    assert external["spec"]["target"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert {d["remoteRef"]["key"] for d in external["spec"]["data"]} == {plan.outputs["database"]["secretArn"]}
    owner = next(r for r in plan.of_type("kubernetes:external-secrets.io/v1:ExternalSecret"))
    assert plan.one("kubernetes:external-secrets.io/v1:ClusterSecretStore").urn in owner.dependencies
    assert spec(plan)["bootstrap"]["initdb"]["secret"]["name"] == external["spec"]["target"]["name"]
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in spec(plan)["bootstrap"]["initdb"]["postInitApplicationSQL"]
    store_policy = plan.one("aws:iam/rolePolicy:RolePolicy", "services-external-secrets-external-secrets")
    assert plan.outputs["database"]["secretArn"] in store_policy.inputs["policy"]


# --- Guardrails, zone loss, cost --------------------------------------------------------------------

def violations(plan: Plan, environment: str, mutate=None) -> set[str]:
    resources = guardrails.as_rule_resources(plan)
    if mutate:
        resources = [mutate(r) or r for r in resources]
    return {v.policy for v in rules.evaluate(resources, rules.Config(environment=environment))}


def changed(resource: rules.Resource, typ: str, edit, options) -> rules.Resource | None:
    if resource.type != typ:
        return None
    props = copy.deepcopy(dict(resource.props))
    edit(props)
    return dataclasses.replace(resource, props=props, **options)


MUTATIONS = {
    "no WAL archiver": (CLUSTER, lambda p: p["spec"].pop("plugins"), "timescaledb-backups"),
    "no retention": (OBJECT_STORE, lambda p: p["spec"].pop("retentionPolicy"), "timescaledb-backups"),
    "backups not scheduled": (SCHEDULED_BACKUP, lambda p: p["spec"]["cluster"].update(name="elsewhere"),
                              "timescaledb-backups"),
    "AWS-managed volume key": (STORAGE_CLASS, lambda p: p["parameters"].pop("kmsKeyId"),
                               "timescaledb-encrypted-volumes"),
    "zones preferred": (CLUSTER, lambda p: p["spec"]["affinity"].update(podAntiAffinityType="preferred"),
                        "timescaledb-prod-resilience"),
    "asynchronous": (CLUSTER, lambda p: p["spec"]["postgresql"].pop("synchronous"), "timescaledb-prod-resilience"),
    "cluster unprotected": (CLUSTER, lambda p: None, "prod-protection", {"protect": False}),
    "volumes deleted with claims": (STORAGE_CLASS, lambda p: p.update(reclaimPolicy="Delete"), "prod-protection"),
}


def test_both_stacks_pass_every_rule_in_timescaledb_mode(stack):
    assert violations(timescale_plan(stack), stack) == set()


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_database_rule_catches_its_property_removed_from_the_prod_plan(mutation):
    typ, edit, rule, *options = MUTATIONS[mutation]
    assert rule in violations(timescale_plan("prod"), "prod", lambda r: changed(r, typ, edit, *options or [{}]))


def test_zone_loss_keeps_the_prod_database_and_reports_dev_as_lost():
    prod = {t.tier: t for t in zone_loss.az_loss(timescale_plan("prod"))}
    assert all(t.survives for t in prod.values()), prod
    assert "synchronous" in prod["database"].reason
    dev = {t.tier: t for t in zone_loss.az_loss(timescale_plan("dev"))}
    assert not dev["database"].survives and "1 instance" in dev["database"].reason


def test_cost_prices_the_volumes_the_backups_and_the_database_nodes(stack):
    plan = timescale_plan(stack)
    database_gb = stack_settings(stack).cost.database_gb
    estimate = cost.estimate(plan, cost.Usage(nat_gb=0, log_gb=0, storage_gb=0, cdn_gb=0, database_gb=database_gb))
    assert estimate["unpriced"] == []
    lines = {(line["resource"], line["dimension"].split(" (")[0]): line for line in estimate["lines"]}
    s = spec(plan)
    volumes = [line for line in estimate["lines"] if line["resource"] == "database-cluster"]
    assert sorted(line["quantity"] for line in volumes) == sorted(
        s["instances"] * int(s[volume]["size"].removesuffix("Gi")) for volume in ("storage", "walStorage"))
    assert all(line["source"].startswith("ebs.gp3.gb") for line in volumes)
    days = int(spec(plan, OBJECT_STORE)["retentionPolicy"][:-1])
    backups = lines[("database-backups", "Standard storage")]
    # Deleted backups linger as noncurrent versions for the bucket's 30 days.
    wal = stack_settings(stack).load.ingest_calls_per_day * cost.WAL_BYTES_PER_EVENT / 1e9
    assert backups["quantity"] == pytest.approx((days + 30) * (database_gb * cost.BACKUP_COMPRESSION + wal))
    assert len([line for line in estimate["lines"] if line["source"].startswith("cloudwatch.metric")]) == 2
    nodes = [line for line in estimate["lines"] if line["resource"].startswith("cluster-database-")]
    assert len([n for n in nodes if "on-demand" in n["dimension"]]) == s["instances"]
    assert not [line for line in estimate["lines"] if line["source"].startswith("rds.")]


def test_make_plan_takes_the_engine_as_a_setting_and_refuses_a_malformed_one(tmp_path, capsys):
    assert plan_main(["--stack", "dev", "--set", "databaseEngine=timescaledb", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Losing one availability zone" in printed and "database-cluster" in printed
    assert "databaseEngine = \"timescaledb\"" in printed
    assert plan_main(["--stack", "dev", "--set", "databaseEngine", "--out", str(tmp_path)]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert plan_main(["--stack", "dev", "--set", "databaseEngine=aurora", "--out", str(tmp_path)]) == 2
    assert "'ecomind-infra:databaseEngine' = 'aurora': allowed values are rds, timescaledb" in capsys.readouterr().err


def test_alarms_watch_the_backup_uploads_instead_of_rds(stack):
    plan = timescale_plan(stack)
    alarms = {a.name: a.inputs for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert not [a for a in alarms.values() if a.get("namespace") == "AWS/RDS"]
    assert [a for a in planned(stack).of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if a.inputs.get("namespace") == "AWS/RDS"], "the RDS engine keeps its alarms"
    filters = {m.inputs["name"]: m.inputs for m in plan.of_type("aws:s3/bucketMetric:BucketMetric")}
    assert {f["filter"]["prefix"] for f in filters.values()} == {"ecomind-db/wals/", "ecomind-db/base/"}
    for kind, hours in (("wal", 2), ("base", 26)):
        alarm = alarms[f"monitoring-database-{kind}-backups"]
        assert alarm["dimensions"]["BucketName"] == plan.outputs["databaseBackupBucket"]
        assert alarm["dimensions"]["FilterId"] in filters
        assert (alarm["metricName"], alarm["statistic"], alarm["period"]) == ("PutRequests", "Sum", 3600)
        assert alarm["evaluationPeriods"] == hours and alarm["comparisonOperator"] == "LessThanThreshold"
        # S3 publishes nothing for an hour without uploads: silence must sound the alarm.
        assert alarm["treatMissingData"] == "breaching"
        assert alarm["alarmActions"] == [plan.outputs["alertTopicArn"]]


# --- Settings ---------------------------------------------------------------------------------------

TIMESCALE_ERRORS = {
    "engine": ({"databaseEngine": "aurora"}, "dev", "allowed values are rds, timescaledb"),
    "more instances than zones": ({"timescaledbInstances": 4}, "dev", "between 1 and availabilityZoneCount (3)"),
    "prod below three": ({"timescaledbInstances": 2}, "prod", "prod needs at least 3"),
    "memory beyond the node": ({"timescaledbMemoryGib": 16}, "dev", "between 1 and 2 (what a t4g.medium node"),
    # KB1: 1400m, the old default, plus the sidecar and the DaemonSets is more than the node offers.
    "cpu beyond the node": ({"timescaledbCpuMillicores": 1400}, "dev",
                            "between 250 and 1150 (what a t4g.medium node leaves after the kubelet's reservation, "
                            "its DaemonSets and the backup sidecar"),
    "short retention in prod": ({"timescaledbBackupRetentionDays": 14}, "prod", "between 30 and 3650 in prod"),
    "recover into itself": ({"timescaledbRecoverFrom": "ecomind-db"}, "dev", "must differ from timescaledbClusterName"),
    "target without source": ({"timescaledbRecoveryTargetTime": "2026-11-20T09:30:00Z"}, "dev",
                              "needs timescaledbRecoverFrom"),
    "target not RFC 3339": ({"timescaledbRecoverFrom": "old", "timescaledbRecoveryTargetTime": "20 Nov 2026"}, "dev",
                            "expected an RFC 3339 time in UTC"),
    "target in the future": ({"timescaledbRecoverFrom": "old", "timescaledbRecoveryTargetTime": "2999-01-01T00:00:00Z"},
                             "dev", "must not be in the future"),
    "cluster name": ({"timescaledbClusterName": "EcoMind_DB"}, "dev", "expected a lower-case DNS label"),
}


@pytest.mark.parametrize("case", TIMESCALE_ERRORS)
def test_timescaledb_settings_are_refused_with_one_line_naming_key_value_and_rule(case):
    overrides, environment, expected = TIMESCALE_ERRORS[case]
    extra = {"natGateways": "perAz", "clusterPublicAccessCidrs": []} if environment == "prod" else {}
    message = error_of(raw(environment, **{"databaseEngine": "timescaledb", **extra, **overrides}))
    key = list(overrides)[-1]
    assert f"'ecomind-infra:{key}'" in message and expected in message, message


def test_database_node_groups_exist_only_with_the_timescaledb_engine():
    rds = load(raw("dev"))
    timescale = load(raw("dev", databaseEngine="timescaledb", timescaledbInstances=2))
    assert rds.database.timescale is None
    assert not [g for g in rds.cluster.node_groups if g.name.startswith("database")]
    zonal = [g for g in timescale.cluster.node_groups if g.name.startswith("database")]
    assert [(g.name, g.zone_index) for g in zonal] == [("database-az1", 0), ("database-az2", 1)]
    assert timescale.database.timescale.recovery_target_time is None


def test_the_readme_engine_costs_are_what_the_plans_estimate():
    """The README's side-by-side figures come from the cost model, not from memory."""
    table = {}
    for line in (PROJECT_DIR / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] in STACKS and cells[1].startswith("$"):
            table[cells[0]] = [float(c.strip("$").replace(",", "")) for c in cells[1:]]
    assert table.keys() == set(STACKS)
    for stack_name, figures in table.items():
        usage = cost.Usage.of(stack_settings(stack_name).cost)
        for engine, figure in zip(("rds", "timescaledb"), figures, strict=True):
            estimate = cost.estimate(planned(stack_name, () if engine == "rds" else TIMESCALE), usage)
            assert estimate["total_monthly_usd"] == figure, (stack_name, engine)


def test_the_release_waits_for_the_database_to_report_ready(stack):
    plan = timescale_plan(stack)
    cluster = plan.one(CLUSTER)
    annotations = cluster.inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 900
    release = plan.one("kubernetes:helm.sh/v3:Release", "ecomind-release")
    assert cluster.urn in release.dependencies


def test_only_the_application_the_other_instances_and_the_operator_reach_the_instances(stack):
    policy = spec(timescale_plan(stack), "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "ecomind-db"}}
    assert policy["policyTypes"] == ["Ingress"]
    sources = {json.dumps(source, sort_keys=True): sorted(port["port"] for port in rule["ports"])
               for rule in policy["ingress"] for source in rule["from"]}

    def namespace(name):
        return json.dumps({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}},
                          sort_keys=True)
    assert sources == {
        namespace("ecomind"): [5432],
        namespace("cnpg-system"): [5432, 8000],
        json.dumps({"podSelector": {"matchLabels": {"cnpg.io/cluster": "ecomind-db"}}}, sort_keys=True): [5432, 8000],
    }


def test_the_backup_key_is_usable_only_through_s3():
    document = json.loads(timescale_plan("prod").one("aws:iam/rolePolicy:RolePolicy", "database-backups-backups")
                          .inputs["policy"])
    [key] = [s for s in document["Statement"] if s["Sid"] == "BackupKey"]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
