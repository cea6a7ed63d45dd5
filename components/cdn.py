"""The UI's static assets: a private bucket behind CloudFront (Origin Access Control)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_arn, check_tags, is_plain, refuse
from components.bucket import SecureBucket, SecureBucketArgs
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.naming import stack_scoped
from settings import CDN_PRICE_CLASSES, EdgeSettings

# AWS managed cache policy "CachingOptimized" (CloudFront developer guide, "Use managed cache
# policies"): long TTLs, gzip and brotli, no cookies or query strings in the cache key.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# CloudFront certificates and CloudFront's vended log delivery live in us-east-1, whatever
# the stack's region (CloudFront developer guide, "Requirements for using SSL/TLS certificates").
CLOUDFRONT_REGION = "us-east-1"
# Two years, as the HSTS preload list requires (hstspreload.org).
HSTS_MAX_AGE_SECONDS = 63_072_000
MINIMUM_TLS = "TLSv1.2_2021"


@dataclasses.dataclass(frozen=True)
class AssetsCdnArgs:
    settings: EdgeSettings
    """The stack's edge settings: price class and, with a domain, the assets.<domain> host and its zone."""
    account_id: pulumi.Input[str]
    """AWS account the assets key's policy is scoped to."""
    access_log_bucket_name: pulumi.Input[str]
    """Bucket for the assets bucket's S3 server access logs (`Storage.logs.bucket_name`)."""
    access_log_bucket_arn: pulumi.Input[str]
    """The same bucket's ARN, where CloudFront's standard logging (v2) delivers (`Storage.logs.bucket_arn`)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, the bucket, the certificate, the distribution and the log delivery."""
    web_acl_arn: pulumi.Input[str]
    """The CLOUDFRONT-scope WAF web ACL in front of the distribution (`WebFirewall.web_acl_arn`)."""
    protect: bool = False
    """Pulumi `protect` on the assets key and bucket (on in prod); the default leaves both deletable."""

    def __post_init__(self) -> None:
        if self.settings.price_class not in CDN_PRICE_CLASSES:
            refuse(self, "settings.price_class", "expected one of " + ", ".join(CDN_PRICE_CLASSES))
        # The certificate is validated and the alias records made in the domain's hosted zone.
        if self.settings.domain and not self.settings.hosted_zone_id:
            refuse(self, "settings.hosted_zone_id", "expected the Route 53 zone of settings.domain "
                   f"({self.settings.domain}): the certificate and alias records are made there")
        check_account_id(self)
        if is_plain(self.access_log_bucket_name) and not self.access_log_bucket_name:
            refuse(self, "access_log_bucket_name", "expected a bucket name (or an Output resolving to one)")
        check_arn(self, "access_log_bucket_arn", "s3", "arn:aws:s3:::ecomind-access-logs", resource=r"::[a-z0-9.-]+")
        # A distribution takes only a CLOUDFRONT-scope ("global") ACL, from us-east-1.
        check_arn(self, "web_acl_arn", "wafv2", "arn:aws:wafv2:us-east-1:111122223333:global/webacl/<name>/<id>",
                  resource=r"us-east-1:\d{12}:global/webacl/\S+")
        check_tags(self)


class AssetsCdn(pulumi.ComponentResource):
    """Assets bucket (SSE-KMS, private) and the distribution that alone may read it."""

    assets: SecureBucket
    """Bucket the UI build uploads its static files to."""
    distribution_domain: pulumi.Output[str]
    """CloudFront domain name (dxxxx.cloudfront.net)."""
    public_url: pulumi.Output[str]
    """https URL the UI loads assets from (custom domain when one is configured)."""

    def __init__(self, name: str, args: AssetsCdnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:edge:AssetsCdn", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        key = EncryptionKey(f"{name}-assets", EncryptionKeyArgs(
            description="Encrypts the UI's static assets", account_id=args.account_id, tags=args.tags,
            protect=args.protect, deferred_policy=True), opts=child)
        self.assets = SecureBucket(f"{name}-assets", SecureBucketArgs(
            purpose="ui static assets", kms_key_arn=key.key_arn, tags=args.tags,
            access_log_bucket=args.access_log_bucket_name, deferred_policy=True, protect=args.protect), opts=child)
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-oac", name=stack_scoped(f"{name}-assets"),
            description="Signed requests from CloudFront to the assets bucket",
            origin_access_control_origin_type="s3", signing_behavior="always", signing_protocol="sigv4", opts=child)
        headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers", name=stack_scoped(f"{name}-security-headers"),
            comment="Security headers on every asset response",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=HSTS_MAX_AGE_SECONDS, include_subdomains=True, preload=True,
                    override=True),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True),
            ),
            opts=child)

        viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        depends_on: list[pulumi.Resource] = []
        host = s.assets_host
        if host:
            certificate = aws.acm.Certificate(
                f"{name}-certificate", domain_name=host, validation_method="DNS", key_algorithm="EC_prime256v1",
                region=CLOUDFRONT_REGION, tags={**args.tags, "Name": host}, opts=child)
            option = certificate.domain_validation_options.apply(lambda options: options[0])
            record = aws.route53.Record(
                f"{name}-certificate-validation", zone_id=s.hosted_zone_id, name=option.resource_record_name,
                type=option.resource_record_type, records=[option.resource_record_value], ttl=300,
                allow_overwrite=True, opts=child)
            validation = aws.acm.CertificateValidation(
                f"{name}-certificate", certificate_arn=certificate.arn, validation_record_fqdns=[record.fqdn],
                region=CLOUDFRONT_REGION, opts=child)
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=validation.certificate_arn, ssl_support_method="sni-only",
                minimum_protocol_version=MINIMUM_TLS)
            depends_on.append(validation)

        distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            comment="EcoMind UI static assets",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=s.price_class,
            aliases=[host] if host else None,
            origins=[aws.cloudfront.DistributionOriginArgs(
                origin_id="assets", domain_name=self.assets.regional_domain_name,
                origin_access_control_id=access_control.id)],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id="assets",
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD", "OPTIONS"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                response_headers_policy_id=headers.id,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")),
            viewer_certificate=viewer_certificate,
            # WAFv2 takes the web ACL's ARN here, not its ID (CloudFront API, DistributionConfig.WebACLId).
            web_acl_id=args.web_acl_arn,
            tags={**args.tags, "Name": f"{name}-distribution"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        # The grants name the distribution, so they follow it.
        self.assets.attach_policy(pulumi.Output.all(self.assets.bucket_arn, distribution.arn).apply(
            lambda a: [docs.cloudfront_read_statement(a[0], a[1])]))
        key.attach_policy([distribution.arn.apply(docs.cloudfront_key_statement)])

        # Standard logging (v2): CloudWatch Logs delivers CloudFront's access logs to the log
        # bucket, which keeps it ACL-free (legacy logging needs bucket ACLs).
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-access-logs", name=stack_scoped(f"{name}-cloudfront"), log_type="ACCESS_LOGS",
            resource_arn=distribution.arn,
            region=CLOUDFRONT_REGION, tags=args.tags, opts=child)
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-access-logs", name=stack_scoped(f"{name}-cloudfront-s3"), output_format="parquet",
            delivery_destination_configuration=aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                destination_resource_arn=args.access_log_bucket_arn),
            region=CLOUDFRONT_REGION, tags=args.tags, opts=child)
        aws.cloudwatch.LogDelivery(
            f"{name}-access-logs", delivery_source_name=source.name, delivery_destination_arn=destination.arn,
            region=CLOUDFRONT_REGION, tags=args.tags, opts=child)

        if host:
            for record_type in ("A", "AAAA"):
                aws.route53.Record(
                    f"{name}-{record_type.lower()}", zone_id=s.hosted_zone_id, name=host, type=record_type,
                    aliases=[aws.route53.RecordAliasArgs(name=distribution.domain_name,
                                                         zone_id=distribution.hosted_zone_id,
                                                         evaluate_target_health=False)],
                    opts=child)
        self.distribution_domain = distribution.domain_name
        self.public_url = pulumi.Output.concat("https://", host) if host else pulumi.Output.concat(
            "https://", distribution.domain_name)
        self.register_outputs({"distribution_domain": self.distribution_domain, "public_url": self.public_url})
