"""The tests' network guard, loaded by every Python process the suite starts (conftest.py
puts this folder first on PYTHONPATH) and by the suite's own processes (conftest imports
it): no test may contact an address other than the loopback one.

A connection (TCP or UDP) to another address, or a name lookup the resolver would answer
(any name but localhost and address literals), is refused at once (as a resolver on a
machine without network says: the name does not exist; the connection: no route) and
written to `$NEWSBEAM_TEST_OFFLINE_LOG/<pid>.log`; the suite fails at its end when any
process wrote one (conftest.pytest_sessionfinish). Tests that stub the resolver themselves
(monkeypatch `socket.getaddrinfo`) replace this one for their own time.

`NEWSBEAM_TEST_RESOLVER_DELAY=S`: a refused lookup first waits S seconds and then fails
as a resolver that timed out (EAI_AGAIN), as the air-gapped host's does (~5 s a name):
what benchmarks/bench_offline_feeds.py measures a run on saved feeds against.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from typing import Any

LOG_ENV = "NEWSBEAM_TEST_OFFLINE_LOG"
DELAY_ENV = "NEWSBEAM_TEST_RESOLVER_DELAY"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _address(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` spells without a resolver ("127.0.0.1", "2130706433", "::1",
    "[::ffff:127.0.0.1]"), or None for a name."""
    text = host.decode() if isinstance(host, bytes) else str(host)
    text = text.strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:  # the C library's other spellings of an IPv4 address (a decimal integer, ...)
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_local(host: Any) -> bool:
    """Whether `host` (a name or an address; bytes too) stays on this machine."""
    if host is None:
        return True  # getaddrinfo(None, port): the wildcard or loopback address
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOCAL_NAMES or text == "":
        return True
    address = _address(host)
    return address is not None and (address.is_loopback or address.is_unspecified)


def _is_literal(host: Any) -> bool:
    return host is not None and _address(host) is not None


def record(what: str) -> None:
    folder = os.environ.get(LOG_ENV)
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    test = os.environ.get("PYTEST_CURRENT_TEST", "")
    with open(os.path.join(folder, f"{os.getpid()}.log"), "a") as handle:
        handle.write(f"{what}\t{test}\n")


def install() -> None:
    """Wrap the socket module's lookups and connections (once per process)."""
    if getattr(socket, "_newsbeam_offline_guard", False):
        return
    socket._newsbeam_offline_guard = True  # type: ignore[attr-defined]
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def refuse_lookup(host: Any) -> None:
        record(f"lookup {host!r}")
        delay = float(os.environ.get(DELAY_ENV) or 0)
        if delay > 0:
            time.sleep(delay)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (offline guard)")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host) and not _is_literal(host):
            refuse_lookup(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not is_local(host) and not _is_literal(host):
            refuse_lookup(host)
        return real_gethostbyname(host)

    def remote(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False  # a Unix socket, netlink, ...
        host = address[0] if isinstance(address, tuple) else address
        return not is_local(host)

    def connect(self: socket.socket, address: Any) -> None:
        if remote(self, address):
            record(f"connect {address!r}")
            raise OSError(101, "Network is unreachable (offline guard)")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if remote(self, address):
            record(f"connect {address!r}")
            return 101
        return int(real_connect_ex(self, address))

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1]
        if remote(self, address):
            record(f"sendto {address!r}")
            raise OSError(101, "Network is unreachable (offline guard)")
        return int(real_sendto(self, data, *args))

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign]


if os.environ.get(LOG_ENV) or os.environ.get(DELAY_ENV):
    install()
