"""The client's address, trusting proxy headers only as far as settings.NUM_PROXIES says.

Every reader of the client's address (rate limits, the login lockout, who may read /metrics)
asks here. With NUM_PROXIES=0 (the default) X-Forwarded-For is ignored: any client can send
one, and a fresh value per request would be a fresh address to every limit. With N proxies in
front, each appends the address it received from, so the Nth entry from the right is the
last one a trusted proxy wrote; entries left of it are the client's own claims.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent `request`, as far as our own proxies vouch for it."""
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote_addr
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(proxies, len(hops))] or remote_addr
