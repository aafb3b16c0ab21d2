"""Mock answers for a plan: AWS-shaped made-up values that the plan then shows as unknown.

The program parses some of what AWS returns (it picks the Secrets Manager ARNs out of the
container's secrets for the execution role's policy, it takes a zone's last letter for a
subnet's name), so the mocks must answer with values of the right shape. ``PlanMocks`` does
that, like the tests' ``AwsMocks``, and remembers every value it made up together with where
it came from; ``Placeholders.swap`` then replaces each of them, wherever it ended up (inside a
policy document, a container definition, a URL), with a label such as ``(known after apply:
edge-alb.dnsName)``. A plan must never pass a mock's value off as a real one.

Lookups the program makes before creating anything (the hosted zone, an existing VPC's
subnets, the region's zones) cannot be checked offline; they are answered permissively and
listed in ``notes``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks

from plan.render import AwsMocks
from plan.types import short_type

# Not a real account: AWS account ids never start with 000000. Only its position in ARNs
# matters, and every occurrence is swapped for a label.
PLAN_ACCOUNT = "000000000000"
# Shorter made-up strings are too likely to occur in real inputs by chance ("CNAME").
_MIN_COMPUTED_LENGTH = 10


def after_apply(label: str) -> str:
    return f"(known after apply: {label})"


def looked_up(label: str) -> str:
    return f"(looked up in AWS: {label})"


class PlanMocks(AwsMocks):
    """``AwsMocks`` that remember their made-up values, for a plan of this stack's region."""

    def __init__(
        self,
        region: str,
        hosted_zone: str | None = None,
        domain: str | None = None,
        vpc_id: str | None = None,
    ) -> None:
        super().__init__(account=PLAN_ACCOUNT, region=region)
        self.hosted_zone = hosted_zone
        self.domain = domain
        self.vpc_id = vpc_id
        self.labels: dict[str, str] = {PLAN_ACCOUNT: looked_up("account id")}
        # value -> (type, logical name, attribute path) of each value made up for a resource.
        self.computed: dict[str, tuple[str, str, str]] = {}
        self.notes: list[str] = []
        self._subnet_zones: dict[str, str] = {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rid, state = super().new_resource(args)
        inputs = dict(args.inputs)
        if "name" not in inputs:
            # Pulumi auto-names such resources with a random suffix; a suffix also makes the
            # value distinctive enough to be found again wherever the program used it.
            digest = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()
            state["name"] = f"{args.name}-{digest[:7]}"
        if not args.custom:
            # A component: nothing reads its made-up id, and its name is often its child's.
            return rid, state
        self.computed.setdefault(rid, (args.typ, args.name, "id"))
        given = set(_strings(inputs))
        for path, value in _leaves(state):
            if isinstance(value, str) and len(value) >= _MIN_COMPUTED_LENGTH and value not in given:
                self.computed.setdefault(value, (args.typ, args.name, path))
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> Any:
        token, a = args.token, args.args
        if token == "aws:route53/getZone:getZone":
            return self._zone(a)
        if token == "aws:ec2/getSubnet:getSubnet":
            return self._subnet(str(a.get("id")))
        result = super().call(args)
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            self._note(
                f"Availability zones not pinned by network.zoneNames are assumed to be the "
                f"region's first ones ({self.region}a, {self.region}b, ...); AWS answers with "
                f"the regional zones of the account."
            )
        elif token == "aws:elb/getServiceAccount:getServiceAccount":
            self._learn(result["arn"], looked_up(f"ELB log delivery account of {self.region}"))
        return result

    def _zone(self, a: Mapping[str, Any]) -> Any:
        self.invokes.append(("aws:route53/getZone:getZone", dict(a)))
        zone_id = a.get("zoneId")
        if zone_id:
            # Offline, the zone's name can only be what the settings say it is.
            name = self.hosted_zone or (self.domain or "example.com").split(".", 1)[-1]
        else:
            name = str(a.get("name", "")).rstrip(".")
            zone_id = "Z" + hashlib.sha256(name.encode()).hexdigest()[:20].upper()
            self._learn(zone_id, looked_up(f"hosted zone id of {name}"))
        self._note(
            f"The hosted zone {name} is assumed to exist, be public and hold the domain; "
            "`pulumi preview` checks that in AWS."
        )
        return {"zoneId": zone_id, "name": name, "id": zone_id, "privateZone": False}

    def _subnet(self, subnet_id: str) -> Any:
        self.invokes.append(("aws:ec2/getSubnet:getSubnet", {"id": subnet_id}))
        # Distinct zones, so the existing network passes the program's checks; only AWS knows.
        zone = self._subnet_zones.setdefault(
            subnet_id, f"{self.region}{'abcdefghij'[len(self._subnet_zones) % 10]}"
        )
        self._note(
            "The subnets of network.vpcId are assumed to belong to it and to lie in distinct "
            "zones; `pulumi preview` checks that in AWS."
        )
        return {
            "id": subnet_id,
            "availabilityZone": zone,
            "vpcId": self.vpc_id or "vpc-unknown",
            "cidrBlock": "10.0.0.0/24",
        }

    def _learn(self, value: str, label: str) -> None:
        self.labels.setdefault(value, label)

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def placeholders(self) -> Placeholders:
        """The labels of every value made up so far, to swap in after the rendering."""
        types_by_name: dict[str, set[str]] = {}
        for typ, name, _ in self.computed.values():
            types_by_name.setdefault(name, set()).add(typ)
        labels = dict(self.labels)
        for value, (typ, name, path) in self.computed.items():
            # A subnet and a route table may share a logical name; then the label says which.
            label = f"{name}.{path}"
            if len(types_by_name[name]) > 1:
                label += f" [{short_type(typ)}]"
            labels.setdefault(value, after_apply(label))
        return Placeholders(labels)


class Placeholders:
    """Swaps every made-up value inside a string for its label."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)
        # Longest first: an endpoint "host:5432" is one value, not a host and a suffix.
        ordered = sorted(self._labels, key=lambda v: (-len(v), v))
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def swap(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._labels[m.group(0)], text)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _strings(value: Any) -> Iterator[str]:
    for _, leaf in _leaves(value):
        if isinstance(leaf, str):
            yield leaf
