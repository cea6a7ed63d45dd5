"""What every ecomind-infra stack relies on, created once per AWS account.

- an S3 bucket for Pulumi state: versioned, SSE-KMS, private, TLS-only, old versions expire;
- a KMS key (and alias) the stacks use as their secrets provider (awskms://alias/...);
- the GitHub Actions OIDC identity provider;
- per stack, a deploy role and a preview role (delivery.py), and the repository's side of their
  trust: its OIDC subject template and environments (repository.py);
- the account's detective controls and defaults (baseline.py): CloudTrail into a locked bucket,
  GuardDuty, Security Hub, Access Analyzer, the account S3 public access block, EBS encryption.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import guarded
import pulumi
import pulumi_aws as aws
from baseline import AccountBaseline, AccountBaselineArgs
from delivery import StackDelivery, StackDeliveryArgs, state_bucket_denials
from repository import RepositoryDelivery, RepositoryDeliveryArgs

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
STATE_KEY_ALIAS = "alias/ecomind-pulumi-state"

SECRETS_KEY_ALIAS = "alias/ecomind-pulumi-secrets"
# The secrets provider that survives a region loss: a multi-Region key whose replica in drRegion
# decrypts what the primary encrypted (KMS developer guide, "Multi-Region keys"). A key cannot
# become multi-Region after creation, so this is a new key beside the old one; stacks move to it
# with `pulumi stack change-secrets-provider` (docs/UPGRADING.md).
MULTI_REGION_SECRETS_KEY_ALIAS = "alias/ecomind-pulumi-secrets-mr"


@dataclasses.dataclass(frozen=True)
class FoundationArgs:
    account_id: pulumi.Input[str]
    """The account the bootstrap runs in."""
    repository: str
    """owner/name of the repository whose workflows assume the CI roles."""
    state_bucket_name: str
    """Globally unique name of the Pulumi state bucket."""
    noncurrent_state_days: int
    """Days old state versions are kept."""
    region: str = "us-east-1"
    """Region of the stacks' clusters (their OIDC providers' host)."""
    stacks: Sequence[str] = ("dev", "prod")
    """Stacks deployed into this account: each gets its own CI roles and GitHub environments."""
    first_deploy_role_arns: Sequence[str] = ()
    """Roles whose holders may assume a deploy role, for a stack's first `pulumi up`: it runs
    before that stack's VPC runners exist, and as the deploy role so that it is the cluster's
    creator (docs/adr/0011)."""
    merge_queue_previews: Sequence[str] = ("dev",)
    """Stacks the pull-request workflow previews, with credentials, in the merge queue."""
    reviewer_team_ids: Mapping[str, Sequence[int]] = dataclasses.field(default_factory=dict)
    """GitHub team IDs whose approval a stack's deploy job waits for."""
    security_alert_email: str | None = None
    """Where the account's security alerts (key destruction) go."""
    trail_retention_days: int = 365
    """Days Object Lock keeps each CloudTrail record (compliance mode: nobody shortens it)."""
    dr_region: str | None = "us-west-2"
    """Where the state is copied and the secrets provider has its replica (setting drRegion), so that
    a region loss leaves the stacks' state readable and their config decryptable; None: nowhere."""
    recovery_stacks: Sequence[str] = ()
    """Stacks that rebuild another one in dr_region after a region loss (Pulumi.prod-dr.yaml): their CI
    roles are scoped to dr_region and keep their state in the state's copy there, under its key and
    the secrets provider's replica, so that nothing of theirs depends on the lost region."""
    manage_repository: bool = True
    """Whether this bootstrap sets its stacks' GitHub environments (each account's bootstrap sets
    those of the stacks it holds)."""
    manage_subject_template: bool = True
    """Whether this account's bootstrap sets the repository-wide OIDC subject template: exactly one
    does (prod's), since it is one setting of the repository."""


@dataclasses.dataclass(frozen=True)
class StateCopy:
    """The state's copy in dr_region, where a recovery stack keeps its own state too."""

    bucket: aws.s3.Bucket
    key_arns: list[pulumi.Output[str]]
    """The copy's key and the secrets provider's replica there."""
    secrets_key_arn: pulumi.Output[str]
    """The multi-Region secrets provider's primary, in the home region: the stacks' secrets provider."""


STATE_LOCK_DAYS = 30
"""Days each state version is kept from deletion (Object Lock, governance mode)."""


class Foundation(pulumi.ComponentResource):
    """State bucket, keys, OIDC provider, and each stack's CI roles and GitHub environments."""

    state_url: pulumi.Output[str]
    """Backend URL for `pulumi login` (s3://...)."""
    secrets_provider: str
    """Secrets provider for `pulumi stack init --secrets-provider`."""
    deploy_role_arns: dict[str, pulumi.Output[str]]
    """Per stack, the role its deploy job assumes."""
    preview_role_arns: dict[str, pulumi.Output[str]]
    """Per stack, the role its drift check and merge-queue preview assume."""

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:Foundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        tags = {"project": "ecomind-infra", "environment": "shared", "owner": "platform-engineering",
                "cost-centre": "ecomind", "managed-by": "pulumi"}
        key_policy = pulumi.Output.from_input(args.account_id).apply(lambda a: json.dumps(guarded.key_policy(a)))
        state_key = aws.kms.Key(f"{name}-state", description="Encrypts Pulumi state objects", enable_key_rotation=True,
                                deletion_window_in_days=30, policy=key_policy, tags=tags, opts=kept)
        aws.kms.Alias(f"{name}-state", name=STATE_KEY_ALIAS, target_key_id=state_key.key_id, opts=child)
        secrets_key = aws.kms.Key(f"{name}-secrets", description="Pulumi secrets provider for ecomind-infra stacks",
                                  enable_key_rotation=True, deletion_window_in_days=30, policy=key_policy, tags=tags,
                                  opts=kept)
        aws.kms.Alias(f"{name}-secrets", name=SECRETS_KEY_ALIAS, target_key_id=secrets_key.key_id, opts=child)

        bucket, block, versioning = guarded.private_bucket(f"{name}-state", args.state_bucket_name, state_key.arn,
                                                           tags, self, purpose="pulumi state", object_lock=True)
        # Governance mode: no CI role can destroy a checkpoint version for STATE_LOCK_DAYS, while
        # an administrator holding s3:BypassGovernanceRetention still can (S3 user guide,
        # "Object Lock retention modes"). Pulumi's DIY backend deletes lock files and `stack rm`
        # deletes checkpoints without a version ID: those become delete markers, which Object
        # Lock allows, and the locked versions stay recoverable.
        lock_and_expire(f"{name}-state", bucket, versioning, args.noncurrent_state_days, self)
        if args.recovery_stacks and not args.dr_region:
            raise pulumi.RunError(f"invalid FoundationArgs.recovery_stacks = {list(args.recovery_stacks)}: a recovery "
                                  "stack keeps its state in the state's copy, which needs dr_region")
        if set(args.recovery_stacks) & set(args.stacks):
            raise pulumi.RunError(f"invalid FoundationArgs.recovery_stacks = {list(args.recovery_stacks)}: each is "
                                  "a stack of its own, not one of stacks")
        every_stack = [*args.stacks, *args.recovery_stacks]
        secrets_provider, copy = f"awskms://{SECRETS_KEY_ALIAS}", None
        if args.dr_region:
            secrets_provider, copy = self._region_copies(name, args, bucket, state_key, versioning, key_policy, tags)

        # GitHub's OIDC provider; AWS validates its certificates itself, the thumbprint is kept
        # for the API's sake (IAM user guide, "Configure GitHub OIDC").
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github", url=GITHUB_OIDC_URL, client_id_lists=["sts.amazonaws.com"],
            thumbprint_lists=["6938fd4d98bab03faadb97b34396831e3780aea1"], tags=tags, opts=child)
        baseline = AccountBaseline(f"{name}-baseline", AccountBaselineArgs(
            account_id=args.account_id, region=args.region, trail_bucket_name=f"{args.state_bucket_name}-trail",
            trail_retention_days=args.trail_retention_days, tags=tags, alert_email=args.security_alert_email,
            watched_regions=[args.dr_region] if args.dr_region else []),
            opts=child)
        # The stacks' secrets provider is the multi-Region key where there is one (their stack files'
        # secretsprovider): the CLI decrypts the stack's data key with it on every run, a preview's
        # included (pulumi/pulumi pkg/secrets/cloud/manager.go). The older key stays readable for stacks
        # not yet moved to it (docs/UPGRADING.md).
        keys = [state_key.arn, secrets_key.arn, *([copy.secrets_key_arn] if copy else [])]

        def stack_delivery(stack: str, region: str, state_bucket_arn: pulumi.Input[str],
                           key_arns: list[pulumi.Input[str]]) -> StackDelivery:
            return StackDelivery(f"{name}-{stack}", StackDeliveryArgs(
                stack=stack, account_id=args.account_id, region=region, repository=args.repository,
                provider_arn=provider.arn, state_bucket_arn=state_bucket_arn, key_arns=key_arns,
                first_deploy_role_arns=args.first_deploy_role_arns,
                merge_queue_previews=stack in args.merge_queue_previews, tags=tags,
                guarded_key_arns=baseline.guarded_key_arns, guarded_bucket_arns=baseline.guarded_bucket_arns),
                opts=child)

        delivery = {stack: stack_delivery(stack, args.region, bucket.arn, keys) for stack in args.stacks}
        delivery.update({stack: stack_delivery(stack, args.dr_region, copy.bucket.arn, copy.key_arns)
                         for stack in args.recovery_stacks})
        # The state buckets' Deny statements name every CI role: from the roles' own ARNs, so that each
        # policy is sent after the roles exist (S3 refuses a policy naming a principal that does not:
        # "Invalid principal in policy"; analyses/aws_semantics.py, principals-exist).
        ci_roles = pulumi.Output.all(*(pulumi.Output.all(d.deploy_role_arn, d.preview_role_arn)
                                       for d in delivery.values())).apply(
            lambda arns: dict(zip(delivery, arns, strict=True)))
        aws.s3.BucketPolicy(f"{name}-state", bucket=bucket.id, policy=pulumi.Output.all(bucket.arn, ci_roles).apply(
            lambda a: json.dumps({"Version": "2012-10-17", "Statement": [
                guarded.deny_insecure_transport(a[0]), *state_bucket_denials(a[0], a[1])]})),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))
        if copy is not None:
            # The same rules as the source's: TLS only, and each stack's CI roles reach only its own
            # objects (a recovery stack's own state is written here).
            aws.s3.BucketPolicy(f"{name}-state-copy", bucket=copy.bucket.id, region=args.dr_region,
                                policy=pulumi.Output.all(copy.bucket.arn, ci_roles).apply(
                                    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [
                                        guarded.deny_insecure_transport(a[0]), *state_bucket_denials(a[0], a[1])]})),
                                opts=child)
        if args.manage_repository:
            RepositoryDelivery(f"{name}-repository", RepositoryDeliveryArgs(
                repository=args.repository, stacks=every_stack,
                role_arns={stack: (d.deploy_role_arn, d.preview_role_arn) for stack, d in delivery.items()},
                reviewer_team_ids=args.reviewer_team_ids, merge_queue_previews=list(args.merge_queue_previews),
                subject_template=args.manage_subject_template,
                backend_urls={**{stack: bucket.bucket.apply(lambda b: f"s3://{b}") for stack in args.stacks},
                              **({stack: copy.bucket.bucket.apply(lambda b: f"s3://{b}?region={args.dr_region}")
                                  for stack in args.recovery_stacks} if copy else {})}),
                opts=child)

        self.state_url = bucket.bucket.apply(lambda b: f"s3://{b}")
        self.secrets_provider = secrets_provider
        self.deploy_role_arns = {stack: d.deploy_role_arn for stack, d in delivery.items()}
        self.preview_role_arns = {stack: d.preview_role_arn for stack, d in delivery.items()}
        self.register_outputs({"state_url": self.state_url, "deploy_role_arns": self.deploy_role_arns,
                               "preview_role_arns": self.preview_role_arns})

    def _region_copies(self, name: str, args: FoundationArgs, bucket: aws.s3.Bucket, state_key: aws.kms.Key,
                       versioning: aws.s3.BucketVersioning, key_policy: pulumi.Output[str],
                       tags: dict[str, str]) -> tuple[str, StateCopy]:
        """What recovering from a region loss needs before anything else: the state (replicated,
        Object Lock kept, under a key there), a secrets provider both regions can use, and the
        images (ECR replication: one configuration for the whole registry, which is why the
        bootstrap owns it, ECR API PutReplicationConfiguration). Returns the secrets provider URL."""
        dr = args.dr_region
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        secrets = aws.kms.Key(f"{name}-secrets-mr", description="Pulumi secrets provider (multi-Region)",
                              multi_region=True, enable_key_rotation=True, deletion_window_in_days=30,
                              policy=key_policy, tags=tags, opts=kept)
        aws.kms.Alias(f"{name}-secrets-mr", name=MULTI_REGION_SECRETS_KEY_ALIAS, target_key_id=secrets.key_id,
                      opts=child)
        replica = aws.kms.ReplicaKey(f"{name}-secrets-mr-{dr}", primary_key_arn=secrets.arn, region=dr,
                                     description=f"Pulumi secrets provider, replica in {dr}",
                                     deletion_window_in_days=30, policy=key_policy, tags=tags, opts=kept)
        aws.kms.Alias(f"{name}-secrets-mr-{dr}", name=MULTI_REGION_SECRETS_KEY_ALIAS, target_key_id=replica.key_id,
                      region=dr, opts=child)

        copy_key = aws.kms.Key(f"{name}-state-copy", description=f"Encrypts the copy of Pulumi state in {dr}",
                               enable_key_rotation=True, deletion_window_in_days=30, policy=key_policy, tags=tags,
                               region=dr, opts=kept)
        copy, _, copy_versioning = guarded.private_bucket(
            f"{name}-state-copy", f"{args.state_bucket_name}-{dr}", copy_key.arn, tags, self,
            purpose="pulumi state (region-loss copy)", object_lock=True, region=dr)
        # Replicated versions keep their retention; the copy locks what it receives the same way, and
        # old versions leave it as they leave the source.
        lock_and_expire(f"{name}-state-copy", copy, copy_versioning, args.noncurrent_state_days, self, region=dr)
        # S3's documented replication trust carries no condition, and no AWS page says S3 sends
        # the source keys when it assumes the role (analyses/service_principals.py, s3.amazonaws.com).
        role, policy = guarded.service_role(
            f"{name}-state-replication", f"Replicates Pulumi state to {dr}", guarded.service_trust("s3.amazonaws.com"),
            pulumi.Output.all(bucket.arn, state_key.arn, copy.arn, copy_key.arn).apply(
                lambda a: state_replication_policy(*a, args.region, dr)), tags, self)
        aws.s3.BucketReplicationConfig(
            f"{name}-state", bucket=bucket.id, role=role.arn,
            rules=[aws.s3.BucketReplicationConfigRuleArgs(
                id="region-loss-copy", status="Enabled", priority=1,
                filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                    status="Enabled"),
                source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                    sse_kms_encrypted_objects=aws.s3.
                    BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(status="Enabled")),
                destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                    bucket=copy.arn,
                    encryption_configuration=aws.s3.
                    BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                        replica_kms_key_id=copy_key.arn)))],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning, copy_versioning, policy]))
        # Replicas get their repositories from this template: immutable tags and a key in drRegion,
        # instead of the registry's AES256 default (ECR user guide, "Repository creation templates").
        # A template with a KMS key or resource tags needs a role of its own ("Creating a repository
        # creation template": customRoleArn; the template's service-linked role may only
        # CreateRepository): ECR assumes it to create each repository and the key's grants. The key
        # names no service-linked role: ECR's replication role exists only after the first
        # PutReplicationConfiguration, and KMS refuses a policy naming a principal that does not
        # exist (docs/adr/0021). The account statement lets the template role's IAM policy reach it.
        images_key = aws.kms.Key(
            f"{name}-images-copy", description=f"Encrypts the replicated EcoMind images in {dr}",
            enable_key_rotation=True, deletion_window_in_days=30, region=dr, tags=tags, opts=kept, policy=key_policy)
        template_role, template_policy = guarded.service_role(
            f"{name}-images-copy-template", f"Creates the replicated EcoMind repositories in {dr}",
            guarded.service_trust("ecr.amazonaws.com"), pulumi.Output.all(args.account_id, images_key.arn).apply(
                lambda a: image_template_policy(a[0], dr, a[1])), tags, self)
        # A template's prefix is a namespace: `ecomind-prod` serves `ecomind-prod/<service>` (ECR API
        # reference, CreateRepositoryCreationTemplate: prefix, whose pattern refuses a trailing '-'),
        # so one template per stack whose registry (`ecomind-<stack>/`, components/registry.py) replicates.
        for stack in args.stacks:
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-images-copy-{stack}", prefix=f"ecomind-{stack}", applied_fors=["REPLICATION"], region=dr,
                description=f"Replicated {stack} images: immutable tags, encrypted with the copy's key",
                image_tag_mutability="IMMUTABLE", custom_role_arn=template_role.arn,
                encryption_configurations=[aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=images_key.arn)],
                resource_tags={**tags, "purpose": "region-loss copy of images"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[template_policy]))
        aws.ecr.ReplicationConfiguration(
            f"{name}-images", replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                rules=[aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                    destinations=[aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                        region=dr, registry_id=args.account_id)],
                    repository_filters=[aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                        filter="ecomind-", filter_type="PREFIX_MATCH")])]),
            opts=child)
        return (f"awskms://{MULTI_REGION_SECRETS_KEY_ALIAS}?region={args.region}",
                StateCopy(bucket=copy, key_arns=[copy_key.arn, replica.arn], secrets_key_arn=secrets.arn))


def lock_and_expire(name: str, bucket: aws.s3.Bucket, versioning: aws.s3.BucketVersioning, noncurrent_days: int,
                    parent: pulumi.Resource, region: str | None = None) -> None:
    """A state bucket's Object Lock (governance, STATE_LOCK_DAYS) and the expiry of old versions."""
    placed = {"region": region} if region else {}
    after = pulumi.ResourceOptions(parent=parent, depends_on=[versioning])
    aws.s3.BucketObjectLockConfiguration(
        name, bucket=bucket.id, object_lock_enabled="Enabled", **placed,
        rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
            default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                mode="GOVERNANCE", days=STATE_LOCK_DAYS)),
        opts=after)
    aws.s3.BucketLifecycleConfiguration(
        name, bucket=bucket.id, **placed,
        rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-old-state-versions", status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_days),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7))],
        opts=after)


def image_template_policy(account: str, region: str, key_arn: str) -> dict:
    """The repository creation template's role: create and tag the replicated ecomind- repositories
    and let ECR use the copy's key for them (ECR user guide, "Create a custom policy for repository
    creation templates": ecr:CreateRepository, ecr:ReplicateImage, ecr:TagResource, kms:CreateGrant,
    kms:RetireGrant, kms:DescribeKey), on exactly those repositories and that key."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "CreateTheReplicatedRepositories", "Effect": "Allow",
         "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
         "Resource": f"arn:aws:ecr:{region}:{account}:repository/ecomind-*"},
        {"Sid": "GrantEcrTheCopysKey", "Effect": "Allow",
         "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"], "Resource": key_arn},
    ]}


def state_replication_policy(source: str, source_key: str, copy: str, copy_key: str, region: str,
                             dr: str) -> dict:
    """S3 replication of the state: read this bucket's versions with their Object Lock retention,
    write them to the copy, decrypt and encrypt with the two keys (S3 user guide, "Setting up
    permissions for live replication"; replicating Object Lock-protected objects needs the
    retention and legal-hold reads)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadTheStateConfiguration", "Effect": "Allow",
         "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source},
        {"Sid": "ReadTheStateVersions", "Effect": "Allow",
         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention", "s3:GetObjectLegalHold"], "Resource": f"{source}/*"},
        {"Sid": "WriteTheCopy", "Effect": "Allow",
         "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], "Resource": f"{copy}/*"},
        {"Sid": "DecryptWithTheStateKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key,
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        {"Sid": "EncryptWithTheCopysKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": copy_key, "Condition": {"StringEquals": {"kms:ViaService": f"s3.{dr}.amazonaws.com"}}},
    ]}
