"""IAM and KMS policy documents as data.

Every function returns a plain dict (or an Output of one) so that tests can read the exact
statements, and components pass them through `pulumi.Output.json_dumps`. Each grant names
the exact ARNs it covers; no function here emits a `*` action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

# Every region this project supports is in the commercial partition (settings.REGION_AVAILABILITY_ZONE_IDS).
PARTITION = "aws"

Document = dict[str, Any]


def document(*statements: Any) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust_policy(service: str, account_id: pulumi.Input[str],
                         source_arn: str | None = None) -> pulumi.Output[Document]:
    """Lets one AWS service assume a role, only on behalf of this account and, with
    `source_arn` (an ARN pattern of the resources that use the role), only for those (IAM user
    guide, "The confused deputy problem": aws:SourceArn with aws:SourceAccount)."""
    def build(account: str) -> Document:
        condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
        if source_arn:
            condition["ArnLike"] = {"aws:SourceArn": source_arn.format(account=account)}
        return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
                         "Condition": condition})
    return pulumi.Output.from_input(account_id).apply(build)


def documented_service_trust(service: str) -> Document:
    """A role's trust in one service with no condition, where the service's own documentation gives it
    so and no AWS page says it sends source keys when it assumes the role; a condition it does not
    meet would deny every use, silently (analyses/service_principals.py, rule service-conditions):
    - lambda.amazonaws.com, a canary's execution role (Lambda developer guide, "Defining Lambda
      function permissions with an execution role"; CloudWatch user guide, "Required roles and
      permissions for canaries");
    - s3.amazonaws.com, a replication role (S3 user guide, "Setting up permissions for live
      replication"), where a failed assume shows only as replication status FAILED.
    Who may hand such a role to the service is the deploy role's iam:PassRole, scoped to the stack's path."""
    return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def ec2_trust_policy() -> Document:
    """Node instance roles: EC2 assumes them for the instance profile (no SourceAccount on EC2)."""
    return document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})


def eks_cluster_trust_policy() -> Document:
    """The cluster's service role: EKS assumes it and tags the session (EKS user guide, "Amazon EKS
    cluster IAM role"; pulumi-eks's own ServiceRole asks for the same two actions)."""
    return document({"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                     "Action": ["sts:AssumeRole", "sts:TagSession"]})


def irsa_trust_policy(provider_arn: pulumi.Input[str], issuer: pulumi.Input[str],
                      namespace: str, service_account: str) -> pulumi.Output[Document]:
    """Trust for exactly one Kubernetes service account through the cluster's OIDC provider.

    `issuer` is the provider URL without `https://`. Both `sub` and `aud` are pinned with
    StringEquals: a StringLike or a missing `aud` would let other service accounts or
    audiences assume the role.
    """
    def build(args: list[str]) -> Document:
        arn, host = args
        host = host.removeprefix("https://")
        return document({
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{host}:aud": "sts.amazonaws.com",
            }},
        })
    return pulumi.Output.all(provider_arn, issuer).apply(build)


# Deleting a key destroys every ciphertext under it once the waiting period ends; disabling it
# stops every reader at once. Only these are guarded: the rest of kms:* stays with IAM.
KEY_DESTRUCTION_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")


def key_policy(account_id: pulumi.Input[str],
               service_statements: Sequence[pulumi.Input[Document | list[Document]]] = (),
               destroyers: pulumi.Input[Sequence[str]] | None = None) -> pulumi.Output[Document]:
    """A CMK policy: the account administers the key through IAM, plus named service grants,
    and only `destroyers` (role ARNs) may schedule its deletion or disable it; none when empty.

    The account-root statement is what lets IAM policies (and the deploying role) manage the
    key at all; without it a key can become unmanageable. Services get only the statements
    passed in (each a statement or a list of them). The guard is a Deny on every principal
    (KMS developer guide, "Key policies": an explicit deny in the key policy wins over any IAM
    allow), so an IAM kms:* grant no longer reaches deletion; changing the key policy itself
    (a reviewed change of this code) remains the way to delete a key on purpose.
    """
    def build(args: list[Any]) -> Document:
        account, allowed, *grants = args
        services = [s for grant in grants for s in (grant if isinstance(grant, list) else [grant])]
        guard: Document = {"Sid": "OnlyNamedRolesDestroyTheKey", "Effect": "Deny", "Principal": {"AWS": "*"},
                           "Action": list(KEY_DESTRUCTION_ACTIONS), "Resource": "*"}
        if allowed:
            guard["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": list(allowed)}}
        return document({
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{PARTITION}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }, guard, *services)
    return pulumi.Output.all(account_id, destroyers or [], *service_statements).apply(build)


def cloudwatch_logs_key_statement(region: str, account_id: pulumi.Input[str], log_group_names: Sequence[str],
                                  *, patterns: bool = False) -> pulumi.Output[Document]:
    """CloudWatch Logs may use the key only for the named log groups (encryption context);
    `patterns`: the names end in `*`, for a group whose name AWS completes (a canary's)."""
    def build(account: str) -> Document:
        return {
            "Sid": "CloudWatchLogsEncryptsNamedLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                       "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"ArnLike" if patterns else "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
                f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}" for name in log_group_names
            ]}},
        }
    return pulumi.Output.from_input(account_id).apply(build)


def autoscaling_volume_key_statements(account_id: pulumi.Input[str]) -> pulumi.Output[list[Document]]:
    """Managed node groups launch through EC2 Auto Scaling, whose service-linked role must be
    able to use the CMK for the encrypted root volumes (EC2 Auto Scaling user guide, "Required AWS
    KMS key policy for use with encrypted volumes"); grants only for AWS resources.

    The role is matched by aws:PrincipalArn under a `*` principal instead of being named: it exists
    only after the account's first Auto Scaling group, which here is the node group this key must
    precede, and KMS refuses a policy naming a principal that does not exist
    (MalformedPolicyDocumentException; terraform-aws-modules/terraform-aws-eks#3013). Creating
    the role in the stack instead fails in every account that already has it ("has been taken in
    this account"), and two stacks share an account (docs/adr/0021)."""
    def build(account: str) -> list[Document]:
        only_the_role = {
            "ArnEquals": {"aws:PrincipalArn": f"arn:{PARTITION}:iam::{account}:role/aws-service-role/"
                                              "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"},
            "StringEquals": {"aws:PrincipalAccount": account},
        }
        return [{
            "Sid": "AutoScalingUsesKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                       "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": only_the_role,
        }, {
            "Sid": "AutoScalingGrantsForAttachedVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {**only_the_role, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        }]
    return pulumi.Output.from_input(account_id).apply(build)


def log_delivery_policy(log_group_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """VPC flow logs write streams into one log group and nothing else."""
    return pulumi.Output.from_input(log_group_arn).apply(lambda arn: document({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [arn, f"{arn}:log-stream:*"],
    }))


def ebs_volume_key_policy(key_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """What the EBS CSI driver needs to create and attach volumes encrypted with one CMK
    (aws-ebs-csi-driver docs, "KMS encryption")."""
    return pulumi.Output.from_input(key_arn).apply(lambda arn: document({
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": arn,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }, {
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                   "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
        "Resource": arn,
    }))


def managed_policy_arn(name: str) -> str:
    return f"arn:{PARTITION}:iam::aws:policy/{name}"


# --- Object storage -----------------------------------------------------------------------------

def tls_only_statement(bucket_arn: str) -> Document:
    """Refuse every request to the bucket that does not arrive over TLS (S3 security best practices)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def cloudfront_read_statement(bucket_arn: str, distribution_arn: str) -> Document:
    """Origin Access Control: only this one distribution may read objects."""
    return {
        "Sid": "CloudFrontReadsThroughOriginAccessControl",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def cloudfront_key_statement(distribution_arn: str) -> Document:
    """CloudFront decrypts SSE-KMS objects for this one distribution (CloudFront OAC docs)."""
    return {
        "Sid": "CloudFrontDecryptsForOneDistribution",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def server_access_log_statement(logs_bucket_arn: str, account_id: str) -> Document:
    """S3 server access logs of this account's buckets may land under s3/ (S3 user guide,
    "Permissions for log delivery": the logging service principal, with aws:SourceAccount)."""
    return {
        "Sid": "S3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{logs_bucket_arn}/s3/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def access_log_delivery_statements(logs_bucket_arn: str, account_id: str, load_balancer_logs: tuple[str, str]
                                   ) -> list[Document]:
    """S3 server access logs, CloudFront's vended access logs (CloudWatch Logs delivery) and the
    ALB's access logs may write under their own prefixes, on behalf of this account's resources
    only. `load_balancer_logs`: the ALB's prefix and the region's ELB log-delivery principal."""
    prefix, elb_principal = load_balancer_logs
    return [{
        # ELB writes as its regional account, under <prefix>/AWSLogs/<account>/ (ELB user guide,
        # "Enable access logs for your Application Load Balancer"); the key names this account.
        "Sid": "LoadBalancerAccessLogs",
        "Effect": "Allow",
        "Principal": {"AWS": elb_principal},
        "Action": "s3:PutObject",
        "Resource": f"{logs_bucket_arn}/{prefix}/AWSLogs/{account_id}/*",
    }, server_access_log_statement(logs_bucket_arn, account_id), {
        "Sid": "CloudFrontAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{logs_bucket_arn}/AWSLogs/{account_id}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id,
                                       "s3:x-amz-acl": "bucket-owner-full-control"}},
    }, {
        "Sid": "CloudFrontAccessLogsAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": logs_bucket_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }]


def bucket_prefix_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str],
                         prefixes: Sequence[str]) -> pulumi.Output[Document]:
    """Read and write objects under the given prefixes of one SSE-KMS bucket, nothing else."""
    def build(args: list[str]) -> Document:
        bucket, key = args
        return document({
            "Sid": "ObjectsUnderPrefixes",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"{bucket}/{prefix}*" for prefix in prefixes],
        }, {
            "Sid": "ListPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        }, {
            "Sid": "BucketKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,
            "Condition": through_s3(key),
        })
    return pulumi.Output.all(bucket_arn, key_arn).apply(build)


# Reads an image pull, a package download or a chart makes of buckets that are not ours: ECR's
# layers (prod-<region>-starport-layer-bucket, ECR user guide "Amazon ECR interface VPC
# endpoints"), and registries that redirect layer downloads to S3 in the caller's region
# (registry.k8s.io: kubernetes/k8s.io#4214; Docker Hub: moby/moby#34185).
S3_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:ListBucket")


def s3_endpoint_policy(account_id: pulumi.Input[str]) -> pulumi.Output[Document]:
    """The S3 gateway endpoint: reads from any bucket, everything else only on this account's
    buckets (aws:ResourceAccount; VPC user guide, "Control access to VPC endpoints using endpoint
    policies"). A pod cannot write data out to another account's bucket in this region."""
    return pulumi.Output.from_input(account_id).apply(lambda account: document({
        "Sid": "ReadAnyBucket", "Effect": "Allow", "Principal": "*", "Action": list(S3_READ_ACTIONS),
        "Resource": "*",
    }, {
        "Sid": "AnythingOnThisAccountsBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceAccount": account}},
    }))


def database_connect_policy(connect_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """Log in to one database as one role with IAM database authentication, nothing else."""
    return pulumi.Output.from_input(connect_arn).apply(lambda arn: document({
        "Sid": "ConnectAsTheApplicationRole", "Effect": "Allow", "Action": "rds-db:connect", "Resource": arn}))


def through_s3(key_arn: str) -> Document:
    """The key only through S3 in its own region (kms:ViaService; KMS developer guide): the
    role cannot decrypt with it directly, only as S3 reads and writes its objects."""
    return {"StringEquals": {"kms:ViaService": f"s3.{key_arn.split(':')[3]}.amazonaws.com"}}


def database_backup_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """Barman Cloud's needs on one backup bucket: write base backups and WAL, read them back for a
    restore, delete what falls out of the retention window; and the bucket's key for all of it."""
    def build(args: list[str]) -> Document:
        bucket, key = args
        return document({
            "Sid": "BackupObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket}/*",
        }, {
            "Sid": "BackupBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket,
        }, {
            "Sid": "BackupKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,
            "Condition": through_s3(key),
        })
    return pulumi.Output.all(bucket_arn, key_arn).apply(build)


# --- Kafka (MSK IAM access control) ----------------------------------------------------------------

def kafka_resource_arn(cluster_arn: str, kind: str, name: str) -> str:
    """Topic and group ARNs share the cluster ARN's name and UUID (MSK IAM access control docs):
    arn:aws:kafka:<region>:<account>:cluster/<cluster>/<uuid> -> .../<kind>/<cluster>/<uuid>/<name>."""
    return f"{cluster_arn.replace(':cluster/', f':{kind}/', 1)}/{name}"


def kafka_client_policy(cluster_arn: pulumi.Input[str], *, produce: Sequence[str] = (),
                        consume: Sequence[str] = (), group: str | None = None) -> pulumi.Output[Document]:
    """Connect to one cluster, write to `produce` topics, read `consume` topics as `group`."""
    def build(arn: str) -> Document:
        statements: list[Document] = [{
            "Sid": "Connect",
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
            "Resource": arn,
        }]
        for sid, verb, topics in (("Produce", "WriteData", produce), ("Consume", "ReadData", consume)):
            if topics:
                statements.append({
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": ["kafka-cluster:DescribeTopic", f"kafka-cluster:{verb}"],
                    "Resource": [kafka_resource_arn(arn, "topic", t) for t in topics],
                })
        if produce:
            # Kafka clients produce idempotently by default since 3.0 (KIP-679), which MSK
            # authorises as this cluster-level action (MSK developer guide, "Semantics of IAM
            # authorization policy actions": WriteDataIdempotently, resource type cluster);
            # without it every such producer is refused at InitProducerId.
            statements.append({
                "Sid": "IdempotentProduce",
                "Effect": "Allow",
                "Action": "kafka-cluster:WriteDataIdempotently",
                "Resource": arn,
            })
        if group:
            statements.append({
                "Sid": "ConsumerGroup",
                "Effect": "Allow",
                "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"],
                "Resource": kafka_resource_arn(arn, "group", group),
            })
        return document(*statements)
    return pulumi.Output.from_input(cluster_arn).apply(build)


# --- Cluster services ---------------------------------------------------------------------------

# What the controller reads to bind pods to a target group: the reads of its upstream policy
# (docs/install/iam_policy.json at v3.5.0), which take no resource ARN.
_LOAD_BALANCER_CONTROLLER_READS = (
    "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeRouteTables",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
)


def target_group_binding_policy(target_group_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[Document]:
    """The AWS Load Balancer Controller as this stack uses it: it binds pods to the stack's own
    target groups (TargetGroupBinding) and creates nothing. So of its upstream policy it keeps
    the reads, and registers and deregisters targets in exactly these target groups; it cannot
    create, change or delete a load balancer, listener, security group or rule, and an Ingress or
    LoadBalancer Service anyone adds gets no load balancer."""
    def build(arns: list[str]) -> Document:
        return document(
            {"Sid": "Read", "Effect": "Allow", "Resource": "*", "Action": list(_LOAD_BALANCER_CONTROLLER_READS)},
            {"Sid": "TargetsOfTheStacksTargetGroups", "Effect": "Allow", "Resource": sorted(arns),
             "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]},
        )
    return pulumi.Output.all(*target_group_arns).apply(build)


def secret_reader_policy(secret_arns: Sequence[pulumi.Input[str]], key_arns: Sequence[pulumi.Input[str]],
                         region: str) -> pulumi.Output[Document]:
    """External Secrets reads exactly the named secrets, decrypting through Secrets Manager only,
    with the stack's secrets key (and, in a recovery stack, the key of the source's replicas)."""
    def build(args: list[str]) -> Document:
        keys, secrets = args[:len(key_arns)], args[len(key_arns):]
        return document({
            "Sid": "ReadNamedSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": sorted(secrets),
        }, {
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": keys[0] if len(keys) == 1 else sorted(keys),
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        })
    return pulumi.Output.all(*key_arns, *secret_arns).apply(build)


def cluster_autoscaler_policy(cluster_name: str) -> Document:
    """Cluster Autoscaler (its AWS README): read everywhere, resize only this cluster's groups,
    which EKS managed node groups tag k8s.io/cluster-autoscaler/<cluster>=owned."""
    return document({
        "Sid": "Discover",
        "Effect": "Allow",
        "Resource": "*",
        "Action": ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                   "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                   "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                   "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements"],
    }, {
        "Sid": "ResizeOwnGroups",
        "Effect": "Allow",
        "Resource": "*",
        "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                                       "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}},
    }, {
        "Sid": "DescribeOwnNodeGroups",
        "Effect": "Allow",
        "Resource": f"arn:{PARTITION}:eks:*:*:nodegroup/{cluster_name}/*",
        "Action": "eks:DescribeNodegroup",
    })


def publisher_key_statement(services: Sequence[str], account_id: pulumi.Input[str]) -> pulumi.Output[Document]:
    """AWS Budgets and CloudWatch encrypt what they publish to the alert topic with this key."""
    return pulumi.Output.from_input(account_id).apply(lambda account: {
        "Sid": "AlertPublishersEncrypt",
        "Effect": "Allow",
        "Principal": {"Service": list(services)},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    })


def topic_publish_policy(topic_arn: pulumi.Input[str], services: Sequence[str],
                         account_id: pulumi.Input[str]) -> pulumi.Output[Document]:
    """Only AWS Budgets and CloudWatch, on behalf of this account, may publish."""
    return pulumi.Output.all(topic_arn, account_id).apply(lambda args: document({
        "Sid": "AlertPublishers",
        "Effect": "Allow",
        "Principal": {"Service": list(services)},
        "Action": "sns:Publish",
        "Resource": args[0],
        "Condition": {"StringEquals": {"aws:SourceAccount": args[1]}},
    }))


def vpc_interfaces_statement(*reads: str) -> Document:
    """A service that runs in the VPC with the role's permissions (CodeBuild, Lambda) makes and
    removes its own network interfaces: they do not exist yet, so no ARN can scope them
    (policies/iam-waivers.yaml); `reads` adds the describes the service needs besides."""
    return {
        "Sid": "VpcNetworking",
        "Effect": "Allow",
        "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
                   *reads],
        "Resource": "*",
    }


def ci_runner_policy(log_group_arn: pulumi.Input[str], connection_arn: str,
                     subnet_ids: Sequence[pulumi.Input[str]], account_id: pulumi.Input[str],
                     region: str) -> pulumi.Output[Document]:
    """A CodeBuild-hosted runner: write its logs, attach to the named subnets, use the GitHub
    connection (CodeBuild user guide, "Allow CodeBuild to access AWS services in your VPC")."""
    def build(args: list[Any]) -> Document:
        logs_arn, account, *subnets = args
        return document({
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [logs_arn, f"{logs_arn}:log-stream:*"],
        }, vpc_interfaces_statement("ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                                    "ec2:DescribeVpcs"), {
            "Sid": "AttachOnlyToTheRunnerSubnets",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterfacePermission",
            "Resource": f"arn:{PARTITION}:ec2:{region}:{account}:network-interface/*",
            "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                          "ArnEquals": {"ec2:Subnet": [f"arn:{PARTITION}:ec2:{region}:{account}:subnet/{s}"
                                                       for s in subnets]}},
        }, {
            "Sid": "GitHubConnection",
            "Effect": "Allow",
            "Action": ["codeconnections:UseConnection", "codeconnections:GetConnectionToken",
                       "codeconnections:GetConnection"],
            "Resource": connection_arn,
        })
    return pulumi.Output.all(log_group_arn, account_id, *subnet_ids).apply(build)


def container_insights_policy(log_group_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[Document]:
    """The CloudWatch agent and Fluent Bit of the observability add-on: write the stack's four
    log groups (the EMF performance events become the ContainerInsights metrics) and read the
    instance facts the agent tags metrics with. Narrower than CloudWatchAgentServerPolicy, which
    writes every log group. CreateLogGroup names the stack's groups only: with `auto_create_group`
    (Fluent Bit cloudwatch_logs) a writer may call it, and on a group that exists it changes nothing."""
    def build(arns: list[str]) -> Document:
        return document({
            "Sid": "WriteTheStacksContainerLogGroups",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [*arns, *(f"{arn}:log-stream:*" for arn in arns)],
        }, {
            "Sid": "FindLogGroups",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": "*",
        }, {
            "Sid": "InstanceFactsForMetrics",
            "Effect": "Allow",
            "Action": ["ec2:DescribeTags", "ec2:DescribeVolumes", "ec2:DescribeInstances"],
            "Resource": "*",
        }, {
            "Sid": "ContainerInsightsMetricsOnly",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "ContainerInsights"}},
        })
    return pulumi.Output.all(*log_group_arns).apply(build)


def canary_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], log_group_pattern: str,
                  account_id: pulumi.Input[str], region: str, *, in_vpc: bool) -> pulumi.Output[Document]:
    """A Synthetics canary's Lambda: store its artifacts under runs/ in its bucket with its key,
    write its own log group (never create one: the stack makes it, encrypted), publish only
    CloudWatchSynthetics metrics, and in a VPC manage its ENIs (CloudWatch user guide, "Required
    roles and permissions for canaries"; a VPC canary without the ENI actions goes to ERROR)."""
    def build(args: list[Any]) -> Document:
        bucket, key, account = args
        logs = f"arn:{PARTITION}:logs:{region}:{account}:log-group:{log_group_pattern}"
        statements = [{
            "Sid": "Artifacts",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"{bucket}/runs/*",
        }, {
            "Sid": "ArtifactBucket",
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": bucket,
        }, {
            "Sid": "ListBuckets",
            "Effect": "Allow",
            "Action": "s3:ListAllMyBuckets",
            "Resource": "*",
        }, {
            "Sid": "ArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        }, {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [logs, f"{logs}:log-stream:*"],
        }, {
            "Sid": "SyntheticsMetricsOnly",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}},
        }]
        if in_vpc:
            statements.append(vpc_interfaces_statement())
        return document(*statements)
    return pulumi.Output.all(bucket_arn, key_arn, account_id).apply(build)


def office_hours_policy(account_id: pulumi.Input[str], region: str, key_arn: pulumi.Input[str], cluster: str,
                        node_groups: Sequence[str],
                        database_identifier: str | None, canary_name: str | None,
                        alarm_names: Sequence[str]) -> pulumi.Output[Document]:
    """EventBridge Scheduler stopping and starting the stack: exactly its node groups, database,
    canary and the alarms it quiets (ARN forms: EKS, RDS, Synthetics and CloudWatch service
    authorization reference)."""
    def build(args: list[str]) -> Document:
        account, key = args
        statements = [{
            "Sid": "ReadTheSchedulesPayloads",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
        }, {
            "Sid": "ScaleTheNodeGroups",
            "Effect": "Allow",
            "Action": "eks:UpdateNodegroupConfig",
            "Resource": [f"arn:{PARTITION}:eks:{region}:{account}:nodegroup/{cluster}/{group}/*"
                         for group in node_groups],
        }]
        if database_identifier:
            statements.append({"Sid": "StopAndStartTheDatabase", "Effect": "Allow",
                               "Action": ["rds:StopDBInstance", "rds:StartDBInstance"],
                               "Resource": f"arn:{PARTITION}:rds:{region}:{account}:db:{database_identifier}"})
        if canary_name:
            statements.append({"Sid": "StopAndStartTheCanary", "Effect": "Allow",
                               "Action": ["synthetics:StopCanary", "synthetics:StartCanary"],
                               "Resource": f"arn:{PARTITION}:synthetics:{region}:{account}:canary:{canary_name}"})
        if alarm_names:
            statements.append({"Sid": "QuietTheAlarmsThatCountSilence", "Effect": "Allow",
                               "Action": ["cloudwatch:DisableAlarmActions", "cloudwatch:EnableAlarmActions"],
                               "Resource": [f"arn:{PARTITION}:cloudwatch:{region}:{account}:alarm:{name}"
                                            for name in alarm_names]})
        return document(*statements)
    return pulumi.Output.all(account_id, key_arn).apply(build)


def bucket_replication_policy(source_arn: pulumi.Input[str], source_key_arn: pulumi.Input[str], source_region: str,
                              replica_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str],
                              replica_region: str, *, locked: bool = False) -> pulumi.Output[Document]:
    """S3 replication's role: read this source's versions and decrypt them with its key, write
    replicas into this destination and encrypt them with its key (S3 user guide, "Setting up
    permissions for live replication", and its SSE-KMS section)."""
    def build(args: list[str]) -> Document:
        source, source_key, replica, replica_key = args
        return document({
            "Sid": "ReadTheSourcesConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source,
        }, {
            "Sid": "ReadTheSourcesVersions",
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                       *(["s3:GetObjectRetention", "s3:GetObjectLegalHold"] if locked else [])],
            "Resource": f"{source}/*",
        }, {
            "Sid": "WriteReplicas",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": f"{replica}/*",
        }, {
            "Sid": "DecryptWithTheSourceKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": source_key,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{source_region}.amazonaws.com"}},
        }, {
            "Sid": "EncryptWithTheReplicaKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": replica_key,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{replica_region}.amazonaws.com"}},
        })
    return pulumi.Output.all(source_arn, source_key_arn, replica_arn, replica_key_arn).apply(build)
