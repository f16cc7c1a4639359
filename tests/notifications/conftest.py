import socket

import pytest

from notifications import sms

PUBLIC_ADDRESS = "93.184.216.34"
# The stub resolver's answers; a name not listed here does not resolve. IP literals (and
# the database and Redis hosts) go to the real resolver, which does no lookup for them.
DNS = {
    "partner.example": [PUBLIC_ADDRESS],
    "other.example": ["93.184.216.35"],
    "metadata.google.internal": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "split.example": ["93.184.216.36", "10.0.0.7"],
    "v6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mapped.example": ["::ffff:192.168.1.1"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """A stubbed resolver at the socket boundary: ``fake_dns.table`` maps a name to its
    addresses (tests may change it between lookups), ``fake_dns.lookups`` records names."""
    real = socket.getaddrinfo

    class Resolver:
        table = {name: list(addresses) for name, addresses in DNS.items()}
        lookups: list[str] = []

        def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name in self.table:
                self.lookups.append(name)
                return [
                    (
                        socket.AF_INET6 if ":" in address else socket.AF_INET,
                        socket.SOCK_STREAM,
                        6,
                        "",
                        (address, port, 0, 0) if ":" in address else (address, port),
                    )
                    for address in self.table[name]
                ]
            try:
                return real(host, port, family, type, proto, socket.AI_NUMERICHOST | flags)
            except socket.gaierror:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    resolver = Resolver()
    resolver.lookups = []
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """SMS go to notifications.sms.outbox (emails go to django.core.mail.outbox)."""
    settings.SMS_BACKEND = "notifications.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()
