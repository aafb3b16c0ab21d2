"""The fastapi-fargate guardrails: Pulumi policies for the deployment concepts of this project.

Importable without starting anything, so tests call each policy's ``validate`` directly; the
pack's ``__main__.py`` only hands ``POLICIES`` to ``PolicyPack``. One module per concern:
``edge`` (HTTPS and the load balancer), ``network`` (who reaches what), ``service`` (rollouts,
containers, memory, secrets), ``containers`` (read-only, unprivileged, no added capabilities),
``data`` (the database encrypted, private, backed up), ``platform`` (logs, images, IAM),
``production`` and ``operations`` (deployment alarms, healthy tasks in a rollout, ECS Exec); ``props`` reads
resources as the engine passes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_policy import Policy

PACK_NAME = "fastapi-fargate-guardrails"


def __getattr__(name: str) -> list[Policy]:
    # POLICIES is assembled on first use (PEP 562), so importing a pure-Python module of this
    # package (``iam_grants``, which the program's settings also use) needs no pulumi_policy.
    if name != "POLICIES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import containers, data, edge, network, operations, platform, production, service

    policies = [
        *edge.POLICIES,
        *network.POLICIES,
        *service.POLICIES,
        *containers.POLICIES,
        *data.POLICIES,
        *platform.POLICIES,
        *production.POLICIES,
        *operations.POLICIES,
    ]
    globals()["POLICIES"] = policies
    return policies
