"""Buckets, the assets CDN and the image registry, as both stacks plan them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import account, policy, statements

BUCKET = "aws:s3/bucket:Bucket"
BUCKETS = ("storage-reports", "storage-access-logs", "cdn-assets")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def guard(plan, typ, bucket_name):
    """The guard resource of `typ` that belongs to one bucket."""
    bucket = plan.one(BUCKET, bucket_name)
    found = [r for r in plan.of_type(typ) if bucket.urn in r.dependencies]
    assert len(found) == 1, (typ, bucket_name, [r.name for r in found])
    return found[0]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_blocks_public_access_and_enforces_ownership(stack_plan, bucket):
    block = guard(stack_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    ownership = guard(stack_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket).inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_is_versioned_and_expires_old_versions(stack_plan, bucket):
    versioning = guard(stack_plan, "aws:s3/bucketVersioning:BucketVersioning", bucket).inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    lifecycle = guard(stack_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)
    [rule] = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["noncurrentVersionExpiration"]["noncurrentDays"] > 0


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_refuses_requests_without_tls(stack_plan, bucket):
    document = policy(guard(stack_plan, "aws:s3/bucketPolicy:BucketPolicy", bucket), "policy")
    deny = [s for s in statements(document) if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Principal"] == "*" and len(deny[0]["Resource"]) == 2


@pytest.mark.parametrize("bucket", ["storage-reports", "cdn-assets"])
def test_data_buckets_use_sse_kms_with_a_bucket_key(stack_plan, bucket):
    encryption = guard(stack_plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                   "BucketServerSideEncryptionConfiguration", bucket).inputs
    [rule] = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert rule["bucketKeyEnabled"] is True


def test_access_log_bucket_uses_sse_s3_because_s3_logging_requires_it(stack_plan):
    encryption = guard(stack_plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                   "BucketServerSideEncryptionConfiguration", "storage-access-logs").inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


@pytest.mark.parametrize("bucket", ["storage-reports", "cdn-assets"])
def test_data_buckets_log_access_to_the_log_bucket(stack_plan, bucket):
    logging = guard(stack_plan, "aws:s3/bucketLogging:BucketLogging", bucket)
    assert stack_plan.one(BUCKET, "storage-access-logs").urn in logging.dependencies
    assert logging.inputs["targetPrefix"] == f"s3/{bucket}/"


def test_reports_move_to_infrequent_access_then_archive(stack_plan):
    [rule] = guard(stack_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                   "storage-reports").inputs["rules"]
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]


def test_log_delivery_is_scoped_to_this_account_and_its_prefixes(stack_plan):
    document = policy(guard(stack_plan, "aws:s3/bucketPolicy:BucketPolicy", "storage-access-logs"), "policy")
    allows = [s for s in statements(document) if s["Effect"] == "Allow" and "Service" in s["Principal"]]
    assert {s["Principal"]["Service"] for s in allows} == {"logging.s3.amazonaws.com", "delivery.logs.amazonaws.com"}
    # The ALB's logs: Elastic Load Balancing's account of the region writes under the ALB's
    # prefix, for this account's load balancers (tests/test_load_balancer.py checks the rest).
    [elb] = [s for s in statements(document) if "AWS" in s.get("Principal", {})]
    assert elb["Resource"].endswith(f"/alb/AWSLogs/{account(stack_plan.stack)}/*") and elb["Action"] == "s3:PutObject"
    for statement in allows:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == account(stack_plan.stack)
        if statement["Action"] != "s3:GetBucketAcl":
            assert statement["Resource"].endswith(("/s3/*", f"/AWSLogs/{account(stack_plan.stack)}/*"))


def test_no_bucket_can_be_destroyed_with_its_objects(stack_plan):
    assert all(b.inputs["forceDestroy"] is False for b in stack_plan.of_type(BUCKET))


def test_prod_protects_every_bucket(prod_plan, dev_plan):
    assert all(b.protect for b in prod_plan.of_type(BUCKET))
    assert not any(b.protect for b in dev_plan.of_type(BUCKET))


# --- CloudFront -------------------------------------------------------------------------------------

def test_assets_are_served_only_through_cloudfront_with_origin_access_control(stack_plan):
    distribution = stack_plan.one(DISTRIBUTION)
    [origin] = distribution.inputs["origins"]
    oac = stack_plan.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert oac.urn in distribution.dependencies and origin["originAccessControlId"]
    assert oac.inputs["signingBehavior"] == "always" and oac.inputs["signingProtocol"] == "sigv4"
    document = policy(guard(stack_plan, "aws:s3/bucketPolicy:BucketPolicy", "cdn-assets"), "policy")
    [allow] = [s for s in statements(document) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert source.startswith(f"arn:aws:cloudfront::{account(stack_plan.stack)}:distribution/")


def test_the_assets_key_decrypts_only_for_the_distribution(stack_plan):
    key_policy = stack_plan.one("aws:kms/keyPolicy:KeyPolicy", "cdn-assets-policy")
    cloudfront = [s for s in statements(policy(key_policy, "policy"))
                  if s.get("Principal", {}).get("Service") == "cloudfront.amazonaws.com"]
    assert len(cloudfront) == 1 and "AWS:SourceArn" in cloudfront[0]["Condition"]["StringEquals"]
    assert stack_plan.one(DISTRIBUTION).urn in key_policy.dependencies
    assert "policy" not in stack_plan.one("aws:kms/key:Key", "cdn-assets-key").inputs


def test_viewers_get_https_only_compression_and_security_headers(stack_plan):
    behaviour = stack_plan.one(DISTRIBUTION).inputs["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "https-only" and behaviour["compress"] is True
    headers_policy = stack_plan.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    assert headers_policy.urn in stack_plan.one(DISTRIBUTION).dependencies
    assert behaviour["responseHeadersPolicyId"]
    security = headers_policy.inputs["securityHeadersConfig"]
    assert security["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    assert security["contentTypeOptions"]["override"] is True
    assert security["frameOptions"]["frameOption"] == "DENY"


def test_price_class_follows_the_stack(dev_plan, prod_plan):
    assert dev_plan.one(DISTRIBUTION).inputs["priceClass"] == "PriceClass_100"
    assert prod_plan.one(DISTRIBUTION).inputs["priceClass"] == "PriceClass_All"


def test_access_logs_are_delivered_from_us_east_1_to_the_log_bucket(stack_plan):
    source = stack_plan.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs
    destination = stack_plan.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination")
    delivery = stack_plan.one("aws:cloudwatch/logDelivery:LogDelivery")
    assert source["logType"] == "ACCESS_LOGS" and source["region"] == "us-east-1"
    assert destination.inputs["deliveryDestinationConfiguration"]["destinationResourceArn"].startswith("arn:aws:s3:::")
    assert stack_plan.one(BUCKET, "storage-access-logs").urn in destination.dependencies
    assert delivery.inputs["region"] == "us-east-1"


def test_dev_uses_the_default_certificate(dev_plan):
    distribution = dev_plan.one(DISTRIBUTION).inputs
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert not dev_plan.of_type("aws:acm/certificate:Certificate")  # neither for the CDN nor the ingress


def test_prod_serves_its_domain_with_a_dns_validated_us_east_1_certificate(prod_plan):
    certificate = prod_plan.one("aws:acm/certificate:Certificate", "cdn-certificate")
    assert certificate.inputs["domainName"] == "assets.ecomind.example.com"
    assert certificate.inputs["validationMethod"] == "DNS" and certificate.inputs["region"] == "us-east-1"
    validation = prod_plan.one("aws:acm/certificateValidation:CertificateValidation", "cdn-certificate")
    distribution = prod_plan.one(DISTRIBUTION)
    assert validation.urn in distribution.dependencies
    viewer = distribution.inputs["viewerCertificate"]
    assert viewer["sslSupportMethod"] == "sni-only" and viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution.inputs["aliases"] == ["assets.ecomind.example.com"]
    records = {r.inputs["type"]: r.inputs for r in prod_plan.of_type("aws:route53/record:Record")
               if r.name.startswith("cdn-")}
    assert set(records) == {"CNAME", "A", "AAAA"}
    assert all(r["zoneId"] == "Z0123456789EXAMPLEAB" for r in records.values())
    assert records["A"]["aliases"][0]["zoneId"] == "Z2FDTNDATAQYW2"
    assert prod_plan.outputs["assetsUrl"] == "https://assets.ecomind.example.com"


# --- ECR ------------------------------------------------------------------------------------------

def test_a_repository_per_service_immutable_scanned_and_encrypted(stack_plan):
    repositories = {r.inputs["name"]: r.inputs for r in stack_plan.of_type("aws:ecr/repository:Repository")}
    assert set(repositories) == {f"ecomind-{stack_plan.stack}/{s}" for s in ("gateway", "api", "worker", "ui")}
    for repository in repositories.values():
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert repository["imageScanningConfiguration"]["scanOnPush"] is True
        [encryption] = repository["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"].startswith("arn:aws:kms:")


def test_untagged_images_expire(stack_plan):
    for lifecycle in stack_plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        rules = json.loads(lifecycle.inputs["policy"])["rules"]
        untagged = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
        assert untagged and untagged[0]["action"]["type"] == "expire"
    assert len(stack_plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 4
