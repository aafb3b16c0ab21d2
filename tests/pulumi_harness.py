"""The tests' name for the mock renderer, which lives in ``plan.render`` (the offline plan uses it too).

Every test of the infrastructure goes through ``render``: it runs the whole ``__main__.py`` (or
one function) under the SDK's mocks and returns every registered resource with its inputs,
parent, dependencies and options, plus the stack outputs. See ``plan.render`` for the details.
"""

from collections.abc import Mapping
from typing import Any

from components.settings import Settings, parse_settings
from plan.engine_config import BLINDING, Decrypter, load_project, program_config
from plan.render import (
    ACCOUNT,
    PROJECT,
    REGION,
    ROOT,
    ZONE_ID,
    AwsMocks,
    RecordingMonitor,
    Rendered,
    Resource,
    render,
    stack_config,
)


def handed_over(
    edits: Mapping[str, Any] | None = None,
    *,
    stack: Mapping[str, Any] | None = None,
    validate: bool = True,
    decrypter: Decrypter = BLINDING,
) -> tuple[dict[str, str], set[str]]:
    """The project's settings as the program gets them (keys without the namespace, ready for
    ``components.settings.parse_settings``) and which of them are secret: the stack file's
    ``config`` block ``stack`` (default: empty), changed by ``pulumi config set --path KEY
    VALUE`` for each of ``edits``, merged and checked by the CLI (``plan.engine_config``);
    ``validate=False`` is ``pulumi up --skip-config-validation``."""
    result = program_config(
        load_project(ROOT / "Pulumi.yaml"),
        "dev",
        stack or {},
        edits=edits,
        validate=validate,
        decrypter=decrypter,
    )
    prefix = f"{PROJECT}:"
    config = {k.removeprefix(prefix): v for k, v in result.config.items() if k.startswith(prefix)}
    return config, {k.removeprefix(prefix) for k in result.secret_keys if k.startswith(prefix)}


# An existing VPC as a stack names it; AwsMocks puts every looked-up subnet in this VPC.
EXISTING_VPC_SETTINGS = {
    "network.vpcId": "vpc-0123456789abcdef0",
    "network.publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    "network.privateSubnetIds": ["subnet-0ccccccccccccccc3", "subnet-0ddddddddddddddd4"],
    "network.nat": "single",
}


def existing_vpc_mocks() -> AwsMocks:
    """Mocks whose existing VPC has its two public subnets in two zones, as the load balancer
    needs."""
    mocks = AwsMocks()
    first, second = EXISTING_VPC_SETTINGS["network.publicSubnetIds"]
    mocks.subnet_azs = {first: f"{REGION}a", second: f"{REGION}b"}
    return mocks


def settings_of(edits: Mapping[str, Any] | None = None, **kwargs: Any) -> Settings:
    """The parsed settings of a stack set with ``pulumi config set --path`` for each of
    ``edits`` (see ``handed_over``); raises ``SettingsError`` like the program would."""
    return parse_settings(*handed_over(edits, **kwargs))


__all__ = [
    "ACCOUNT",
    "EXISTING_VPC_SETTINGS",
    "PROJECT",
    "REGION",
    "ROOT",
    "ZONE_ID",
    "AwsMocks",
    "RecordingMonitor",
    "Rendered",
    "Resource",
    "existing_vpc_mocks",
    "handed_over",
    "render",
    "settings_of",
    "stack_config",
]
