"""`make rotate-secret STACK=prod SECRET=jwt|gateway-hmac|cache [FINISH=1]`: start (or finish) a
rotation of a generated secret by editing the stack file; the change ships like any other, by
pull request and the deploy workflow.

- jwt, gateway-hmac: raise the key's generation. The secret then holds the new key as `current`
  and the one before as `previous`; the services sign with current and accept both, so nothing
  signed before the rotation is rejected.
- cache: two deploys. The first raises cacheAuthTokenGeneration and sets cacheAuthTokenStrategy
  to ROTATE: ElastiCache accepts the old and the new AUTH token. Once every pod runs with the new
  one (Reloader restarts them when External Secrets has synced), FINISH=1 sets SET again, and
  the second deploy makes the new token the only one.

Comments and order in the stack file are kept: only the lines of the changed settings change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "ecomind-infra"
GENERATION_KEYS = {"jwt": "jwtKeyGeneration", "gateway-hmac": "gatewayHmacKeyGeneration",
                   "cache": "cacheAuthTokenGeneration"}
STRATEGY_KEY = "cacheAuthTokenStrategy"


class RotationError(Exception):
    """The stack file is not in a state this step can start from."""


def _line(key: str) -> re.Pattern[str]:
    return re.compile(rf"^(  {re.escape(PROJECT)}:{re.escape(key)}:)[ \t]*(.*?)[ \t]*$", re.M)


def read(text: str, key: str, default: str) -> str:
    match = _line(key).search(text)
    return match.group(2).strip("\"'") if match else default


def write(text: str, key: str, value: str | None) -> str:
    """`text` with the setting `key` set to `value` (None: removed, so the default applies)."""
    if value is None:
        return re.sub(rf"^  {re.escape(PROJECT)}:{re.escape(key)}:.*\n", "", text, flags=re.M)
    pattern = _line(key)
    if pattern.search(text):
        return pattern.sub(lambda match: f"{match.group(1)} {value}", text)
    if not re.search(r"^config:[ \t]*$", text, re.M):
        raise RotationError("the stack file has no top-level `config:` section")
    return re.sub(r"^(config:[ \t]*\n)", lambda match: f"{match.group(1)}  {PROJECT}:{key}: {value}\n", text,
                  count=1, flags=re.M)


def rotate(text: str, secret: str, finish: bool = False) -> tuple[str, str]:
    """(new stack file text, what to do next)."""
    generation_key = GENERATION_KEYS[secret]
    raw = read(text, generation_key, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise RotationError(f"{generation_key} is {raw!r}, not a whole number from 1")
    generation = int(raw)
    strategy = read(text, STRATEGY_KEY, "SET")
    if secret != "cache":
        if finish:
            raise RotationError(f"{secret} rotates in one deploy; FINISH applies to SECRET=cache only")
        return (write(text, generation_key, str(generation + 1)),
                f"{generation_key}: {generation} -> {generation + 1}. Deploy it; what generation {generation} "
                "signed keeps verifying with the previous key until the next rotation.")
    if finish:
        if strategy != "ROTATE":
            raise RotationError(f"no cache token rotation is in progress ({STRATEGY_KEY} is {strategy})")
        return (write(text, STRATEGY_KEY, None),
                f"{STRATEGY_KEY}: ROTATE -> SET (the default). Deploy it: only AUTH token generation "
                f"{generation} stays valid.")
    if strategy == "ROTATE":
        raise RotationError(f"a cache token rotation is in progress ({STRATEGY_KEY} is ROTATE): deploy it, then "
                            "finish it with FINISH=1 before starting another")
    text = write(text, generation_key, str(generation + 1))
    return (write(text, STRATEGY_KEY, "ROTATE"),
            f"{generation_key}: {generation} -> {generation + 1}, {STRATEGY_KEY}: ROTATE. Deploy it; both tokens "
            "are valid. When `kubectl -n ecomind rollout status deploy/ecomind-gateway` and the same for "
            "deploy/ecomind-api show the restarted pods, run this again with FINISH=1 and deploy that.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--secret", required=True, choices=sorted(GENERATION_KEYS))
    parser.add_argument("--finish", action="store_true", help="cache only: the second step, ROTATE -> SET")
    parser.add_argument("--stack-file", type=Path, help="default Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    path = args.stack_file or PROJECT_DIR / f"Pulumi.{args.stack}.yaml"
    if not path.exists():
        print(f"error: {path} does not exist (STACK names a Pulumi.<stack>.yaml)", file=sys.stderr)
        return 2
    try:
        text, next_step = rotate(path.read_text(), args.secret, args.finish)
    except RotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path.write_text(text)
    print(f"{path.name}: {next_step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
