"""The recovery stack (Pulumi.prod-dr.yaml, setting recoverFromStack): prod rebuilt in us-west-2
from prod's region-loss copies, and the RTO its own plan computes (analyses/region_loss.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

import settings
from analyses import region_loss, schedule
from tests.conftest import as_list, minimal_config, planned, policy, stack_settings, statements

STACK = "prod-dr"
INSTANCE = "aws:rds/instance:Instance"


@pytest.fixture(scope="module")
def plan():
    return planned(STACK)


@pytest.fixture(scope="module")
def recovery():
    return stack_settings(STACK).recovery


def test_prod_dr_is_prod_in_the_second_region_recovering_prod(recovery):
    dr, prod = stack_settings(STACK), stack_settings("prod")
    assert (dr.environment, dr.region, recovery.source_stack) == ("prod", prod.dr_region, "prod")
    assert dr.protect_stateful and dr.dr_region is None
    assert dr.network.vpc_cidr != prod.network.vpc_cidr


def test_the_database_is_restored_from_the_replicated_backups_under_their_key(plan, recovery):
    [instance] = plan.of_type(INSTANCE)
    assert instance.inputs["restoreToPointInTime"] == {
        "sourceDbInstanceAutomatedBackupsArn": recovery.database_backup_arn, "useLatestRestorableTime": True}
    # RestoreDBInstanceToPointInTime takes no KmsKeyId: the storage keeps the backups' key.
    assert instance.inputs["kmsKeyId"] == recovery.copies_key_arn
    assert instance.protect and instance.inputs["deletionProtection"] is True
    assert instance.inputs["manageMasterUserPassword"] is True


def test_a_chosen_point_in_time_is_the_restore_time():
    restored = planned(STACK, ("recoveryPointInTime=2026-11-25T09:30:00Z",))
    [instance] = restored.of_type(INSTANCE)
    point = instance.inputs["restoreToPointInTime"]
    assert point["restoreTime"] == "2026-11-25T09:30:00Z" and "useLatestRestorableTime" not in point
    [database] = [s for s in region_loss.analyse(restored)["stores"] if s["store"] == "database (RDS)"]
    assert database["rpo"] == "to 2026-11-25T09:30:00Z (recoveryPointInTime)"


def test_the_release_runs_the_sources_replicated_images_and_no_repository_is_made(plan):
    assert not plan.of_type("aws:ecr/repository:Repository")
    images = {d["metadata"]["name"]: c["image"] for d in plan.manifests["ecomind-release"]
              if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]}
    assert images and all(image.startswith("444455556666.dkr.ecr.us-west-2.amazonaws.com/ecomind-prod/")
                          and image.endswith(":" + stack_settings("prod").app.image_tag) for image in images.values())


def test_the_signing_keys_are_the_sources_replicas_read_with_their_key(plan, recovery):
    """New keys would sign every user out; the replicas keep what prod signed verifiable."""
    names = {s.inputs["name"] for s in plan.of_type("aws:secretsmanager/secret:Secret")}
    assert not any(n.endswith(("jwt-secret", "gateway-hmac-secret")) for n in names)
    document = policy(plan.one("aws:iam/rolePolicy:RolePolicy", "services-external-secrets-external-secrets"),
                      "policy")
    by_sid = {s["Sid"]: s for s in statements(document)}
    reads = set(as_list(by_sid["ReadNamedSecrets"]["Resource"]))
    for purpose in ("jwt-secret", "gateway-hmac-secret"):
        assert f"arn:aws:secretsmanager:us-west-2:444455556666:secret:ecomind/prod/{purpose}-??????" in reads
    decrypt = by_sid["DecryptThroughSecretsManager"]
    assert recovery.copies_key_arn in as_list(decrypt["Resource"])
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}}
    refs = {d["spec"]["data"][0]["remoteRef"]["key"] for d in plan.manifests["ecomind-release"]
            if d["kind"] == "ExternalSecret" and d["metadata"]["name"] in ("ecomind-jwt", "ecomind-gateway-hmac")}
    assert refs == {"ecomind/prod/jwt-secret", "ecomind/prod/gateway-hmac-secret"}


def test_the_services_use_the_sources_reports_copy(plan, recovery):
    assert not [b for b in plan.of_type("aws:s3/bucket:Bucket") if b.inputs["tags"].get("purpose")
                == "reports and exports"]
    bucket = f"arn:aws:s3:::{recovery.reports_bucket}"
    document = policy(plan.one("aws:iam/rolePolicy:RolePolicy", "app-api-reports"), "policy")
    resources = {r for s in statements(document) for r in as_list(s["Resource"])}
    assert f"{bucket}/reports/*" in resources and recovery.copies_key_arn in resources


def test_its_names_are_its_own_and_its_alb_answers_for_the_primary_host_without_taking_its_record(plan):
    """app-dr.<domain> is the recovery stack's (it has no assets CDN); app.<domain> stays prod's
    record until the runbook's switch, while the certificate and host rules already cover it."""
    [certificate] = [c for c in plan.of_type("aws:acm/certificate:Certificate") if "region" not in c.inputs]
    assert certificate.inputs["domainName"] == "app-dr.ecomind.example.com"
    assert certificate.inputs["subjectAlternativeNames"] == ["app.ecomind.example.com"]
    validations = plan.one("aws:acm/certificateValidation:CertificateValidation", "web-certificate")
    assert len(validations.inputs["validationRecordFqdns"]) == 2
    # M3: the primary host's validation record is prod's (ACM's record is per domain and account);
    # this stack validates with it and owns only its own name's.
    [own] = [r for r in plan.of_type("aws:route53/record:Record") if r.name.startswith("web-certificate-validation")]
    prod_record = planned("prod").one("aws:route53/record:Record", "web-certificate-validation")
    assert own.inputs["name"] != prod_record.inputs["name"]
    assert prod_record.inputs["name"].rstrip(".") in validations.inputs["validationRecordFqdns"]
    aliases = {r.inputs["name"] for r in plan.of_type("aws:route53/record:Record") if r.inputs.get("aliases")}
    assert aliases == {"app-dr.ecomind.example.com"}
    hosts = {tuple(c["hostHeader"]["values"]) for rule in plan.of_type("aws:lb/listenerRule:ListenerRule")
             for c in rule.inputs["conditions"] if "hostHeader" in c}
    assert hosts == {("app-dr.ecomind.example.com", "app.ecomind.example.com")}


def test_it_makes_nothing_in_the_region_whose_loss_it_answers(plan):
    """H4: no CDN (its certificate, WAF and logs exist only in us-east-1); the UI serves its assets."""
    assert region_loss.outside_its_region(plan) == []
    assert not plan.of_type("aws:cloudfront/distribution:Distribution")
    assert plan.outputs["assetsUrl"] == plan.outputs["appUrl"] and "cdnDomain" not in plan.outputs
    certificate = next(r for r in plan.resources if r.type == "aws:acm/certificate:Certificate")
    moved = dataclasses.replace(plan, resources=[
        dataclasses.replace(certificate, inputs={**certificate.inputs, "region": "us-east-1"}), *plan.resources])
    [failure] = [f for f in region_loss.analyse(moved)["failures"] if "recovery-in-its-region" in f]
    assert "aws:acm/certificate:Certificate web-certificate needs us-east-1" in failure


def test_it_makes_no_budget_whose_one_endpoint_is_in_us_east_1(plan, prod_plan):
    """AWS Budgets is global with its endpoint in us-east-1: a recovery stack makes none, and the
    region-loss rule fails one that would."""
    assert not plan.of_type("aws:budgets/budget:Budget") and prod_plan.of_type("aws:budgets/budget:Budget")
    budget = dataclasses.replace(prod_plan.one("aws:budgets/budget:Budget"), dependencies=[], parent=None,
                                 property_dependencies={})
    with_budget = dataclasses.replace(plan, resources=[*plan.resources, budget])
    [failure] = [f for f in region_loss.analyse(with_budget)["failures"] if "recovery-in-its-region" in f]
    assert failure.startswith("region-loss/recovery-in-its-region: aws:budgets/budget:Budget monitoring-monthly-cost "
                              "needs AWS Budgets")


def test_outside_us_east_1_the_canary_is_the_outside_check(plan):
    """Route 53 publishes health-check metrics in us-east-1 only, the region this stack replaces."""
    assert not plan.of_type("aws:route53/healthCheck:HealthCheck")
    assert plan.of_type("aws:synthetics/canary:Canary")


def test_the_region_loss_table_is_computed_from_the_recovery_plan(plan):
    section = region_loss.analyse(plan)
    stores = {s["store"]: s for s in section["stores"]}
    assert not section["blocked_by"] and not section["failures"]
    assert stores["database (RDS)"]["copy"].startswith("restored from prod's replicated automated backups")
    assert stores["reports bucket"]["copy"].startswith("prod's copy")
    assert stores["images (ECR)"]["copy"] == "prod's replicated repositories"
    # The restore is on the critical path, and the RTO is that path plus declaring and the switch.
    path = schedule.schedule(plan)["from_scratch"]
    assert any(step["type"] == INSTANCE and step["seconds"] == schedule.RESTORED_DATABASE_SECONDS[0]
               for step in path["path"])
    assert section["rto_minutes"] == round(region_loss.DECLARE_MINUTES + path["minutes"] + region_loss.DNS_MINUTES)
    assert section["rto_minutes"] < region_loss.RTO_TARGET_MINUTES


def test_a_restore_slower_than_the_target_fails_the_recovery_plan(plan, monkeypatch):
    monkeypatch.setattr(schedule, "RESTORED_DATABASE_SECONDS", (4 * 3600, "a drill's slow restore"))
    [failure] = region_loss.analyse(plan)["failures"]
    assert failure.startswith("region-loss: the estimated RTO") and "exceeds the 240-minute target" in failure


def test_a_store_the_recovery_does_not_take_from_a_copy_blocks_the_rto(plan):
    """The plan without the restore (an empty instance) and without the replicated images."""
    def changed(resource):
        if resource.type == INSTANCE:
            inputs = {k: v for k, v in resource.inputs.items() if k != "restoreToPointInTime"}
            return dataclasses.replace(resource, inputs=inputs)
        if resource.type == "kubernetes:helm.sh/v3:Release" and resource.name == "ecomind-release":
            text = json.dumps(resource.inputs).replace("/ecomind-prod/", "/ecomind-prod-dr/")
            return dataclasses.replace(resource, inputs=json.loads(text))
        return resource
    broken = dataclasses.replace(plan, resources=[changed(r) for r in plan.resources], manifests={})
    section = region_loss.analyse(broken)
    assert set(section["blocked_by"]) == {"database (RDS)", "images (ECR)"}
    assert section["rto_minutes"] is None


def recovery_config(**changes: str) -> dict[str, str]:
    values = {"recoverFromStack": "prod", "drRegion": "none",
              "recoveryDatabaseBackupArn": "arn:aws:rds:us-west-2:111122223333:auto-backup:ab-EXAMPLE01",
              "recoveryCopiesKeyArn": "arn:aws:kms:us-west-2:111122223333:key/4f1c2a9e-7b3d-4e8f-a6c5-0d9e8f7a6b5c",
              "recoveryReportsBucket": "reports-copy-example", "assetsCdn": "false", **changes}
    return minimal_config("prod", **{k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize("changes,key,rule", [
    ({"recoverFromStack": None, "drRegion": "us-east-1"}, "recoveryDatabaseBackupArn",
     "only a recovery stack sets it"),
    ({"recoverFromStack": None, "drRegion": "us-east-1", "recoveryDatabaseBackupArn": None,
      "recoveryCopiesKeyArn": None,
      "recoveryReportsBucket": None, "recoveryPointInTime": "2026-11-25T09:30:00Z"},
     "recoveryPointInTime", "only a recovery stack sets it"),
    ({"recoverFromStack": "unit"}, "recoverFromStack", "not 'unit' itself"),
    ({"recoveryDatabaseBackupArn": "arn:aws:rds:us-east-1:111122223333:auto-backup:ab-EXAMPLE01"},
     "recoveryDatabaseBackupArn", "in this stack's region and account"),
    ({"recoveryCopiesKeyArn": "alias/ecomind-prod-dr-copies"}, "recoveryCopiesKeyArn", "arn:aws:kms:us-west-2"),
    ({"recoveryReportsBucket": None}, "recoveryReportsBucket", "a recovery stack needs it"),
    ({"recoveryPointInTime": "yesterday"}, "recoveryPointInTime", "expected latest or an RFC 3339 time"),
    ({"recoveryPointInTime": "2999-01-01T00:00:00Z"}, "recoveryPointInTime", "must not be in the future"),
    ({"databaseEngine": "timescaledb"}, "recoverFromStack", "restores the rds engine"),
    ({"recoverFromStack": None, "recoveryDatabaseBackupArn": None, "recoveryCopiesKeyArn": None,
      "recoveryReportsBucket": None}, "drRegion", "prod keeps copies in a second region"),
    ({"publicHostLabel": "DR"}, "publicHostLabel", "lower-case DNS label"),
    # H4: CloudFront's certificate, WAF and logs can only be made in us-east-1.
    ({"assetsCdn": "true"}, "assetsCdn", "a recovery stack in us-west-2 cannot depend on us-east-1"),
])
def test_a_recovery_stack_set_wrongly_is_refused_naming_the_setting(changes, key, rule):
    with pytest.raises(settings.ConfigError) as refused:
        settings.load(recovery_config(**changes), stack="unit", region="us-west-2")
    assert str(refused.value).startswith(f"invalid setting 'ecomind-infra:{key}'"), refused.value
    assert rule in str(refused.value)


def test_prod_tells_its_recovery_stack_what_to_set(prod_plan):
    """prod's recoveryInputs output holds exactly the recovery settings, pointing at its copies."""
    inputs = prod_plan.outputs["recoveryInputs"]
    assert set(inputs) == {"recoverFromStack", "recoveryDatabaseBackupArn", "recoveryCopiesKeyArn",
                           "recoveryReportsBucket"} <= set(settings.SETTINGS_BY_KEY)
    replication = prod_plan.one("aws:rds/instanceAutomatedBackupsReplication:"
                                "InstanceAutomatedBackupsReplication")
    assert inputs["recoveryDatabaseBackupArn"] == replication.id
    assert inputs["recoveryCopiesKeyArn"] == prod_plan.one("aws:kms/key:Key", "dr-copies-key").arn
    assert inputs["recoveryReportsBucket"] == prod_plan.one("aws:s3/bucket:Bucket", "storage-reports-copy").id
    assert inputs["recoverFromStack"] == "prod" == stack_settings(STACK).recovery.source_stack
