"""Which AWS regions exist: the region lists of botocore's partition data.

botocore ships ``botocore/data/partitions.json``: each partition (aws, aws-cn, aws-us-gov, ...)
with its regions, which its endpoint rules resolve against (older botocore: the ``regions`` of
each partition in ``endpoints.json``). The plan refuses a stack whose ``aws:region`` is not one
of them, before rendering anything: a typo like us-east-9 would otherwise plan with another
region's prices and fail only at ``pulumi up``. The file is read as data, without importing
botocore (which the plan does not otherwise need); the pseudo-regions of global endpoints
(``aws-global``) are not regions a stack can use.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path

from plan.errors import PlanError


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in the installed botocore's data."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    path = data / "partitions.json"
    if not path.is_file():
        path = data / "endpoints.json"
    document = json.loads(path.read_text())
    return frozenset(
        region
        for partition in document["partitions"]
        for region in partition.get("regions", {})
        if not region.endswith("-global")
    )


def check_region(region: str, key: str = "aws:region") -> None:
    """``PlanError`` naming the setting and the fix if ``region`` is not an AWS region."""
    regions = known_regions()
    if not regions or region in regions:
        return
    close = difflib.get_close_matches(region, sorted(regions), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise PlanError(
        f"{key} = {region!r}: is not an AWS region (botocore's partition data lists "
        f"{len(regions)}).{hint} Fix: `pulumi config set {key} us-east-1` (or your region); "
        "a region newer than the installed botocore needs `pip install -U botocore`."
    )
