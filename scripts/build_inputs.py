"""The image build's outside inputs, read from app/Dockerfile, checked and moved.

A build is reproducible when everything it takes from outside the commit is named by content:
images by digest (``name:tag@sha256:...``, the tag only for people: Docker pulls the digest)
and downloads by checksum (``ADD --checksum=sha256:...``). ``unpinned`` lists every place the
Dockerfile breaks that: the ``# syntax=`` frontend, every ``FROM`` (build arguments expanded
with their defaults, as BuildKit does for a ``FROM``), ``COPY --from`` and ``RUN --mount=from``
naming an image rather than a stage, and ``ADD`` of a URL without a checksum.

``moved_pins`` asks the registries and URLs what the tags and files are today, and
``apply_pins`` writes the new values into the text. ``scripts/pin-build-inputs`` is the command
(``--check`` only reports); ``.github/workflows/pins.yml`` runs it weekly and opens a pull
request. The registry calls follow the OCI distribution spec (``HEAD /v2/<name>/manifests/<tag>``
answers ``Docker-Content-Digest``; a 401 names the token service in ``WWW-Authenticate``), with
the standard library only, so neither Docker nor a daemon is needed.

Nothing here runs at import time; no AWS and no Pulumi resource is involved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "app" / "Dockerfile"

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
CHECKSUM = re.compile(r"--checksum=sha256:([0-9a-f]{64})(?:\s|$)")
SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(\S+)\s*$", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{(\w+)(?::[-+]([^}]*))?\}|\$(\w+)")
# What a registry may answer for a tag: a multi-platform index first (one digest for every
# platform: the image builds for amd64 and arm64), then a single manifest.
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
TIMEOUT = 30


class UnreachableError(Exception):
    """A registry or URL could not be asked (no network, refused, an error status)."""


@dataclass(frozen=True)
class Instruction:
    line: int
    """1-based line where the instruction starts."""
    keyword: str
    text: str
    """The arguments, continuation lines joined."""


@dataclass(frozen=True)
class Pin:
    """One pinned outside input: an image tag and its digest, or a URL and its checksum."""

    kind: str
    """"image" or "download"."""
    name: str
    """The image without its digest (``python:3.12-slim-bookworm``), or the URL."""
    value: str
    """``sha256:<hex>``: the image's digest, or the file's checksum."""


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is dropped by the parser
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        keyword, _, rest = " ".join(p.strip() for p in pending).partition(" ")
        result.append(Instruction(start, keyword.upper(), rest.strip()))
        pending = []
    return result


def syntax_directive(text: str) -> str | None:
    """The ``# syntax=`` parser directive, which must come before anything else."""
    for raw in text.splitlines():
        match = SYNTAX.match(raw.strip())
        if match:
            return match[1]
        if raw.strip() and not raw.lstrip().startswith("#"):
            return None
        if not raw.strip():
            return None
    return None


def _expand(value: str, args: dict[str, str | None]) -> str | None:
    """``value`` with ``$NAME``/``${NAME}``/``${NAME:-default}`` replaced; None if a name
    has no value (the image it names is then unknown until a --build-arg gives one)."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match[1] or match[3]
        value = args.get(name)
        if value is None and match[2] is not None:
            return match[2]
        if value is None:
            missing = True
            return ""
        return value

    expanded = VARIABLE.sub(replace, value)
    return None if missing else expanded


def _flags(text: str) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words = text.split()
    rest = []
    for word in words:
        if word.startswith("--") and not rest:
            name, _, value = word[2:].partition("=")
            flags[name] = value
        else:
            rest.append(word)
    return flags, rest


def _arg(text: str) -> tuple[str, str | None]:
    name, sep, default = text.partition("=")
    return name.strip(), (default.strip().strip("\"'") if sep else None)


def unpinned(text: str) -> list[str]:
    """Every outside input the Dockerfile names without a digest or checksum, as
    ``line N: what``; empty when the build takes nothing unpinned."""
    problems = []
    syntax = syntax_directive(text)
    if syntax is not None and not DIGEST.search(syntax):
        problems.append(f"line 1: the frontend {syntax} has no @sha256: digest")
    args: dict[str, str | None] = {}
    """Build arguments before the first FROM: the only ones a FROM can use."""
    stage_args: dict[str, str | None] = {}
    stages: set[str] = set()
    seen_from = False
    for ins in instructions(text):
        if ins.keyword == "ARG":
            name, default = _arg(ins.text)
            if seen_from:
                stage_args[name] = default
            else:
                args[name] = default
        elif ins.keyword == "FROM":
            seen_from = True
            stage_args = {}
            _, words = _flags(ins.text)
            image = _expand(words[0], args) if words else None
            alias = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            if image is None:
                problems.append(
                    f"line {ins.line}: FROM {words[0] if words else ''} names no image "
                    "(a build argument without a default)"
                )
            elif image.lower() not in stages and image != "scratch" and not DIGEST.search(image):
                problems.append(f"line {ins.line}: FROM {image} has no @sha256: digest")
            if alias:
                stages.add(alias)
        elif ins.keyword in ("COPY", "ADD", "RUN"):
            flags, words = _flags(ins.text)
            sources = []
            if "from" in flags:
                sources.append(flags["from"])
            for name, value in flags.items():
                if name == "mount":
                    options = dict(
                        part.partition("=")[::2] for part in value.split(",") if "=" in part
                    )
                    if "from" in options:
                        sources.append(options["from"])
            for source in sources:
                if source.lower() in stages or source.isdigit() or DIGEST.search(source):
                    continue
                problems.append(
                    f"line {ins.line}: {ins.keyword} from {source} has no @sha256: digest"
                )
            if ins.keyword == "ADD":
                sources_ = [_expand(w, {**args, **stage_args}) or w for w in words[:-1]]
                urls = [w for w in sources_ if re.match(r"^https?://", w)]
                if urls and not re.search(r"^sha256:[0-9a-f]{64}$", flags.get("checksum", "")):
                    problems.append(
                        f"line {ins.line}: ADD {urls[0]} has no --checksum=sha256:<64 hex digits>"
                    )
    return problems


def pins(text: str) -> list[Pin]:
    """Every pinned image (by its tag) and every checksummed download, once each."""
    found: list[Pin] = []
    for match in re.finditer(r"([\w./-]+(?::[\w.-]+)?)@(sha256:[0-9a-f]{64})", text):
        found.append(Pin("image", match[1], match[2]))
    for ins in instructions(text):
        if ins.keyword != "ADD":
            continue
        flags, words = _flags(ins.text)
        checksum = flags.get("checksum", "")
        urls = [w for w in words[:-1] if re.match(r"^https?://", w)]
        if urls and checksum.startswith("sha256:"):
            found.append(Pin("download", urls[0], checksum))
    return list(dict.fromkeys(found))


# --- Asking registries and URLs -----------------------------------------------------------------


def split_reference(name: str) -> tuple[str, str, str]:
    """``python:3.12-slim-bookworm`` -> (registry host, repository, tag), as Docker reads a
    short name: Docker Hub, ``library/`` for an official image."""
    if ":" in name.split("/")[-1]:
        repository, tag = name.rsplit(":", 1)
    else:
        repository, tag = name, "latest"
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "registry-1.docker.io", repository
        if "/" not in path:
            path = f"library/{path}"
    return host, path, tag or "latest"


def _open(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""
    except (urllib.error.URLError, OSError) as error:
        raise UnreachableError(f"{request.full_url}: {getattr(error, 'reason', error)}") from None


def _bearer_token(challenge: str, repository: str) -> str:
    """A pull token from the service the registry's ``WWW-Authenticate: Bearer`` names."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if "realm" not in params:
        raise UnreachableError(f"the registry asked for an unknown authentication: {challenge}")
    query = {"service": params.get("service", ""), "scope": f"repository:{repository}:pull"}
    url = f"{params['realm']}?{urllib.parse.urlencode(query)}"
    status, _, body = _open(urllib.request.Request(url))
    if status != 200:
        raise UnreachableError(f"{url}: HTTP {status}")
    answer = json.loads(body)
    return answer.get("token") or answer["access_token"]


def registry_digest(name: str) -> str:
    """The digest a registry serves for ``name`` (an image with its tag) today."""
    host, repository, tag = split_reference(name)
    url = f"https://{host}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": MANIFEST_TYPES}
    status, answer, _ = _open(urllib.request.Request(url, headers=headers, method="HEAD"))
    if status == 401:
        challenge = next((v for k, v in answer.items() if k.lower() == "www-authenticate"), "")
        headers["Authorization"] = f"Bearer {_bearer_token(challenge, repository)}"
        status, answer, _ = _open(urllib.request.Request(url, headers=headers, method="HEAD"))
    digest = next((v for k, v in answer.items() if k.lower() == "docker-content-digest"), "")
    if status != 200 or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise UnreachableError(f"{url}: HTTP {status}, no digest")
    return digest


def download(url: str) -> bytes:
    status, _, body = _open(urllib.request.Request(url))
    if status != 200:
        raise UnreachableError(f"{url}: HTTP {status}")
    return body


def check_download(url: str, body: bytes) -> None:
    """Refuse a download that is not what the Dockerfile expects of it: a PEM CA bundle for a
    ``.pem`` URL, with the RDS RSA2048 G1 root CAs for the RDS bundle (the build checks the
    same; a pin must never move to a file the build would refuse)."""
    if not url.endswith(".pem"):
        return
    context = ssl.create_default_context(cadata=body.decode("ascii", errors="strict"))
    names = [str(c["subject"]) for c in context.get_ca_certs()]
    if "rds.amazonaws.com" in url and not any(
        "Amazon RDS" in n and "RSA2048 G1" in n for n in names
    ):
        raise ValueError(f"{url}: holds no Amazon RDS RSA2048 G1 root CA; the pin stays")


@dataclass(frozen=True)
class Move:
    pin: Pin
    new_value: str


def moved_pins(
    text: str,
    resolve: Callable[[str], str] | None = None,
    fetch: Callable[[str], bytes] | None = None,
) -> list[Move]:
    """Each pin whose tag or URL serves something else today, with the new value
    (``resolve``: image -> digest, default ``registry_digest``; ``fetch``: URL -> bytes,
    default ``download``)."""
    resolve = resolve or registry_digest
    fetch = fetch or download
    moves = []
    for pin in pins(text):
        if pin.kind == "image":
            current = resolve(pin.name)
        else:
            body = fetch(pin.name)
            check_download(pin.name, body)
            current = "sha256:" + hashlib.sha256(body).hexdigest()
        if current != pin.value:
            moves.append(Move(pin, current))
    return moves


def apply_pins(text: str, moves: list[Move]) -> str:
    for move in moves:
        if move.pin.kind == "image":
            old = f"{move.pin.name}@{move.pin.value}"
            text = text.replace(old, f"{move.pin.name}@{move.new_value}")
        else:
            text = text.replace(f"--checksum={move.pin.value}", f"--checksum={move.new_value}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/pin-build-inputs",
        description="Check app/Dockerfile's pins against the registries and URLs, and move "
        "the ones that moved (the tag or file serves something else today).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Only report: exit 1 if a pin moved or an input is unpinned, write nothing.",
    )
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE)
    options = parser.parse_args(argv)
    text = options.dockerfile.read_text()
    problems = unpinned(text)
    for problem in problems:
        print(f"unpinned: {problem}")
    try:
        moves = moved_pins(text)
    except UnreachableError as error:
        print(f"cannot ask for today's digests and checksums: {error}", file=sys.stderr)
        print("This needs the network (Docker Hub and the download URLs).", file=sys.stderr)
        return 2
    except (ValueError, ssl.SSLError) as error:
        # A download the build would refuse (not a PEM bundle, no RDS root CA): no pin moves.
        print(f"refused a new download, nothing written: {error}", file=sys.stderr)
        return 1
    for pin in pins(text):
        move = next((m for m in moves if m.pin == pin), None)
        state = f"moved to {move.new_value}" if move else "current"
        print(f"{pin.kind:8} {pin.name}  {pin.value}  {state}")
    if options.check:
        return 1 if moves or problems else 0
    if moves:
        options.dockerfile.write_text(apply_pins(text, moves))
        print(f"wrote {len(moves)} new pin(s) to {options.dockerfile}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
