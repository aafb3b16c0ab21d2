"""One date for the prices (issue 27): every place that says when the cost estimate's list
prices were read names the month of ``plan/prices.json``'s ``as_of``."""

from __future__ import annotations

import json
import re
from datetime import date

from pulumi_harness import ROOT

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# "prices of March 2026", "prices as of March 2026", "list prices of March 2026".
SAID = re.compile(rf"prices (?:as )?of\s+({MONTHS})\s+(\d{{4}})", re.IGNORECASE)


def test_every_price_date_in_the_docs_and_the_code_is_the_tables_as_of():
    year, month = map(
        int, json.loads((ROOT / "plan" / "prices.json").read_text())["as_of"].split("-")
    )
    expected = date(year, month, 1).strftime("%B %Y")
    files = [ROOT / "README.md", ROOT / "plan" / "cost.py", *sorted((ROOT / "docs").glob("*.md"))]
    said = {
        (path.relative_to(ROOT).as_posix(), f"{m[1].capitalize()} {m[2]}")
        for path in files
        for m in SAID.finditer(" ".join(path.read_text().split()))
    }
    assert said, "no price date found: the pattern no longer matches the docs"
    assert {where for where, when in said if when != expected} == set(), said
