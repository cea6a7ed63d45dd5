"""The cost estimate, the deployment critical path, the report, and the budget and alarms."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

import settings
from analyses import cost, schedule
from analyses.model import Plan, PlannedResource
from analyses.report import render
from tests.conftest import PROJECT_DIR, account, planned, policy, stack_settings, statements

PRICES = cost.load_prices()


def usage_of(stack):
    return cost.Usage.of(stack_settings(stack).cost)


def estimate(stack):
    return cost.estimate(planned(stack), usage_of(stack))


def test_every_price_row_names_its_source_and_date():
    with cost.PRICES_FILE.open() as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    assert len({r["id"] for r in rows}) == len(rows) > 50
    for row in rows:
        assert row["region"] == "us-east-1" and row["source"] and row["read_on"], row["id"]
        assert row["confidence"] in ("verified", "secondary", "recall"), row["id"]
        assert float(row["usd"]) >= 0


def test_every_size_a_stack_may_choose_has_a_price():
    for instance in settings.NODE_INSTANCE_TYPES:
        assert f"ec2.{instance}" in PRICES
    for instance_class in settings.DB_INSTANCE_CLASSES:
        assert f"rds.{instance_class}.single" in PRICES and f"rds.{instance_class}.multi" in PRICES
    for broker in settings.KAFKA_INSTANCE_TYPES:
        assert f"msk.{broker}" in PRICES
    for node in settings.CACHE_NODE_TYPES:
        assert f"elasticache.{node}" in PRICES


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_billable_resource_is_priced_and_the_sums_add_up(stack):
    result = estimate(stack)
    assert result["unpriced"] == []
    assert result["total_monthly_usd"] == pytest.approx(sum(line["monthly_usd"] for line in result["lines"]), abs=0.05)
    assert result["total_monthly_usd"] == pytest.approx(sum(result["components"].values()), abs=0.05)
    for line in result["lines"]:
        assert line["source"].split(":")[0] in PRICES
    types = {r.type for r in planned(stack).resources if r.custom}
    assert types <= set(cost.RULES) | set(cost.FREE_TYPES)


def test_an_unknown_billable_type_is_reported_not_zero():
    aurora = PlannedResource("urn:x", "aws:rds/cluster:Cluster", "aurora", True, None, [], False, {})
    plan = Plan("p", "s", [aurora], {})
    assert cost.estimate(plan, cost.Usage(0, 0, 0, 0), PRICES)["unpriced"] == [{"urn": "urn:x",
                                                                                 "type": "aws:rds/cluster:Cluster"}]


def test_lines_follow_the_plan(dev_plan, prod_plan):
    dev, prod = estimate("dev"), estimate("prod")
    eks = next(line for line in dev["lines"] if line["resource"] == "cluster-eks")
    assert eks["monthly_usd"] == pytest.approx(0.10 * 730)
    assert len([line for line in dev["lines"] if line["dimension"] == "NAT gateway"]) == 1
    assert len([line for line in prod["lines"] if line["dimension"] == "NAT gateway"]) == 3
    spot = next(line for line in dev["lines"] if line["resource"] == "cluster-workload" and "spot" in line["dimension"])
    first = stack_settings("dev").cluster.node_groups[1].instance_types[0]
    assert spot["unit_usd"] == pytest.approx(PRICES[f"ec2.{first}"].usd * cost.SPOT_FRACTION)
    database = next(line for line in prod["lines"]
                    if line["resource"] == "database-postgres" and "Multi-AZ" in line["dimension"])
    klass = stack_settings("prod").database.instance_class
    assert database["monthly_usd"] == pytest.approx(PRICES[f"rds.{klass}.multi"].usd * 730)


def test_plan_fails_when_the_estimate_exceeds_the_budget(tmp_path):
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("monthlyBudgetUsd: 350", "monthlyBudgetUsd: 100")
    (tmp_path / "stack.yaml").write_text(text)
    result = subprocess.run([sys.executable, "-m", "offline.plan", "--stack", "dev", "--config-file",
                             str(tmp_path / "stack.yaml"), "--out", str(tmp_path / "out")],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert result.returncode == 3 and "exceeds monthlyBudgetUsd (100)" in result.stderr


def test_critical_path_is_the_longest_chain_of_dependencies():
    def r(name, typ, deps=()):
        return PlannedResource(f"urn:{name}", typ, name, True, None, [f"urn:{d}" for d in deps], False, {})
    plan = Plan("p", "s", [r("key", "aws:kms/key:Key"), r("rds", "aws:rds/instance:Instance", ["key"]),
                           r("msk", "aws:msk/cluster:Cluster", ["key"]),
                           r("app", "kubernetes:helm.sh/v3:Release", ["rds", "msk"])], {})
    path = schedule.critical_path(plan)
    assert [step["resource"] for step in path["path"]] == ["key", "msk", "app"]
    assert path["seconds"] == 10 + 1800 + 180


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_schedule_of_the_real_plans(stack):
    timing = schedule.schedule(planned(stack))
    steps = timing["from_scratch"]["path"]
    assert timing["from_scratch"]["seconds"] == sum(step["seconds"] for step in steps)
    assert steps[-1]["resource"] == "ecomind-release"
    assert all(step["source"] for step in steps)
    assert timing["application_change"]["minutes"] < 5  # the team's Helm target


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_report_agrees_with_the_json(tmp_path, stack):
    result = subprocess.run([sys.executable, "-m", "offline.plan", "--stack", stack, "--out", str(tmp_path)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / f"{stack}.json").read_text())
    markdown = (tmp_path / f"{stack}.md").read_text()
    assert render(document) == markdown
    assert f"${document['cost']['total_monthly_usd']:,.2f} a month" in markdown
    for name, usd in document["cost"]["components"].items():
        assert f"| {name} | {usd:,.2f} |" in markdown
    assert f"**{document['schedule']['from_scratch']['minutes']}**" in markdown
    # A reviewer sees each tier's headroom and, in prod, what losing the region costs.
    assert all(f"| {row['tier']} |" in markdown for row in document["capacity"]["rows"])
    assert all(f"| {store['store']} |" in markdown for store in document["region_loss"]["stores"])
    if stack == "prod":
        assert f"RTO {document['region_loss']['rto_minutes']} min against 240" in markdown
    assert "```mermaid" in markdown and "flowchart LR" in markdown
    assert "| database |" in markdown  # the AZ-loss table
    assert set(document) >= {"cost", "schedule", "policy", "az_loss"}


def test_budget_notifies_at_the_configured_thresholds(dev_plan, prod_plan):
    budget = dev_plan.one("aws:budgets/budget:Budget").inputs
    actual = [n["threshold"] for n in budget["notifications"] if n["notificationType"] == "ACTUAL"]
    assert actual == [500, 1000] and budget["timeUnit"] == "MONTHLY" and budget["limitUnit"] == "USD"
    assert all(n["subscriberSnsTopicArns"] for n in budget["notifications"])
    prod_budget = prod_plan.one("aws:budgets/budget:Budget").inputs
    # prod's own: near its $1,200 goal (docs/adr/0017)
    assert [n["threshold"] for n in prod_budget["notifications"] if n["notificationType"] == "ACTUAL"] == [1000, 1200]
    subscription = prod_plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription["endpoint"] == "platform-oncall@example.com"
    assert not dev_plan.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_alarms_cover_database_kafka_cache_and_nat(prod_plan):
    alarms = {a.inputs["name"]: a.inputs for a in prod_plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.name.startswith("monitoring-")}  # the service levels' are tests/test_service_levels.py's
    metrics = sorted(a["metricName"] for a in alarms.values())
    assert metrics.count("KafkaDataLogsDiskUsed") == 3 and metrics.count("DatabaseMemoryUsagePercentage") == 3
    assert metrics.count("BytesOutToDestination") == 3
    assert {"CPUUtilization", "FreeStorageSpace"} <= set(metrics)
    topic = prod_plan.outputs["alertTopicArn"]
    assert topic and all(a["alarmActions"] == [topic] for a in alarms.values())


def test_alert_topic_is_encrypted_and_only_aws_budgets_and_cloudwatch_publish(stack_plan):
    topic = stack_plan.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    [statement] = statements(policy(stack_plan.one("aws:sns/topicPolicy:TopicPolicy"), "policy"))
    assert sorted(statement["Principal"]["Service"]) == ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == account(stack_plan.stack)


def test_readme_figures_are_the_plans_figures():
    readme = (PROJECT_DIR / "README.md").read_text()
    row = {stack: (estimate(stack)["total_monthly_usd"], schedule.schedule(planned(stack)))
           for stack in ("dev", "prod")}
    assert f"| monthly estimate | ${row['dev'][0]:,.2f} | ${row['prod'][0]:,.2f} |" in readme
    scratch = [row[s][1]["from_scratch"]["minutes"] for s in ("dev", "prod")]
    assert f"| from scratch | {scratch[0]} min | {scratch[1]} min |" in readme
    release = [row[s][1]["application_change"]["minutes"] for s in ("dev", "prod")]
    assert f"| application release | {release[0]} min | {release[1]} min |" in readme
    assert f"own\nline (${estimate('prod')['region_copies_monthly_usd']:,.2f};" in readme
    from analyses import region_loss
    recovery = region_loss.analyse(planned("prod-dr"))["rto_minutes"]
    assert f"RTO at {recovery} minutes against the 4-hour\ntarget (${estimate('prod-dr')['total_monthly_usd']:,.2f}" \
        in readme


def test_readme_gives_each_accounts_bootstrap_estimate():
    from offline.plan import plan_bootstrap

    readme = (PROJECT_DIR / "README.md").read_text()
    figures = [cost.analyse(plan_bootstrap(stack=s))["total_monthly_usd"] for s in ("dev", "prod")]
    assert f"| monthly estimate | ${figures[0]:,.2f} | ${figures[1]:,.2f} |" in readme
