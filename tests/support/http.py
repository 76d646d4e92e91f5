"""A plain REST call to a live server from a test (not through Django's test client)."""

import json
import urllib.error
import urllib.request

from tests.support.contract_check import check_body


def rest_call(
    base: str, method: str, path: str, token: str | None = None, body: dict | None = None, *, timeout: float = 10
) -> tuple[int, dict]:
    """(status, JSON body) of `method path` on the server at `base`, the body checked against its declaration."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        status, body = exc.code, json.loads(exc.read())
    check_body(method, path, status, body)
    return status, body
