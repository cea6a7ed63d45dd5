"""ECR repositories for EcoMind's four images."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.args import check_account_id, check_name, check_tags, is_list, refuse
from components.encryption import EncryptionKey, EncryptionKeyArgs

SERVICES = ("gateway", "api", "worker", "ui")
# Untagged images are build leftovers: gone after a week. Tagged images are releases; the
# newest 100 per service cover far more than the rollback window.
UNTAGGED_EXPIRY_DAYS = 7
TAGGED_IMAGES_KEPT = 100
# ECR CreateRepository, repositoryName pattern (lower case, path segments separated by "/").
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
REPOSITORY_NAME_RULE = "expected lower-case letters and digits separated by '.', '_', '-' or '/' (ECR repository names)"


def lifecycle_policy() -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"Expire untagged images after {UNTAGGED_EXPIRY_DAYS} days",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                      "countNumber": UNTAGGED_EXPIRY_DAYS},
        "action": {"type": "expire"},
    }, {
        "rulePriority": 2,
        "description": f"Keep the newest {TAGGED_IMAGES_KEPT} tagged images",
        "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                      "countNumber": TAGGED_IMAGES_KEPT},
        "action": {"type": "expire"},
    }]})


@dataclasses.dataclass(frozen=True)
class RegistryArgs:
    prefix: str
    """Repository names are <prefix>/<service>."""
    account_id: pulumi.Input[str]
    """AWS account the image key's policy is scoped to."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key and every repository (with Name and service)."""
    services: Sequence[str] = SERVICES
    """Services that get a repository; the default is EcoMind's four images (SERVICES)."""
    protect: bool = False
    """Pulumi `protect` on the key and repositories (on in prod); repositories with images are never
    force-deleted either way."""

    def __post_init__(self) -> None:
        check_name(self, "prefix", REPOSITORY_NAME, REPOSITORY_NAME_RULE)
        check_account_id(self)
        check_tags(self)
        if not is_list(self.services) or not self.services:
            refuse(self, "services", "expected at least one service name")
        for service in self.services:
            if not isinstance(service, str) or not REPOSITORY_NAME.fullmatch(service):
                refuse(self, "services", REPOSITORY_NAME_RULE, value=service)
        # Each service names a repository and its Pulumi resources: a repeat would collide.
        if len(set(self.services)) != len(self.services):
            refuse(self, "services", "expected each service once")


def replicated_repository_urls(prefix: str, account_id: str, region: str,
                               services: Sequence[str] = SERVICES) -> dict[str, str]:
    """Another stack's repositories as ECR replication recreates them in `region`: same names, in
    the same account's registry there (ECR user guide, "Private image replication"). A recovery
    stack runs the images already released, so it makes no repositories of its own."""
    RegistryArgs(prefix=prefix, account_id=account_id, tags={}, services=services)  # the same names' checks
    return {service: f"{account_id}.dkr.ecr.{region}.amazonaws.com/{prefix}/{service}" for service in services}


class Registry(pulumi.ComponentResource):
    """One repository per service: immutable tags, scan on push, KMS-encrypted."""

    repository_urls: dict[str, pulumi.Output[str]]
    """Repository URL per service, for image references in the chart."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:delivery:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = EncryptionKey(f"{name}-images", EncryptionKeyArgs(
            description="Encrypts EcoMind's container images", account_id=args.account_id, tags=args.tags,
            protect=args.protect), opts=child)
        self.repository_urls = {}
        for service in args.services:
            repository = aws.ecr.Repository(
                f"{name}-{service}", name=f"{args.prefix}/{service}",
                # A tag names one image forever: a deployed tag cannot be repointed under a running release.
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=key.key_arn)],
                force_delete=False,
                tags={**args.tags, "Name": f"{args.prefix}/{service}", "service": service},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
            aws.ecr.LifecyclePolicy(f"{name}-{service}", repository=repository.name, policy=lifecycle_policy(),
                                    opts=child)
            self.repository_urls[service] = repository.repository_url
        self.register_outputs({"repository_urls": self.repository_urls})
