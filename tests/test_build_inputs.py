"""The image build takes nothing from outside the commit that is not named by content.

``scripts/build_inputs.py`` reads app/Dockerfile as BuildKit would (continuation lines, the
``# syntax=`` parser directive, build arguments before the first ``FROM`` expanded into it,
stage names) and lists every image named without a digest and every download without a
checksum; ``scripts/pin-build-inputs`` moves the pins. No network here: the registry and the
download are stand-ins, and the real HTTP exchange is checked against a local server speaking
the OCI distribution protocol (token challenge, ``Docker-Content-Digest``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import build_inputs  # scripts/ is on the test path (pyproject.toml)

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "app" / "Dockerfile"


A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
PINNED = f"""# syntax=docker/dockerfile:1.20@{A}
ARG BASE=python:3.12-slim-bookworm@{A}
FROM ${{BASE}} AS builder
ADD --checksum={B} https://example.com/bundle.pem /b.pem
FROM ${{BASE}}
COPY --from=builder /b.pem /b.pem
"""


def test_the_dockerfile_names_every_image_by_digest_and_every_download_by_checksum():
    assert build_inputs.unpinned(DOCKERFILE.read_text()) == []


def test_the_frontend_the_base_image_and_the_rds_bundle_are_the_pins():
    kinds = {(p.kind, p.name) for p in build_inputs.pins(DOCKERFILE.read_text())}
    assert kinds == {
        ("image", "docker/dockerfile:1.20"),
        ("image", "python:3.12-slim-bookworm"),
        ("download", "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"),
    }


def test_a_stand_in_dockerfile_with_every_pin_passes():
    assert build_inputs.unpinned(PINNED) == []


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        # The frontend line is an image too: BuildKit pulls it before reading the rest.
        ((f"dockerfile:1.20@{A}", "dockerfile:1.20"), "frontend docker/dockerfile:1.20"),
        ((f"bookworm@{A}\n", "bookworm\n"), "FROM python:3.12-slim-bookworm has no"),
        (("ARG BASE=python:3.12-slim-bookworm@" + A, "ARG BASE"), "names no image"),
        (("FROM ${BASE}\n", "FROM debian:bookworm-slim\n"), "FROM debian:bookworm-slim"),
        (("FROM ${BASE}\n", "FROM --platform=$BUILDPLATFORM alpine:3.22\n"), "FROM alpine:3.22"),
        (("--from=builder", "--from=busybox:1.36"), "COPY from busybox:1.36"),
        (
            (
                "COPY --from=builder /b.pem /b.pem",
                "RUN --mount=type=bind,from=alpine,target=/a true",
            ),
            "RUN from alpine",
        ),
        ((f"--checksum={B} ", ""), "ADD https://example.com/bundle.pem has no --checksum"),
    ],
)
def test_an_image_without_a_digest_or_a_download_without_a_checksum_is_named(change, reported):
    old, new = change
    assert old in PINNED
    problems = build_inputs.unpinned(PINNED.replace(old, new))
    assert len(problems) >= 1
    assert any(reported in p for p in problems), problems


def test_stages_scratch_and_continued_lines_are_read_as_buildkit_reads_them():
    text = f"""# syntax=docker/dockerfile:1.20@{A}
FROM \\
    python:3.12@{A} \\
    AS Base
FROM base AS second
FROM scratch
COPY --from=0 /x /x
COPY --from=second /y /y
"""
    assert build_inputs.unpinned(text) == []


def test_the_dockerfile_of_main_before_the_pins_would_have_failed():
    old = (
        "# syntax=docker/dockerfile:1\n"
        "ARG PYTHON_IMAGE=python:3.12.15-slim-bookworm\n"
        "FROM ${PYTHON_IMAGE} AS builder\n"
        "ARG RDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem\n"
        "ADD --chmod=644 ${RDS_CA_BUNDLE_URL} /opt/certs/rds-global-bundle.pem\n"
    )
    assert [p.split(": ", 1)[1].split(" has ")[0] for p in build_inputs.unpinned(old)] == [
        "the frontend docker/dockerfile:1",
        "FROM python:3.12.15-slim-bookworm",
        "ADD https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
    ]


# --- Moving the pins ---------------------------------------------------------------------------


def rds_like_bundle() -> bytes:
    """A PEM bundle as check_download reads it: certificates of the system's trust store
    (no network, no key generation here) do not name Amazon RDS, so it is refused for the RDS
    URL; accepted for another .pem URL."""
    import ssl

    certs = ssl.create_default_context().get_ca_certs(binary_form=True)
    if not certs:
        pytest.skip("no system CA certificates to build a PEM bundle from")
    return "".join(ssl.DER_cert_to_PEM_cert(c) for c in certs[:3]).encode()


def test_a_moved_tag_and_a_changed_file_move_exactly_their_pins():
    bundle = rds_like_bundle()
    new_checksum = "sha256:" + hashlib.sha256(bundle).hexdigest()
    digests = {"docker/dockerfile:1.20": A, "python:3.12-slim-bookworm": B}
    moves = build_inputs.moved_pins(PINNED, resolve=digests.__getitem__, fetch=lambda url: bundle)
    assert {(m.pin.name, m.new_value) for m in moves} == {
        ("python:3.12-slim-bookworm", B),
        ("https://example.com/bundle.pem", new_checksum),
    }
    moved = build_inputs.apply_pins(PINNED, moves)
    assert f"ARG BASE=python:3.12-slim-bookworm@{B}" in moved
    assert f"# syntax=docker/dockerfile:1.20@{A}" in moved
    assert f"ADD --checksum={new_checksum} https://example.com/bundle.pem" in moved
    assert (
        build_inputs.moved_pins(moved, resolve=digests.__getitem__, fetch=lambda url: bundle) == []
    )


def test_a_pin_never_moves_to_a_file_the_build_would_refuse():
    with pytest.raises(Exception):  # noqa: B017 (ssl's or the RDS check's error)
        build_inputs.check_download("https://example.com/bundle.pem", b"<html>moved</html>")
    with pytest.raises(ValueError, match="RSA2048 G1"):
        build_inputs.check_download(
            "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem", rds_like_bundle()
        )


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """A registry as the OCI distribution spec describes one: a manifest HEAD without a token
    gets 401 and a Bearer challenge naming the token service; with the token, the digest."""

    digest = B

    def do_HEAD(self):
        if self.headers.get("Authorization") != "Bearer t0ken":
            self.send_response(401)
            realm = f"http://{self.headers['Host']}/token"
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="{realm}",service="fake.registry",scope="repository:library/python:pull"',
            )
            self.end_headers()
            return
        assert "application/vnd.oci.image.index.v1+json" in self.headers["Accept"]
        assert self.path == "/v2/library/python/manifests/3.12-slim-bookworm"
        self.send_response(200)
        self.send_header("Docker-Content-Digest", self.digest)
        self.end_headers()

    def do_GET(self):
        assert self.path.startswith("/token?")
        assert "scope=repository%3Alibrary%2Fpython%3Apull" in self.path
        body = json.dumps({"token": "t0ken"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_registry_exchange_takes_a_token_and_reads_the_digest(monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), FakeRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    monkeypatch.setattr(
        build_inputs, "split_reference", lambda name: (host, "library/python", name.split(":")[1])
    )
    real_request = build_inputs.urllib.request.Request
    monkeypatch.setattr(
        build_inputs.urllib.request,
        "Request",
        lambda url, **kw: real_request(url.replace("https://", "http://"), **kw),
    )
    try:
        assert build_inputs.registry_digest("python:3.12-slim-bookworm") == B
    finally:
        server.shutdown()


def test_the_command_without_network_says_so_and_writes_nothing(tmp_path):
    copy = tmp_path / "Dockerfile"
    copy.write_text(DOCKERFILE.read_text())
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_inputs.py"),
            "--check",
            "--dockerfile",
            str(copy),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "https_proxy": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
        },
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the network" in result.stderr
    assert copy.read_text() == DOCKERFILE.read_text()


def test_check_reports_a_moved_pin_with_exit_1(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "Dockerfile"
    copy.write_text(PINNED)
    monkeypatch.setattr(build_inputs, "registry_digest", lambda name: B)
    monkeypatch.setattr(build_inputs, "download", lambda url: rds_like_bundle())
    assert build_inputs.main(["--check", "--dockerfile", str(copy)]) == 1
    assert copy.read_text() == PINNED
    assert "moved to" in capsys.readouterr().out
    assert build_inputs.main(["--dockerfile", str(copy)]) == 0
    assert build_inputs.main(["--check", "--dockerfile", str(copy)]) == 0


def test_a_download_the_build_would_refuse_moves_no_pin_and_fails(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "Dockerfile"
    copy.write_text(PINNED)
    monkeypatch.setattr(build_inputs, "registry_digest", lambda name: A)
    monkeypatch.setattr(build_inputs, "download", lambda url: b"<html>maintenance</html>")
    assert build_inputs.main(["--dockerfile", str(copy)]) == 1
    assert copy.read_text() == PINNED
    assert "refused a new download" in capsys.readouterr().err
