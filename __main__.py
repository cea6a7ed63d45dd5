"""EcoMind's platform on AWS, one stack per environment: read settings, build, export."""

import pulumi
import pulumi_aws as aws

import settings
from components.cluster import Cluster, ClusterArgs
from components.network import Network, NetworkArgs

stack = settings.load_from_runtime()
account_id = aws.get_caller_identity_output().account_id

network = Network("network", NetworkArgs(
    settings=stack.network, region=stack.region, account_id=account_id,
    cluster_name=stack.cluster.name, tags=stack.tags, protect=stack.protect_stateful,
))
cluster = Cluster("cluster", ClusterArgs(
    settings=stack.cluster, region=stack.region, account_id=account_id, vpc_id=network.vpc_id,
    public_subnet_ids=network.public_subnet_ids, private_subnet_ids=network.private_subnet_ids,
    tags=stack.tags, protect=stack.protect_stateful,
))

pulumi.export("region", stack.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("availabilityZones", list(network.availability_zones))
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("dataSubnetIds", network.data_subnet_ids)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig_json)
pulumi.export("oidcProviderArn", cluster.oidc.arn)
pulumi.export("oidcIssuer", cluster.oidc.issuer)
pulumi.export("clusterSecurityGroupId", cluster.cluster_security_group_id)
pulumi.export("nodeRoleArn", cluster.node_role_arn)
pulumi.export("volumeKeyArn", cluster.volume_key_arn)
pulumi.export("addonRoleArns", cluster.addon_role_arns)
