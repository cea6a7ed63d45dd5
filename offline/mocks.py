"""What the cloud would answer, for the resources and invokes this program uses.

Identifiers are derived from the resource name with a hash, so two plans of the same code
are identical and a changed input shows up as a changed line, not as noise.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi

# The documentation account ID AWS uses in its examples.
ACCOUNT_ID = "111122223333"


def _digest(name: str, length: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


# Resource id prefixes AWS uses, by Pulumi type.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/internetGateway:InternetGateway": "igw", "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/securityGroup:SecurityGroup": "sg", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt", "aws:ec2/flowLog:FlowLog": "fl",
}


# How the AWS provider names a resource whose name the program leaves out: the logical name,
# a hyphen and seven random hex characters, cut to fit the type's limit and lower-cased where
# AWS refuses capitals (pulumi-aws autonaming; limits from each Create API: DB parameter and
# subnet group names and ElastiCache subnet group names are lower case, IAM role names at most
# 64 characters, bucket names 63 and lower case). Here the suffix comes from the resource's
# project, stack, type and name instead of randomness, so that a plan is reproducible and two
# stacks get different names, as they would for real.
AUTONAME_RULES: dict[str, tuple[int, bool]] = {
    "aws:rds/parameterGroup:ParameterGroup": (255, True),
    "aws:rds/subnetGroup:SubnetGroup": (255, True),
    "aws:elasticache/subnetGroup:SubnetGroup": (255, True),
    "aws:s3/bucket:Bucket": (63, True),
    "aws:iam/role:Role": (64, False),
    "aws:iam/policy:Policy": (128, False),
    "aws:iam/instanceProfile:InstanceProfile": (128, False),
    "aws:ec2/launchTemplate:LaunchTemplate": (128, False),
    "aws:sns/topic:Topic": (256, False),
    # Load balancer and target group names: at most 32 characters (ELB API reference).
    "aws:lb/loadBalancer:LoadBalancer": (32, False),
    "aws:lb/targetGroup:TargetGroup": (32, False),
}
DEFAULT_AUTONAME_RULE = (255, False)
# The names AWS gives the service-linked roles this project creates explicitly (IAM user guide,
# "AWS services that work with IAM", each service's service-linked role page).
SERVICE_LINKED_ROLE_NAMES = {
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
    "replication.ecr.amazonaws.com": "AWSServiceRoleForECRReplication",
    "config.amazonaws.com": "AWSServiceRoleForConfig",
}
AUTONAME_SUFFIX_LENGTH = 7


def autoname(typ: str, name: str) -> str:
    """The physical name the provider would generate for `name` of `typ` in the running stack."""
    max_length, lower = AUTONAME_RULES.get(typ, DEFAULT_AUTONAME_RULE)
    suffix = _digest(f"{pulumi.get_project()}::{pulumi.get_stack()}::{typ}::{name}", AUTONAME_SUFFIX_LENGTH)
    prefix = name[:max_length - AUTONAME_SUFFIX_LENGTH - 1]
    return f"{prefix.lower() if lower else prefix}-{suffix}"


def resource_id_for(typ: str, name: str) -> str:
    """The id the mocks give a resource of `typ` named `name` (what its dependants receive)."""
    prefix = _ID_PREFIXES.get(typ)
    return f"{prefix}-{_digest(name, 17)}" if prefix else f"{name}-{_digest(name, 8)}"


class PlatformMocks(pulumi.runtime.Mocks):
    """Answers for AWS and pulumi-eks resources in one region of one account."""

    def __init__(self, region: str, account: str = ACCOUNT_ID):
        self.region = region
        self.account = account

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        resource_id = resource_id_for(typ, name)
        state: dict[str, Any] = {**inputs}
        physical = inputs.get("name") or autoname(typ, name)
        # A name the program leaves to autonaming still reaches dependants that read it (an RDS
        # instance's parameterGroupName): without it the SDK drops that input and its edge.
        if typ.startswith("aws:") and "name" not in inputs:
            state["name"] = physical

        if typ == "eks:index:Cluster":
            state.update(self._eks_cluster(inputs.get("name") or name))
        elif typ in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
            # A key lives in its own region (the resource's `region` argument); a replica's ARN is
            # its primary's key ID in the replica's region (KMS developer guide, "Multi-Region keys").
            digest = _digest(name, 32)
            resource_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"
            primary = str(inputs.get("primaryKeyArn", ""))
            if primary:
                resource_id = primary.rsplit("/", 1)[-1] or resource_id
            region = inputs.get("region") or self.region
            state.update(arn=f"arn:aws:kms:{region}:{self.account}:key/{resource_id}", keyId=resource_id)
        elif typ == "aws:ec2/subnet:Subnet" and "availabilityZoneId" in inputs:
            state.update(availabilityZone=self.zone_name(inputs["availabilityZoneId"]))
        elif typ == "aws:kms/alias:Alias":
            state.update(arn=self._arn("kms", physical))
        elif typ == "aws:iam/role:Role":
            # IAM puts the role's path into its ARN: arn:aws:iam::<account>:role/<path><name> (IAM user
            # guide, "IAM identifiers"), which is what PassRole and principal grants match.
            path = str(inputs.get("path") or "/").lstrip("/")
            state.update(arn=self._arn("iam", f"role/{path}{physical}", regional=False), name=physical,
                         uniqueId=f"AROA{_digest(name, 17).upper()}")
        elif typ == "aws:iam/serviceLinkedRole:ServiceLinkedRole":
            service = str(inputs.get("awsServiceName"))
            role = SERVICE_LINKED_ROLE_NAMES.get(service, f"AWSServiceRoleFor{service.split('.')[0].title()}")
            state.update(arn=self._arn("iam", f"role/aws-service-role/{service}/{role}", regional=False), name=role)
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(inputs.get("url", name)).removeprefix("https://")
            state.update(arn=self._arn("iam", f"oidc-provider/{host}", regional=False))
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state.update(arn=self._arn("logs", f"log-group:{physical}"), name=physical)
        elif typ == "aws:ec2/eip:Eip":
            state.update(allocationId=resource_id, publicIp="192.0.2.10")
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1, arn=self._arn("ec2", f"launch-template/{resource_id}"))
        elif typ == "aws:eks/addon:Addon":
            state.update(arn=self._arn("eks", f"addon/{inputs.get('clusterName')}/{inputs.get('addonName')}"))
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or autoname(typ, name)
            resource_id = bucket
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}",
                         bucketRegionalDomainName=f"{bucket}.s3.{self.region}.amazonaws.com")
        elif typ == "aws:rds/instance:Instance":
            host = f"{inputs.get('identifier', name)}.c{_digest(name, 10)}.{self.region}.rds.amazonaws.com"
            secret = self._arn("secretsmanager", f"secret:rds!db-{_digest(name, 8)}-{_digest(name, 6)}")
            state.update(address=host, endpoint=f"{host}:5432", port=5432,
                         resourceId=f"db-{_digest(name, 26).upper()}",
                         arn=self._arn("rds", f"db:{inputs.get('identifier', name)}"),
                         masterUserSecrets=[{"secretArn": secret, "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"),
                                             "secretStatus": "active"}])
        elif typ == "aws:msk/cluster:Cluster":
            cluster = inputs.get("clusterName", name)
            uuid = f"{_digest(name, 8)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 12)}-3"
            brokers = ",".join(f"b-{i}.{cluster}.{_digest(name, 6)}.c3.kafka.{self.region}.amazonaws.com:9098"
                               for i in range(1, int(inputs.get("numberOfBrokerNodes", 3)) + 1))
            state.update(arn=self._arn("kafka", f"cluster/{cluster}/{uuid}"), clusterUuid=uuid,
                         bootstrapBrokersSaslIam=brokers, currentVersion="K1")
        elif typ == "aws:msk/configuration:Configuration":
            state.update(arn=self._arn("kafka", f"configuration/{inputs.get('name', name)}/{_digest(name, 12)}"),
                         latestRevision=1)
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            group = inputs.get("replicationGroupId", name)
            state.update(primaryEndpointAddress=f"master.{group}.{_digest(name, 6)}.use1.cache.amazonaws.com",
                         readerEndpointAddress=f"replica.{group}.{_digest(name, 6)}.use1.cache.amazonaws.com",
                         arn=self._arn("elasticache", f"replicationgroup:{group}"))
        elif typ == "random:index/randomPassword:RandomPassword":
            state.update(result=f"offline-{_digest(name, 24)}", bcryptHash="offline")
        elif typ == "aws:secretsmanager/secret:Secret":
            state.update(arn=self._arn("secretsmanager", f"secret:{inputs.get('name', name)}-{_digest(name, 6)}"))
        elif typ == "aws:ecr/repository:Repository":
            state.update(repositoryUrl=f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{physical}",
                         arn=self._arn("ecr", f"repository/{physical}"), registryId=self.account)
        elif typ == "aws:wafv2/webAcl:WebAcl":
            # arn:aws:wafv2:<region>:<account>:{regional|global}/webacl/<name>/<id> (WAF API
            # reference, WebACL.ARN); a CLOUDFRONT-scope ACL is "global", in us-east-1.
            scope = "global" if inputs.get("scope") == "CLOUDFRONT" else "regional"
            region = "us-east-1" if scope == "global" else self.region
            acl_id = f"{_digest(name, 8)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 12)}"
            resource_id = acl_id
            acl_name = inputs.get("name", name)
            state.update(arn=f"arn:aws:wafv2:{region}:{self.account}:{scope}/webacl/{acl_name}/{acl_id}")
        elif typ == "aws:cloudfront/distribution:Distribution":
            distribution_id = f"E{_digest(name, 13).upper()}"
            resource_id = distribution_id
            state.update(arn=f"arn:aws:cloudfront::{self.account}:distribution/{distribution_id}",
                         domainName=f"d{_digest(name, 13)}.cloudfront.net", hostedZoneId="Z2FDTNDATAQYW2")
        elif typ == "aws:acm/certificate:Certificate":
            # One validation option per name, the certificate's domain first (ACM DescribeCertificate).
            domains = [inputs.get("domainName", name), *inputs.get("subjectAlternativeNames", [])]
            state.update(arn=self._arn("acm", f"certificate/{_digest(name, 36)}"), domainValidationOptions=[{
                "domainName": domain, "resourceRecordName": f"_{_digest(domain, 32)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(domain + 'v', 32)}.acm-validations.aws."} for domain in domains])
        elif typ == "aws:acm/certificateValidation:CertificateValidation":
            state.update(certificateArn=inputs.get("certificateArn"))
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            # ELB's ARN and DNS forms (ELB API reference, LoadBalancer; "internal-" for an internal ALB).
            suffix = f"app/{physical}/{_digest(name, 16)}"
            state.update(arn=self._arn("elasticloadbalancing", f"loadbalancer/{suffix}"), arnSuffix=suffix,
                         dnsName=f"{'internal-' if inputs.get('internal') else ''}{physical}-"
                                 f"{int(_digest(name, 8), 16)}.{self.region}.elb.amazonaws.com",
                         zoneId="Z35SXDOTRQ7X7K")
            resource_id = state["arn"]
        elif typ == "aws:lb/targetGroup:TargetGroup":
            suffix = f"targetgroup/{physical}/{_digest(name, 16)}"
            state.update(arn=self._arn("elasticloadbalancing", suffix), arnSuffix=suffix)
            resource_id = state["arn"]
        elif typ in ("aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule"):
            kind = "listener" if typ.endswith("Listener") else "listener-rule"
            state.update(arn=self._arn("elasticloadbalancing", f"{kind}/app/{_digest(name, 16)}"))
            resource_id = state["arn"]
        elif typ == "aws:synthetics/canary:Canary":
            # The canary's Lambda is cwsyn-<first 21 characters of its name>-<uuid> (Synthetics API
            # reference, DeleteCanary); the engine ARN names a version of it.
            canary = str(inputs.get("name", name))
            uuid = f"{_digest(name, 8)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 4)}-{_digest(name, 12)}"
            state.update(arn=self._arn("synthetics", f"canary:{canary}"), status="RUNNING",
                         engineArn=self._arn("lambda", f"function:cwsyn-{canary[:21]}-{uuid}:1"))
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            # EventBridge's ARN form: arn:aws:events:<region>:<account>:rule/<name> (EventBridge API reference).
            state.update(arn=self._arn("events", f"rule/{physical}"), name=physical)
        elif typ == "aws:route53/record:Record":
            state.update(fqdn=str(inputs.get("name", name)).rstrip("."))
        elif typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", self._arn(service, f"{typ.rsplit(':', 1)[-1].lower()}/{resource_id}"))
        return resource_id, state

    def zone_name(self, zone_id: str) -> str:
        """This mocked account's name for a zone ID: azN -> the Nth letter. A real account maps
        them its own way, which is why the program places by ID."""
        return f"{self.region}{'abcdefgh'[int(zone_id.rsplit('az', 1)[1]) - 1]}"

    def _eks_cluster(self, cluster_name: str) -> dict[str, Any]:
        oidc_id = _digest(cluster_name, 32).upper()
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"
        endpoint = f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com"
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "current-context": "aws",
            "clusters": [{"name": "kubernetes", "cluster": {
                "server": endpoint, "certificate-authority-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}}],
            "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
            "users": [{"name": "aws", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"]}}}],
        }
        return {
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "oidcProviderArn": self._arn("iam", f"oidc-provider/{issuer}", regional=False),
            "oidcProviderUrl": f"https://{issuer}",
            "oidcIssuer": issuer,
            "clusterSecurityGroupId": f"sg-{_digest(cluster_name + 'cluster', 17)}",
        }

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:role/deployer",
                    "userId": "AROAEXAMPLE:deployer", "id": self.account}
        # An invoke nobody answers here would make the plan invent data: refuse it loudly.
        raise NotImplementedError(f"the offline plan has no answer for invoke {args.token}")
