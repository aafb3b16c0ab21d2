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

from pulumi_policy import Policy

from . import containers, data, edge, network, operations, platform, production, service

PACK_NAME = "fastapi-fargate-guardrails"

POLICIES: list[Policy] = [
    *edge.POLICIES,
    *network.POLICIES,
    *service.POLICIES,
    *containers.POLICIES,
    *data.POLICIES,
    *platform.POLICIES,
    *production.POLICIES,
    *operations.POLICIES,
]
