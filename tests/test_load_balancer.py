"""The stack's own ALB (components/load_balancer.py): listeners, routes, target groups, security
groups, access logs and the controller that binds pods to it, as both stacks plan them."""

from __future__ import annotations

import pytest

from components.load_balancer import BACKENDS, HEALTH_CHECK, HEALTH_ROUTE_HEADER, LOG_DELIVERY_ACCOUNTS, SSL_POLICY
from components.release import DEREGISTRATION_DELAY_SECONDS
from tests.conftest import account, as_list, planned, policy, stack_settings, statements

LB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RELEASE = "kubernetes:helm.sh/v3:Release"
HOST = "app.ecomind.example.com"


def groups(plan) -> dict[str, object]:
    return {g.name.removeprefix("web-"): g for g in plan.of_type(TG)}


def routes(plan, listener, *, health: bool = False) -> list[tuple]:
    """(priority, target service, path patterns, hosts) of each rule on `listener` that matches no
    header; with `health`, of each that does, with its headers last."""
    by_arn = {g.arn: name for name, g in groups(plan).items()}
    found = []
    for rule in (r for r in plan.of_type(RULE) if listener.urn in r.dependencies):
        [action] = rule.inputs["actions"]
        conditions = rule.inputs["conditions"]
        paths = [v for c in conditions if "pathPattern" in c for v in c["pathPattern"]["values"]]
        hosts = [v for c in conditions if "hostHeader" in c for v in c["hostHeader"]["values"]]
        headers = {c["httpHeader"]["httpHeaderName"]: c["httpHeader"]["values"] for c in conditions
                   if "httpHeader" in c}
        if bool(headers) == health:
            found.append((rule.inputs["priority"], by_arn[action["targetGroupArn"]], paths, hosts,
                          *([headers] if health else [])))
    return sorted(found)


def test_one_ip_target_group_per_http_service_checked_on_its_health_path(stack_plan):
    found = groups(stack_plan)
    assert sorted(found) == sorted(BACKENDS) == ["api", "gateway", "ui"]
    vpc = stack_plan.one("aws:ec2/vpc:Vpc")
    for service, group in found.items():
        inputs = group.inputs
        assert (inputs["targetType"], inputs["protocol"], inputs["port"]) == ("ip", "HTTP", BACKENDS[service].port)
        assert inputs["vpcId"] == vpc.id
        check = inputs["healthCheck"]
        assert check["path"] == BACKENDS[service].health_path and check["matcher"] == "200"
        assert check["port"] == "traffic-port" and check["interval"] == HEALTH_CHECK["interval"]
        # What the pods' preStop sleep is sized against (analyses/rollout.py judges the pair).
        assert inputs["deregistrationDelay"] == DEREGISTRATION_DELAY_SECONDS


def test_the_backends_are_the_chart_ports_and_probes(stack_plan):
    """The target groups check what the pods serve: each Deployment's container port and
    readiness probe path (the chart's ecomind.port and ecomind.healthPath)."""
    for service, backend in BACKENDS.items():
        [deployment] = [d for d in stack_plan.manifests["ecomind-release"]
                        if d["kind"] == "Deployment" and d["metadata"]["name"] == f"ecomind-{service}"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert [p["containerPort"] for p in container["ports"]] == [backend.port]
        assert container["readinessProbe"]["httpGet"]["path"] == backend.health_path


def test_prod_serves_https_with_a_tls13_policy_and_http_only_redirects(prod_plan):
    alb = prod_plan.one(LB, "web-alb")
    https = prod_plan.one(LISTENER, "web-https").inputs
    assert (https["port"], https["protocol"], https["sslPolicy"]) == (443, "HTTPS", SSL_POLICY)
    validation = prod_plan.one("aws:acm/certificateValidation:CertificateValidation", "web-certificate")
    assert https["certificateArn"] == validation.inputs["certificateArn"]
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"].startswith("max-age=31536000")
    http = prod_plan.one(LISTENER, "web-http")
    assert http.inputs["port"] == 80 and http.inputs["defaultActions"] == [
        {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]
    assert routes(prod_plan, http) == routes(prod_plan, http, health=True) == [], "the HTTP listener forwards nothing"
    assert alb.urn in http.dependencies and alb.inputs["internal"] is False
    certificate = prod_plan.one("aws:acm/certificate:Certificate", "web-certificate").inputs
    assert certificate["domainName"] == HOST and certificate["validationMethod"] == "DNS"


@pytest.mark.parametrize("stack,listener", [("prod", "web-https"), ("dev", "web-http")])
def test_only_the_exact_ingest_path_reaches_the_gateway(stack, listener):
    plan = planned(stack)
    routed = plan.one(LISTENER, listener)
    hosts = [HOST] if stack == "prod" else []
    expected = [(10, "gateway", ["/v1/ingest"], hosts), (20, "api", ["/v1", "/v1/*"], hosts)]
    if stack == "prod":  # with a host, anything for another host gets the 404 default
        expected.append((30, "ui", ["/*"], hosts))
        assert routed.inputs["defaultActions"][0]["type"] == "fixed-response"
        assert routed.inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    else:
        assert routed.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": groups(plan)["ui"].arn}]
    assert routes(plan, routed) == expected


@pytest.mark.parametrize("stack,listener", [("prod", "web-https"), ("dev", "web-http")])
def test_only_a_request_naming_a_service_reaches_its_health_path_and_before_every_route(stack, listener):
    """The outside check's way to gateway and api /health (the ui's "/" is its route): exact
    /health with the header naming the service, ahead of the routes, for the stack's host only."""
    plan = planned(stack)
    hosts = [HOST] if stack == "prod" else []
    health = routes(plan, plan.one(LISTENER, listener), health=True)
    assert health == [(1, "gateway", ["/health"], hosts, {HEALTH_ROUTE_HEADER: ["gateway"]}),
                      (2, "api", ["/health"], hosts, {HEALTH_ROUTE_HEADER: ["api"]})]
    assert max(priority for priority, *_ in health) < min(r[0] for r in routes(plan, plan.one(LISTENER, listener)))
    assert routes(plan, plan.one(LISTENER, "web-http"), health=True) == ([] if stack == "prod" else health)


def test_the_alb_drops_invalid_headers_logs_access_and_is_protected_in_prod(stack_plan):
    alb = stack_plan.one(LB, "web-alb").inputs
    assert alb["loadBalancerType"] == "application" and alb["dropInvalidHeaderFields"] is True
    assert alb["desyncMitigationMode"] == "strictest"
    assert alb["accessLogs"] == {"bucket": stack_plan.outputs["accessLogBucket"], "prefix": "alb", "enabled": True}
    assert alb["enableDeletionProtection"] is (stack_plan.stack == "prod")


def test_the_regions_elb_account_may_write_only_the_albs_log_prefix(stack_plan):
    region = stack_settings(stack_plan.stack).region
    document = policy(stack_plan.one("aws:s3/bucketPolicy:BucketPolicy", "storage-access-logs-policy"), "policy")
    [elb] = [s for s in statements(document) if "AWS" in s.get("Principal", {})]
    assert elb["Principal"] == {"AWS": f"arn:aws:iam::{LOG_DELIVERY_ACCOUNTS[region]}:root"}
    assert elb["Effect"] == "Allow" and elb["Action"] == "s3:PutObject"
    bucket = stack_plan.one("aws:s3/bucket:Bucket", "storage-access-logs")
    assert elb["Resource"] == f"{bucket.arn}/alb/AWSLogs/{account(stack_plan.stack)}/*"
    # ELB log delivery supports SSE-S3 only (ELB user guide, "Enable access logs").
    encryption = [r for r in stack_plan.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.name.startswith("storage-access-logs")]
    [rule] = encryption[0].inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_the_alb_reaches_only_the_service_ports_of_the_nodes_and_they_admit_only_it(stack_plan):
    alb_group = stack_plan.one(SG, "web-alb")
    cluster_group = stack_plan.outputs["clusterSecurityGroupId"]
    ports = sorted(b.port for b in BACKENDS.values())
    egress = [r.inputs for r in stack_plan.of_type(EGRESS) if r.inputs["securityGroupId"] == alb_group.id]
    assert sorted(e["fromPort"] for e in egress) == ports
    assert all(e["referencedSecurityGroupId"] == cluster_group and e["fromPort"] == e["toPort"] for e in egress)
    admitted = [r.inputs for r in stack_plan.of_type(INGRESS)
                if r.inputs["securityGroupId"] == cluster_group and r.inputs.get("referencedSecurityGroupId")
                == alb_group.id]
    assert sorted(a["fromPort"] for a in admitted) == ports and all(a["fromPort"] == a["toPort"] for a in admitted)


def test_prod_associates_the_regional_acl_and_points_its_host_at_the_alb(prod_plan, dev_plan):
    alb = prod_plan.one(LB, "web-alb")
    association = prod_plan.one("aws:wafv2/webAclAssociation:WebAclAssociation", "web-waf").inputs
    assert association["resourceArn"] == alb.arn
    assert association["webAclArn"] == prod_plan.one("aws:wafv2/webAcl:WebAcl", "app-firewall-acl").arn
    alias = prod_plan.one("aws:route53/record:Record", "web-alias").inputs
    assert (alias["name"], alias["type"]) == (HOST, "A")
    assert alias["zoneId"] == stack_settings("prod").edge.hosted_zone_id
    [target] = alias["aliases"]
    assert target["name"].endswith(".elb.amazonaws.com") and target["evaluateTargetHealth"] is True
    assert prod_plan.outputs["appUrl"] == f"https://{HOST}"
    assert dev_plan.outputs["appUrl"].startswith("http://internal-web-alb-")


def test_the_controller_binds_targets_in_the_stacks_target_groups_and_builds_nothing(stack_plan):
    values = stack_plan.one(RELEASE, "services-aws-load-balancer-controller").inputs["values"]
    assert values["createIngressClassResource"] is False and values["enableBackendSecurityGroup"] is False
    assert not (values["enableWaf"] or values["enableWafv2"] or values["enableShield"])
    document = policy(stack_plan.one("aws:iam/rolePolicy:RolePolicy",
                                     "services-load-balancer-controller-load-balancer-controller"), "policy")
    writes = {a for s in statements(document) for a in as_list(s["Action"])
              if not a.split(":")[1].startswith(("Describe", "Get"))}
    assert writes == {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"}
    [targets] = [s for s in statements(document) if "elasticloadbalancing:RegisterTargets" in as_list(s["Action"])]
    assert sorted(targets["Resource"]) == sorted(g.arn for g in groups(stack_plan).values())


def test_the_release_goes_before_its_target_groups_on_destroy(stack_plan):
    """The release (its TargetGroupBindings) uses the target groups, so the engine deletes it
    first: the controller deregisters the pods and drops its finalizers while the groups exist."""
    upstream = stack_plan.upstream_of(stack_plan.one(RELEASE, "ecomind-release"))
    assert all(g.urn in upstream for g in groups(stack_plan).values())
