"""What every component's args object checks about itself, before the component registers anything.

Each `*Args` dataclass refuses, in `__post_init__`, a value its component cannot build, with one
line naming the class, the field, the value and what is allowed (the settings registry's habit for
stack settings). Values that may be unresolved Outputs are only checked when they are plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import pulumi

from settings import CLOUDWATCH_RETENTION_DAYS

# A value longer than this is cut in the message, which stays one readable line.
MAX_SHOWN_CHARS = 240

# 12 digits (AWS Account Management reference, "View AWS account identifiers"); a malformed one in
# a policy ARN makes IAM and KMS reject the document.
ACCOUNT_ID = re.compile(r"\d{12}")
# us-east-1, ap-southeast-2, us-gov-west-1: what ARNs and com.amazonaws.<region>.<service> names take.
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# RFC 1123 label: Kubernetes namespace and object names ("Object Names and IDs").
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# RFC 1123 subdomain: Kubernetes service account names.
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
# Secret names are <prefix><purpose>, so the prefix is a path ending in "/", in the characters
# Secrets Manager allows in a name (CreateSecret, Name).
SECRET_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]*/")
SECRET_PREFIX_RULE = "expected a Secrets Manager path ending in '/', such as ecomind/prod/"


class ArgsError(pulumi.RunError):
    """A component was given arguments it cannot build. The message is one line: class, field,
    value, what is allowed. A `RunError` so that a real `pulumi up` prints it without a traceback."""


class StepError(pulumi.RunError):
    """A component built in two steps was used before (or after) its second step; one line."""


_FIELD = object()


def _shown(value: Any) -> str:
    if isinstance(value, pulumi.Output):
        return "<Output>"
    if isinstance(value, pulumi.Resource):
        return f"<{type(value).__name__}>"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_shown(k)}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return " ".join(repr(value).split())


def _field_value(args: object, field: str) -> Any:
    value = args
    for part in field.split("."):
        value = getattr(value, part)
    return value


def refuse(args: object, field: str, allowed: str, *, value: Any = _FIELD) -> NoReturn:
    """Raise the one-line error for `args.field` (a dotted path reaches into settings objects)."""
    shown = _shown(_field_value(args, field) if value is _FIELD else value)
    if len(shown) > MAX_SHOWN_CHARS:
        shown = shown[:MAX_SHOWN_CHARS] + "..."
    raise ArgsError(f"invalid {type(args).__name__}.{field} = {shown}: {allowed}")


def is_plain(value: Any) -> bool:
    """A literal string, which can be checked now (an Output resolves only once its resource exists)."""
    return isinstance(value, str)


def is_list(value: Any) -> bool:
    """A list or tuple of items; a plain string is refused where a list is expected, because
    `list("subnet-1")` would silently become its characters."""
    return isinstance(value, Sequence) and not isinstance(value, str)


def check_tags(args: object, field: str = "tags") -> None:
    tags = _field_value(args, field)
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and k and isinstance(v, str)
                                                for k, v in tags.items()):
        refuse(args, field, "expected a mapping of non-empty string keys to string values (AWS tags)")


def check_region(args: object, field: str = "region") -> None:
    region = _field_value(args, field)
    if not isinstance(region, str) or not REGION.fullmatch(region):
        refuse(args, field, "expected an AWS region such as us-east-1")


def check_account_id(args: object, field: str = "account_id") -> None:
    account = _field_value(args, field)
    if is_plain(account) and not ACCOUNT_ID.fullmatch(account):
        refuse(args, field, "expected a 12-digit AWS account ID (or an Output resolving to one)")


def check_name(args: object, field: str, pattern: re.Pattern[str] | None = None,
               rule: str = "expected a non-empty string") -> None:
    """A plain string that names something: non-empty, and matching `pattern` when one is given."""
    name = _field_value(args, field)
    if not isinstance(name, str) or not name or (pattern is not None and not pattern.fullmatch(name)):
        refuse(args, field, rule)


def check_ids(args: object, field: str, *, minimum: int = 1, what: str = "at least 1") -> None:
    """A list of resource IDs (or Outputs) with at least `minimum` entries, none a blank string."""
    ids = _field_value(args, field)
    if not is_list(ids) or len(ids) < minimum or any(is_plain(i) and not i for i in ids):
        refuse(args, field, f"expected a list of IDs, {what}")


def check_arns(args: object, field: str, pattern: re.Pattern[str], kind: str, what: str) -> None:
    """A list of ARNs (or Outputs) with at least one entry, each plain one matching `pattern`:
    IAM refuses a statement whose Resource list is empty."""
    check_ids(args, field, what=what)
    if any(is_plain(arn) and not pattern.fullmatch(arn) for arn in _field_value(args, field)):
        refuse(args, field, f"expected {kind} ARNs (or Outputs resolving to them)")


def check_arn(args: object, field: str, service: str, example: str, resource: str = r"\S+") -> None:
    """A plain string must be an ARN of `service` whose rest matches `resource` (region, account
    and resource part); an Output is taken as it resolves."""
    arn = _field_value(args, field)
    if is_plain(arn) and not re.fullmatch(rf"arn:aws[a-z-]*:{service}:{resource}", arn):
        refuse(args, field, f"expected a {service} ARN such as {example} (or an Output resolving to one)")


def check_log_retention(args: object, field: str) -> None:
    days = _field_value(args, field)
    if days not in CLOUDWATCH_RETENTION_DAYS or isinstance(days, bool):
        refuse(args, field, "expected a CloudWatch Logs retention in days: "
               + ", ".join(map(str, CLOUDWATCH_RETENTION_DAYS)))


def check_count(args: object, field: str, minimum: int = 1, unit: str = "") -> None:
    """A whole number of at least `minimum` (days, GiB, brokers...)."""
    count = _field_value(args, field)
    if not isinstance(count, int) or isinstance(count, bool) or count < minimum:
        refuse(args, field, f"expected a whole number of at least {minimum}{f' {unit}' if unit else ''}")
