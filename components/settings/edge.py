"""The way in: ``https`` (domain, certificate, DNS), ``network`` (a new VPC or an existing
one) and ``loadBalancer`` settings groups.

No resource is created here.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from components.settings.base import _dns_name, _Group
from components.settings.facts import (
    _SUBNET_ID,
    _VPC_ID,
    _ZONE_ID,
    _ZONE_NAME,
    LOG_RETENTION_DAYS,
    TLS12_PLUS_POLICIES,
    WAF_RATE_LIMIT_MAX,
    WAF_RATE_LIMIT_MIN,
)


class HttpsSettings(_Group):
    domain: str | None = Field(
        None,
        description="Public name of the API, like api.example.com. Unset: HTTP only on the "
        "load balancer's own DNS name, for a first try (refused for production).",
    )
    hosted_zone: str | None = Field(
        None,
        description="Name of the Route 53 hosted zone that holds the domain, like example.com.",
    )
    hosted_zone_id: str | None = Field(
        None,
        description="Id of that hosted zone, instead of its name (for private/duplicate names).",
    )
    extra_names: list[str] = Field(
        default_factory=list,
        description="More names for the certificate and alias records, each inside the zone.",
    )
    certificate_arn: str | None = Field(
        None, description="An existing ACM certificate to use instead of creating one."
    )
    ssl_policy: str = Field(
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="ALB TLS policy; only policies without TLS 1.0/1.1 are accepted.",
    )
    hsts_max_age: int = Field(
        31536000, ge=0, le=63072000,
        description="Strict-Transport-Security max-age in seconds sent by the HTTPS listener; 0 turns HSTS off.",
    )  # fmt: skip

    _domain = field_validator("domain", "hosted_zone")(_dns_name)

    @field_validator("extra_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return [_dns_name(n) for n in names]  # type: ignore[misc]

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID.match(value):
            raise ValueError("is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ)")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _cert(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/\S+$", value
        ):
            raise ValueError(
                "is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            )
        return value

    @field_validator("ssl_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in TLS12_PLUS_POLICIES:
            raise ValueError(
                "is not an ALB security policy that allows only TLS 1.2 and newer; use "
                "ELBSecurityPolicy-TLS13-1-2-2021-06 (TLS 1.2+1.3) or "
                "ELBSecurityPolicy-TLS13-1-3-2021-06 (TLS 1.3 only)"
            )
        return value

    @property
    def enabled(self) -> bool:
        return self.domain is not None

    @property
    def names(self) -> list[str]:
        """Every name the certificate covers and the alias records publish, domain first."""
        return [self.domain, *self.extra_names] if self.domain else []


class NetworkSettings(_Group):
    availability_zones: int = Field(
        2, ge=2, le=3, description="How many availability zones the new VPC spans (2 or 3)."
    )
    nat: Literal["none", "single", "per-az"] = Field(
        "single",
        description="Egress for tasks: none (tasks in public subnets with a public IP, cheapest), "
        "single NAT gateway, or per-az (one per zone, for production).",
    )
    cidr: str = Field("10.0.0.0/16", description="IPv4 range of the new VPC (/16 to /24).")
    vpc_id: str | None = Field(None, description="Use this existing VPC instead of creating one.")
    public_subnet_ids: list[str] = Field(
        default_factory=list,
        description="With vpcId: public subnets for the load balancer, in 2+ distinct zones.",
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list,
        description="With vpcId: private subnets (with egress) for the tasks; not used with nat none.",
    )
    zone_names: list[str] = Field(
        default_factory=list,
        description="Pin the new VPC's zones by name (like us-east-1a), as many as "
        "availabilityZones. Unset: the region's first zones by name (regional ones only, whatever "
        "their state), so a zone's outage never moves an existing stack's subnets.",
    )

    flow_logs: bool = Field(
        False,
        description="VPC flow logs (every accepted and rejected connection of the VPC) to "
        "CloudWatch Logs, for investigating an incident; always on for production stacks. "
        "About 0.50 USD per GB of records.",
    )
    flow_log_retention_days: int = Field(
        90,
        description="Days CloudWatch keeps the flow logs: 90 covers an incident noticed weeks "
        "later, while storage stays a few cents a month.",
    )

    @field_validator("flow_log_retention_days")
    @classmethod
    def _flow_log_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"is not a CloudWatch retention period; use one of {list(LOG_RETENTION_DAYS)}"
            )
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"is not an IPv4 network like 10.0.0.0/16 ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("must be a /16 to /24 network, so every zone gets two subnets")
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, value: str | None) -> str | None:
        if value is not None and not _VPC_ID.match(value):
            raise ValueError("is not a VPC id (like vpc-0123456789abcdef0)")
        return value

    @field_validator("public_subnet_ids", "private_subnet_ids")
    @classmethod
    def _subnets(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not _SUBNET_ID.match(i)]
        if bad:
            raise ValueError(f"{bad} are not subnet ids (like subnet-0123456789abcdef0)")
        if len(set(ids)) != len(ids):
            raise ValueError("names a subnet twice")
        return ids

    @field_validator("zone_names")
    @classmethod
    def _zone_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _ZONE_NAME.match(n)]
        if bad:
            raise ValueError(
                f"{bad} are not availability zone names of a region (like us-east-1a); Local "
                "Zones and Wavelength Zones (like us-east-1-bos-1a) offer no NAT gateway or "
                "load balancer"
            )
        if len(set(names)) != len(names):
            raise ValueError("names a zone twice")
        if len({n[:-1] for n in names}) > 1:
            raise ValueError("names zones of more than one region")
        # Name order, as the zones are chosen without this setting: pinning the zones a stack
        # already uses keeps each subnet's address block, so nothing is replaced.
        return sorted(names)

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class LoadBalancerSettings(_Group):
    idle_timeout: int = Field(
        60, ge=1, le=4000,
        description="Seconds the ALB keeps an idle connection; the app's keep-alive must be longer.",
    )  # fmt: skip
    deregistration_delay: int = Field(
        30, ge=0, le=3600,
        description="Seconds a stopping task keeps finishing requests; not shorter than the longest request.",
    )  # fmt: skip
    deletion_protection: bool = Field(
        False, description="Refuse to delete the ALB; always on for production stacks."
    )
    access_logs: bool = Field(
        False, description="Write ALB access logs to a new S3 bucket (costs storage)."
    )
    waf: Literal["auto", "on", "off"] = Field(
        "auto",
        description="An AWS WAF web ACL on the load balancer: AWS's managed common and "
        "known-bad-inputs rule groups and a per-address rate limit. auto: on for production "
        "stacks, off for development; on/off force it. About 8 USD a month plus 0.60 USD per "
        "million requests.",
    )
    rate_limit: int = Field(
        2000, ge=WAF_RATE_LIMIT_MIN, le=WAF_RATE_LIMIT_MAX,
        description="With the WAF: requests one client address may make in any 5 minutes before "
        "it is blocked for a while (about 7 a second, sustained); clients behind one NAT share "
        "an address.",
    )  # fmt: skip

    @field_validator("waf", mode="before")
    @classmethod
    def _waf(cls, value: Any) -> Any:
        # `waf: on` in a YAML 1.1 reader, or `pulumi config set --path loadBalancer.waf true`.
        if isinstance(value, bool | str):
            return {True: "on", False: "off", "true": "on", "false": "off"}.get(value, value)
        return value
