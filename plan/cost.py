"""An estimated monthly cost of a plan, from the dated price table ``plan/prices.json``.

What it counts, per resource (730 hours a month):

* Fargate: each ECS service's task size (cpu, memory of its task definition) x desiredCount,
  at x86 or ARM prices (``runtimePlatform``), split between FARGATE and FARGATE_SPOT as the
  service's capacity provider strategy places that many tasks (Spot at the table's assumed
  discount); the release-phase migration task runs minutes per deploy and is negligible;
* an Application Load Balancer's hours plus an assumed average of load balancer capacity units;
* NAT gateways' hours (not the data they process);
* public IPv4 addresses: one per subnet of an internet-facing load balancer, one per task that
  gets a public IP, one per Elastic IP;
* CloudWatch Logs ingestion at an assumed volume per task;
* each Route 53 hosted zone the stack writes records to (the user's own: may be paid already);
* RDS instances by class (Multi-AZ doubles instance and storage) and their gp3 storage;
* Secrets Manager secrets, the one RDS creates for its master password included;
* CloudWatch alarms per alarm metric (a metric-math alarm pays for each metric it reads),
  dashboards per month, and SNS topics (free; e-mails past the free 1,000 a month are not
  estimated). Prices of November 2026 (CloudWatch and SNS pricing pages, us-east-1), in
  ``plan/prices.json``.

An unknown instance class or storage type is listed as "not priced", never guessed. The
assumptions and what is not estimated at all are part of the estimate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plan.document import Plan, resources_by_key
from plan.types import reference

PRICES_PATH = Path(__file__).resolve().parent / "prices.json"
BASE_REGION = "us-east-1"
_ZONE_LABEL = re.compile(r"hosted zone id of (?P<zone>[^)\s]+)\)")

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class PriceTable:
    """The prices for one region, with where they come from."""

    region: str
    prices: Mapping[str, Any]
    as_of: str
    source: tuple[str, ...]
    hours_per_month: float
    assumptions: Mapping[str, float]
    notes: tuple[str, ...] = ()
    approximate: frozenset[str] = frozenset()
    basis: str = ""
    """Which prices the figures are, said first: whose list prices, and how exact."""

    def price(self, key: str) -> float:
        return float(self.prices[key])


def price_table(region: str, path: Path = PRICES_PATH) -> PriceTable:
    """The prices of ``region``: its own, derived by its multiplier, or us-east-1's with a note."""
    table = json.loads(path.read_text())
    regions = table["regions"]
    notes: list[str] = []
    entry = regions.get(region)
    basis = f"{region} list prices"
    if entry is None:
        # Said at the top, not among the assumptions: every figure below is another region's.
        basis = (
            f"{BASE_REGION} list prices, NOT {region}'s: plan/prices.json has no prices for "
            f"{region}, so regional price differences are not counted (prices there are usually "
            "the same or higher)"
        )
        entry = regions[BASE_REGION]
    if "like" in entry:
        base = regions[entry["like"]]
        factor = float(entry["multiplier"])
        notes.append(entry.get("note", f"{region}: {entry['like']} prices x {factor}."))
        if factor != 1.0:
            basis = f"approximate: {entry['like']} list prices x {factor:g}, not {region}'s own"
        prices = _scaled(base["prices"], factor, set(table.get("global", [])))
        approximate = set(base.get("approximate", [])) | ({"*"} if factor != 1.0 else set())
    else:
        prices = entry["prices"]
        approximate = set(entry.get("approximate", []))
    return PriceTable(
        region=region,
        prices=prices,
        as_of=table["as_of"],
        source=tuple(table["source"]),
        hours_per_month=float(table["hours_per_month"]),
        assumptions=table["assumptions"],
        notes=tuple(notes),
        approximate=frozenset(approximate),
        basis=basis,
    )


def _scaled(prices: Mapping[str, Any], factor: float, fixed: set[str]) -> dict[str, Any]:
    scaled: dict[str, Any] = {}
    for key, value in prices.items():
        if isinstance(value, Mapping):
            scaled[key] = {k: round(float(v) * factor, 6) for k, v in value.items()}
        else:
            scaled[key] = value if key in fixed else round(float(value) * factor, 6)
    return scaled


@dataclass(frozen=True)
class CostLine:
    """One priced item of one resource; ``monthly`` is None when it cannot be priced."""

    resource: str
    item: str
    quantity: str
    monthly: float | None
    note: str = ""


@dataclass(frozen=True)
class Estimate:
    region: str
    as_of: str
    source: tuple[str, ...]
    lines: list[CostLine]
    hours_per_month: float = 730
    assumptions: list[str] = field(default_factory=list)
    not_estimated: list[str] = field(default_factory=list)
    basis: str = ""

    @property
    def total(self) -> float:
        """The sum of the priced lines, each rounded to cents as shown."""
        return round(sum(line.monthly for line in self.lines if line.monthly is not None), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "basis": self.basis,
            "as_of": self.as_of,
            "source": list(self.source),
            "currency": "USD",
            "hours_per_month": self.hours_per_month,
            "total_monthly": self.total,
            "lines": [line.__dict__ for line in self.lines],
            "assumptions": self.assumptions,
            "not_estimated": self.not_estimated,
        }


def estimate(plan: Plan, table: PriceTable | None = None) -> Estimate:
    """The monthly cost of what the plan creates, line by line."""
    table = table or price_table(plan["region"])
    builder = _Builder(plan, table)
    for resource in plan["resources"]:
        builder.add(resource)
    return builder.result()


class _Builder:
    def __init__(self, plan: Plan, table: PriceTable) -> None:
        self.plan = plan
        self.table = table
        self.by_key = resources_by_key(plan)
        self.hours = table.hours_per_month
        self.lines: list[CostLine] = []
        self.assumptions: list[str] = list(table.notes)
        self.not_estimated: list[str] = [
            "Data transfer out to the internet and between zones.",
            "ECR image storage (about 0.10 USD per GB-month) and CloudWatch Logs storage.",
            "RDS backup storage beyond the free allowance (the size of the database).",
            "Secrets Manager API calls (0.05 USD per 10,000; ECS reads secrets at task start).",
        ]

    def add(self, r: Resource) -> None:
        handler = {
            "aws:ecs/service:Service": self._service,
            "pulumi-python:dynamic/migration:MigrationRun": self._migration,
            "aws:lb/loadBalancer:LoadBalancer": self._load_balancer,
            "aws:ec2/natGateway:NatGateway": self._nat,
            "aws:ec2/eip:Eip": self._eip,
            "aws:rds/instance:Instance": self._database,
            "aws:secretsmanager/secret:Secret": self._secret,
            "aws:ecs/cluster:Cluster": self._cluster,
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._alarm,
            "aws:cloudwatch/dashboard:Dashboard": self._dashboard,
            "aws:sns/topic:Topic": self._topic,
        }.get(r["type"])
        if handler is not None:
            handler(r)

    def result(self) -> Estimate:
        self._hosted_zones()
        if "*" in self.table.approximate:
            self.assumptions.append(
                f"Every regional price for {self.table.region} is approximate (not public IPv4, "
                "Route 53 zones or secrets: their prices are the same everywhere)."
            )
        return Estimate(
            region=self.table.region,
            basis=self.table.basis,
            as_of=self.table.as_of,
            source=self.table.source,
            lines=self.lines,
            hours_per_month=self.hours,
            assumptions=self.assumptions,
            not_estimated=self.not_estimated,
        )

    def _line(
        self, r: Resource, item: str, quantity: str, monthly: float | None, note: str = ""
    ) -> None:
        amount = None if monthly is None else round(monthly, 2)
        self.lines.append(CostLine(r["name"], item, quantity, amount, note))

    def _assume(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)

    def _uses(self, r: Resource, type_: str) -> Resource | None:
        return next((self.by_key[k] for k in r["uses"] if self.by_key[k]["type"] == type_), None)

    def _service(self, r: Resource) -> None:
        i = r["inputs"]
        task = self._uses(r, "aws:ecs/taskDefinition:TaskDefinition")
        if task is None:
            self._line(r, "Fargate tasks", "task definition not in the plan", None, "not priced")
            return
        t = task["inputs"]
        vcpu, memory_gb = int(t["cpu"]) / 1024, int(t["memory"]) / 1024
        arm = (t.get("runtimePlatform") or {}).get("cpuArchitecture") == "ARM64"
        arch = "arm" if arm else "x86"
        count = int(i.get("desiredCount") or 0)
        on_demand, spot = capacity_split(i.get("capacityProviderStrategies") or [], count)
        per_task_hour = vcpu * self.table.price(
            f"fargate_{arch}_vcpu_hour"
        ) + memory_gb * self.table.price(f"fargate_{arch}_gb_hour")
        size = f"{vcpu:g} vCPU + {memory_gb:g} GB ({'ARM' if arm else 'x86'})"
        discount = float(self.table.assumptions["fargate_spot_discount"])
        if on_demand:
            self._line(
                r,
                "Fargate on demand",
                f"{on_demand:g} x {size} x {self.hours:g} h",
                on_demand * per_task_hour * self.hours,
            )
        if spot:
            self._line(
                r,
                "Fargate Spot",
                f"{spot:g} x {size} x {self.hours:g} h, {discount:.0%} off",
                spot * per_task_hour * self.hours * (1 - discount),
            )
            self._assume(
                f"Fargate Spot costs {discount:.0%} less than on demand (AWS says up to 70%; "
                "the discount varies)."
            )
        if (i.get("networkConfiguration") or {}).get("assignPublicIp"):
            self._line(
                r,
                "Public IPv4 addresses of the tasks",
                f"{count} x {self.hours:g} h",
                count * self.hours * self.table.price("public_ipv4_hour"),
            )
        log_gb = float(self.table.assumptions["log_gb_per_task_month"])
        self._line(
            self._log_group(task) or r,
            "CloudWatch Logs ingestion",
            f"{count} {'task' if count == 1 else 'tasks'} x {log_gb:g} GB",
            count * log_gb * self.table.price("cloudwatch_logs_ingest_gb"),
        )
        self._assume(f"Each task writes {log_gb:g} GB of logs a month.")
        self._assume(
            f"Tasks: the service's desiredCount ({count} for {r['name']}), all month long."
        )
        maximum = self._max_tasks(r)
        if maximum is not None and maximum > count:
            # The extra tasks are placed by the same capacity provider strategy as the rest.
            most_on_demand, most_spot = capacity_split(
                i.get("capacityProviderStrategies") or [], maximum
            )
            ceiling = (most_on_demand + most_spot * (1 - discount)) * per_task_hour * self.hours
            if not most_spot:
                share = "at on-demand prices"
            elif not most_on_demand:
                share = f"all on Fargate Spot at {discount:.0%} off"
            else:
                share = (
                    f"{most_on_demand:g} on demand and {most_spot:g} on Fargate Spot at "
                    f"{discount:.0%} off"
                )
            self._assume(
                f"Autoscaling may run up to {maximum} tasks of {r['name']}: Fargate then costs up "
                f"to {ceiling:.2f} USD a month ({share})."
            )

    def _log_group(self, task: Resource) -> Resource | None:
        for c in task["inputs"].get("containerDefinitions") or []:
            group = ((c.get("logConfiguration") or {}).get("options") or {}).get("awslogs-group")
            found = reference(group)
            if found:
                return next((r for r in self.plan["resources"] if r["name"] == found.name), None)
        return None

    def _max_tasks(self, service: Resource) -> int | None:
        for r in self.plan["resources"]:
            if r["type"] == "aws:appautoscaling/target:Target" and service["name"] in str(
                r["inputs"].get("resourceId")
            ):
                return int(r["inputs"]["maxCapacity"])
        return None

    def _migration(self, r: Resource) -> None:
        self._line(r, "Release-phase migration task", "minutes per deploy", 0.0, "negligible")

    def _load_balancer(self, r: Resource) -> None:
        i = r["inputs"]
        lcu = float(self.table.assumptions["alb_average_lcu"])
        self._line(
            r,
            "Load balancer hours",
            f"{self.hours:g} h",
            self.hours * self.table.price("alb_hour"),
        )
        self._line(
            r,
            "Load balancer capacity units",
            f"{lcu:g} LCU x {self.hours:g} h",
            lcu * self.hours * self.table.price("alb_lcu_hour"),
        )
        self._assume(
            f"The load balancer uses {lcu:g} LCU on average (about 25 new connections a second "
            "or 1 GB an hour); busy APIs use more."
        )
        if not i.get("internal"):
            subnets = len(i.get("subnets") or [])
            self._line(
                r,
                "Public IPv4 addresses of the load balancer",
                f"{subnets} (one per zone) x {self.hours:g} h",
                subnets * self.hours * self.table.price("public_ipv4_hour"),
            )

    def _nat(self, r: Resource) -> None:
        self._line(
            r,
            "NAT gateway hours",
            f"{self.hours:g} h",
            self.hours * self.table.price("nat_gateway_hour"),
        )
        note = (
            f"NAT gateway data processing ({self.table.price('nat_gateway_gb'):g} USD per GB: "
            "image pulls and the app's outbound calls)."
        )
        if note not in self.not_estimated:
            self.not_estimated.append(note)

    def _eip(self, r: Resource) -> None:
        self._line(
            r,
            "Public IPv4 address (Elastic IP)",
            f"1 x {self.hours:g} h",
            self.hours * self.table.price("public_ipv4_hour"),
        )

    def _database(self, r: Resource) -> None:
        i = r["inputs"]
        copies = 2 if i.get("multiAz") else 1
        label = " (Multi-AZ: 2 instances)" if copies == 2 else ""
        klass = str(i.get("instanceClass"))
        engine = str(i.get("engine"))
        hourly = self.table.prices.get(f"rds_{engine}_instance_hour", {}).get(klass)
        if hourly is None:
            self._line(
                r,
                f"RDS {engine} {klass}{label}",
                f"{copies} x {self.hours:g} h",
                None,
                f"not priced: {klass} is not in plan/prices.json",
            )
        else:
            approximate = f"rds_{engine}_instance_hour.{klass}" in self.table.approximate
            self._line(
                r,
                f"RDS {engine} {klass}{label}",
                f"{copies} x {self.hours:g} h",
                copies * self.hours * float(hourly),
                "approximate price" if approximate else "",
            )
        storage = int(i.get("allocatedStorage") or 0)
        storage_type = str(i.get("storageType") or "gp2")
        if storage_type == "gp3":
            self._line(
                r,
                f"RDS storage gp3{label}",
                f"{copies} x {storage} GB-month",
                copies * storage * self.table.price("rds_gp3_gb_month"),
            )
        else:
            self._line(
                r,
                f"RDS storage {storage_type}",
                f"{storage} GB-month",
                None,
                f"not priced: {storage_type}",
            )
        if i.get("maxAllocatedStorage"):
            self._assume(
                f"RDS storage stays at allocatedStorage ({storage} GB); storage autoscaling up to "
                f"{i['maxAllocatedStorage']} GB would add to it."
            )
        if i.get("manageMasterUserPassword"):
            self._line(
                r,
                "Secrets Manager secret (RDS-managed master password)",
                "1 secret-month",
                self.table.price("secrets_manager_secret_month"),
            )

    def _secret(self, r: Resource) -> None:
        self._line(
            r,
            "Secrets Manager secret",
            "1 secret-month",
            self.table.price("secrets_manager_secret_month"),
        )

    def _cluster(self, r: Resource) -> None:
        for setting in r["inputs"].get("settings") or []:
            if setting.get("name") == "containerInsights" and setting.get("value") != "disabled":
                self.not_estimated.append(
                    "Container Insights metrics (service.containerInsights is on)."
                )

    def _alarm(self, r: Resource) -> None:
        queries = r["inputs"].get("metricQueries") or []
        metrics = sum(1 for q in queries if q.get("metric")) if queries else 1
        self._line(
            r,
            "CloudWatch alarm",
            f"{metrics} alarm {'metric' if metrics == 1 else 'metrics'}",
            metrics * self.table.price("cloudwatch_alarm_metric_month"),
        )
        self._assume(
            "CloudWatch alarms at list price; the free tier (10 alarm metrics a month per "
            "account) is not deducted."
        )

    def _dashboard(self, r: Resource) -> None:
        self._line(
            r,
            "CloudWatch dashboard",
            "1 dashboard-month",
            self.table.price("cloudwatch_dashboard_month"),
            "3 a month are free per account",
        )

    def _topic(self, r: Resource) -> None:
        self._line(r, "SNS topic for the alarms", "a few notifications", 0.0, "no charge")
        note = (
            f"SNS e-mails past the first 1,000 a month "
            f"({self.table.price('sns_email_per_100k'):g} USD per 100,000)."
        )
        if note not in self.not_estimated:
            self.not_estimated.append(note)

    def _bucket(self, r: Resource) -> None:
        self.not_estimated.append(f"S3 storage and requests of bucket {r['name']}.")

    def _hosted_zones(self) -> None:
        zones = {
            str(r["inputs"].get("zoneId"))
            for r in self.plan["resources"]
            if r["type"] == "aws:route53/record:Record"
        }
        for zone_id in sorted(zones):
            match = _ZONE_LABEL.search(zone_id)
            name = match["zone"] if match else zone_id
            self.lines.append(
                CostLine(
                    f"zone {name}",
                    "Route 53 hosted zone",
                    "1 zone-month",
                    round(self.table.price("route53_hosted_zone_month"), 2),
                    "your own zone: you may pay for it already",
                )
            )
        if zones:
            self._assume(
                "DNS queries: alias queries to the load balancer are free; others not estimated."
            )


def capacity_split(strategies: list[Mapping[str, Any]], count: int) -> tuple[float, float]:
    """How many of ``count`` tasks run on FARGATE and how many on FARGATE_SPOT.

    ECS first places each provider's ``base`` tasks, then the rest by ``weight``. No strategy
    means the FARGATE launch type. Fractions are kept: this is a monthly average.
    """
    if not strategies:
        return float(count), 0.0
    placed = {"FARGATE": 0.0, "FARGATE_SPOT": 0.0}
    remaining = float(count)
    for s in strategies:
        base = min(float(s.get("base") or 0), remaining)
        placed[s["capacityProvider"]] = placed.get(s["capacityProvider"], 0.0) + base
        remaining -= base
    weights = {s["capacityProvider"]: float(s.get("weight") or 0) for s in strategies}
    total = sum(weights.values())
    if total:
        for provider, weight in weights.items():
            placed[provider] = placed.get(provider, 0.0) + remaining * weight / total
    return placed["FARGATE"], placed["FARGATE_SPOT"]


def format_text(estimate: Estimate) -> str:
    """The estimate as an aligned table with its assumptions and sources."""
    rows = [
        (line.resource, line.item, line.quantity, _amount(line), line.note)
        for line in estimate.lines
    ]
    rows.append(("total", "", "", f"{estimate.total:.2f}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = [
        f"Estimated monthly cost in {estimate.region} (USD, prices of {estimate.as_of}, "
        f"{estimate.hours_per_month:g} hours a month):",
        f"  Priced at {estimate.basis}.",
    ]
    for row in rows:
        cells = [row[n].ljust(widths[n]) for n in range(3)] + [row[3].rjust(widths[3])]
        out.append(("  " + "  ".join(cells) + ("  " + row[4] if row[4] else "")).rstrip())
    out += _footer(estimate, "  - ")
    return "\n".join(out) + "\n"


def format_markdown(estimate: Estimate, before: Estimate | None = None) -> str:
    """The estimate as a Markdown table; with ``before``, the change of the total too."""
    head = f"**Estimated monthly cost: {estimate.total:.2f} USD**"
    if before is not None:
        delta = estimate.total - before.total
        head += f" (before: {before.total:.2f} USD, change: {delta:+.2f} USD)"
    out = [
        head + f" in {estimate.region}, prices of {estimate.as_of}.",
        "",
        f"Priced at {estimate.basis}.",
        "",
        "| resource | item | quantity | USD / month |",
        "|---|---|---|---:|",
        *(
            f"| `{line.resource}` | {line.item} | {line.quantity} | {_money(line)} |"
            for line in estimate.lines
        ),
        f"| **total** | | | **{estimate.total:.2f}** |",
        "",
    ]
    out += _footer(estimate, "- ")
    return "\n".join(out) + "\n"


def _amount(line: CostLine) -> str:
    return "not priced" if line.monthly is None else f"{line.monthly:.2f}"


def _money(line: CostLine) -> str:
    if line.monthly is None:
        return line.note or "not priced"
    text = f"{line.monthly:.2f}"
    return f"{text} ({line.note})" if line.note else text


def _footer(estimate: Estimate, bullet: str) -> list[str]:
    # Markdown needs a blank line after a list, or the next line continues its last item.
    gap = [""] if bullet.startswith("-") else []
    out = ["Assumptions:", *(bullet + a for a in estimate.assumptions), *gap]
    out += ["Not estimated:", *(bullet + n for n in estimate.not_estimated), *gap]
    out.append(
        f"Prices: plan/prices.json, as of {estimate.as_of}, from " + ", ".join(estimate.source)
    )
    return out
