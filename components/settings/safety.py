"""What guards a stack: ``protection`` (what an update may replace) and ``alarms``
settings groups.

No resource is created here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from components.settings.base import _Group

PROTECTED_PARTS = ("database", "secrets", "loadBalancer", "certificate", "dns")


class ProtectionSettings(_Group):
    allow_replacing: list[Literal["database", "secrets", "loadBalancer", "certificate", "dns"]] = (
        Field(
            default_factory=list,
            description="Production only: what the next update may replace on purpose (Pulumi's "
            "protect is lifted for it). By default none: a change that would replace the "
            "database (a new, empty one), its secrets, the load balancer, the certificate or "
            "the DNS records is refused. Set, run `pulumi up`, then unset. A full teardown is "
            "`pulumi destroy --ignore-protect`.",
        )
    )


class AlarmsSettings(_Group):
    enabled: bool = Field(
        True,
        description="CloudWatch alarms, an SNS topic for them and the deployment alarms that "
        "roll a release back; required on production stacks. false keeps only the two "
        "deployment alarms, notifying nobody and unwatched by ECS.",
    )
    email: str | None = Field(
        None,
        description="Send alarm notifications to this address (it must confirm the "
        "subscription); unset: only the SNS topic, exported as alarm_topic_arn.",
    )
    error_rate: int = Field(
        5, ge=1, le=100,
        description="Percent of requests answered with a 5xx (by the app or the ALB) that "
        "raises the error alarm and rolls a release back; 5 ignores a stray error but catches "
        "a broken release within minutes.",
    )  # fmt: skip
    min_requests: int = Field(
        10, ge=0, le=100000,
        description="Requests per minute below which the error rate is not judged, so 1 failed "
        "request out of 2 does not roll a release back.",
    )  # fmt: skip
    latency_p99: int = Field(
        2000, ge=10, le=120000,
        description="Milliseconds of target p99 response time that raise the latency alarm "
        "(and roll a release back); 2 s is far above a healthy API's p99 and well below the "
        "ALB's 60 s idle timeout.",
    )  # fmt: skip
    evaluation_minutes: int = Field(
        3, ge=1, le=60,
        description="Consecutive minutes the error and latency alarms must breach: 3 reacts "
        "within a deployment's bake time without firing on one bad minute.",
    )  # fmt: skip
    unhealthy_minutes: int = Field(
        5, ge=1, le=60,
        description="Minutes a target may stay unhealthy, or tasks below the desired count, "
        "before an alarm; 5 lets a replaced task start and pass its health checks.",
    )  # fmt: skip
    high_utilization: int = Field(
        90, ge=50, le=100,
        description="CPU and memory percent that raise the danger alarms: above 90 % requests "
        "slow down and memory runs out (the top of the 50-90 % band).",
    )  # fmt: skip
    low_utilization: int = Field(
        50, ge=1, le=90,
        description="CPU and memory percent below which the advisory waste alarms fire: "
        "tasks that idle under 50 % are larger, or more, than needed (the bottom of the band).",
    )  # fmt: skip
    waste_hours: int = Field(
        24, ge=1, le=168,
        description="Hours utilization must stay low before the waste alarms fire: a whole "
        "day, so a quiet night alone never suggests shrinking.",
    )  # fmt: skip
    database_cpu: int = Field(
        80, ge=10, le=100,
        description="Managed database: CPU percent that raises an alarm; above 80 % queries "
        "queue and a burstable class spends its credits.",
    )  # fmt: skip
    database_free_storage: int = Field(
        2, ge=1, le=65536,
        description="Managed database: GiB of free storage below which an alarm fires; 2 GiB "
        "leaves time to act before PostgreSQL stops writing (storage autoscaling grows at 10 %).",
    )  # fmt: skip
    database_connections: int = Field(
        80, ge=10, le=100,
        description="Managed database: percent of the instance class's default max_connections "
        "(RDS: DBInstanceClassMemory / 9531392) that raises an alarm before connections are "
        "refused.",
    )  # fmt: skip

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("is not an e-mail address (like ops@example.com)")
        return value
