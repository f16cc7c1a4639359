"""Requests to partner-chosen URLs that cannot be turned against our own network (SSRF).

A host name is resolved once, at send time; every address it resolves to must be global
(not private, loopback, link-local, reserved, shared or multicast), and the connection
goes to the address that was checked: the URL is rewritten to that address, the ``Host``
header keeps the name, and TLS checks the certificate against the name (SNI included).
There is no second lookup an attacker's DNS could answer differently (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeDestination(Exception):
    """The host is, or resolves to, an address that is not global."""


class UnresolvableHost(Exception):
    """The host name does not resolve now (worth retrying later)."""


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 reaches 10.0.0.1
        address = mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order (one lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"{host} does not resolve: {exc}") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"{host} resolves to no address")
    return addresses


def checked_address(host: str, port: int, *, allow_private: bool = False) -> str:
    """The address to connect to for ``host``: resolved once, all its addresses global
    (unless ``allow_private``). Raises :class:`UnsafeDestination` or
    :class:`UnresolvableHost`."""
    addresses = resolve(host, port)
    if not allow_private:
        unsafe = [a for a in addresses if not is_public_address(ipaddress.ip_address(a))]
        if unsafe:
            raise UnsafeDestination(f"{host} resolves to a non-public address ({unsafe[0]})")
    return addresses[0]


class PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's (IP) host while TLS verifies ``server_hostname``."""

    def __init__(self, *, server_hostname: str) -> None:
        self.server_hostname = server_hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs.update(
            server_hostname=self.server_hostname, assert_hostname=self.server_hostname
        )
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def post_to_checked_address(
    url: str, *, data: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> requests.Response:
    """POST ``data`` to ``url`` over a connection to the checked address of its host.

    No redirects are followed, no proxy from the environment is used, and the answer is
    streamed (close it; its body is never read here). Raises :class:`UnsafeDestination`,
    :class:`UnresolvableHost`, or a ``requests`` error.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
    address = checked_address(host, port, allow_private=allow_private)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    name = f"[{host}]" if ":" in host else host
    session = requests.Session()
    session.trust_env = False  # an HTTPS_PROXY from the environment would resolve again
    session.mount(f"{parts.scheme}://", PinnedHostAdapter(server_hostname=host))
    return session.post(
        pinned,
        data=data,
        headers={**headers, "Host": f"{name}:{parts.port}" if parts.port else name},
        timeout=timeout,
        allow_redirects=False,
        stream=True,
    )
