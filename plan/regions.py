"""Which AWS regions exist: the region list of botocore's endpoints data.

botocore ships ``botocore/data/endpoints.json``, the partitions and regions the AWS SDKs know
(the ``regions`` of each partition: aws, aws-cn, aws-us-gov, ...). The plan refuses a stack
whose ``aws:region`` is not one of them, before rendering anything: a typo like us-east-9 would
otherwise plan with another region's prices and fail only at ``pulumi up``. The file is read as
data, without importing botocore (which the plan does not otherwise need).
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
    """Every region of every partition in the installed botocore's endpoints data."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "endpoints.json"
    document = json.loads(path.read_text())
    return frozenset(
        region for partition in document["partitions"] for region in partition.get("regions", {})
    )


def check_region(region: str, key: str = "aws:region") -> None:
    """``PlanError`` naming the setting and the fix if ``region`` is not an AWS region."""
    regions = known_regions()
    if not regions or region in regions:
        return
    close = difflib.get_close_matches(region, sorted(regions), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise PlanError(
        f"{key} = {region!r}: is not an AWS region (botocore's endpoints data lists "
        f"{len(regions)}).{hint} Fix: `pulumi config set {key} us-east-1` (or your region); "
        "a region newer than the installed botocore needs `pip install -U botocore`."
    )
