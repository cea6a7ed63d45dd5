"""An offline plan (`build/plan/<stack>.json`) as Terraform plan JSON, for checkov.

checkov reads no Pulumi (bridgecrewio/checkov#568, #7318, #7601), but pulumi-aws is generated
from the Terraform AWS provider: the same resources under Terraform's type names, with
camelCase for snake_case, a one-item block as an object and a repeated block under a plural
name. `convert(plan)` undoes exactly that, and nothing silently:

- every planned type is in `TYPES` (converted) or `NOT_CONVERTED` (with the reason); any other
  type raises `ConversionError`;
- a nested object is a block unless its attribute is a declared map (`MAP_ATTRIBUTES`), and a
  map whose keys look like attribute names raises instead of guessing;
- pulumi-eks's `Cluster` and `ManagedNodeGroup` are components whose `aws_eks_cluster` and
  `aws_eks_node_group` the plan cannot see: they are rebuilt from the component's inputs the
  way pulumi-eks passes them on (`nodejs/eks/cluster/cluster.ts`, `new aws.eks.Cluster`:
  vpcConfig from the endpoint settings, `encryptionConfig` with `resources: ["secrets"]`,
  `accessConfig.bootstrapClusterCreatorAdminPermissions: true`; `nodejs/eks/nodes/nodegroup.ts`,
  `new aws.eks.NodeGroup` from `nodeGroupArgs`), read at pulumi-eks 7bf0c1b.

An input whose value came from another resource (the engine's propertyDependencies) becomes a
Terraform reference in `configuration`, and when it is that resource's id or ARN its value is
left out of `planned_values`, as Terraform leaves out what is known only after apply. checkov
then writes the reference into the attribute, and its graph checks connect the two resources
(a bucket to its public access block, a role to its policy).
"""

from __future__ import annotations

import re
from typing import Any

from analyses.model import Plan, PlannedResource

PROVIDER = "registry.terraform.io/hashicorp/aws"

# Pulumi type -> the Terraform resource type pulumi-aws bridges (the module and resource name
# of each Pulumi type are the Terraform name's service prefix and rest, renamed where the
# provider renames: aws_db_instance is rds/instance, aws_vpc is ec2/vpc).
TYPES = {
    "aws:acm/certificate:Certificate": "aws_acm_certificate",
    "aws:acm/certificateValidation:CertificateValidation": "aws_acm_certificate_validation",
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:budgets/budget:Budget": "aws_budgets_budget",
    "aws:cloudfront/distribution:Distribution": "aws_cloudfront_distribution",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "aws_cloudfront_origin_access_control",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "aws_cloudfront_response_headers_policy",
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:cfg/deliveryChannel:DeliveryChannel": "aws_config_delivery_channel",
    "aws:cfg/recorder:Recorder": "aws_config_configuration_recorder",
    "aws:cfg/recorderStatus:RecorderStatus": "aws_config_configuration_recorder_status",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logDelivery:LogDelivery": "aws_cloudwatch_log_delivery",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "aws_cloudwatch_log_delivery_destination",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "aws_cloudwatch_log_delivery_source",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:codebuild/project:Project": "aws_codebuild_project",
    "aws:codebuild/webhook:Webhook": "aws_codebuild_webhook",
    "aws:ebs/encryptionByDefault:EncryptionByDefault": "aws_ebs_encryption_by_default",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": "aws_ecr_replication_configuration",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "aws_ecr_repository_creation_template",
    "aws:kms/replicaKey:ReplicaKey": "aws_kms_replica_key",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:elasticache/replicationGroup:ReplicationGroup": "aws_elasticache_replication_group",
    "aws:elasticache/subnetGroup:SubnetGroup": "aws_elasticache_subnet_group",
    "aws:guardduty/detector:Detector": "aws_guardduty_detector",
    "aws:guardduty/detectorFeature:DetectorFeature": "aws_guardduty_detector_feature",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": "aws_iam_service_linked_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:accessanalyzer/analyzer:Analyzer": "aws_accessanalyzer_analyzer",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:kms/keyPolicy:KeyPolicy": "aws_kms_key_policy",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "aws_cloudwatch_composite_alarm",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:route53/healthCheck:HealthCheck": "aws_route53_health_check",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/listenerRule:ListenerRule": "aws_lb_listener_rule",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:msk/cluster:Cluster": "aws_msk_cluster",
    "aws:msk/configuration:Configuration": "aws_msk_configuration",
    "aws:msk/topic:Topic": "aws_msk_topic",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
        "aws_db_instance_automated_backups_replication",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "aws_s3_bucket_replication_configuration",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:route53/record:Record": "aws_route53_record",
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": "aws_s3_account_public_access_block",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketMetric:BucketMetric": "aws_s3_bucket_metric",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "aws_s3_bucket_object_lock_configuration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:scheduler/schedule:Schedule": "aws_scheduler_schedule",
    "aws:scheduler/scheduleGroup:ScheduleGroup": "aws_scheduler_schedule_group",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretRotation:SecretRotation": "aws_secretsmanager_secret_rotation",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:securityhub/account:Account": "aws_securityhub_account",
    "aws:securityhub/standardsSubscription:StandardsSubscription": "aws_securityhub_standards_subscription",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:synthetics/canary:Canary": "aws_synthetics_canary",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
    "aws:wafv2/webAcl:WebAcl": "aws_wafv2_web_acl",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "aws_wafv2_web_acl_association",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "aws_wafv2_web_acl_logging_configuration",
    # Components whose AWS resources pulumi-eks creates: rebuilt below.
    "eks:index:Cluster": "aws_eks_cluster",
    "eks:index:ManagedNodeGroup": "aws_eks_node_group",
}

# Types with no Terraform AWS resource to convert to, by prefix or whole type.
NOT_CONVERTED = {
    "pulumi:": "the engine's own (stack, providers): no cloud resource",
    "ecomind:": "this project's components: their resources are converted one by one",
    "kubernetes:": "Kubernetes objects: checkov judges the rendered chart (tests/test_chart.py)",
    "random:": "pulumi-random values: no cloud resource",
    "github:": "GitHub settings (bootstrap): not AWS; judged by tests/test_bootstrap.py and zizmor",
    "eks:index:VpcCniAddon": "pulumi-eks's VPC CNI add-on: an aws_eks_addon with no setting checkov checks "
                             "(its configuration is judged by tests/test_cluster.py)",
}

# Converted types on which checkov 3.3.30 runs no check of its own: many are the far end of a graph
# check on another type (versioning, encryption and the public access block judge the bucket; the
# flow log and default security group judge the VPC). A type leaving this list, or a new type
# with no check, fails tests/test_checkov_plan.py: a converter that lost a type's checks shows.
UNCHECKED_TYPES = frozenset({
    "aws_accessanalyzer_analyzer", "aws_acm_certificate_validation", "aws_appautoscaling_policy",
    "aws_appautoscaling_target", "aws_budgets_budget", "aws_cloudfront_origin_access_control",
    "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target", "aws_cloudwatch_log_delivery",
    "aws_cloudwatch_log_delivery_destination", "aws_cloudwatch_log_delivery_source", "aws_codebuild_webhook",
    "aws_db_parameter_group", "aws_db_subnet_group", "aws_default_security_group", "aws_ecr_lifecycle_policy",
    "aws_eks_addon", "aws_elasticache_subnet_group", "aws_flow_log", "aws_guardduty_detector_feature",
    "aws_iam_openid_connect_provider", "aws_internet_gateway", "aws_kms_alias", "aws_kms_key_policy",
    "aws_msk_configuration", "aws_msk_topic", "aws_nat_gateway", "aws_route_table_association",
    "aws_s3_account_public_access_block", "aws_s3_bucket_logging", "aws_s3_bucket_metric",
    "aws_s3_bucket_object_lock_configuration", "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning", "aws_secretsmanager_secret_version", "aws_securityhub_account",
    "aws_securityhub_standards_subscription", "aws_sns_topic_subscription", "aws_vpc_endpoint",
    "aws_wafv2_web_acl_logging_configuration", "aws_iam_service_linked_role", "aws_config_delivery_channel",
    "aws_lb_listener_rule", "aws_wafv2_web_acl_association", "aws_cloudwatch_composite_alarm",
    "aws_cloudwatch_dashboard", "aws_route53_health_check", "aws_synthetics_canary",
    "aws_scheduler_schedule_group", "aws_s3_bucket_replication_configuration", "aws_kms_replica_key",
    "aws_ecr_replication_configuration", "aws_ecr_repository_creation_template",
})

# Nested objects that are Terraform maps (free keys), not blocks.
MAP_ATTRIBUTES = {"tags", "tags_all", "labels", "dimensions", "variables", "environment_variables", "resource_tags"}
# Repeated blocks whose Terraform name is already plural: kept as Pulumi spells them.
PLURAL_BLOCKS = {"ingress", "egress", "items", "block_device_mappings", "network_interfaces", "tag_specifications",
                 "secondary_sources", "file_system_locations"}
IRREGULAR_SINGULARS = {"aliases": "alias", "statuses": "status"}
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-zA-Z0-9]*$")


class ConversionError(Exception):
    """The plan holds something this converter does not know how to convert faithfully."""


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def singular(name: str) -> str:
    """The Terraform name of a repeated block the bridge pluralised (rules -> rule)."""
    if name in PLURAL_BLOCKS:
        return name
    head, _, last = name.rpartition("_")
    prefix = f"{head}_" if head else ""
    if last in IRREGULAR_SINGULARS:
        return prefix + IRREGULAR_SINGULARS[last]
    if last.endswith("ies"):
        return f"{prefix}{last[:-3]}y"
    return prefix + (last[:-1] if last.endswith("s") else last)


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"resourceRef"}


def block(inputs: dict[str, Any], where: str) -> dict[str, Any]:
    """Pulumi inputs (wire names) as a Terraform block's values."""
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if _is_reference(value):
            continue  # a resource passed by reference: it becomes an expression's reference
        name = snake(key)
        if isinstance(value, dict):
            if name in MAP_ATTRIBUTES:
                values[name] = value
                continue
            if value and not all(_ATTRIBUTE_NAME.match(k) for k in value):
                raise ConversionError(f"{where}.{key}: an object with keys {sorted(value)[:3]} is not a block; "
                                      "declare it in MAP_ATTRIBUTES if Terraform has it as a map")
            values[name] = [block(value, f"{where}.{key}")]
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            values[singular(name)] = [block(item, f"{where}.{key}[]") for item in value]
        else:
            values[name] = value
    return values


def _eks_cluster_inputs(r: PlannedResource) -> dict[str, Any]:
    i = r.inputs
    inputs = {
        "name": i.get("name"),
        "vpcConfig": {k: i[k] for k in ("endpointPrivateAccess", "endpointPublicAccess", "publicAccessCidrs")
                      if k in i} | {"subnetIds": [*i.get("privateSubnetIds", []), *i.get("publicSubnetIds", [])]},
        "version": i.get("version"),
        "enabledClusterLogTypes": i.get("enabledClusterLogTypes"),
        "tags": i.get("clusterTags", {}),
        "deletionProtection": i.get("deletionProtection"),
    }
    if "encryptionConfigKeyArn" in i:
        inputs["encryptionConfig"] = {"provider": {"keyArn": i["encryptionConfigKeyArn"]}, "resources": ["secrets"]}
    if "authenticationMode" in i:
        inputs["accessConfig"] = {"authenticationMode": i["authenticationMode"],
                                  "bootstrapClusterCreatorAdminPermissions": True}
    return {k: v for k, v in inputs.items() if v is not None}


_NODE_GROUP_INPUTS = ("amiType", "capacityType", "instanceTypes", "labels", "launchTemplate", "nodeRoleArn",
                      "releaseVersion", "scalingConfig", "subnetIds", "tags", "taints", "version", "diskSize",
                      "remoteAccess", "updateConfig")


def _inputs(r: PlannedResource) -> dict[str, Any]:
    if r.type == "eks:index:Cluster":
        return _eks_cluster_inputs(r)
    if r.type == "eks:index:ManagedNodeGroup":
        return {k: r.inputs[k] for k in _NODE_GROUP_INPUTS if k in r.inputs}
    return r.inputs


# What each rebuilt resource's inputs came from, by the component input they were read from.
_EKS_DEPENDENCIES = {
    "eks:index:Cluster": {"encryptionConfigKeyArn": "encryptionConfig", "privateSubnetIds": "vpcConfig",
                          "publicSubnetIds": "vpcConfig", "serviceRole": "roleArn"},
    "eks:index:ManagedNodeGroup": {"cluster": "clusterName", "nodeRoleArn": "nodeRoleArn",
                                   "subnetIds": "subnetIds", "launchTemplate": "launchTemplate"},
}


def _dependencies(r: PlannedResource) -> dict[str, list[str]]:
    if r.type not in _EKS_DEPENDENCIES:
        return r.property_dependencies
    renamed: dict[str, list[str]] = {}
    for key, urns in r.property_dependencies.items():
        if key in _EKS_DEPENDENCIES[r.type]:
            renamed.setdefault(_EKS_DEPENDENCIES[r.type][key], []).extend(urns)
    if r.type == "eks:index:ManagedNodeGroup" and _is_reference(r.inputs.get("cluster")):
        renamed.setdefault("clusterName", []).append(r.inputs["cluster"]["resourceRef"])
    return {key: sorted(set(urns)) for key, urns in renamed.items()}


def _tf_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def convert(plan: Plan) -> tuple[dict[str, Any], dict[str, str]]:
    """(Terraform plan JSON, Terraform address -> Pulumi URN) for `plan`."""
    addresses: dict[str, str] = {}
    by_urn = {r.urn: r for r in plan.resources}
    for r in plan.resources:
        if r.type in TYPES:
            base = f"{TYPES[r.type]}.{_tf_name(r.name)}"
            address, n = base, 1
            while address in addresses.values():
                n += 1
                address = f"{base}_{n}"
            addresses[r.urn] = address
        elif not any(r.type.startswith(prefix) for prefix in NOT_CONVERTED):
            raise ConversionError(f"{r.type} ({r.name}) is neither converted (TYPES) nor excluded (NOT_CONVERTED)")

    planned, changes, configured = [], [], []
    for r in plan.resources:
        if r.urn not in addresses:
            continue
        address = addresses[r.urn]
        tf_type, tf_name = address.split(".", 1)
        inputs = _inputs(r)
        values = block(inputs, r.name)
        expressions = {}
        dependencies = _dependencies(r)
        for key, urns in dependencies.items():
            targets = [by_urn[u] for u in urns if u in addresses]
            if not targets:
                continue
            name = snake(key)
            expressions[name] = {"references": [ref for t in targets for ref in _references(t, addresses[t.urn],
                                                                                             inputs.get(key))]}
            if key not in inputs or _is_pure_reference(inputs[key], targets):
                values.pop(name, None)
        common = {"address": address, "mode": "managed", "type": tf_type, "name": tf_name, "provider_name": PROVIDER}
        planned.append({**common, "schema_version": 0, "values": values, "sensitive_values": {}})
        changes.append({**common, "change": {"actions": ["create"], "before": None, "after": values,
                                             "after_unknown": {}, "before_sensitive": False, "after_sensitive": {}}})
        configured.append({"address": address, "mode": "managed", "type": tf_type, "name": tf_name,
                           "provider_config_key": "aws", "expressions": expressions, "schema_version": 0})
    region = plan.settings.get("region", "us-east-1")
    document = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER,
                                        "expressions": {"region": {"constant_value": region}}}},
            "root_module": {"resources": configured},
        },
    }
    return document, {address: urn for urn, address in addresses.items()}


def _references(target: PlannedResource, address: str, value: Any) -> list[str]:
    attribute = "arn" if target.arn is not None and _contains(value, target.arn) else "id"
    return [f"{address}.{attribute}", address]


def _contains(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return text in value
    if isinstance(value, list):
        return any(_contains(v, text) for v in value)
    if isinstance(value, dict):
        return any(_contains(v, text) for v in value.values())
    return False


def _is_pure_reference(value: Any, targets: list[PlannedResource]) -> bool:
    """Whether `value` is nothing but the targets' ids or ARNs (unknown until they exist)."""
    known = {t.id for t in targets} | {t.arn for t in targets}
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) and v in known for v in value)
    return isinstance(value, str) and value in known
