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
    first_deploy_role_arns=config.get_object("firstDeployRoleArns") or [],
))
pulumi.export("stateUrl", foundation.state_url)
pulumi.export("secretsProvider", foundation.secrets_provider)
pulumi.export("previewRoleArn", foundation.preview_role_arn)
pulumi.export("deployRoleArn", foundation.deploy_role_arn)
