"""Known-bad resources, in the shape the offline plan records them (Pulumi type, wire-name inputs),
each with the checkov checks that must fail on it once `offline.terraform_plan` has converted it.

A check that fails on a bad value the fixture sets (not only on a setting it leaves out) proves
that the converter carries that attribute, nested blocks and plural names included, to where
checkov reads it. Every Terraform type checkov checks in a stack or bootstrap plan has one here.
"""

from __future__ import annotations

import json


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


_ANYONE = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}

FIXTURES: list[tuple[str, str, dict, list[str]]] = [
    ("aws:acm/certificate:Certificate", "wildcard", {
        "domainName": "*.example.com", "validationMethod": "DNS",
        "options": {"certificateTransparencyLoggingPreference": "DISABLED"}}, ["CKV2_AWS_71", "CKV_AWS_234"]),
    ("aws:cloudfront/distribution:Distribution", "plain-http", {
        "enabled": False,
        "defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all", "targetOriginId": "o",
                                 "allowedMethods": ["GET", "HEAD"], "cachedMethods": ["GET", "HEAD"]},
        "orderedCacheBehaviors": [{"pathPattern": "/x/*", "viewerProtocolPolicy": "allow-all", "targetOriginId": "o",
                                   "allowedMethods": ["GET", "HEAD"], "cachedMethods": ["GET", "HEAD"]}],
        "origins": [{"domainName": "example.com", "originId": "o",
                     "customOriginConfig": {"httpPort": 80, "httpsPort": 443, "originProtocolPolicy": "http-only",
                                            "originSslProtocols": ["TLSv1"]}}],
        "restrictions": {"geoRestriction": {"restrictionType": "none"}},
        "viewerCertificate": {"acmCertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/x",
                              "minimumProtocolVersion": "TLSv1", "sslSupportMethod": "sni-only"}},
     ["CKV_AWS_34", "CKV_AWS_174", "CKV_AWS_216"]),
    ("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "short-hsts", {
        "name": "h", "securityHeadersConfig": {"strictTransportSecurity": {
            "accessControlMaxAgeSec": 60, "override": False, "includeSubdomains": False, "preload": False}}},
     ["CKV_AWS_259"]),
    ("aws:cloudtrail/trail:Trail", "unvalidated", {
        "name": "t", "s3BucketName": "b", "enableLogFileValidation": False, "isMultiRegionTrail": False,
        "enableLogging": False}, ["CKV_AWS_36", "CKV_AWS_67", "CKV_AWS_251", "CKV_AWS_35"]),
    ("aws:cloudwatch/logGroup:LogGroup", "short-lived", {"name": "/x", "retentionInDays": 7},
     ["CKV_AWS_338", "CKV_AWS_158"]),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "muted", {
        "actionsEnabled": False, "comparisonOperator": "GreaterThanThreshold", "evaluationPeriods": 1,
        "metricName": "CPUUtilization", "namespace": "AWS/EC2", "period": 60, "statistic": "Average",
        "threshold": 80, "alarmActions": ["arn:aws:sns:us-east-1:111122223333:t"]}, ["CKV_AWS_319"]),
    ("aws:codebuild/project:Project", "privileged", {
        "name": "p", "serviceRole": "arn:aws:iam::111122223333:role/r", "artifacts": {"type": "NO_ARTIFACTS"},
        "source": {"type": "GITHUB", "location": "https://github.com/ecomind/x"},
        "environment": {"computeType": "BUILD_GENERAL1_SMALL", "image": "aws/codebuild/standard:7.0",
                        "type": "LINUX_CONTAINER", "privilegedMode": True,
                        "environmentVariables": [{"name": "A", "value": "b"}]},
        "logsConfig": {"s3Logs": {"status": "ENABLED", "location": "b/p", "encryptionDisabled": True}}},
     ["CKV_AWS_316", "CKV_AWS_311"]),
    ("aws:lb/loadBalancer:LoadBalancer", "unguarded", {
        "loadBalancerType": "application", "internal": False, "subnets": ["subnet-a", "subnet-b"],
        "dropInvalidHeaderFields": False, "enableDeletionProtection": False,
        "accessLogs": {"bucket": "logs", "enabled": False}}, ["CKV_AWS_131", "CKV_AWS_91", "CKV_AWS_150"]),
    ("aws:lb/listener:Listener", "plain-http", {
        "loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/a/1", "port": 80,
        "protocol": "HTTP", "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]}, ["CKV_AWS_2"]),
    ("aws:lb/listener:Listener", "old-tls", {
        "loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/a/1", "port": 443,
        "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08", "certificateArn": "arn:aws:acm:x",
        "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]}, ["CKV_AWS_103"]),
    ("aws:lb/targetGroup:TargetGroup", "plain-http", {
        "targetType": "ip", "protocol": "HTTP", "port": 8000, "vpcId": "vpc-1"}, ["CKV_AWS_378"]),
    ("aws:scheduler/schedule:Schedule", "unencrypted", {
        "name": "s", "scheduleExpression": "cron(0 19 ? * MON-FRI *)", "flexibleTimeWindow": {"mode": "OFF"},
        "target": {"arn": "arn:aws:scheduler:::aws-sdk:rds:stopDBInstance",
                   "roleArn": "arn:aws:iam::111122223333:role/r", "input": "{}"}}, ["CKV_AWS_297"]),
    ("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "default-key", {
        "sourceDbInstanceArn": "arn:aws:rds:us-east-1:111122223333:db:d", "retentionPeriod": 7}, ["CKV_AWS_245"]),
    ("aws:rds/instance:Instance", "open", {
        "engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20, "storageEncrypted": False,
        "publiclyAccessible": True, "iamDatabaseAuthenticationEnabled": False, "multiAz": False,
        "deletionProtection": False, "backupRetentionPeriod": 0, "caCertIdentifier": "rds-ca-2019",
        "autoMinorVersionUpgrade": False, "copyTagsToSnapshot": False, "monitoringInterval": 0},
     ["CKV_AWS_16", "CKV_AWS_17", "CKV_AWS_161", "CKV_AWS_157", "CKV_AWS_293", "CKV_AWS_133", "CKV_AWS_211",
      "CKV_AWS_226", "CKV_AWS_118"]),
    ("aws:ebs/encryptionByDefault:EncryptionByDefault", "off", {"enabled": False}, ["CKV_AWS_106"]),
    ("aws:ecr/repository:Repository", "mutable", {
        "name": "r", "imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": False}},
     ["CKV_AWS_51", "CKV_AWS_163", "CKV_AWS_136"]),
    ("aws:ec2/eip:Eip", "unattached", {"domain": "vpc"}, ["CKV2_AWS_19"]),
    ("eks:index:Cluster", "open", {
        "name": "c", "endpointPublicAccess": True, "endpointPrivateAccess": False, "publicAccessCidrs": ["0.0.0.0/0"],
        "enabledClusterLogTypes": ["api"], "version": "1.36"},
     ["CKV_AWS_38", "CKV_AWS_37", "CKV_AWS_58", "CKV_AWS_39"]),
    ("eks:index:ManagedNodeGroup", "ssh", {
        "nodeRoleArn": "arn:aws:iam::111122223333:role/n", "subnetIds": ["subnet-1"],
        "scalingConfig": {"desiredSize": 1, "maxSize": 1, "minSize": 1}, "remoteAccess": {"ec2SshKey": "k"}},
     ["CKV_AWS_100"]),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "plain", {
        "description": "d", "engine": "redis", "nodeType": "cache.t4g.small", "numCacheClusters": 1,
        "atRestEncryptionEnabled": False, "transitEncryptionEnabled": False, "automaticFailoverEnabled": False},
     ["CKV_AWS_29", "CKV_AWS_30", "CKV_AWS_191", "CKV2_AWS_50"]),
    ("aws:guardduty/detector:Detector", "off", {"enable": False}, ["CKV_AWS_238"]),
    ("aws:iam/policy:Policy", "admin", {"policy": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
     ["CKV_AWS_62", "CKV_AWS_63", "CKV2_AWS_40"]),
    ("aws:iam/role:Role", "anyone", {
        "assumeRolePolicy": _doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})},
     ["CKV_AWS_60"]),
    ("aws:iam/role:Role", "any-repository", {"assumeRolePolicy": _doc({
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
        "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "*"}}})}, ["CKV_AWS_393"]),
    ("aws:iam/rolePolicy:RolePolicy", "admin", {
        "role": "r", "policy": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
     ["CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_286", "CKV_AWS_355"]),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", {
        "role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, ["CKV_AWS_274"]),
    ("aws:kms/key:Key", "open", {"enableKeyRotation": False, "isEnabled": False, "policy": _doc(_ANYONE)},
     ["CKV_AWS_7", "CKV_AWS_227", "CKV_AWS_33"]),
    ("aws:ec2/launchTemplate:LaunchTemplate", "imdsv1", {
        "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 3, "httpEndpoint": "enabled"},
        "networkInterfaces": [{"associatePublicIpAddress": "true"}]}, ["CKV_AWS_79", "CKV_AWS_341", "CKV_AWS_88"]),
    ("aws:msk/cluster:Cluster", "plaintext", {
        "clusterName": "k", "kafkaVersion": "3.9.x", "numberOfBrokerNodes": 3,
        "brokerNodeGroupInfo": {"instanceType": "kafka.t3.small", "clientSubnets": ["a", "b", "c"],
                                "connectivityInfo": {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}}},
        "encryptionInfo": {"encryptionInTransit": {"clientBroker": "PLAINTEXT", "inCluster": False}},
        "loggingInfo": {"brokerLogs": {"cloudwatchLogs": {"enabled": False}}}},
     ["CKV_AWS_81", "CKV_AWS_291", "CKV_AWS_80"]),
    ("aws:ec2/route:Route", "peered-default", {
        "routeTableId": "rtb-1", "destinationCidrBlock": "0.0.0.0/0", "vpcPeeringConnectionId": "pcx-1"},
     ["CKV2_AWS_44"]),
    ("aws:ec2/routeTable:RouteTable", "peered-default", {
        "vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "vpcPeeringConnectionId": "pcx-1"}]},
     ["CKV2_AWS_44"]),
    ("aws:route53/record:Record", "dangling", {"name": "x.example.com", "type": "A", "zoneId": "Z1", "ttl": 300,
                                               "records": ["192.0.2.1"]}, ["CKV2_AWS_23"]),
    ("aws:s3/bucket:Bucket", "bare", {"bucket": "bare"},
     ["CKV2_AWS_6", "CKV_AWS_21", "CKV_AWS_145", "CKV2_AWS_61", "CKV_AWS_18"]),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "no-abort", {
        "bucket": "b",
        "rules": [{"id": "x", "status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": 30}}]},
     ["CKV_AWS_300"]),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "acls", {
        "bucket": "b", "rule": {"objectOwnership": "ObjectWriter"}}, ["CKV2_AWS_65"]),
    ("aws:s3/bucketPolicy:BucketPolicy", "public", {"bucket": "b", "policy": _doc(_ANYONE)}, ["CKV_AWS_70"]),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "open", {
        "bucket": "b", "blockPublicAcls": False, "blockPublicPolicy": False, "ignorePublicAcls": False,
        "restrictPublicBuckets": False}, ["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"]),
    ("aws:secretsmanager/secret:Secret", "aws-key", {"name": "s"}, ["CKV_AWS_149"]),
    ("aws:ec2/securityGroup:SecurityGroup", "ssh-world", {
        "vpcId": "vpc-1", "ingress": [{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]},
     ["CKV_AWS_24", "CKV_AWS_23"]),
    ("aws:sns/topic:Topic", "plain", {"name": "t"}, ["CKV_AWS_26"]),
    ("aws:sns/topicPolicy:TopicPolicy", "public", {
        "arn": "arn:aws:sns:us-east-1:111122223333:t",
        "policy": _doc({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"})},
     ["CKV_AWS_169"]),
    ("aws:ec2/subnet:Subnet", "public-ip", {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24", "mapPublicIpOnLaunch": True},
     ["CKV_AWS_130"]),
    ("aws:wafv2/webAcl:WebAcl", "no-managed-rules", {
        "name": "w", "scope": "REGIONAL", "defaultAction": {"allow": {}},
        "visibilityConfig": {"cloudwatchMetricsEnabled": False, "metricName": "w", "sampledRequestsEnabled": False}},
     ["CKV_AWS_192", "CKV2_AWS_31"]),
    ("aws:cfg/recorder:Recorder", "partial", {
        "name": "r", "roleArn": "arn:aws:iam::111122223333:role/c",
        "recordingGroup": {"allSupported": False, "includeGlobalResourceTypes": False,
                           "resourceTypes": ["AWS::S3::Bucket"]}}, ["CKV2_AWS_48"]),
    ("aws:cfg/recorderStatus:RecorderStatus", "off", {"name": "r", "isEnabled": False}, ["CKV2_AWS_45"]),
    ("aws:ec2/vpc:Vpc", "unlogged", {"cidrBlock": "10.0.0.0/16"}, ["CKV2_AWS_11", "CKV2_AWS_12"]),
    # checkov 3.3.30 judges this type's egress only when it names ports (AbsSecurityGroupUnrestrictedEgress),
    # so a protocol -1 rule fails the description check alone.
    ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "anywhere", {
        "securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrIpv4": "0.0.0.0/0"},
     ["CKV_AWS_23"]),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "rdp-world", {
        "securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv4": "0.0.0.0/0"},
     ["CKV_AWS_25", "CKV_AWS_23"]),
]
