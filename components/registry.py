"""ECR repositories for EcoMind's four images."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.encryption import EncryptionKey, EncryptionKeyArgs

SERVICES = ("gateway", "api", "worker", "ui")
# Untagged images are build leftovers: gone after a week. Tagged images are releases; the
# newest 100 per service cover far more than the rollback window.
UNTAGGED_EXPIRY_DAYS = 7
TAGGED_IMAGES_KEPT = 100


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
    tags: Mapping[str, str]
    services: Sequence[str] = SERVICES
    protect: bool = False


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
