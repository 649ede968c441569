"""HTTP fetching as a well-behaved client: the policy as small pure functions, and `Fetcher`.

Built on urllib3 (already installed with trafilatura); nothing here opens sockets by hand.

- Only http and https. Private, loopback, link-local, multicast and reserved addresses are
  refused, except those named in `allow_hosts` (hosts, addresses, CIDRs) and, with
  `allow_private_hosts`, private ranges and loopback (never link-local: cloud metadata
  lives at 169.254.169.254). Every address the host name resolves to is checked
  before connecting, and the connected peer again after (a DNS answer that changes between
  the two cannot slip through). Each redirect hop is checked the same way.
- Connect and read timeouts, and a deadline for the whole response (headers and body),
  enforced on every read whatever the framing (each read waits at most what is left of
  it, and the socket is shut at the deadline): a server trickling one byte a second never
  ends otherwise.
- Retries: urllib3's `Retry` on connection errors, read timeouts, 429 and 5xx, with
  exponential backoff, honouring `Retry-After`; a `Retry-After` longer than
  `max_retry_after_seconds` is not waited for (the fetch fails with that status instead);
  no retry after an error starts later than `retry_window_seconds` after the first attempt.
- Redirects followed here, at most `max_redirects`, loops detected.
- A size cap on the body after decompression, read in chunks: a gzip bomb stops at the cap
  (urllib3 limits what one decompression call may produce).
- Conditional GET (If-None-Match / If-Modified-Since) when given an ETag / Last-Modified.
- Per-host politeness: at most `per_host_concurrency` requests at once to a host, and at
  least `per_host_interval_seconds` (or the robots.txt Crawl-delay, up to a cap) between
  the starts of two requests to it.
- robots.txt (stdlib `urllib.robotparser`, fed by this fetcher) for article pages: 4xx
  means no rules, 5xx or unreachable means everything disallowed (RFC 9309). A page's
  redirect hops are checked too, each against its own site's robots.txt (fetched once per
  site): a redirect to a disallowed URL on another host ends the fetch there.
- The result lists the redirect statuses followed, so a caller can tell a permanent move
  (301/308 only) from a temporary one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import socket
import threading
import time
import urllib.parse
import urllib.robotparser
from collections.abc import Callable, Iterable, Iterator, Sequence
from http.client import IncompleteRead
from importlib import metadata
from typing import Any, NamedTuple

import urllib3
import urllib3.util.request
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from newsbeam.transforms.support.urls import names_a_host, split_url


def _newsbeam_version() -> str:
    try:
        return metadata.version("newsbeam")
    except metadata.PackageNotFoundError:
        return "0"


ROBOTS_AGENT = "NewsBeam"
DEFAULT_USER_AGENT = f"NewsBeam/{_newsbeam_version()} (news ingestion; Apache Beam)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# One read: at most this much, returned as soon as any bytes arrive (read1).
_READ_PIECE = 16 * 1024
MAX_CRAWL_DELAY_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """How NewsBeam fetches. Defaults suit polling news sites from one machine."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # The whole response, retries' waits excluded: stops a server that trickles bytes.
    total_timeout: float = 60.0
    max_retries: int = 3
    # A retry after an error (timeout, no connection) starts only this long after the
    # request's first attempt: a server that never answers held its fetch, and with it the
    # whole batch of feeds, for the read timeout times every retry (~2 minutes).
    retry_window_seconds: float = 30.0
    backoff_seconds: float = 1.0  # urllib3's backoff_factor: 0, 2x, 4x, ... between retries
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 120.0
    max_redirects: int = 5
    max_bytes: int = 10 * 1024 * 1024  # after decompression
    # Private ranges and loopback, never link-local or metadata addresses (is_private_range).
    allow_private_hosts: bool = False
    # Exactly these hosts, addresses or CIDRs, although not public (parse_allow_hosts).
    allow_hosts: tuple[str, ...] = ()
    concurrency: int = 16  # requests in flight in one worker, all hosts together
    per_host_concurrency: int = 2
    per_host_interval_seconds: float = 1.0
    respect_robots: bool = True


class FetchResult(NamedTuple):
    """The outcome of one GET. `error` is None on success (200 or 304)."""

    url: str  # as requested
    final_url: str  # after redirects
    http_status: int | None
    headers: dict[str, str]  # lower-case names
    body: bytes
    error: str | None  # a reason code: timeout, refused_address, too_large, http_error, ...
    detail: str
    latency_ms: int
    # The status of every redirect followed, in order (empty: none). Last, with a default,
    # so results built without redirects need not name it.
    redirects: tuple[int, ...] = ()
    # When the response came (UTC): what a page's "vor 3 Stunden" and a feed's "hace 2
    # horas" count back from. None: not fetched (a file, a robots refusal).
    fetched_at: dt.datetime | None = None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.http_status == 304


class FetchError(Exception):
    """An expected fetch failure; `reason` is a short code for tables."""

    def __init__(self, reason: str, detail: str, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.http_status = http_status


class AddressRefused(FetchError):
    def __init__(self, detail: str) -> None:
        super().__init__("refused_address", detail)


# ---------------------------------------------------------------------------------------
# Pure policy
# ---------------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (an IPv6 address that carries an IPv4
    one judged as that IPv4 address: see _ip)."""
    ip = _ip(address)
    if ip is None:
        return False
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


# Cloud instance-metadata addresses that are not link-local (AWS's IPv6 one is in the
# unique-local range, Alibaba's in the shared 100.64/10): never "private", only if named.
METADATA_ADDRESSES = frozenset({"fd00:ec2::254", "100.100.100.200"})


# NAT64 prefixes (RFC 6052's well-known one, RFC 8215's local-use one): a gateway translates
# the address's last 32 bits to the IPv4 address it reaches.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a connection to `address` ends at, as far as it can be told: an IPv6
    address carrying an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64
    64:ff9b::/96) is that IPv4 address. Python counts 6to4 and NAT64 addresses as global,
    so 64:ff9b::a9fe:a9fe (169.254.169.254) passed as public where a NAT64 gateway runs."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_private_range(address: str) -> bool:
    """What `--allow_private_hosts` lets through: private (RFC 1918, unique-local IPv6) and
    loopback addresses; never link-local (169.254/16, fe80::/10: cloud metadata lives
    there), a known metadata address, multicast, reserved or unspecified ones."""
    ip = _ip(address)
    if ip is None or str(ip) in METADATA_ADDRESSES:
        return False
    if ip.is_loopback:  # before the reserved check: ::1 lies in the reserved ::/8
        return True
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    return ip.is_private or ip.is_loopback


@dataclasses.dataclass(frozen=True)
class AllowList:
    """Hosts a fetch may reach although not public: `names` (host names, lower case,
    exactly as in URLs) and `networks` (addresses and CIDRs, e.g. 127.0.0.1, ::1,
    10.1.0.0/16); `private`: every private-range address (see is_private_range)."""

    names: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    private: bool = False

    def allows(self, address: str, host: str = "") -> bool:
        """Whether a connection to `address` (for the URL host `host`) may go ahead."""
        if is_public_address(address) or host.lower().strip("[]") in self.names:
            return True
        ip = _ip(address)
        if ip is not None and any(ip.version == n.version and ip in n for n in self.networks):
            return True
        return self.private and is_private_range(address)


def parse_allow_hosts(entries: Iterable[str], private: bool = False) -> AllowList:
    """`--allow_hosts` values (comma-separated lists too) -> AllowList; ValueError names a
    bad entry. An entry that parses as an address or CIDR is one; anything else is a name."""
    names, networks = set(), []
    for entry in (part.strip() for value in entries for part in value.split(",")):
        if not entry:
            continue
        bare = entry.strip("[]")
        if any(char.isdigit() for char in bare) and ("." in bare or ":" in bare):
            try:
                networks.append(ipaddress.ip_network(bare, strict=False))
                continue
            except ValueError:
                if ":" in bare or bare.replace(".", "").replace("/", "").isdigit():
                    raise ValueError(f"--allow_hosts: {entry!r} is not an address") from None
        names.add(bare.lower())
    return AllowList(frozenset(names), tuple(networks), private)


def refused_addresses(
    addresses: Iterable[str], allow_private: bool | AllowList, host: str = ""
) -> list[str]:
    """The addresses a connection must not go to; any one refuses the whole host (a host
    resolving to a public and a private address could be steered to the private one).
    `allow_private`: an AllowList, or a bool for "private ranges" (see is_private_range)."""
    allowed = (
        allow_private if isinstance(allow_private, AllowList) else AllowList(private=allow_private)
    )
    return sorted({address for address in addresses if not allowed.allows(address, host)})


def check_url(url: str) -> None:
    """Raise FetchError unless `url` is an absolute http(s) URL with a host."""
    parts = split_url(url)
    if parts is None:  # "http://[::1": urlsplit's own refusal
        raise FetchError("bad_url", f"not a URL: {url!r}")
    if parts.scheme not in ("http", "https"):
        raise FetchError("bad_scheme", f"only http and https are fetched, not {url!r}")
    if not names_a_host(parts):  # none, or one with a space ("http://a b/"): no address
        raise FetchError("bad_url", f"no host in {url!r}")


def host_of(url: str) -> str:
    """The host (and non-default port) requests to `url` go to: the politeness key."""
    parts = urllib.parse.urlsplit(url)
    return (parts.netloc.rsplit("@", 1)[-1] or "").lower()


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-case, the default port left out: the site a
    robots.txt speaks for (RFC 9309: one file per scheme, host and port)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep it as written, check_url reports the URL
        return f"{scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def permanent_redirect(result: FetchResult) -> str | None:
    """The URL `result.url` has moved to: the final URL when at least one redirect was
    followed, every one of them permanent (301/308), and the fetch succeeded; else None.
    One temporary hop (302/303/307) in the chain means the old URL stays the address."""
    if result.error is not None or not result.redirects or result.final_url == result.url:
        return None
    if not set(result.redirects) <= PERMANENT_REDIRECT_STATUSES:
        return None
    return result.final_url


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Request headers for a conditional GET with what the previous response said."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def redirect_target(url: str, location: str | None, seen: Sequence[str], limit: int) -> str:
    """The next URL of a redirect chain; raises FetchError for a loop or too many hops."""
    if not location:
        raise FetchError("http_error", "redirect without a Location header")
    target = urllib.parse.urldefrag(urllib.parse.urljoin(url, location.strip()))[0]
    if target in seen:
        raise FetchError("redirect_loop", f"redirect loop back to {target}")
    if len(seen) > limit:
        raise FetchError("too_many_redirects", f"more than {limit} redirects")
    check_url(target)
    return target


# The content codings urllib3 decodes here (gzip and deflate; br and zstd when their
# libraries are installed): what requests accept, and all a response may use.
DECODABLE_ENCODINGS = frozenset(
    coding.strip() for coding in urllib3.util.request.ACCEPT_ENCODING.split(",")
) | {"identity", "x-gzip"}


def undecodable_encoding(headers: dict[str, str]) -> str | None:
    """The first content coding of a response (lower-case headers) that cannot be decoded
    here, or None: its bytes would pass on still encoded, as if they were the document."""
    for coding in headers.get("content-encoding", "").lower().split(","):
        coding = coding.strip()
        if coding and coding not in DECODABLE_ENCODINGS:
            return coding
    return None


def robots_agent(user_agent: str) -> str:
    """The product token robots.txt groups are matched against (RFC 9309): the User-Agent's
    first word without its version, "AcmeMonitor/2.1 (ops@x)" -> "AcmeMonitor"; NewsBeam's
    own for an empty one. Rules for NewsBeam must not apply to a crawler named otherwise."""
    token = user_agent.strip().split(None, 1)[0].split("/", 1)[0] if user_agent.strip() else ""
    return token or ROBOTS_AGENT


def robots_url(url: str) -> str:
    return f"{origin_of(url)}/robots.txt"


def robots_rules(http_status: int | None, body: bytes) -> urllib.robotparser.RobotFileParser:
    """A robots.txt response -> its rules, per RFC 9309: 2xx the file's rules, 4xx no
    rules, anything else (5xx, unreachable) everything disallowed."""
    rules = urllib.robotparser.RobotFileParser()
    if http_status is not None and 200 <= http_status < 300:
        rules.parse(body.decode("utf-8", errors="replace").splitlines())
    elif http_status is not None and 400 <= http_status < 500:
        rules.allow_all = True  # type: ignore[attr-defined]  # stdlib's own flag, unstubbed
    else:
        rules.disallow_all = True  # type: ignore[attr-defined]
    return rules


# ---------------------------------------------------------------------------------------
# urllib3 plumbing: guarded connections and a Retry that caps Retry-After
# ---------------------------------------------------------------------------------------


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []  # the connection attempt reports the resolution error itself
    return [str(info[4][0]) for info in infos]


class _GuardMixin:
    allowed = AllowList()

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        refused = refused_addresses(_resolve(host, port), self.allowed, host)
        if refused:
            raise AddressRefused(
                f"{host} resolves to non-public {', '.join(refused)} (--allow_hosts {host} "
                "or --allow_private_hosts lets NewsBeam fetch from it)"
            )
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        peer = str(sock.getpeername()[0])
        if not self.allowed.allows(peer, host):
            sock.close()
            raise AddressRefused(f"{host} connected to non-public {peer}")
        return sock


class _DeadlineMixin:
    """A pool whose every request (each retry its own) has `total_timeout` seconds for its
    status line and headers, as for its body (`_read_body` counts from the same start):
    a server dripping its headers a byte at a time meets the read timeout on no read, so
    without this it held the fetch for as long as it liked."""

    total_timeout = 60.0

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _shut(getattr(conn, "sock", None))  # a blocked recv returns at once

        watchdog = threading.Timer(self.total_timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            response = super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        except Exception as error:
            if expired.is_set():  # a FetchError: urllib3 neither retries nor wraps it
                raise _response_timeout(self.total_timeout, "headers") from error
            raise
        finally:
            watchdog.cancel()
        response.newsbeam_started = started
        return response


def _guarded_pools(allowed: AllowList, total_timeout: float = 60.0) -> dict[str, type]:
    flag = {"allowed": allowed}
    http_conn = type("GuardedHTTPConnection", (_GuardMixin, HTTPConnection), flag)
    https_conn = type("GuardedHTTPSConnection", (_GuardMixin, HTTPSConnection), flag)
    deadline = {"total_timeout": total_timeout}
    return {
        "http": type(
            "GuardedHTTPPool",
            (_DeadlineMixin, HTTPConnectionPool),
            {"ConnectionCls": http_conn, **deadline},
        ),
        "https": type(
            "GuardedHTTPSPool",
            (_DeadlineMixin, HTTPSConnectionPool),
            {"ConnectionCls": https_conn, **deadline},
        ),
    }


def request_latency_ms(elapsed: float, waited: float) -> int:
    """A fetch's latency: its seconds less those it waited for the host's turns (politeness
    spacing, a free slot, retries' backoff), so a feed list on one host does not make each
    later feed look a second slower than the one before it (review 83: 1,001 to 11,006 ms
    for seven feeds answering in 2 ms on 127.0.0.1)."""
    return max(0, int((elapsed - waited) * 1000))


# A host's turn for a retry: (the least wait from now, the latest start or None) -> whether
# the turn was taken (slept until it came) or would have started after that latest start.
TakeTurn = Callable[[float, float | None], bool]


class _PoliteRetry(Retry):
    """urllib3's Retry that gives up rather than wait longer than `max_retry_after`, and
    retries no error once `retry_window` seconds have passed since `started` (the
    request's first attempt: `started_now`). With `take_turn` (the host's gate), a retry
    waits its backoff or Retry-After and then its turn at the host like any request:
    urllib3 retries inside the request's slot, and with its own sleep only a 503 was
    retried at once (its first backoff is 0 s), 20 requests a second to a host set to one
    (review 74)."""

    max_retry_after: float = 120.0
    retry_window: float = 30.0
    started: float | None = None
    take_turn: TakeTurn | None = None
    last_error: Exception | None = None  # what the retry about to sleep follows

    def started_now(self, take_turn: TakeTurn | None = None) -> _PoliteRetry:
        """A copy for one request, its window counted from now, its retries taking their
        turns with `take_turn`."""
        retry = self.new()
        retry.started = time.monotonic()
        retry.take_turn = take_turn
        return retry

    def new(self, **kw: Any) -> _PoliteRetry:
        retry = super().new(**kw)
        retry.started = self.started  # urllib3 copies only its own settings
        retry.take_turn = self.take_turn
        return retry

    def sleep(self, response: Any = None) -> None:
        if self.take_turn is None:
            super().sleep(response)
            return
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        # As urllib3: a Retry-After of 0 or none at all leaves the exponential backoff.
        wait = wait or self.get_backoff_time()
        # The window bounds retries after errors (a status retry has no window): a turn that
        # comes after it is not taken, and the fetch ends with that error, as in increment.
        latest = None
        if response is None and self.started is not None:
            latest = self.started + self.retry_window
        if not self.take_turn(wait, latest):
            raise MaxRetryError(None, None, self.last_error)  # type: ignore[arg-type]

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _PoliteRetry:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f} s"))
        elif error is not None and name_unknown(error):
            # The resolver answered that the name does not exist: asking again in 1, 2 and 4 s
            # gets the same answer (7 s a host on a machine without network). A resolver
            # that could not answer (EAI_AGAIN) is retried as before.
            raise MaxRetryError(_pool, url, error) from error
        elif error is not None and self.started is not None:
            if time.monotonic() - self.started >= self.retry_window:
                raise MaxRetryError(_pool, url, error) from error  # as urllib3's last retry
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry.last_error = error
        return retry


# getaddrinfo's answers that a name does not exist (NXDOMAIN; no address of the kind asked).
_UNKNOWN_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})


def name_unknown(error: BaseException) -> bool:
    """Whether `error` is urllib3's failure to resolve a name the resolver says does not
    exist, rather than one it could not look up for now."""
    if not isinstance(error, urllib3.exceptions.NameResolutionError):
        return False
    cause = error.__cause__ or getattr(error, "_reason", None)
    return isinstance(cause, socket.gaierror) and cause.errno in _UNKNOWN_NAME


def make_retry(config: FetchConfig) -> Retry:
    """urllib3's Retry for `config`: status retries on 429/5xx honouring Retry-After."""
    cap = {
        "max_retry_after": config.max_retry_after_seconds,
        "retry_window": config.retry_window_seconds,
    }
    retry_class: type[_PoliteRetry] = type("PoliteRetry", (_PoliteRetry,), cap)
    return retry_class(
        total=config.max_retries,
        connect=config.max_retries,
        read=config.max_retries,
        status=config.max_retries,
        other=0,
        redirect=False,  # followed by Fetcher, which checks every hop's address
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=config.backoff_seconds,
        backoff_max=config.max_backoff_seconds,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last response comes back; its status is the error
        raise_on_redirect=False,
    )


# ---------------------------------------------------------------------------------------
# The fetcher
# ---------------------------------------------------------------------------------------


class _HostGate:
    """Per-host concurrency and spacing between request starts."""

    def __init__(self, concurrency: int) -> None:
        self.slots = threading.Semaphore(max(1, concurrency))
        self.lock = threading.Lock()
        self.next_start = 0.0
        self.interval: float | None = None  # robots.txt Crawl-delay, when it said one


class _SiteRobots(NamedTuple):
    """A site's robots.txt as read once: its rules, and why it could not be read (None when
    it was: its rules then say what they say)."""

    rules: urllib.robotparser.RobotFileParser
    unread: str | None


class Fetcher:
    """Thread-safe GETs under `FetchConfig`'s policy; `fetch` never raises for bad URLs or
    bad servers: the FetchResult says what went wrong."""

    def __init__(self, config: FetchConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self._config = config
        self._sleep = sleep
        self._pool = urllib3.PoolManager(
            num_pools=64,
            maxsize=max(1, config.per_host_concurrency),
            block=False,
            headers={
                "User-Agent": config.user_agent,
                "Accept-Encoding": urllib3.util.request.ACCEPT_ENCODING,
            },
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            retries=make_retry(config),
        )
        self._retry = make_retry(config)
        allowed = parse_allow_hosts(config.allow_hosts, config.allow_private_hosts)
        self._pool.pool_classes_by_scheme = _guarded_pools(allowed, config.total_timeout)
        self._robots_agent = robots_agent(config.user_agent)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _SiteRobots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        # Seconds this thread's fetch has waited for the host (a slot, its turn, a retry's
        # backoff): not the server's time, so not in the fetch's latency_ms (review 83).
        self._waits = threading.local()
        # Sites (scheme, host, port) that could not be reached (no address, no connection,
        # no connection in time) while `remembering_unreachable`: origin -> (reason,
        # detail). None: not remembering (each fetch tries).
        self._unreachable: dict[str, tuple[str, str]] | None = None

    def close(self) -> None:
        self._pool.clear()

    @contextlib.contextmanager
    def remembering_unreachable(self) -> Iterator[None]:
        """Within it, a site that could not be reached (unreachable: its name unresolved,
        its connection refused or not made in time, retries spent) is not asked again: its
        later fetches fail at once with the same reason. One run's (or one follow batch's)
        fetches: the next asks again. 20 feeds on a host that was down held a run 5
        minutes (30 s each, two at a time); on a machine without network each request
        waited for the resolver to time out, ~5 s a lookup (review 117)."""
        with self._lock:
            self._unreachable = {}
        try:
            yield
        finally:
            with self._lock:
                self._unreachable = None

    def _remember_unreachable(self, url: str, error: Exception) -> None:
        """Remember `url`'s site when `error` says it could not be reached (while the
        request still holds the host's slot: the next request in line sees it)."""
        if self._unreachable is not None and unreachable(error):
            with self._lock:
                if self._unreachable is not None:
                    self._unreachable.setdefault(origin_of(url), _classify(error))

    def _known_unreachable(self, url: str) -> None:
        """Raise the FetchError of a site found unreachable earlier (remembering_unreachable)."""
        known = self._unreachable.get(origin_of(url)) if self._unreachable is not None else None
        if known is not None:
            reason, detail = known
            raise FetchError(reason, f"{detail} (not asked again: unreachable earlier in this run)")

    # -- politeness --------------------------------------------------------------------

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self._config.per_host_concurrency)
            return gate

    def _wait_turn(self, gate: _HostGate, wait: float = 0.0, latest: float | None = None) -> bool:
        """Sleep until a request may start at the host: `wait` seconds from now at the
        soonest (a retry's backoff or Retry-After), and the host's interval after the start
        before it. False, with no turn taken, when that comes after `latest`."""
        interval = max(self._config.per_host_interval_seconds, gate.interval or 0.0)
        with gate.lock:
            now = time.monotonic()
            start = max(now + max(0.0, wait), gate.next_start)
            if latest is not None and start > latest:
                return False
            # A Retry-After thus holds back every later request to the host, not this one's.
            gate.next_start = start + interval
        if start > now:
            self._waited(start - now)
            self._sleep(start - now)
        return True

    def _waited(self, seconds: float) -> None:
        self._waits.seconds = getattr(self._waits, "seconds", 0.0) + seconds

    # -- fetching ----------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        robots_on_redirects: bool = False,
    ) -> FetchResult:
        """GET `url` (following redirects); conditional when given etag/last_modified.

        With `robots_on_redirects`, every redirect target is checked against its own
        site's robots.txt before it is requested (the caller has checked `url` itself)."""
        started = time.monotonic()
        self._waits.seconds = 0.0
        final_url, status, body = url, None, b""
        headers: dict[str, str] = {}
        redirects: list[int] = []
        try:
            check_url(url)
            chain: list[str] = [url]
            request_headers = {"Accept": accept, **conditional_headers(etag, last_modified)}
            while True:
                status, headers, body = self._get_once(final_url, request_headers)
                if status not in REDIRECT_STATUSES:
                    break
                final_url = redirect_target(
                    final_url, headers.get("location"), chain, self._config.max_redirects
                )
                chain.append(final_url)
                redirects.append(status)
                if robots_on_redirects and not self.allowed_by_robots(final_url):
                    raise FetchError(
                        "robots_disallowed",
                        f"redirected to {final_url}: {self.robots_refusal(final_url)}",
                    )
            if status != 304 and not 200 <= status < 300:
                wait = headers.get("retry-after")
                detail = f"HTTP {status}" + (f" (Retry-After {wait})" if wait else "")
                raise FetchError("http_error", detail, status)
        except FetchError as error:
            return self._result(url, final_url, error.http_status or status, headers, b"",
                                error.reason, str(error), started, redirects)  # fmt: skip
        except Exception as error:  # urllib3/socket errors: name the kind, keep the message
            reason, detail = _classify(error)
            return self._result(
                url, final_url, status, headers, b"", reason, detail, started, redirects
            )
        return self._result(url, final_url, status, headers, body, None, "", started, redirects)

    def _result(
        self,
        url: str,
        final_url: str,
        status: int | None,
        headers: dict[str, str],
        body: bytes,
        error: str | None,
        detail: str,
        started: float,
        redirects: Sequence[int] = (),
    ) -> FetchResult:
        latency = request_latency_ms(
            time.monotonic() - started, getattr(self._waits, "seconds", 0.0)
        )
        return FetchResult(
            url,
            final_url,
            status,
            headers,
            body,
            error,
            detail,
            latency,
            tuple(redirects),
            dt.datetime.now(dt.timezone.utc),
        )

    def _get_once(
        self, url: str, request_headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        gate = self._gate(host_of(url))
        queued = time.monotonic()
        with gate.slots:
            self._waited(time.monotonic() - queued)
            self._known_unreachable(url)  # found so while this request waited for its slot
            self._wait_turn(gate)
            retry = self._retry
            try:
                response = self._pool.urlopen(
                    "GET",
                    url,
                    retries=(
                        retry.started_now(lambda wait, latest: self._wait_turn(gate, wait, latest))
                        if isinstance(retry, _PoliteRetry)
                        else retry
                    ),
                    headers={**self._pool.headers, **request_headers},
                    redirect=False,
                    preload_content=False,
                    decode_content=True,
                )
            except Exception as error:
                self._remember_unreachable(url, error)
                raise
            try:
                headers = {name.lower(): value for name, value in response.headers.items()}
                if response.status in REDIRECT_STATUSES or response.status == 304:
                    return response.status, headers, b""
                if response.status >= 400:
                    response.drain_conn()
                    return response.status, headers, b""
                coding = undecodable_encoding(headers)
                if coding is not None:
                    response.close()  # the body is of no use: not read, not back to the pool
                    detail = f"Content-Encoding {coding} cannot be decoded"
                    raise FetchError("bad_encoding", detail, response.status)
                try:
                    return response.status, headers, self._read_body(response, headers)
                except FetchError as error:  # too large, too slow: the server did answer
                    error.http_status = error.http_status or response.status
                    raise
                except (OSError, urllib3.exceptions.HTTPError) as error:  # cut, reset, bad gzip
                    raise body_failure(error, response.status) from error
            finally:
                response.release_conn()

    def _read_body(self, response: Any, headers: dict[str, str]) -> bytes:
        limit = self._config.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and "content-encoding" not in headers and int(declared) > limit:
            response.drain_conn()
            raise FetchError("too_large", f"Content-Length {declared} > {limit} bytes")
        # The deadline counts from the request (_DeadlineMixin), headers included.
        started = getattr(response, "newsbeam_started", time.monotonic())
        deadline = started + self._config.total_timeout
        sock = _socket_of(response)
        # Backstop for reads that loop inside urllib3 (a decoder waiting for more compressed
        # bytes): at the deadline the socket is shut, so any blocked recv returns at once.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (sock,))
        watchdog.daemon = True
        watchdog.start()
        chunks, size = [], 0
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _body_timeout(self._config.total_timeout)
                if sock is not None and sock.fileno() != -1:
                    # Each read waits at most what is left of the deadline, whatever the
                    # framing (no Content-Length, no chunking: read until the peer closes).
                    # A socket closed already was read to its end: http.client closes it
                    # after the last byte of a "Connection: close" response.
                    sock.settimeout(min(self._config.read_timeout, remaining))
                try:
                    chunk = response.read1(_READ_PIECE, decode_content=True)
                except (OSError, urllib3.exceptions.HTTPError) as error:
                    if time.monotonic() >= deadline:
                        raise _body_timeout(self._config.total_timeout) from error
                    raise
                if time.monotonic() > deadline:
                    raise _body_timeout(self._config.total_timeout)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    encoding = headers.get("content-encoding")
                    reason = "decompression_bomb" if encoding else "too_large"
                    what = f" after {encoding} decoding" if encoding else ""
                    raise FetchError(reason, f"body over {limit} bytes{what}")
                chunks.append(chunk)
        except BaseException:
            response.close()  # never back to the pool: the socket may be shut or mid-body
            raise
        finally:
            watchdog.cancel()
        return b"".join(chunks)

    # -- robots.txt --------------------------------------------------------------------

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt lets NewsBeam fetch `url` (fetched once per site: scheme, host
        and port)."""
        if not self._config.respect_robots:
            return True
        where = robots_url(url)
        with self._lock:
            site_lock = self._robots_locks.setdefault(where, threading.Lock())
        with site_lock:  # one robots.txt request per site, however many pages wait for it
            site = self._robots.get(where)
            if site is None:
                result = self.fetch(where, accept="text/plain")
                status = result.http_status if result.error in (None, "http_error") else None
                unread = None  # RFC 9309: unreachable or 5xx -> everything disallowed
                if status is None:
                    unread = f"{result.error}: {result.detail}"
                elif status >= 500:
                    unread = f"HTTP {status}"
                site = self._robots[where] = _SiteRobots(robots_rules(status, result.body), unread)
                delay = site.rules.crawl_delay(self._robots_agent)
                if delay:
                    interval = min(float(delay), MAX_CRAWL_DELAY_SECONDS)
                    self._gate(host_of(url)).interval = interval
        return bool(site.rules.can_fetch(self._robots_agent, url))

    def robots_refusal(self, url: str) -> str:
        """Why `url` is not fetched, once `allowed_by_robots` said no: its site's robots.txt
        disallows it, or could not be read (RFC 9309 then has a crawler take every page of
        the site as disallowed: a network error, a 5xx)."""
        where = robots_url(url)
        site = self._robots.get(where)
        unread = site.unread if site is not None else None
        if unread:
            return f"{where} could not be read ({unread}), so no page of the site is fetched"
        return f"{where} disallows it"

    def fetch_page(self, url: str) -> FetchResult:
        """GET an article page, unless robots.txt disallows it or a redirect hop (checked
        against the robots.txt of the site it goes to)."""
        try:
            check_url(url)
        except FetchError as error:
            return FetchResult(url, url, None, {}, b"", error.reason, str(error), 0)
        if not self.allowed_by_robots(url):
            detail = self.robots_refusal(url)
            return FetchResult(url, url, None, {}, b"", "robots_disallowed", detail, 0)
        return self.fetch(
            url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5", robots_on_redirects=True
        )


def _body_timeout(seconds: float) -> FetchError:
    return _response_timeout(seconds, "body")


def _response_timeout(seconds: float, part: str) -> FetchError:
    """The fetch's error for a response not complete at the deadline (`part`: what was
    still being read, the headers or the body)."""
    return FetchError("timeout", f"{part} not complete in {seconds} s")


def _socket_of(response: Any) -> socket.socket | None:
    """The socket a streamed urllib3 response reads from (None if urllib3 hides it)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is None:
        # A response that closes the connection (no framing) is detached from it by
        # http.client; its socket is then only reachable through the body's reader.
        reader = getattr(getattr(response, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def unreachable(error: Exception) -> bool:
    """Whether `error` (what urllib3 raised, retries spent) says the site could not be
    reached at all: no address for its name, a connection refused or not made in time.
    Not a read timeout or a cut body: that server did answer once."""
    cause: BaseException = error
    if isinstance(error, MaxRetryError) and error.reason is not None:
        cause = error.reason
    # NameResolutionError and NewConnectionError derive from ConnectTimeoutError (urllib3).
    return isinstance(cause, urllib3.exceptions.ConnectTimeoutError)


def body_failure(error: Exception, http_status: int) -> FetchError:
    """A failure while reading the body of a response that came with `http_status` -> the
    fetch's error, keeping that status (the server did answer): `truncated` for a body that
    ended before its Content-Length or last chunk, else the error's kind (_classify)."""
    causes = [error, *error.args]
    if any(isinstance(c, urllib3.exceptions.IncompleteRead | IncompleteRead) for c in causes):
        return FetchError("truncated", f"body cut short: {error}", http_status)
    reason, detail = _classify(error)
    return FetchError(reason, detail, http_status)


def _classify(error: Exception) -> tuple[str, str]:
    """A urllib3/socket exception -> (reason code, readable detail)."""
    cause: BaseException = error
    if isinstance(error, MaxRetryError) and error.reason is not None:
        cause = error.reason
    if isinstance(cause, AddressRefused):
        return cause.reason, str(cause)
    name = type(cause).__name__
    # Before the timeout test: urllib3 derives both from ConnectTimeoutError (history), so a
    # refused connection or an unknown host would read as a timeout.
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "dns_error", f"{name}: {cause}"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection_error", f"{name}: {cause}"
    if isinstance(cause, urllib3.exceptions.TimeoutError) or "Timeout" in name:
        return "timeout", f"{name}: {cause}"
    if isinstance(cause, urllib3.exceptions.DecodeError):
        return "bad_encoding", f"{name}: {cause}"
    return "connection_error", f"{name}: {cause}"


def host_turns(jobs: Sequence[Any], url_of: Callable[[Any], str]) -> list[Any]:
    """`jobs` reordered in turns, one job per host per turn (hosts by their first job, each
    host's jobs in their own order): the order fetch_all takes them in. In URL order, a host
    with many feeds filled every thread with requests waiting their turn at that host's
    gate (`per_host_interval`) while the other hosts sat idle: 300 feeds on 6 hosts took a
    request a second, not six (review 68)."""
    queues: dict[str, list[Any]] = {}
    for job in jobs:
        queues.setdefault(host_of(url_of(job)), []).append(job)
    turns: list[Any] = []
    depth = max((len(queue) for queue in queues.values()), default=0)
    for turn in range(depth):
        turns.extend(queue[turn] for queue in queues.values() if turn < len(queue))
    return turns


def fetch_all(
    jobs: Sequence[Any],
    fetch_one: Callable[[Any], Any],
    concurrency: int,
    url_of: Callable[[Any], str] | None = None,
) -> Iterator[Any]:
    """`fetch_one(job)` for every job on a thread pool, yielded in the jobs' order (the
    output does not depend on which response came first) as soon as each one's turn comes,
    so bodies already passed on are not all held at once. With `url_of` (a job's URL), the
    jobs are taken, and yielded, in host_turns order."""
    if not jobs:
        return
    if url_of is not None:
        jobs = host_turns(jobs, url_of)
    workers = max(1, min(concurrency, len(jobs)))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(fetch_one, jobs)
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) or abandoned: the fetches in flight are not waited
        # for (a server that never answers held Ctrl-C for its read timeout times the
        # retries, ~2 minutes); they end on their own, and the process does not wait.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
