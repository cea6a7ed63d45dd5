"""What a stack's controllers made in AWS outside Pulumi's state, found by the cluster's tags.

`pulumi destroy` deletes what the engine made, in reverse dependency order. The EBS CSI driver's
volumes and the VPC CNI's leaked network interfaces are not in the state, nor would be any load
balancer, target group or security group the load balancer controller made (the stack owns its
ALB, and the controller's role may create none: the check remains for one made by hand or by an
older stack). They keep the subnets, security groups and
VPC from being deleted (DependencyViolation), or they outlive the stack and keep billing. So
`ops.pulumi_stack destroy` runs in three steps:
1. destroy the application releases, while the controllers still run to clean up after them;
2. wait here until what they made is gone;
3. destroy the rest. If that fails, delete the CNI's detached interfaces and try once more.

The tags, read at the versions this project pins:
- aws-load-balancer-controller `pkg/shared_constants/tag_keys.go`: `elbv2.k8s.aws/cluster`, on
  every load balancer, target group and security group it makes;
- amazon-vpc-cni-k8s `pkg/awsutils/awsutils.go`: `cluster.k8s.amazonaws.com/name`, on every
  interface it attaches;
- the in-cluster database's StorageClass: `tagSpecification_1` (aws-ebs-csi-driver
  `docs/tagging.md`) gives each volume `kubernetes.io/cluster/<cluster>=owned`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

LOAD_BALANCER_TAG = "elbv2.k8s.aws/cluster"
CNI_TAG = "cluster.k8s.amazonaws.com/name"
KINDS = ("load_balancers", "target_groups", "security_groups", "volumes")


def volume_tag(cluster: str) -> str:
    return f"kubernetes.io/cluster/{cluster}"


def _tagged_elbv2(client, arns: list[str], cluster: str) -> list[str]:
    found = []
    for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
        for description in client.describe_tags(ResourceArns=arns[start:start + 20])["TagDescriptions"]:
            if any(t["Key"] == LOAD_BALANCER_TAG and t["Value"] == cluster for t in description.get("Tags", [])):
                found.append(description["ResourceArn"])
    return found


def leftovers(session, cluster: str) -> dict[str, list[str]]:
    """What the controllers made for `cluster` and what still exists of it, by kind."""
    elbv2, ec2 = session.client("elbv2"), session.client("ec2")
    balancers = [lb["LoadBalancerArn"] for page in elbv2.get_paginator("describe_load_balancers").paginate()
                 for lb in page["LoadBalancers"]]
    groups = [tg["TargetGroupArn"] for page in elbv2.get_paginator("describe_target_groups").paginate()
              for tg in page["TargetGroups"]]
    security_groups = [g["GroupId"] for page in ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": f"tag:{LOAD_BALANCER_TAG}", "Values": [cluster]}]) for g in page["SecurityGroups"]]
    volumes = [v["VolumeId"] for page in ec2.get_paginator("describe_volumes").paginate(
        Filters=[{"Name": f"tag:{volume_tag(cluster)}", "Values": ["owned"]}]) for v in page["Volumes"]]
    return {"load_balancers": _tagged_elbv2(elbv2, balancers, cluster),
            "target_groups": _tagged_elbv2(elbv2, groups, cluster),
            "security_groups": security_groups, "volumes": volumes}


def wait_until_gone(session, cluster: str, *, keep_volumes: bool, timeout_seconds: float = 900,
                    poll_seconds: float = 15, sleep: Callable[[float], None] = time.sleep,
                    report: Callable[[str], None] = print) -> dict[str, list[str]]:
    """Poll until nothing of `cluster`'s controllers is left (volumes aside when `keep_volumes`:
    prod's StorageClass retains them); returns what is still there when the time runs out."""
    kinds = [k for k in KINDS if not (keep_volumes and k == "volumes")]
    waited = 0.0
    while True:
        left = {k: v for k, v in leftovers(session, cluster).items() if k in kinds and v}
        if not left:
            return {}
        if waited >= timeout_seconds:
            return left
        report("waiting for the controllers to delete: " + ", ".join(f"{len(v)} {k}" for k, v in left.items()))
        sleep(poll_seconds)
        waited += poll_seconds


def delete_detached_interfaces(session, cluster: str) -> list[str]:
    """Delete the CNI's interfaces of `cluster` that nothing uses any more (status available)."""
    ec2 = session.client("ec2")
    interfaces = [i["NetworkInterfaceId"] for page in ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": f"tag:{CNI_TAG}", "Values": [cluster]}, {"Name": "status", "Values": ["available"]}])
        for i in page["NetworkInterfaces"]]
    for interface in interfaces:
        ec2.delete_network_interface(NetworkInterfaceId=interface)
    return interfaces


def application_release_urns(deployment: dict[str, Any]) -> list[str]:
    """The Helm releases of the application and its database engine: destroyed first, while the
    controllers that clean up after them (load balancers, volumes) still run."""
    return [r["urn"] for r in deployment.get("resources", [])
            if r.get("type") == "kubernetes:helm.sh/v3:Release" and "ecomind:platform:ClusterServices" not in r["urn"]]
