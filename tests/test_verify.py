"""Tests for skills_sdk.verify: every Alexa verification rule, each broken alone, against a private CA."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from werkzeug.datastructures import Headers

from skills_sdk.errors import VerificationError
from skills_sdk.verify import RequestVerifier, verify_cert_url

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-12.pem"
SKILL_ID = "amzn1.ask.skill.pizza"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    san: list[str] | None = None,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


@dataclass(frozen=True)
class CA:
    """A private root -> intermediate -> leaf hierarchy, plus the keys to forge variants."""

    root: x509.Certificate
    root_key: rsa.RSAPrivateKey
    intermediate: x509.Certificate
    intermediate_key: rsa.RSAPrivateKey
    leaf_key: rsa.RSAPrivateKey
    other_key: rsa.RSAPrivateKey

    def leaf(self, **kwargs) -> x509.Certificate:
        kwargs.setdefault("san", ["echo-api.amazon.com"])
        return _cert(
            "echo-api.amazon.com",
            self.leaf_key,
            "Test Intermediate",
            self.intermediate_key,
            ca=False,
            **kwargs,
        )

    def chain(self, **kwargs) -> bytes:
        return _pem(self.leaf(**kwargs), self.intermediate)


@pytest.fixture(scope="module")
def ca() -> CA:
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]
    root_key, intermediate_key, leaf_key, other_key = keys
    root = _cert("Test Root", root_key, "Test Root", root_key, ca=True)
    intermediate = _cert("Test Intermediate", intermediate_key, "Test Root", root_key, ca=True)
    return CA(root, root_key, intermediate, intermediate_key, leaf_key, other_key)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def serve_chain(http, ca):
    """Serve a PEM chain at a URL (the good chain at CERT_URL by default); return the mock."""

    def serve(pem: bytes | None = None, url: str = CERT_URL, status: int = 200) -> responses.BaseResponse:
        return http.get(url, body=ca.chain() if pem is None else pem, status=status)

    return serve


@pytest.fixture
def clock():
    """A settable clock: ``clock.now`` is what the verifier sees."""

    class Clock:
        now = NOW

        def __call__(self) -> datetime:
            return self.now

    return Clock()


@pytest.fixture
def verifier(ca, clock) -> RequestVerifier:
    return RequestVerifier(trusted_roots=[ca.root], session=requests.Session(), clock=clock)


def envelope(
    *, timestamp: object = "2025-06-01T12:00:00Z", request_type: str = "IntentRequest", app_id: str = SKILL_ID
) -> dict:
    return {
        "version": "1.0",
        "context": {"System": {"application": {"applicationId": app_id}}},
        "request": {"type": request_type, "requestId": "amzn1.echo-api.request.1", "timestamp": timestamp},
    }


def signed(ca: CA, env: dict | None = None, *, key: rsa.RSAPrivateKey | None = None, url: str = CERT_URL):
    """Return (headers, body) for ``env`` signed the way Alexa signs it."""
    body = json.dumps(envelope() if env is None else env).encode()
    signature = (key or ca.leaf_key).sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"SignatureCertChainUrl": url, "Signature-256": base64.b64encode(signature).decode()}, body


def check_of(verifier: RequestVerifier, headers, body, **kwargs) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.verify(headers, body, **kwargs)
    assert info.value.message  # every failure explains itself
    return info.value.check


def test_valid_signed_request_passes(verifier, ca, serve_chain):
    serve_chain()
    headers, body = signed(ca)
    assert verifier.verify(headers, body, application_id=SKILL_ID) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        "HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        "https://S3.AMAZONAWS.COM/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com/echo.api/./echo-api-cert.pem",
    ],
)
def test_cert_url_accepted_forms(url):
    assert verify_cert_url(url) is None


BAD_URLS = [
    "http://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "https://notamazon.com/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com.evil.example/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com@evil.example/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem",
    "https://s3.amazonaws.com/invalid.path/echo-api-cert.pem",
    "https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com:notaport/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/../invalid.path/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/%2e%2e/invalid.path/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api",
    "https://s3.amazonaws.com",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_cert_url_fails_cert_url_without_download(verifier, ca, http, url):
    headers, body = signed(ca, url=url)
    assert check_of(verifier, headers, body) == "cert_url"
    assert len(http.calls) == 0


@pytest.mark.parametrize("url", BAD_URLS)
def test_verify_cert_url_rejects_bad_forms(url):
    with pytest.raises(VerificationError) as info:
        verify_cert_url(url)
    assert info.value.check == "cert_url"
    assert repr(url) in info.value.message  # says what came in


@pytest.mark.parametrize(
    ("leaf_kwargs", "expected"),
    [
        ({"not_before": NOW - timedelta(days=400), "not_after": NOW - timedelta(seconds=1)}, "cert_expired"),
        ({"not_before": NOW + timedelta(seconds=1)}, "cert_not_yet_valid"),
        ({"san": ["echo-api.example.com"]}, "cert_san"),
        ({"san": None}, "cert_san"),
    ],
    ids=["expired", "not-yet-valid", "wrong-san", "no-san"],
)
def test_bad_leaf_certificate_fails_its_check(verifier, ca, serve_chain, leaf_kwargs, expected):
    serve_chain(ca.chain(**leaf_kwargs))
    headers, body = signed(ca)
    assert check_of(verifier, headers, body) == expected


def test_chain_to_an_untrusted_root_fails_cert_chain(verifier, ca, serve_chain):
    rogue_root = _cert("Rogue Root", ca.other_key, "Rogue Root", ca.other_key, ca=True)
    rogue_intermediate = _cert("Rogue Intermediate", ca.intermediate_key, "Rogue Root", ca.other_key, ca=True)
    leaf = _cert(
        "echo-api.amazon.com",
        ca.leaf_key,
        "Rogue Intermediate",
        ca.intermediate_key,
        ca=False,
        san=["echo-api.amazon.com"],
    )
    serve_chain(_pem(leaf, rogue_intermediate, rogue_root))
    headers, body = signed(ca)
    assert check_of(verifier, headers, body) == "cert_chain"


@pytest.mark.parametrize(
    "forge",
    [
        # an impostor root with the trusted root's name signs the intermediate
        lambda ca: _pem(
            ca.leaf(), _cert("Test Intermediate", ca.intermediate_key, "Test Root", ca.other_key, ca=True)
        ),
        # the leaf claims the intermediate as issuer but another key signed it
        lambda ca: _pem(
            _cert(
                "echo-api.amazon.com",
                ca.leaf_key,
                "Test Intermediate",
                ca.other_key,
                ca=False,
                san=["echo-api.amazon.com"],
            ),
            ca.intermediate,
        ),
        # the intermediate is left out
        lambda ca: ca.leaf().public_bytes(serialization.Encoding.PEM),
        # the intermediate is not a CA
        lambda ca: _pem(
            ca.leaf(), _cert("Test Intermediate", ca.intermediate_key, "Test Root", ca.root_key, ca=False)
        ),
        # the intermediate has expired
        lambda ca: _pem(
            ca.leaf(),
            _cert(
                "Test Intermediate",
                ca.intermediate_key,
                "Test Root",
                ca.root_key,
                ca=True,
                not_before=NOW - timedelta(days=400),
                not_after=NOW - timedelta(days=1),
            ),
        ),
    ],
    ids=[
        "impostor-root",
        "forged-leaf",
        "missing-intermediate",
        "intermediate-not-ca",
        "intermediate-expired",
    ],
)
def test_broken_chain_fails_cert_chain(verifier, ca, serve_chain, forge):
    serve_chain(forge(ca))
    headers, body = signed(ca)
    assert check_of(verifier, headers, body) == "cert_chain"


def test_leaf_signed_directly_by_trusted_root_passes(verifier, ca, serve_chain):
    leaf = _cert(
        "echo-api.amazon.com", ca.leaf_key, "Test Root", ca.root_key, ca=False, san=["echo-api.amazon.com"]
    )
    serve_chain(_pem(leaf))
    assert verifier.verify(*signed(ca)) is None


def test_default_trust_store_rejects_a_private_ca(ca, serve_chain, clock):
    serve_chain()
    verifier = RequestVerifier(session=requests.Session(), clock=clock)  # certifi roots
    assert check_of(verifier, *signed(ca)) == "cert_chain"


@pytest.mark.parametrize(
    ("status", "pem"),
    [(404, b"Not Found"), (500, b""), (301, b""), (200, b"this is not a certificate"), (200, b"")],
    ids=["404", "500", "redirect", "not-pem", "empty"],
)
def test_failed_download_fails_cert_download(verifier, ca, serve_chain, status, pem):
    serve_chain(pem, status=status)
    assert check_of(verifier, *signed(ca)) == "cert_download"


def test_network_error_fails_cert_download(verifier, ca, http):
    http.get(CERT_URL, body=requests.ConnectionError("connection refused"))
    assert check_of(verifier, *signed(ca)) == "cert_download"


class Ticker:
    """A settable monotonic clock for the failure memory and the download window."""

    t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_failed_download_is_remembered_briefly_then_tried_again(ca, serve_chain, clock, http):
    ticker = Ticker()
    verifier = RequestVerifier(trusted_roots=[ca.root], session=requests.Session(), clock=clock, failure_ttl=30,
                               monotonic=ticker)
    failing = serve_chain(b"", status=503)
    for _ in range(20):  # each unauthenticated request would otherwise make the server download again
        assert check_of(verifier, *signed(ca)) == "cert_download"
    assert failing.call_count == 1
    http.remove(failing)
    good = serve_chain()
    ticker.t += 31
    assert verifier.verify(*signed(ca)) is None
    assert good.call_count == 1


@pytest.mark.parametrize("spelling", [
    "HTTPS://S3.AMAZONAWS.COM/echo.api/echo-api-cert-12.pem",
    "https://s3.amazonaws.com:443/echo.api/echo-api-cert-12.pem",
    "https://s3.amazonaws.com/echo.api/./x/../echo-api-cert-12.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-12.pem?cache-buster=7",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-12.pem#frag",
    "https://s3.amazonaws.com/echo.api/echo%2Dapi-cert-12.pem",
])
def test_every_spelling_of_a_certificate_url_shares_one_download(verifier, ca, serve_chain, spelling):
    mock = serve_chain()
    verifier.verify(*signed(ca))
    for _ in range(3):
        verifier.verify(*signed(ca, url=spelling))
    assert mock.call_count == 1


def test_downloads_of_one_url_are_limited_per_window(ca, serve_chain, clock):
    ticker = Ticker()
    verifier = RequestVerifier(trusted_roots=[ca.root], session=requests.Session(), clock=clock, failure_ttl=0,
                               max_downloads=2, download_window=60, monotonic=ticker)
    mock = serve_chain(b"not a chain")
    assert [check_of(verifier, *signed(ca)) for _ in range(2)] == ["cert_download", "cert_download"]
    with pytest.raises(VerificationError, match="already downloaded 2 times in the last 60 s"):
        verifier.verify(*signed(ca))
    assert mock.call_count == 2
    ticker.t += 61
    check_of(verifier, *signed(ca))
    assert mock.call_count == 3


def test_a_cold_cache_hit_by_many_threads_downloads_once(verifier, ca, serve_chain):
    mock = serve_chain()
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda _: verifier.verify(*signed(ca)), range(16))) == [None] * 16
    assert mock.call_count == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda ca, headers, body: (headers, body.replace(b"IntentRequest", b"LaunchRequest")),
        lambda ca, headers, body: (headers, body + b" "),
        lambda ca, headers, body: signed(ca, key=ca.other_key),
    ],
    ids=["tampered-body", "trailing-space", "signed-by-another-key"],
)
def test_wrong_signature_fails_signature(verifier, ca, serve_chain, tamper):
    serve_chain()
    headers, body = tamper(ca, *signed(ca))
    assert check_of(verifier, headers, body) == "signature"


@pytest.mark.parametrize("value", ["not base64!", "abc", "YWJj\x00"])
def test_bad_base64_fails_signature(verifier, ca, serve_chain, value):
    serve_chain()
    headers, body = signed(ca)
    headers["Signature-256"] = value
    assert check_of(verifier, headers, body) == "signature"


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("SignatureCertChainUrl", None, "signature_cert_chain_url"),
        ("SignatureCertChainUrl", "", "signature_cert_chain_url"),
        ("Signature-256", None, "signature_256"),
        ("Signature-256", "  ", "signature_256"),
    ],
)
def test_missing_header_fails_naming_it(verifier, ca, http, header, value, expected):
    headers, body = signed(ca)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    assert check_of(verifier, headers, body) == expected


def test_only_the_deprecated_sha1_header_is_not_enough(verifier, ca, http):
    headers, body = signed(ca)
    headers["Signature"] = headers.pop("Signature-256")
    assert check_of(verifier, headers, body) == "signature_256"
    with pytest.raises(VerificationError, match="only the deprecated SHA-1 'Signature' header"):
        verifier.verify(headers, body)


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        ("2025-06-01T12:00:00Z", True),
        ("2025-06-01T11:57:31Z", True),  # 149 s old
        ("2025-06-01T12:02:29.999Z", True),  # just under 150 s ahead
        ("2025-06-01T11:57:29Z", False),  # 151 s old
        ("2025-06-01T12:02:31Z", False),  # 151 s in the future
        ("2025-06-01T14:00:00+02:00", True),  # same instant, other offset
        (int(NOW.timestamp() * 1000), True),  # epoch milliseconds
        (int(NOW.timestamp() * 1000) - 200_000, False),
        ("2024-01-01T00:00:00Z", False),
    ],
)
def test_timestamp_must_be_within_150_seconds(verifier, ca, serve_chain, timestamp, ok):
    serve_chain()
    headers, body = signed(ca, envelope(timestamp=timestamp))
    if ok:
        verifier.verify(headers, body)
    else:
        assert check_of(verifier, headers, body) == "timestamp"


@pytest.mark.parametrize("timestamp", [None, "yesterday", "", [1, 2], True])
def test_missing_or_unreadable_timestamp_fails_timestamp(verifier, ca, serve_chain, timestamp):
    serve_chain()
    assert check_of(verifier, *signed(ca, envelope(timestamp=timestamp))) == "timestamp"


@pytest.mark.parametrize(
    ("request_type", "age", "ok"),
    [
        ("AlexaSkillEvent.SkillEnabled", timedelta(minutes=59), True),
        ("AlexaSkillEvent.SkillEnabled", timedelta(minutes=61), False),
        ("AlexaSkillEvent.SkillPermissionAccepted", -timedelta(minutes=30), True),
        ("IntentRequest", timedelta(minutes=30), False),
    ],
)
def test_skill_events_get_one_hour_tolerance(verifier, ca, serve_chain, request_type, age, ok):
    serve_chain()
    stamp = (NOW - age).isoformat().replace("+00:00", "Z")
    headers, body = signed(ca, envelope(timestamp=stamp, request_type=request_type))
    if ok:
        verifier.verify(headers, body)
    else:
        assert check_of(verifier, headers, body) == "timestamp"


def test_signed_body_that_is_not_json_fails_timestamp(verifier, ca, serve_chain):
    serve_chain()
    body = b"<xml/>"
    headers, _ = signed(ca)
    headers["Signature-256"] = base64.b64encode(
        ca.leaf_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    assert check_of(verifier, headers, body) == "timestamp"


def test_given_envelope_is_used_instead_of_parsing_the_body(verifier, ca, serve_chain):
    serve_chain()
    headers, body = signed(ca)
    stale = envelope(timestamp="2020-01-01T00:00:00Z")
    assert check_of(verifier, headers, body, envelope=stale) == "timestamp"


def test_wrong_application_id_fails_application_id(verifier, ca, serve_chain):
    serve_chain()
    headers, body = signed(ca, envelope(app_id="amzn1.ask.skill.someone-else"))
    assert check_of(verifier, headers, body, application_id=SKILL_ID) == "application_id"


def test_application_id_falls_back_to_session(verifier, ca, serve_chain):
    serve_chain()
    env = envelope()
    del env["context"]
    env["session"] = {"application": {"applicationId": SKILL_ID}}
    headers, body = signed(ca, env)
    verifier.verify(headers, body, application_id=SKILL_ID)
    assert check_of(verifier, headers, body, application_id="amzn1.ask.skill.other") == "application_id"


def test_envelope_without_application_id_fails_when_one_is_expected(verifier, ca, serve_chain):
    serve_chain()
    env = envelope()
    del env["context"]
    assert check_of(verifier, *signed(ca, env), application_id=SKILL_ID) == "application_id"


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda h: {k.lower(): v for k, v in h.items()},
        lambda h: {k.upper(): v for k, v in h.items()},
        lambda h: {"signaturecertchainurl": h["SignatureCertChainUrl"], "SIGNATURE-256": h["Signature-256"]},
        lambda h: Headers([(k.lower(), v) for k, v in h.items()]),
    ],
    ids=["lower", "upper", "mixed", "werkzeug"],
)
def test_header_names_are_case_insensitive(verifier, ca, serve_chain, make_headers):
    serve_chain()
    headers, body = signed(ca)
    verifier.verify(make_headers(headers), body)


def test_chain_is_downloaded_once_for_many_requests(verifier, ca, serve_chain):
    mock = serve_chain()
    verifier.verify(*signed(ca))
    verifier.verify(*signed(ca, envelope(timestamp="2025-06-01T12:01:00Z")))
    assert mock.call_count == 1


def test_cached_chain_still_checks_the_leaf_dates(verifier, ca, serve_chain, clock):
    expires = NOW + timedelta(hours=1)
    mock = serve_chain(ca.chain(not_after=expires))
    verifier.verify(*signed(ca))
    clock.now = expires + timedelta(seconds=1)
    stamp = clock.now.isoformat().replace("+00:00", "Z")
    assert check_of(verifier, *signed(ca, envelope(timestamp=stamp))) == "cert_expired"
    assert mock.call_count == 2  # the expired entry was dropped and the chain fetched again


def test_cached_chain_is_fetched_again_when_an_intermediate_expires(ca, serve_chain, clock):
    intermediate = _cert(
        "Test Intermediate",
        ca.intermediate_key,
        "Test Root",
        ca.root_key,
        ca=True,
        not_after=NOW + timedelta(hours=1),
    )
    mock = serve_chain(_pem(ca.leaf(), intermediate))
    verifier = RequestVerifier(trusted_roots=[ca.root], session=requests.Session(), clock=clock)
    verifier.verify(*signed(ca))
    clock.now = NOW + timedelta(hours=2)
    stamp = clock.now.isoformat().replace("+00:00", "Z")
    assert check_of(verifier, *signed(ca, envelope(timestamp=stamp))) == "cert_chain"
    assert mock.call_count == 2


def test_cache_is_bounded(ca, serve_chain, clock):
    urls = [f"https://s3.amazonaws.com/echo.api/cert-{i}.pem" for i in range(3)]
    mocks = [serve_chain(url=url) for url in urls]
    verifier = RequestVerifier(trusted_roots=[ca.root], session=requests.Session(), clock=clock, cache_size=2)
    for url in [*urls, urls[0]]:  # the first URL was evicted by the third
        verifier.verify(*signed(ca, url=url))
    assert [m.call_count for m in mocks] == [2, 1, 1]


def test_one_verifier_serves_many_threads(verifier, ca, serve_chain):
    serve_chain()
    good = signed(ca)
    bad = signed(ca, key=ca.other_key)

    def run(i: int) -> str | None:
        try:
            verifier.verify(*(good if i % 2 else bad))
        except VerificationError as error:
            return error.check
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(64)))
    assert results == [None if i % 2 else "signature" for i in range(64)]


def test_error_message_says_what_came_in_and_what_was_expected():
    with pytest.raises(VerificationError) as info:
        verify_cert_url("https://s3.amazonaws.com:563/echo.api/cert.pem")
    assert "563" in info.value.message and "443" in info.value.message
    assert str(info.value).startswith("cert_url: ")


def test_leaf_with_a_non_rsa_key_fails_signature(verifier, ca, serve_chain):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("echo-api.amazon.com"))
        .issuer_name(_name("Test Intermediate"))
        .public_key(ec_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("echo-api.amazon.com")]), critical=False)
        .sign(ca.intermediate_key, hashes.SHA256())
    )
    serve_chain(_pem(leaf, ca.intermediate))
    assert check_of(verifier, *signed(ca)) == "signature"


def test_a_broken_chain_says_which_certificate_and_why(verifier, ca, serve_chain):
    serve_chain(ca.leaf().public_bytes(serialization.Encoding.PEM))  # the intermediate left out
    with pytest.raises(VerificationError) as info:
        verifier.verify(*signed(ca))
    assert info.value.check == "cert_chain" and "echo-api.amazon.com" in info.value.message
    assert "trusted root" in info.value.message and "encountered processing" not in info.value.message
    with pytest.raises(ValueError, match="trusted_roots is empty"):
        RequestVerifier(trusted_roots=[])
