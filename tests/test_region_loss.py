"""Copies outside the primary region (setting drRegion; components/region_copies.py) and the
region-loss table the plan prints (analyses/region_loss.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

import settings
from analyses import region_loss
from tests.conftest import as_list, minimal_config, policy, stack_settings, statements

REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


def dr_key(plan):
    return plan.one("aws:kms/key:Key", "dr-copies-key")


def test_prod_keeps_its_copies_in_the_second_region_under_a_key_there(prod_plan, dev_plan):
    region = stack_settings("prod").dr_region
    assert region == "us-west-2" != stack_settings("prod").region
    key = dr_key(prod_plan)
    assert key.inputs["region"] == region and key.protect
    [backups] = prod_plan.of_type(REPLICATION)
    assert backups.inputs["region"] == region and backups.inputs["kmsKeyId"] == key.arn
    assert backups.inputs["sourceDbInstanceArn"] == prod_plan.one("aws:rds/instance:Instance").arn
    assert backups.inputs["retentionPeriod"] == stack_settings("prod").database.backup_retention_days
    for secret in prod_plan.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs["replicas"] == [{"region": region, "kmsKeyId": key.arn}], secret.name
    assert stack_settings("dev").dr_region is None
    assert not dev_plan.of_type(REPLICATION) and not dev_plan.of_type(BUCKET_REPLICATION)
    assert not any(s.inputs.get("replicas") for s in dev_plan.of_type("aws:secretsmanager/secret:Secret"))


def test_the_reports_bucket_replicates_to_an_encrypted_copy_with_a_role_for_exactly_the_two(prod_plan):
    [config] = prod_plan.of_type(BUCKET_REPLICATION)
    source = prod_plan.one("aws:s3/bucket:Bucket", "storage-reports")
    copy = prod_plan.one("aws:s3/bucket:Bucket", "storage-reports-copy")
    assert config.inputs["bucket"] == source.id and copy.inputs["region"] == "us-west-2"
    [rule] = config.inputs["rules"]
    assert rule["destination"]["bucket"] == copy.arn
    assert rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"] == dr_key(prod_plan).arn
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
    # Replication needs versioning on both ends before the rule exists.
    versionings = {v.urn for v in prod_plan.of_type("aws:s3/bucketVersioning:BucketVersioning")
                   if v.name in ("storage-reports-versioning", "storage-reports-copy-versioning")}
    assert len(versionings) == 2 and versionings <= set(config.dependencies)
    document = policy(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "storage-reports-replication"), "policy")
    resources = {r for s in statements(document) for r in as_list(s["Resource"])}
    assert resources == {source.arn, f"{source.arn}/*", f"{copy.arn}/*", dr_key(prod_plan).arn,
                         prod_plan.one("aws:kms/key:Key", "storage-reports-key").arn}


def table(plan) -> dict[str, dict]:
    return {s["store"]: s for s in region_loss.analyse(plan)["stores"]}


def test_every_copy_logs_its_access_to_a_bucket_in_its_own_region(prod_plan):
    """G1: S3 delivers server access logs to a bucket in the source bucket's region only, with SSE-S3;
    the copies in drRegion (which a recovery stack serves from) log to one there."""
    logs = prod_plan.one("aws:s3/bucket:Bucket", "dr-access-logs")
    assert logs.inputs["region"] == "us-west-2"
    encryption = prod_plan.one("aws:s3/bucketServerSideEncryptionConfiguration:"
                               "BucketServerSideEncryptionConfiguration", "dr-access-logs-encryption")
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    copies = [b for b in prod_plan.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-copy")]
    assert copies
    for copy in copies:
        logging = prod_plan.one("aws:s3/bucketLogging:BucketLogging", f"{copy.name}-access-logs")
        assert (logging.inputs["region"], logging.inputs["targetBucket"]) == ("us-west-2", logs.id)
    [statement] = [s for s in json.loads(prod_plan.one("aws:s3/bucketPolicy:BucketPolicy", "dr-access-logs-policy")
                                         .inputs["policy"])["Statement"] if s["Sid"] == "S3ServerAccessLogs"]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}


def test_the_region_loss_table_gives_each_store_its_copy_rpo_and_time(prod_plan):
    found = table(prod_plan)
    assert found["database (RDS)"]["copy"] == "automated backups replicated to us-west-2"
    assert found["database (RDS)"]["recovery_minutes"] == region_loss.DATABASE_RESTORE_MINUTES
    assert found["application secrets"]["rpo"].startswith("0")
    assert found["reports bucket"]["recovery_minutes"] == 0
    assert found["Pulumi state and secrets-provider key"]["copy"].startswith("state replicated to us-west-2")
    section = region_loss.analyse(prod_plan)
    assert section["blocked_by"] == [] and section["failures"] == []
    assert section["rto_minutes"] == 113 < region_loss.RTO_TARGET_MINUTES


def test_without_the_bootstraps_copy_of_the_state_nothing_can_be_promised(prod_plan):
    alone = dataclasses.replace(prod_plan, settings={**prod_plan.settings, "state_copy_region": None})
    section = region_loss.analyse(alone)
    assert section["rto_minutes"] is None
    assert section["blocked_by"] == ["Pulumi state and secrets-provider key"]
    assert any(line.startswith("  RTO: none yet; blocked by") for line in section["summary"])


def test_an_rto_over_four_hours_fails_the_plan(prod_plan, monkeypatch):
    monkeypatch.setattr(region_loss, "DATABASE_RESTORE_MINUTES", 200)
    assert region_loss.analyse(prod_plan)["failures"] == [
        "region-loss: the estimated RTO (268 min) exceeds the 240-minute target"]


def test_a_copy_turned_off_shows_in_its_stores_rpo(prod_plan):
    dropped = {r.urn for r in prod_plan.resources if r.type in (REPLICATION, BUCKET_REPLICATION)}
    without = dataclasses.replace(prod_plan, resources=[
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in dropped])
        for r in prod_plan.resources if r.urn not in dropped])
    found = table(without)
    assert found["database (RDS)"]["rpo"].startswith("everything")
    assert found["database (RDS)"]["recovery_minutes"] is None
    assert found["reports bucket"]["rpo"].endswith("everything")
    assert "database (RDS)" in region_loss.analyse(without)["blocked_by"]


def test_rto_is_the_sum_of_declaring_rebuilding_the_longest_restore_and_dns(prod_plan):
    from analyses import schedule

    unblocked = [dataclasses.replace(s, recovery_minutes=s.recovery_minutes or 0)
                 for s in region_loss.stores(prod_plan)]
    platform = schedule.schedule(prod_plan)["from_scratch"]["minutes"]
    expected = region_loss.DECLARE_MINUTES + platform + max(s.recovery_minutes for s in unblocked) \
        + region_loss.DNS_MINUTES
    assert region_loss.analyse(prod_plan)["rto_minutes"] == round(expected) < region_loss.RTO_TARGET_MINUTES


@pytest.mark.parametrize("value,stack,rule", [("none", "prod", "prod keeps copies"),
                                              ("us-east-1", "dev", "other than us-east-1"),
                                              ("mars-1", "dev", "other than us-east-1")])
def test_a_dr_region_that_cannot_hold_copies_is_refused(value, stack, rule):
    with pytest.raises(settings.ConfigError) as refused:
        settings.load(minimal_config(stack, drRegion=value), stack="unit", region="us-east-1")
    assert str(refused.value).startswith("invalid setting 'ecomind-infra:drRegion'") and rule in str(refused.value)


def test_the_in_cluster_engines_backups_are_copied_with_their_lock_and_recoverable():
    from tests.conftest import planned

    plan = planned("prod", ("databaseEngine=timescaledb",))
    copy = plan.one("aws:s3/bucket:Bucket", "database-backups-copy")
    assert copy.inputs["region"] == "us-west-2" and copy.inputs["objectLockEnabled"] is True
    lock = plan.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                    "database-backups-copy-object-lock")
    source = plan.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                      "database-backups-object-lock")
    assert lock.inputs["rule"] == source.inputs["rule"] and lock.inputs["region"] == "us-west-2"
    document = policy(plan.one("aws:iam/rolePolicy:RolePolicy", "database-backups-replication"), "policy")
    actions = {a for s in statements(document) for a in as_list(s["Action"])}
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= actions
    found = table(plan)
    assert found["database (timescaledb)"]["recovery_minutes"] == region_loss.DATABASE_RESTORE_MINUTES
    assert region_loss.analyse(plan)["rto_minutes"] < region_loss.RTO_TARGET_MINUTES
