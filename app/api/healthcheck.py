"""Container health check: ``python -m api.healthcheck`` (the slim image has no curl).

GETs ``http://127.0.0.1:$PORT$HEALTH_CHECK_PATH`` (default ``/healthz``, the liveness route); exit 0 on HTTP 200, else 1. Standard library only,
so it starts fast and keeps working even if an app dependency is broken.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def check(port: int, timeout: float, path: str = "/healthz") -> bool:
    url = f"http://127.0.0.1:{port}{path}"
    # No proxies: an HTTP(S)_PROXY in the task environment must not capture a loopback call.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> int:
    try:
        port = int(os.environ.get("PORT") or 8000)
        timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT") or 3)
    except ValueError:
        print("healthcheck: PORT/HEALTHCHECK_TIMEOUT must be numbers", file=sys.stderr)
        return 1
    # The stack sets the same path as the load balancer's health check.
    path = os.environ.get("HEALTH_CHECK_PATH") or "/healthz"
    if check(port, timeout, path):
        return 0
    print(f"healthcheck: http://127.0.0.1:{port}{path} did not answer 200", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
