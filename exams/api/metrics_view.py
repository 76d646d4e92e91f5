"""Prometheus metrics of this process, for the operators' scraper only."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from project.client_address import client_ip

from .errors import error_body


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of this process, to allowed networks or the bearer of METRICS_TOKEN."""
    if not _allowed(request):
        return JsonResponse(error_body("forbidden", "Metrics are served to the operators' scraper only."), status=403)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # a dual-stack socket's view of an IPv4 peer
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS)
