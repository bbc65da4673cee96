"""Alexa request verification for self-hosted skills: certificate URL, chain, signature, timestamp."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import posixpath
import re
import threading
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as PathVerificationError

from skills_sdk.errors import VerificationError

__all__ = ["RequestVerifier", "verify_cert_url", "canonical_cert_url"]

CERT_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
#: The SHA-1 signature header Alexa sent before Signature-256; deprecated and never accepted.
SHA1_SIGNATURE_HEADER = "Signature"
ALEXA_SAN = "echo-api.amazon.com"

#: Certificate chains larger than this are refused; Amazon's is about 4 KiB.
_MAX_CHAIN_BYTES = 64 * 1024
# What Alexa requires of a chain's extensions (cryptography's API here is marked unstable: it is
# used only in RequestVerifier._check_chain).
_CA_POLICY = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
_LEAF_POLICY = ExtensionPolicy.permit_all().require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)

#: Every message verification can produce, keyed ``"<check>"`` or ``"<check>.<variant>"``;
#: the part before the dot is the ``check`` of the raised VerificationError.
MESSAGES: dict[str, str] = {
    "signature_cert_chain_url": (
        f"the {CERT_URL_HEADER} header is missing or empty; Alexa sends it with every request. "
        "Is something between Alexa and this server dropping headers?"
    ),
    "signature_256": (
        f"the {SIGNATURE_HEADER} header is missing or empty; Alexa sends it with every request "
        "(the SHA-1 'Signature' header is deprecated and not accepted)."
    ),
    "signature_256.sha1_only": (
        f"the request carries only the deprecated SHA-1 {SHA1_SIGNATURE_HEADER!r} header, no {SIGNATURE_HEADER}; "
        f"Alexa sends {SIGNATURE_HEADER} (RSA SHA-256) with every request, and a SHA-1 signature is "
        f"not accepted. Is this replayed older traffic, or is something between Alexa and this server dropping "
        f"the {SIGNATURE_HEADER} header?"
    ),
    "cert_url.scheme": "certificate URL {url!r} has scheme {got!r}; expected 'https'.",
    "cert_url.host": "certificate URL {url!r} has host {got!r}; expected 's3.amazonaws.com'.",
    "cert_url.userinfo": "certificate URL {url!r} carries a user name or password; expected none.",
    "cert_url.port": "certificate URL {url!r} has port {got!r}; expected 443 or none.",
    "cert_url.path": (
        "certificate URL {url!r} has path {got!r} after normalisation; expected it to start with "
        "'/echo.api/' (case-sensitive)."
    ),
    "cert_download.request": "could not download the certificate chain from {url!r}: {error}.",
    "cert_download.status": "downloading the certificate chain from {url!r} returned HTTP {status}; expected 200.",
    "cert_download.size": "the certificate chain at {url!r} is larger than {limit} bytes; refused.",
    "cert_download.pem": "the document at {url!r} is not a PEM certificate chain: {error}.",
    "cert_download.rate": (
        "the certificate chain at {url!r} was already downloaded {count} times in the last {window:.0f} s; "
        "not again for {wait:.0f} s (downloads are limited per URL)."
    ),
    "cert_expired": "the signing certificate expired at {not_after}; it is now {now}.",
    "cert_not_yet_valid": "the signing certificate is valid only from {not_before}; it is now {now}.",
    "cert_san": (
        "the signing certificate's subject alternative names are {got}; expected them to include "
        f"DNS name {ALEXA_SAN!r}."
    ),
    "cert_chain": (
        "the certificate chain of {subject!r} does not verify up to a trusted root: {error}. Expected the "
        "signing certificate, then intermediates each signed by the next and each a CA valid now, ending at a "
        "trusted root; the chain as downloaded ends at {top!r}, issued by {top_issuer!r} (trusted roots "
        "configured: {roots})."
    ),
    "signature.base64": f"the {SIGNATURE_HEADER} header is not valid base64: {{error}}.",
    "signature.base64_space": (
        f"the {SIGNATURE_HEADER} header is not valid base64: it holds a space, where Alexa's base64 has '+'. "
        "Was the header URL-decoded (form-decoded) on its way to this server?"
    ),
    "signature.key_type": "the signing certificate has a {got} key; expected RSA.",
    "signature": (
        f"the {SIGNATURE_HEADER} header does not match the body: RSA PKCS#1 v1.5 SHA-256 over the "
        "{size} raw body bytes does not verify with the signing certificate's key. Was the body "
        "altered (re-encoded, pretty-printed) before verification?"
    ),
    "timestamp.json": "cannot read request.timestamp: the body is not a JSON object ({error}).",
    "timestamp.missing": "the envelope has no request.timestamp; expected an ISO-8601 time or epoch milliseconds.",
    "timestamp.format": (
        "request.timestamp {got!r} is neither an ISO-8601 time (2024-05-01T12:00:00Z) nor epoch milliseconds."
    ),
    "timestamp.stale": "request.timestamp {got} is {delta:.0f} s old; at most {tolerance:.0f} s allowed (now {now}).",
    "timestamp.future": (
        "request.timestamp {got} is {delta:.0f} s in the future; at most {tolerance:.0f} s allowed (now {now})."
    ),
    "application_id.missing": (
        "expected applicationId {expected!r}, but the envelope has none at context.System.application "
        "or session.application."
    ),
    "application_id": "the request is for applicationId {got!r}; this skill is {expected!r}.",
}


def _fail(key: str, **values: Any) -> VerificationError:
    """Build the VerificationError for message ``key``; the check is the part before the dot."""
    return VerificationError(key.partition(".")[0], MESSAGES[key].format(**values))


def verify_cert_url(url: str) -> None:
    """Check a ``SignatureCertChainUrl`` against Amazon's rules; raise VerificationError if it breaks one.

    The scheme must be https and the host s3.amazonaws.com (both case-insensitive), the port 443
    if given, and the path must start with ``/echo.api/`` (case-sensitive) once ``.`` and ``..``
    segments are resolved.

    >>> verify_cert_url("https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem")
    >>> verify_cert_url("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skills_sdk.errors.VerificationError: cert_url: ...

    :param url: the header's value, exactly as received.
    :raises VerificationError: with ``check == "cert_url"``.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise _fail("cert_url.scheme", url=url, got=parts.scheme)
    if parts.hostname != "s3.amazonaws.com":  # urlsplit lower-cases hostname
        raise _fail("cert_url.host", url=url, got=parts.hostname)
    if parts.username is not None or parts.password is not None:
        raise _fail("cert_url.userinfo", url=url)
    try:
        port = parts.port
    except ValueError:
        raise _fail("cert_url.port", url=url, got=parts.netloc.rpartition(":")[2]) from None
    if port is not None and port != 443:
        raise _fail("cert_url.port", url=url, got=port)
    # Check the path both as sent and percent-decoded: S3 may decode %2e%2e into a dot segment.
    for path in (parts.path, unquote(parts.path)):
        normal = posixpath.normpath(path) if path else ""
        if not normal.startswith("/echo.api/"):
            raise _fail("cert_url.path", url=url, got=normal)


def canonical_cert_url(url: str) -> str:
    """The one spelling of a certificate URL that :func:`verify_cert_url` accepted: what is cached and downloaded.

    Case of scheme and host, a ``:443``, dot segments, percent-encoding, the query string and the
    fragment are all dropped, so every spelling of one certificate shares one cache entry and one
    download, and a made-up query string cannot force a new download.

    >>> canonical_cert_url("HTTPS://S3.amazonaws.com:443/echo.api/x/../echo-api-cert.pem?v=1#f")
    'https://s3.amazonaws.com/echo.api/echo-api-cert.pem'
    """
    path = posixpath.normpath(unquote(urlsplit(url).path))
    return "https://s3.amazonaws.com" + quote(path, safe="/-._~!$&'()*+,;=:@")


@dataclass(frozen=True)
class _Chain:
    """A downloaded chain that passed every certificate check, reduced to what requests need."""

    public_key: rsa.RSAPublicKey | None  # None: the leaf key is not RSA (reported per request)
    key_type: str
    not_before: datetime
    not_after: datetime
    expires: datetime  # the earliest not_after in the chain: re-validate after this


class RequestVerifier:
    """Verify that requests really come from Alexa, as Amazon requires of self-hosted skills.

    The certificate chain named by each request is downloaded, checked and cached per URL until
    the first certificate in it expires, so a steady stream of requests costs one RSA signature
    check and a timestamp comparison each. One verifier is safe to share between threads.

    Usage, in a Flask view::

        verifier = RequestVerifier()  # once, at start-up
        verifier.verify(request.headers, request.get_data(), application_id="amzn1.ask.skill.123")

    :param trusted_roots: root certificates a chain must end at; ``None`` uses the certifi bundle.
    :param session: the ``requests.Session`` used to download chains (inject one to mock it).
    :param clock: returns the current time as an aware UTC datetime.
    :param tolerance: how far (seconds) ``request.timestamp`` may be from now, either way.
    :param event_tolerance: the same for ``AlexaSkillEvent.*`` requests, which Alexa may deliver late.
    :param timeout: seconds to wait when downloading a chain.
    :param cache_size: how many certificate URLs to remember (least recently used are dropped).
    :param failure_ttl: seconds a failed download or chain check is remembered and given again
        without downloading (a request cannot make the server fetch a bad URL over and over).
    :param max_downloads: downloads of one URL allowed within ``download_window`` seconds; more are
        refused with ``cert_download`` until the window moves on.
    :param monotonic: the clock for ``failure_ttl`` and the download window (inject one in tests).
    """

    #: Request types that get ``event_tolerance`` instead of ``tolerance``.
    EVENT_PREFIX: ClassVar[str] = "AlexaSkillEvent."

    def __init__(
        self,
        *,
        trusted_roots: Sequence[x509.Certificate] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] | None = None,
        tolerance: float = 150.0,
        event_tolerance: float = 3600.0,
        timeout: float = 5.0,
        cache_size: int = 32,
        failure_ttl: float = 30.0,
        max_downloads: int = 4,
        download_window: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        roots = list(_certifi_roots() if trusted_roots is None else trusted_roots)
        if not roots:
            raise ValueError("trusted_roots is empty, so no certificate chain could ever be trusted; pass the root "
                             "certificates to trust, or None for the certifi bundle.")
        self._store = Store(roots)
        self._root_count = len(roots)
        self._session = session if session is not None else requests.Session()
        self._clock = clock if clock is not None else _utc_now
        self.tolerance = tolerance
        self.event_tolerance = event_tolerance
        self.timeout = timeout
        self._cache_size = cache_size
        self._cache: OrderedDict[str, _Chain] = OrderedDict()
        self._lock = threading.Lock()
        self.failure_ttl = failure_ttl
        self.max_downloads = max_downloads
        self.download_window = download_window
        self._monotonic = monotonic
        # Bounded like the cache, so made-up URLs cannot grow memory.
        self._failures: OrderedDict[str, tuple[float, VerificationError]] = OrderedDict()
        self._downloads: OrderedDict[str, deque[float]] = OrderedDict()
        # Concurrent misses of one URL wait for one download; striped so the locks stay bounded.
        self._url_locks = tuple(threading.Lock() for _ in range(16))

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        envelope: Mapping[str, Any] | None = None,
        application_id: str | None = None,
    ) -> None:
        """Raise VerificationError naming the failed check, or return None.

        Checks run in this order, and ``error.check`` names the first that fails:
        ``signature_cert_chain_url``, ``signature_256`` (headers present), ``cert_url``,
        ``cert_download``, ``cert_expired``, ``cert_not_yet_valid``, ``cert_san``, ``cert_chain``,
        ``signature``, ``timestamp``, ``application_id``. The body is parsed only after its
        signature verified.

        Usage::

            verifier.verify({"SignatureCertChainUrl": url, "Signature-256": sig}, raw_body)

        :param headers: the HTTP headers, any mapping; names are matched case-insensitively.
        :param body: the raw request body, exactly the bytes received.
        :param envelope: the already-parsed body, if the caller has it; otherwise ``body`` is parsed.
        :param application_id: if given, the request must be addressed to this skill id.
        """
        url = _header(headers, CERT_URL_HEADER)
        if not url:
            raise _fail("signature_cert_chain_url")
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise _fail("signature_256.sha1_only" if _header(headers, SHA1_SIGNATURE_HEADER) else "signature_256")

        now = self._clock()
        if now.tzinfo is None:  # a naive clock is taken to be UTC rather than failing every compare
            now = now.replace(tzinfo=UTC)
        chain = self._chain(url, now)
        if now > chain.not_after:
            raise _fail("cert_expired", not_after=chain.not_after.isoformat(), now=now.isoformat())
        if now < chain.not_before:
            raise _fail("cert_not_yet_valid", not_before=chain.not_before.isoformat(), now=now.isoformat())
        _check_signature(chain, signature, body)

        if envelope is None:
            try:
                envelope = json.loads(body)
            except ValueError as exc:
                raise _fail("timestamp.json", error=exc) from None
            if not isinstance(envelope, Mapping):
                raise _fail("timestamp.json", error=f"got {type(envelope).__name__}")
        self._check_timestamp(envelope, now)
        if application_id is not None:
            _check_application_id(envelope, application_id)

    def _chain(self, url: str, now: datetime) -> _Chain:
        """Return the validated chain for ``url``, from the cache or by downloading and checking it.

        The URL is checked and made canonical first; the cache, the remembered failures and the
        download limit are all per canonical URL.
        """
        verify_cert_url(url)
        key = canonical_cert_url(url)
        cached = self._cached(key, now)
        if cached is not None:
            return cached
        # Download and validate outside the cache lock so one slow download does not stall other URLs.
        with self._url_locks[hash(key) % len(self._url_locks)]:
            cached = self._cached(key, now)  # another thread may have fetched it while this one waited
            if cached is not None:
                return cached
            self._count_download(key)
            try:
                chain = self._validate(_parse_pem(key, self._download(key)), now)
            except VerificationError as exc:
                with self._lock:
                    self._remember(self._failures, key, (self._monotonic() + self.failure_ttl, exc))
                raise
            with self._lock:
                self._remember(self._cache, key, chain)
        return chain

    def _cached(self, key: str, now: datetime) -> _Chain | None:
        """The cached chain of ``key`` if still valid; raises the failure remembered for it, if any."""
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                if now < cached.expires:
                    self._cache.move_to_end(key)
                    return cached
                del self._cache[key]
            failed = self._failures.get(key)
            if failed is not None:
                if self._monotonic() < failed[0]:
                    raise failed[1]
                del self._failures[key]
        return None

    def _count_download(self, key: str) -> None:
        """Count a download of ``key``, or refuse it when the URL had its share of the window."""
        now = self._monotonic()
        with self._lock:
            times = self._downloads.get(key) or deque()
            while times and times[0] <= now - self.download_window:
                times.popleft()
            if len(times) >= self.max_downloads:
                raise _fail("cert_download.rate", url=key, count=len(times), window=self.download_window,
                            wait=times[0] + self.download_window - now)
            times.append(now)
            self._remember(self._downloads, key, times)

    def _remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        """Put ``key`` last in an LRU ``table`` bounded like the cache (the caller holds the lock)."""
        table[key] = value
        table.move_to_end(key)
        while len(table) > max(self._cache_size, 256 if table is not self._cache else 0):
            table.popitem(last=False)

    def _download(self, url: str) -> bytes:
        """Fetch the PEM at ``url``: no redirects (they could leave s3.amazonaws.com), bounded size."""
        try:
            with self._session.get(url, timeout=self.timeout, allow_redirects=False, stream=True) as response:
                if response.status_code != 200:
                    raise _fail("cert_download.status", url=url, status=response.status_code)
                data = bytearray()
                for chunk in response.iter_content(8192):
                    data += chunk
                    if len(data) > _MAX_CHAIN_BYTES:
                        raise _fail("cert_download.size", url=url, limit=_MAX_CHAIN_BYTES)
        except requests.RequestException as exc:
            raise _fail("cert_download.request", url=url, error=exc) from None
        return bytes(data)

    def _validate(self, certs: list[x509.Certificate], now: datetime) -> _Chain:
        """Check the leaf's dates and SAN and the chain up to a trusted root; no I/O."""
        leaf = certs[0]
        if now > leaf.not_valid_after_utc:
            raise _fail("cert_expired", not_after=leaf.not_valid_after_utc.isoformat(), now=now.isoformat())
        if now < leaf.not_valid_before_utc:
            raise _fail(
                "cert_not_yet_valid", not_before=leaf.not_valid_before_utc.isoformat(), now=now.isoformat()
            )
        _check_san(leaf)
        self._check_chain(certs, now)
        key = leaf.public_key()
        return _Chain(
            public_key=key if isinstance(key, rsa.RSAPublicKey) else None,
            key_type=type(key).__name__,
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            expires=min(cert.not_valid_after_utc for cert in certs),
        )

    def _check_chain(self, certs: list[x509.Certificate], now: datetime) -> None:
        """Build and check the path from the leaf through the downloaded intermediates to a trusted root.

        cryptography's path builder does it (signatures, each issuer a CA, every certificate valid
        ``now``, a bounded depth). Its extension policy is what Alexa asks of the chain and no more:
        a leaf with subject alternative names (checked for ``echo-api.amazon.com`` before this) and
        basicConstraints on every issuer; the web PKI's further rules (key identifiers, key usage)
        are not Alexa's and are not applied.
        """
        verifier = (PolicyBuilder().store(self._store).time(now)
                    .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
                    .build_server_verifier(x509.DNSName(ALEXA_SAN)))
        try:
            verifier.verify(certs[0], certs[1:])
        except PathVerificationError as exc:
            reason = str(exc).split(" (encountered processing", 1)[0].removeprefix("validation failed: ")
            raise _fail("cert_chain", subject=certs[0].subject.rfc4514_string(), error=reason,
                        top=certs[-1].subject.rfc4514_string(), top_issuer=certs[-1].issuer.rfc4514_string(),
                        roots=self._root_count) from None

    def _check_timestamp(self, envelope: Mapping[str, Any], now: datetime) -> None:
        """Reject a ``request.timestamp`` further than the tolerance from ``now``, either way."""
        request = envelope.get("request")
        raw = request.get("timestamp") if isinstance(request, Mapping) else None
        if raw is None:
            raise _fail("timestamp.missing")
        sent = _parse_timestamp(raw)
        request_type = request.get("type") if isinstance(request, Mapping) else None
        is_event = isinstance(request_type, str) and request_type.startswith(self.EVENT_PREFIX)
        tolerance = self.event_tolerance if is_event else self.tolerance
        delta = (now - sent).total_seconds()
        if delta > tolerance:
            raise _fail(
                "timestamp.stale", got=sent.isoformat(), delta=delta, tolerance=tolerance, now=now.isoformat()
            )
        if -delta > tolerance:
            raise _fail(
                "timestamp.future",
                got=sent.isoformat(),
                delta=-delta,
                tolerance=tolerance,
                now=now.isoformat(),
            )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Look ``name`` up case-insensitively in any mapping (werkzeug Headers, a dict of any case)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip() if isinstance(value, str) else None


_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _parse_pem(url: str, data: bytes) -> list[x509.Certificate]:
    """Parse the downloaded chain, leaf first; anything unreadable is a download failure."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise _fail("cert_download.pem", url=url, error=exc) from None
    return certs


@functools.cache
def _certifi_roots() -> tuple[x509.Certificate, ...]:
    """Load the certifi bundle once, skipping any certificate this cryptography cannot read."""
    import certifi  # a dependency of requests

    with open(certifi.where(), "rb") as bundle:
        blocks = _PEM_BLOCK.findall(bundle.read())
    roots = []
    for block in blocks:
        try:
            with warnings.catch_warnings():  # a few old roots have non-positive serial numbers
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                roots.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return tuple(roots)


def _check_san(leaf: x509.Certificate) -> None:
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise _fail("cert_san", got="absent") from None
    dns_names = names.get_values_for_type(x509.DNSName)
    if ALEXA_SAN not in (name.lower() for name in dns_names):
        raise _fail("cert_san", got=dns_names)


def _check_signature(chain: _Chain, header: str, body: bytes) -> None:
    try:
        signature = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError) as exc:
        # A '+' turned into a space by a URL-decoding hop has been seen in real traffic: say so.
        raise (_fail("signature.base64_space") if " " in header else _fail("signature.base64", error=exc)) from None
    if chain.public_key is None:
        raise _fail("signature.key_type", got=chain.key_type)
    try:
        chain.public_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise _fail("signature", size=len(body)) from None


def _parse_timestamp(raw: object) -> datetime:
    """Read an ISO-8601 time (``Z`` or an offset; naive means UTC) or integer epoch milliseconds."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        millis: int | None = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        millis = int(raw)
    else:
        millis = None
    try:
        if millis is not None:
            return datetime.fromtimestamp(millis / 1000, UTC)
        if isinstance(raw, str):
            sent = datetime.fromisoformat(raw.strip())
            return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _fail("timestamp.format", got=raw)


def _check_application_id(envelope: Mapping[str, Any], expected: str) -> None:
    got = _dig(envelope, "context", "System", "application", "applicationId")
    if got is None:
        got = _dig(envelope, "session", "application", "applicationId")
    if got is None:
        raise _fail("application_id.missing", expected=expected)
    if got != expected:
        raise _fail("application_id", got=got, expected=expected)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data
