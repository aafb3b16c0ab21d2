"""Builds the HTTPS edge in order: network, certificate, load balancer.

``build_edge`` creates no resource of its own. It first asks AWS what only AWS knows and the
settings depend on (the hosted zone, the availability zones, an existing VPC's subnets), so a
bad setting stops the program with a ``SettingsError`` before the first resource is
registered; then it builds :class:`~components.network.Network`,
:class:`~components.certificate.Certificate` (with a domain) and
:class:`~components.load_balancer.LoadBalancer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.certificate import Certificate, CertificateArgs, HostedZone, resolve_hosted_zone
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import (
    Network,
    NetworkArgs,
    availability_zones,
    check_existing_network,
)
from components.settings import Settings


@dataclass(frozen=True)
class Edge:
    """The edge's components; the ECS service takes its subnets and groups from them."""

    network: Network
    certificate: Certificate | None
    load_balancer: LoadBalancer
    zone: HostedZone | None


def build_edge(settings: Settings, name: str = "edge") -> Edge:
    """Check the settings against AWS, then create the network, certificate and load balancer."""
    zone = resolve_hosted_zone(settings.https) if settings.https.enabled else None
    check_existing_network(settings.network)
    zones = availability_zones(settings.network)

    network = Network(name, NetworkArgs(settings.network, zones=tuple(zones)))
    certificate = (
        Certificate(
            name,
            CertificateArgs(settings.https, zone, protect=settings.protects("certificate")),
        )
        if zone is not None
        else None
    )
    load_balancer = LoadBalancer(
        name,
        LoadBalancerArgs(
            settings=settings,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            certificate_arn=certificate.certificate_arn if certificate else None,
            zone=zone,
        ),
    )
    return Edge(network, certificate, load_balancer, zone)
