"""A stack that need not run at night (dev): EventBridge Scheduler stops its nodes, database and
canary outside office hours (setting officeHours) and starts them again, so that they are billed
for the hours they serve. The EKS control plane, MSK, NAT and the ALB cannot stop; they run on.

Each schedule calls one AWS API through Scheduler's universal target
(`arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`, EventBridge Scheduler user guide, "Using
universal targets") with the execution role below. A payload is the API's request in the casing
the AWS SDKs' request objects give it, PascalCase with acronyms as words (`ClusterName`,
`ScalingConfig.MinSize`, `DbInstanceIdentifier`), as Step Functions' AWS SDK integrations take
it ("Parameters ... are expressed in PascalCase, even if the native service API is in
camelCase", Step Functions developer guide, "AWS SDK service integrations"). The Scheduler page
does not spell the casing out; real runs do: CreateSchedule answers "Request payload is missing
the following field(s): ClusterName, NodegroupName" to botocore's camelCase members, and public
configurations record `DbInstanceIdentifier` working where RDS's own `DBInstanceIdentifier` does
not. botocore's model says which members exist; its member names are not this contract
(analyses/aws_semantics.py, rule request-shapes, checks every payload):
- eks UpdateNodegroupConfig: every node group to 0 nodes, then back to its sizes. The groups'
  scaling is the autoscaler's, not Pulumi's (components/cluster.py ignore_scaling_changes), so an
  `up` in between changes nothing. The autoscaler runs on the system nodes, which stop too, so it
  cannot scale a group back up at night;
- rds StopDBInstance / StartDBInstance (RDS restarts a stopped instance by itself after 7 days;
  the schedule restarts it every working morning);
- synthetics StopCanary / StartCanary, and cloudwatch DisableAlarmActions / EnableAlarmActions on
  the alarms that count silence as failure (a stopped canary, a worker with no nodes), so that a
  stopped stack pages nobody.
In the evening the quiet goes first (HH:00), then the stop (HH:05); in the morning the start
(HH:00), then the canary and alarms once pods had time to come up (HH:30).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_name, check_tags, is_list, refuse
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.naming import node_group_name, stack_role, stack_scoped
from settings import OfficeHours

QUIET_MINUTE = 0
STOP_MINUTE = 5
START_MINUTE = 0
WAKE_MINUTE = 30


@dataclasses.dataclass(frozen=True)
class ScheduledNodeGroup:
    group: str
    """The node group as settings name it (system, workload, ...); EKS knows it as
    components/naming.py node_group_name(group)."""
    min_size: int
    desired_size: int
    max_size: int


@dataclasses.dataclass(frozen=True)
class OfficeHoursArgs:
    hours: OfficeHours
    """Days, hours and time zone (settings officeHours, officeHoursTimezone)."""
    cluster_name: str
    """The EKS cluster whose node groups stop."""
    node_groups: Sequence[ScheduledNodeGroup]
    """Every node group of the cluster, with the sizes it starts again with."""
    region: str
    """Region of the stack: of the schedules and the ARNs the role names."""
    account_id: pulumi.Input[str]
    """The stack's account: the role's trust and grants are scoped to it."""
    tags: Mapping[str, str]
    """Stack tags, on the role and the schedule group."""
    database_identifier: str | None = None
    """The RDS instance to stop and start; None for the in-cluster engine (its nodes stop)."""
    canary_name: str | None = None
    """The canary to stop and start (`HealthCanary.canary_name`); None: none."""
    quiet_alarm_names: Sequence[str] = ()
    """Alarms that treat missing data as breaching: their actions are off while the stack is stopped."""

    def __post_init__(self) -> None:
        if not isinstance(self.hours, OfficeHours):
            refuse(self, "hours", "expected the stack's OfficeHours (settings officeHours)")
        check_name(self, "cluster_name", rule="expected the cluster's name")
        if not is_list(self.node_groups) or not self.node_groups or not all(
                isinstance(g, ScheduledNodeGroup) and g.max_size >= 1 for g in self.node_groups):
            refuse(self, "node_groups", "expected every node group as a ScheduledNodeGroup (max_size at least 1)")
        if not is_list(self.quiet_alarm_names) or not all(isinstance(n, str) and n for n in self.quiet_alarm_names):
            refuse(self, "quiet_alarm_names", "expected a list of alarm names")
        check_account_id(self)
        check_tags(self)


def cron(minute: int, hour: int, days: str) -> str:
    """An EventBridge Scheduler cron expression (minutes hours day-of-month month day-of-week year)."""
    return f"cron({minute} {hour} ? * {days} *)"


class OfficeHoursSchedule(pulumi.ComponentResource):
    """The schedules that stop a stack at the end of the day and start it in the morning."""

    group_name: str
    """The schedule group holding them."""

    def __init__(self, name: str, args: OfficeHoursArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:operations:OfficeHoursSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hours = args.hours
        self.group_name = stack_scoped("office-hours")
        # The schedules' payloads are names only, but the account's rule is a CMK on everything
        # that stores data (checkov CKV_AWS_297). Scheduler decrypts a payload with the execution
        # role (EventBridge Scheduler user guide, "Encryption at rest"; read in search results only).
        key = EncryptionKey(f"{name}-key", EncryptionKeyArgs(
            description="Encrypts the office-hours schedules' payloads", account_id=args.account_id, tags=args.tags),
            opts=child)
        group = aws.scheduler.ScheduleGroup(f"{name}-group", name=self.group_name,
                                            tags={**args.tags, "Name": self.group_name}, opts=child)
        role = aws.iam.Role(
            f"{name}-role", description="Stops and starts the stack outside office hours",
            **stack_role(args.account_id),
            # Scheduler presents its schedule GROUP as aws:SourceArn, never a schedule: "Do not scope
            # the aws:SourceArn statement to a specific schedule or a schedule name prefix"
            # (EventBridge Scheduler user guide, "Confused deputy prevention", since 2023-09-07).
            assume_role_policy=pulumi.Output.json_dumps(docs.service_trust_policy(
                "scheduler.amazonaws.com", args.account_id,
                f"arn:aws:scheduler:{args.region}:{{account}}:schedule-group/{self.group_name}")),
            tags={**args.tags, "Name": f"{name}-role"}, opts=child)
        policy = aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=pulumi.Output.json_dumps(
            docs.office_hours_policy(args.account_id, args.region, key.key_arn, args.cluster_name,
                                     [node_group_name(g.group) for g in args.node_groups], args.database_identifier,
                                     args.canary_name,
                                     args.quiet_alarm_names)), opts=child)

        def schedule(action: str, api: str, payload: Mapping, minute: int, hour: int) -> None:
            aws.scheduler.Schedule(
                f"{name}-{action}", name=stack_scoped(action), group_name=group.name,
                description=f"{api} at {hour:02d}:{minute:02d} {hours.timezone}, {hours.days}",
                schedule_expression=cron(minute, hour, hours.days), schedule_expression_timezone=hours.timezone,
                kms_key_arn=key.key_arn,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=f"arn:aws:scheduler:::aws-sdk:{api}", role_arn=role.arn, input=json.dumps(payload),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=3)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))

        evening, morning = hours.end_hour, hours.start_hour
        for g in args.node_groups:
            for action, sizes, hour, minute in (("stop", (0, 0), evening, STOP_MINUTE),
                                                ("start", (g.min_size, g.desired_size), morning, START_MINUTE)):
                schedule(f"{g.group}-{action}", "eks:updateNodegroupConfig", {
                    "ClusterName": args.cluster_name, "NodegroupName": node_group_name(g.group),
                    "ScalingConfig": {"MinSize": sizes[0], "DesiredSize": sizes[1], "MaxSize": g.max_size}},
                    minute, hour)
        if args.database_identifier:
            database = {"DbInstanceIdentifier": args.database_identifier}
            schedule("database-stop", "rds:stopDBInstance", database, STOP_MINUTE, evening)
            schedule("database-start", "rds:startDBInstance", database, START_MINUTE, morning)
        if args.canary_name:
            canary = {"Name": args.canary_name}
            schedule("canary-stop", "synthetics:stopCanary", canary, QUIET_MINUTE, evening)
            schedule("canary-start", "synthetics:startCanary", canary, WAKE_MINUTE, morning)
        if args.quiet_alarm_names:
            names = {"AlarmNames": list(args.quiet_alarm_names)}
            schedule("alarms-quiet", "cloudwatch:disableAlarmActions", names, QUIET_MINUTE, evening)
            schedule("alarms-wake", "cloudwatch:enableAlarmActions", names, WAKE_MINUTE, morning)
        self.register_outputs({"group_name": self.group_name})
