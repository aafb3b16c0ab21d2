"""The shape of a plan as a Mermaid flowchart: its components and what waits for what.

One node per top-level component (or lone resource such as the migration run), labelled with
its name, kind and size. Every arrow reads the way the text plan says it: a thick arrow
``A ==>|waits for| B`` means something in A is declared to wait for something in B
(``depends_on``; the text plan's "waits for:" lines), like the service waiting for the
migration run; a thin arrow ``A -->|uses| B`` means something in A uses a value of something in
B, so B comes first too. Everything is derived
from the recorded parents and dependencies, so a new component shows up by itself. GitHub
renders the chart in comments and job summaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from plan.document import Plan, top_level
from plan.types import short_type

# Styles of the groups a diff touched; Mermaid's classDef syntax.
CHANGE_STYLES = {
    "added": "fill:#dafbe1,stroke:#1a7f37",
    "changed": "fill:#fff8c5,stroke:#9a6700",
}


def node_id(resource: Mapping[str, str]) -> str:
    """A Mermaid-safe id from a component's kind and name: ``AppTask_app``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{short_type(resource['type'])}_{resource['name']}")


def flowchart(plan: Plan, changes: Mapping[str, str] | None = None) -> str:
    """The chart; ``changes`` maps component keys to "added" or "changed" to highlight them."""
    groups = top_level(plan)
    by_key = {r["key"]: r for r in plan["resources"]}
    sizes: dict[str, int] = {}
    for r in plan["resources"]:
        if r["key"] != r["component"]:
            sizes[r["component"]] = sizes.get(r["component"], 0) + 1

    uses: set[tuple[str, str]] = set()
    waits: set[tuple[str, str]] = set()
    for r in plan["resources"]:
        for kind, deps in (("waits", r["waits_for"]), ("uses", r["uses"])):
            for dep in deps:
                first = by_key[dep]["component"]
                if first != r["component"]:
                    (waits if kind == "waits" else uses).add((first, r["component"]))

    lines = ["flowchart LR"]
    for g in groups:
        size = sizes.get(g["key"], 0)
        detail = f"{short_type(g['type'])}, {size} resources" if size else short_type(g["type"])
        lines.append(f'  {node_id(g)}["{g["name"]}<br/>{detail}"]')
    ids = {g["key"]: node_id(g) for g in groups}
    for first, then in sorted(waits, key=lambda e: (e[1], e[0])):
        lines.append(f"  {ids[then]} ==>|waits for| {ids[first]}")
    for first, then in sorted(uses - waits, key=lambda e: (e[1], e[0])):
        lines.append(f"  {ids[then]} -->|uses| {ids[first]}")
    if changes:
        for kind, style in CHANGE_STYLES.items():
            members = sorted(ids[k] for k, v in changes.items() if v == kind and k in ids)
            if members:
                lines.append(f"  classDef {kind} {style}")
                lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"
