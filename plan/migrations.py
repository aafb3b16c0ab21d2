"""The Alembic revisions a change adds, and what squawk says about their SQL (``--base REV``).

Between the release phase (``python -m api.migrate`` in a task of the new version) and the end
of the rollout, the previous version's tasks serve on the new schema. So next to the rollout
it precedes, the plan of a change names each revision the change adds to ``app/migrations``
(revision id, message, file), renders its SQL offline as the release phase would run it
(``alembic upgrade DOWN:REV --sql``, PostgreSQL dialect, through the new ``migrations/env.py``)
and lints that SQL with squawk (``squawk-cli``, pinned in requirements-dev.lock).

* Which revisions: those of the checkout's ``app/migrations`` (the program the plan renders)
  that the revision scripts at ``REV`` (``git archive``) do not have, in upgrade order.
  Nothing is connected to: Alembic's ``ScriptDirectory`` reads the scripts.
* What refuses: on a production stack (``production: true``), a finding of a rule in
  ``BLOCKING`` breaks the version that keeps serving, or holds a lock the app's queries queue
  behind. The plan refuses it (exit 1) unless the revision declares why it is safe anyway:
  a module-level ``rolling_deploy_safety = "..."`` sentence (``MARKER``), like
  ``"maintenance window: the app is stopped for this release"`` or
  ``"column unused since release 2026.11"``. The plan shows the sentence; the finding stays,
  as a warning. Other stacks show the same findings and what production would do.
* ``ADVISORY`` rules (types and style) are shown, never refused. ``require-statement-timeout``
  is not run: the entrypoint bounds each lock wait (``lock_timeout``, which the rendered SQL
  sets, as the release phase does), and a long backfill is legitimate; the release phase's
  deadline (``migration.timeout``) bounds the whole run.
* A revision whose SQL cannot be rendered offline (one that reads the database while it
  migrates) is a finding too (``offline-render``): nobody can say what it runs.

How to write migrations that pass: docs/rolling-migrations.md.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from plan.errors import PlanError

MIGRATIONS = "app/migrations"
MARKER = "rolling_deploy_safety"
DOCS = "docs/rolling-migrations.md"
# The PostgreSQL major squawk judges for, when the stack does not set database.engineVersion:
# the default of components/settings/data.py DatabaseSettings.engine_version.
DEFAULT_PG_MAJOR = "16"
# Any URL of the dialect does: offline mode only renders, it never connects.
OFFLINE_URL = "postgresql+psycopg://offline@offline.invalid:5432/offline"
TIMEOUT_SECONDS = 120

# Rules whose findings a production stack refuses. Breaks the previous version, which keeps
# serving on the new schema during the rollout (and after a rollback): a dropped or renamed
# column or table it reads, a type it reads differently, a NOT NULL column its inserts do not
# fill. Holds a lock its queries queue behind for as long as the table takes to scan, index or
# rewrite: an index built without CONCURRENTLY, a constraint validated at once, a NOT NULL set
# on an existing column, a volatile default. Fails outright: CONCURRENTLY inside the migration's
# transaction. Rules squawk adds later that are not in ADVISORY are blocking too (see
# ``blocking``): a new rule refuses until someone reads it and says otherwise.
BLOCKING = frozenset(
    {
        "adding-field-with-default",
        "adding-foreign-key-constraint",
        "adding-not-nullable-field",
        "adding-required-field",
        "adding-serial-primary-key-field",
        "ban-alter-domain-with-add-constraint",
        "ban-concurrent-index-creation-in-transaction",
        "ban-drop-column",
        "ban-drop-database",
        "ban-drop-table",
        "ban-truncate-cascade",
        "changing-column-type",
        "constraint-missing-not-valid",
        "disallowed-unique-constraint",
        "renaming-column",
        "renaming-table",
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "require-lock-timeout",
        "transaction-nesting",
        # This plan's own: SQL that cannot be rendered, a declaration that says nothing.
        "offline-render",
        MARKER,
    }
)
OWN_RULES = frozenset({"offline-render", MARKER})
# Shown, never refused: choices of type and style that break nothing that runs.
ADVISORY = frozenset(
    {
        "ban-char-field",
        "ban-drop-not-null",
        "identifier-too-long",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-robust-stmts",
        "prefer-text-field",
        "prefer-timestamptz",
        "require-enum-value-ordering",
        "require-table-schema",
    }
)
# Not run (see the module's docstring).
EXCLUDED = ("require-statement-timeout",)


def blocking(rule: str) -> bool:
    """Whether a finding of ``rule`` refuses a production stack: unknown rules do."""
    return rule in BLOCKING or rule not in ADVISORY


@dataclass(frozen=True)
class Revision:
    """One revision the change adds: what ``alembic history`` shows, and its declaration."""

    revision: str
    down_revision: str | None
    message: str
    file: str
    safety: str | None = None


@dataclass(frozen=True)
class Finding:
    revision: str
    rule: str
    message: str
    statement: str
    blocking: bool

    @property
    def url(self) -> str:
        """Where the rule is explained: squawk's page, or this project's for its own rules."""
        if self.rule in OWN_RULES:
            return DOCS
        return f"https://squawkhq.com/docs/{self.rule}"


@dataclass
class Review:
    """The revisions a change adds since ``base`` and squawk's findings on their SQL."""

    base: str
    production: bool
    revisions: list[Revision] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    squawk: str = ""
    pg_major: str = DEFAULT_PG_MAJOR

    def declared(self, revision: str) -> str | None:
        return next((r.safety for r in self.revisions if r.revision == revision), None)

    def refusing(self) -> list[Finding]:
        """The findings that refuse this stack: blocking, in production, not declared."""
        if not self.production:
            return []
        return [f for f in self.findings if f.blocking and not self.declared(f.revision)]

    def refused(self) -> list[str]:
        """One line per refusing finding, as the command line's error names them."""
        return [
            f"migration {f.revision}: squawk {f.rule} ({_short(f.statement, 80)})"
            for f in self.refusing()
        ]

    def as_dict(self) -> dict[str, Any]:
        refusing = self.refusing()
        return {
            "base": self.base,
            "production": self.production,
            "revisions": [asdict(r) for r in self.revisions],
            "squawk": {"version": self.squawk, "postgresql": self.pg_major},
            "findings": [{**asdict(f), "refuses": f in refusing} for f in self.findings],
        }

    def _verdict(self, finding: Finding) -> str:
        if not finding.blocking:
            return "advisory"
        declared = self.declared(finding.revision)
        if declared:
            return "declared"
        return "refused" if self.production else "refused on production stacks"

    def format_text(self) -> str:
        if not self.revisions:
            return f"Migrations: none added since {self.base}.\n"
        lines = [
            f"Migrations added since {self.base} ({len(self.revisions)}): the release phase runs "
            "them before the rollout, while the previous version keeps serving.",
        ]
        for r in self.revisions:
            lines.append(f"  + {r.revision}  {r.message}  ({r.file})")
            if r.safety:
                lines.append(f"      {MARKER}: {r.safety}")
        lines.append(self._squawk_line())
        for f in self.findings:
            mark = "!" if f in self.refusing() else "~"
            lines.append(f"    {mark} {f.rule} in {f.revision}: {f.message}")
            lines.append(f"      {_short(f.statement, 160)}")
            lines.append(f"      {self._advice(f)}")
        return "\n".join(lines) + "\n"

    def format_markdown(self) -> str:
        if not self.revisions:
            return ""
        lines = [
            "### Migrations",
            "",
            f"This change adds {len(self.revisions)} "
            f"{'revision' if len(self.revisions) == 1 else 'revisions'} to `{MIGRATIONS}` since "
            f"`{self.base}`. The release phase runs "
            f"{'it' if len(self.revisions) == 1 else 'them'} before the rollout; the previous "
            "version keeps serving on the new schema meanwhile.",
            "",
            "| Revision | Message | File | Declared |",
            "| --- | --- | --- | --- |",
        ]
        for r in self.revisions:
            declared = _cell(r.safety) if r.safety else ""
            lines.append(
                f"| `{r.revision}` | {_cell(r.message)} | `{r.file}` | {declared} |",
            )
        lines += ["", self._squawk_line().strip()]
        if self.findings:
            lines += [
                "",
                "| Revision | Rule | Statement | Verdict |",
                "| --- | --- | --- | --- |",
            ]
            for f in self.findings:
                rule = f"`{f.rule}`" if f.rule in OWN_RULES else f"[`{f.rule}`]({f.url})"
                lines.append(
                    f"| `{f.revision}` | {rule} | "
                    f"`{_cell(_short(f.statement, 160))}` | {self._verdict(f)} |"
                )
            if self.refusing():
                lines += [
                    "",
                    "**Refused on this production stack.** Split the change into expand and "
                    f"contract (`{DOCS}`), or declare in the revision why it is safe: "
                    f'`{MARKER} = "maintenance window: ..."`.',
                ]
        return "\n".join(lines) + "\n"

    def _squawk_line(self) -> str:
        count = len(self.findings)
        refusing = len(self.refusing())
        summary = f"{count or 'no'} {'finding' if count == 1 else 'findings'}"
        if refusing:
            summary += f", {refusing} refusing this production stack"
        return f"  squawk {self.squawk} (PostgreSQL {self.pg_major}): {summary}."

    def _advice(self, finding: Finding) -> str:
        verdict = self._verdict(finding)
        if verdict == "advisory":
            return "advisory: not refused"
        if verdict == "declared":
            return f"declared by the revision, so a warning: {self.declared(finding.revision)}"
        return (
            f"{verdict}: split it into expand and contract ({DOCS}) or declare why in the "
            f'revision: {MARKER} = "..."'
        )


def review(
    root: Path,
    ref: str,
    *,
    production: bool,
    pg_major: str | None = None,
    lock_timeout_ms: int | None = None,
) -> Review:
    """The revisions ``root`` adds since ``ref`` and squawk's findings; ``PlanError`` when git,
    Alembic or squawk cannot say. ``lock_timeout_ms``: the stack's (``lock_timeout_of``), which
    the rendered SQL sets as the release phase will."""
    result = Review(base=ref, production=production, pg_major=pg_major or DEFAULT_PG_MAJOR)
    if not (root / MIGRATIONS).is_dir() or not _changed(root, ref):
        return result
    with tempfile.TemporaryDirectory(prefix="plan-migrations-") as scratch:
        scratch_dir = Path(scratch)
        base_dir = _base_scripts(root, ref, scratch_dir / "base")
        inspected = inspect(root, base_dir, lock_timeout_ms)
        result.revisions = [Revision(**r["revision"]) for r in inspected]
        if not result.revisions:
            return result
        sql_dir = scratch_dir / "sql"
        sql_dir.mkdir()
        for item in inspected:
            rev = item["revision"]["revision"]
            for rule, message in item["problems"]:
                result.findings.append(Finding(rev, rule, message, "", True))
            if item["sql"]:
                (sql_dir / f"{rev}.sql").write_text(item["sql"])
        result.squawk, found = lint(sorted(sql_dir.glob("*.sql")), result.pg_major)
        order = {r.revision: i for i, r in enumerate(result.revisions)}
        result.findings += found
        result.findings.sort(key=lambda f: order[f.revision])
    return result


def _changed(root: Path, ref: str) -> bool:
    """Whether ``app/migrations`` differs from ``ref``: tracked changes or new files."""
    diff = _git(root, "diff", "--quiet", ref, "--", MIGRATIONS, ok=(0, 1))
    if diff.returncode == 1:
        return True
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", MIGRATIONS)
    return bool(untracked.stdout.strip())


def _base_scripts(root: Path, ref: str, target: Path) -> Path | None:
    """``app/migrations`` as it is at ``ref``, extracted into ``target``; None if absent."""
    exists = _git(root, "cat-file", "-e", f"{ref}:{MIGRATIONS}", ok=(0, 1, 128))
    if exists.returncode != 0:
        return None
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", ref, "--", MIGRATIONS],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise PlanError(f"--base {ref}: git archive failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / MIGRATIONS


def inspect(
    root: Path, base_dir: Path | None, lock_timeout_ms: int | None = None
) -> list[dict[str, Any]]:
    """Each revision of ``root/app/migrations`` not in ``base_dir``, in upgrade order, with
    its offline SQL (or why it has none): from a subprocess, so the revision scripts and the
    app's ``migrations/env.py`` run in an interpreter of their own, with ``root/app`` first.
    ``lock_timeout_ms`` reaches env.py as the task definition hands it over (None: the app's
    default)."""
    app_dir = root / "app"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env["DATABASE_URL"] = OFFLINE_URL
    if lock_timeout_ms is not None:
        env["DB_LOCK_TIMEOUT_MS"] = str(lock_timeout_ms)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(app_dir)])
    command = [
        sys.executable,
        "-P",
        "-c",
        "import sys; from plan.migrations import _inspect_main; _inspect_main(sys.argv[1:])",
        str(root),
        str(base_dir or ""),
    ]
    try:
        done = subprocess.run(
            command,
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PlanError(
            f"{MIGRATIONS}: reading the revision scripts took over {TIMEOUT_SECONDS} s"
        ) from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PlanError(
            f"{MIGRATIONS}: Alembic cannot read the revision scripts:\n" + "\n".join(detail)
        )
    return json.loads(done.stdout)


def _inspect_main(argv: list[str]) -> None:
    """In the subprocess ``inspect`` starts: print the pending revisions as JSON."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    root, base_dir = Path(argv[0]), argv[1]
    known: set[str] = set()
    if base_dir:
        known = {s.revision for s in ScriptDirectory(base_dir).walk_revisions()}
    ini = str(root / "app" / "alembic.ini")
    script = ScriptDirectory.from_config(Config(ini))
    pending = [s for s in reversed(list(script.walk_revisions())) if s.revision not in known]
    out: list[dict[str, Any]] = []
    for s in pending:
        down = s.down_revision
        safety = getattr(s.module, MARKER, None)
        item: dict[str, Any] = {
            "revision": {
                "revision": s.revision,
                "down_revision": down if isinstance(down, str) or down is None else ",".join(down),
                "message": (s.doc or "").strip().splitlines()[0] if s.doc else "",
                "file": Path(s.path).resolve().relative_to(root.resolve()).as_posix(),
                "safety": safety.strip() if isinstance(safety, str) and safety.strip() else None,
            },
            "sql": "",
            "problems": [],
        }
        if safety is not None and not item["revision"]["safety"]:
            item["problems"].append(
                (
                    MARKER,
                    f"{MARKER} must be a sentence saying why the revision is safe anyway (a "
                    f"non-empty string), not {safety!r}",
                )
            )
        if isinstance(down, tuple | list):
            item["sql"] = "-- a merge point: no SQL of its own\n"
        else:
            buffer = io.StringIO()
            config = Config(ini, output_buffer=buffer)
            config.attributes["configure_logger"] = False
            target = f"{down}:{s.revision}" if down else s.revision
            try:
                command.upgrade(config, target, sql=True)
                item["sql"] = buffer.getvalue()
            except Exception as exc:  # the revision's own code: anything it raises
                item["problems"].append(
                    (
                        "offline-render",
                        "Its SQL cannot be rendered offline (alembic upgrade --sql), so nobody "
                        f"can review what it runs: {type(exc).__name__}: {exc}",
                    )
                )
        out.append(item)
    print(json.dumps(out))


def squawk_path() -> str:
    """The squawk binary next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return str(beside)
    found = shutil.which("squawk")
    if not found:
        raise PlanError(
            "linting migrations needs squawk: `.venv/bin/uv pip install -r requirements-dev.lock` "
            "(squawk-cli is pinned there)"
        )
    return found


def lint(files: list[Path], pg_major: str) -> tuple[str, list[Finding]]:
    """squawk's version and its findings on ``files`` (each named ``<revision>.sql``)."""
    binary = squawk_path()
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[-1:]
    if not files:
        return "".join(version), []
    command = [binary, "--reporter", "json", "--pg-version", f"{pg_major}.0"]
    command += ["--exclude", ",".join(EXCLUDED), *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise PlanError(f"squawk failed ({done.returncode}): {done.stderr.strip()}")
    try:
        reported = json.loads(done.stdout or "[]")
    except ValueError:
        raise PlanError(f"squawk printed no JSON: {done.stdout[:200]!r}") from None
    sources = {f.stem: f.read_text().splitlines() for f in files}
    findings = []
    for item in reported:
        revision = Path(item["file"]).stem
        rule = item["rule_name"]
        findings.append(
            Finding(
                revision=revision,
                rule=rule,
                message=item["message"],
                # squawk's JSON counts lines from 0.
                statement=statement_at(sources[revision], item["line"]),
                blocking=blocking(rule),
            )
        )
    return "".join(version), findings


def statement_at(lines: list[str], line: int) -> str:
    """The SQL statement that covers ``line`` (0-based) of Alembic's ``--sql`` output, which
    ends every statement with ``;`` at the end of a line."""
    start = line
    while start > 0 and not lines[start - 1].rstrip().endswith(";"):
        start -= 1
    end = line
    while end < len(lines) - 1 and not lines[end].rstrip().endswith(";"):
        end += 1
    body = [s for s in lines[start : end + 1] if s.strip() and not s.lstrip().startswith("--")]
    return " ".join(" ".join(body).split())


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|").replace("`", "'")


def _git(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise PlanError("--base: git is not installed") from None
    if done.returncode not in ok:
        raise PlanError(f"--base: git {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done


def production_of(plan: dict[str, Any]) -> tuple[bool, str]:
    """Whether the planned stack is a production one, and its PostgreSQL major version."""
    config, project = plan.get("config") or {}, plan.get("project", "")
    production = config.get(f"{project}:production") in (True, "true")
    major = str(config.get(f"{project}:database.engineVersion") or DEFAULT_PG_MAJOR)
    return production, major


def lock_timeout_of(plan: dict[str, Any]) -> int | None:
    """The ``lock_timeout`` (ms) the planned stack's release phase migrates with: what the task
    definitions hand the app (``DB_LOCK_TIMEOUT_MS``, from ``migration.lockTimeout``:
    components/database.py); None without a database."""
    for resource in plan.get("resources", []):
        if resource.get("type") != "aws:ecs/taskDefinition:TaskDefinition":
            continue
        for container in resource["inputs"].get("containerDefinitions") or []:
            for variable in container.get("environment") or []:
                if variable.get("name") == "DB_LOCK_TIMEOUT_MS":
                    return int(variable["value"])
    return None


def attach(output: str, review: Review, form: str) -> str:
    """``output`` (the plan or diff in ``form``: json, markdown, mermaid, text) with the
    review added: a ``migrations`` key, a Markdown section, a text section."""
    if form == "json":
        document = json.loads(output)
        document["migrations"] = review.as_dict()
        return json.dumps(document, indent=2, sort_keys=True) + "\n"
    if form == "markdown":
        section = review.format_markdown()
        return output + ("\n" + section if section else "")
    if form == "mermaid":
        return output
    return output + "\n" + review.format_text()
