"""A deployed stack's outputs: what ``ops`` needs to find its service, logs and alarms."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class OpsError(Exception):
    """A problem the user can fix; the message says how. Printed without a traceback."""


@dataclass(frozen=True)
class StackOutputs:
    stack: str
    values: Mapping[str, Any]

    def require(self, key: str) -> Any:
        value = self.values.get(key)
        if value in (None, "", "[secret]"):
            raise OpsError(
                f"stack {self.stack} has no output {key!r}: it was deployed by an older version "
                f"of this program. Run `pulumi up --stack {self.stack}` to export it."
            )
        return value

    @property
    def region(self) -> str:
        return str(self.require("region"))

    @property
    def cluster(self) -> str:
        return str(self.require("cluster_name"))

    @property
    def service(self) -> str:
        return str(self.require("service_name"))


def load_outputs(
    stack: str,
    outputs_file: Path | None = None,
    *,
    which: Callable[[str], str | None],
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> StackOutputs:
    """The stack's outputs from ``outputs_file``, else from the Pulumi CLI."""
    if outputs_file is not None:
        try:
            values = json.loads(outputs_file.read_text())
        except FileNotFoundError:
            raise OpsError(f"--outputs {outputs_file}: no such file.") from None
        except json.JSONDecodeError as exc:
            raise OpsError(
                f"--outputs {outputs_file} is not JSON ({exc.msg}); write it with "
                f"`pulumi stack output --json --stack {stack} > {outputs_file.name}`."
            ) from None
    else:
        pulumi = which("pulumi")
        if pulumi is None:
            raise OpsError(
                "the Pulumi CLI is not on PATH, so the stack's outputs cannot be read. Install "
                "it (https://www.pulumi.com/docs/iac/download-install/), or pass --outputs FILE "
                f"with the JSON of `pulumi stack output --json --stack {stack}`."
            )
        # Secrets stay hidden: ops needs names and ARNs only.
        answer = run(
            [pulumi, "stack", "output", "--json", "--show-secrets=false", "--stack", stack],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if answer.returncode != 0:
            detail = (answer.stderr or answer.stdout).strip().splitlines()
            raise OpsError(
                f"`pulumi stack output --stack {stack}` failed: "
                f"{detail[-1] if detail else 'no message'}. Check the stack's name "
                f"(`pulumi stack ls`) and that you are logged in to its backend."
            )
        try:
            values = json.loads(answer.stdout or "{}")
        except json.JSONDecodeError:
            raise OpsError(
                "`pulumi stack output --json` printed something that is not JSON."
            ) from None
    if not isinstance(values, dict) or "service_name" not in values:
        raise OpsError(
            f"stack {stack} has no outputs: it has not been deployed yet (or was destroyed). "
            f"Deploy it with `pulumi up --stack {stack}`."
        )
    return StackOutputs(stack, values)


def stack_region(
    stack: str,
    *,
    which: Callable[[str], str | None],
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> str:
    """The stack's ``aws:region`` from its config, for a stack without outputs yet."""
    pulumi = which("pulumi")
    answer = (
        run(
            [pulumi, "config", "get", "aws:region", "--stack", stack],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if pulumi is not None
        else None
    )
    if answer is None or answer.returncode != 0 or not answer.stdout.strip():
        raise OpsError(
            f"the region of stack {stack} is unknown: it has no outputs yet and `pulumi config "
            f"get aws:region --stack {stack}` gave none. Pass it: `--region us-east-1` after "
            f"`secrets`."
        )
    return answer.stdout.strip()
