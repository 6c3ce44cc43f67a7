"""The client's address behind trusted proxies: `X-Forwarded-For`, read right to left, only from proxies we trust.

A client can write anything into `X-Forwarded-For`; each proxy appends the address it saw. So the header is
believed only when the peer is a trusted proxy, and then hop by hop from the right while the address at hand
is itself trusted: the first untrusted hop is the client (nginx's `real_ip_recursive`). With no trusted
proxy configured (the default) the peer is the client and the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from xianxia.config import Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, networks: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


def forwarded_client(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer's, unless it is a trusted proxy; then the rightmost untrusted hop.

    `forwarded_for` holds every `X-Forwarded-For` header of the request, in order. A hop that is not an
    address stops the walk at the last address that could be read (it was written by whoever we stopped at).
    """
    if not peer:
        return "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        if not _trusted(client, trusted) or _address(hop) is None:
            break
        client = str(_address(hop))
    return client
