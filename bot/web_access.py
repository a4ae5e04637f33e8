"""Who may see the details of `/health` and `/metrics`: a bearer token's holder, or a
loopback peer that no proxy relayed. One rule for both endpoints."""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request

FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def sees_details(request: Request, token: str) -> bool:
    """Whether `/health` may show its details: to `Authorization: Bearer <token>` (compared in
    constant time; no token set, no bearer), or to a loopback peer that no proxy relayed. With
    uvicorn's proxy headers a proxy on this machine looks like loopback, so a relayed request
    (X-Forwarded-For, Forwarded, X-Real-IP) counts as from elsewhere: behind a local proxy that
    sets none of them, the details are everyone's unless the proxy adds one."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1", "replace"), token.encode()
    ):
        return True
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:  # Starlette's TestClient, a unix socket
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        return peer.ipv4_mapped.is_loopback
    return peer.is_loopback
