"""Bootstrap of an AWS account for ecomind-infra: run once, by an administrator."""

import pulumi
import pulumi_aws as aws
from foundation import Foundation, FoundationArgs

config = pulumi.Config()
foundation = Foundation("ecomind", FoundationArgs(
    account_id=aws.get_caller_identity_output().account_id,
    repository=config.require("githubRepository"),
    state_bucket_name=config.require("stateBucketName"),
    noncurrent_state_days=config.get_int("noncurrentStateDays") or 90,
    region=aws.config.region or "us-east-1",
    stacks=config.require_object("stacks"),
    recovery_stacks=config.get_object("recoveryStacks") or [],
    first_deploy_role_arns=config.get_object("firstDeployRoleArns") or [],
    merge_queue_previews=config.get_object("mergeQueuePreviewStacks") or [],
    reviewer_team_ids=config.get_object("reviewerTeamIds") or {},
    trail_retention_days=config.get_int("trailRetentionDays") or 365,
    security_alert_email=config.get("securityAlertEmail"),
    manage_repository=config.get_bool("manageRepository") is not False,
    manage_subject_template=config.get_bool("manageSubjectTemplate") is True,
    dr_region=None if config.get("drRegion") == "none" else (config.get("drRegion") or "us-west-2"),
))
pulumi.export("stateUrl", foundation.state_url)
pulumi.export("secretsProvider", foundation.secrets_provider)
pulumi.export("deployRoleArns", foundation.deploy_role_arns)
pulumi.export("previewRoleArns", foundation.preview_role_arns)
