"""Request verification against real inputs: chains Amazon served and requests Alexa signed (fixtures/verify)."""

from __future__ import annotations

import base64
import json
import pathlib
import warnings
from datetime import datetime, timedelta

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.utils import CryptographyDeprecationWarning

from skills_sdk.errors import VerificationError
from skills_sdk.verify import RequestVerifier, verify_cert_url

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "verify"
REQUESTS = json.loads((FIXTURES / "requests.json").read_text())
AMAZON_ROOTS = ["root-amazon-root-ca-1.pem", "root-starfield-class-2-ca.pem"]
VERISIGN_ROOT = "root-verisign-class-3-g5.pem"
#: Each chain Amazon served, and the roots it verifies up to (SOURCES.md).
CHAINS = {
    "echo-api-cert-4.pem": [VERISIGN_ROOT],
    "echo-api-cert-5.pem": [VERISIGN_ROOT],
    **{f"echo-api-cert-{n}.pem": AMAZON_ROOTS for n in ("6-ats", "7", "8", "9", "10", "12")},
}
#: A well-formed RSA-2048 signature that no key made: a request carrying it reaches the signature
#: check only if every certificate check before it passed.
NOBODYS_SIGNATURE = base64.b64encode(bytes(256)).decode()


def pem(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def root(name: str) -> x509.Certificate:
    with warnings.catch_warnings():  # Starfield Class 2 CA has serial number 0
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_pem_x509_certificate(pem(name))


def leaf(chain: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates(pem(chain))[0]


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def verifier_at(at: datetime, roots: list[str] | None) -> RequestVerifier:
    """A verifier trusting ``roots`` (None: the certifi bundle) whose clock stands at ``at``."""
    trusted = None if roots is None else [root(name) for name in roots]
    return RequestVerifier(trusted_roots=trusted, session=requests.Session(), clock=lambda: at)


def failure(verifier: RequestVerifier, headers: dict[str, str], body: bytes) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verifier.verify(headers, body)
    return info.value


def chain_check(http, chain: str, at: datetime, roots: list[str] | None) -> VerificationError:
    """Serve the real ``chain`` and verify a request at ``at`` that no real key signed; return the failure.

    Its check is ``signature`` exactly when the chain passed download, parsing, dates, SAN and the
    path to a trusted root, since those checks come first.
    """
    url = f"https://s3.amazonaws.com/echo.api/{chain}"
    http.get(url, body=pem(chain))
    body = json.dumps({"version": "1.0", "request": {"type": "LaunchRequest", "timestamp": stamp(at)}}).encode()
    return failure(verifier_at(at, roots), {"SignatureCertChainUrl": url, "Signature-256": NOBODYS_SIGNATURE}, body)


CHAIN_ROOTS = [pytest.param(chain, r, id=f"{chain}:{r}") for chain, roots in CHAINS.items() for r in roots]


@pytest.mark.parametrize(("chain", "root_name"), CHAIN_ROOTS)
@pytest.mark.parametrize("when", ["first-second", "middle", "last-second"])
def test_every_real_chain_is_accepted_while_its_leaf_was_valid(http, chain, root_name, when):
    cert = leaf(chain)
    at = {"first-second": cert.not_valid_before_utc,
          "middle": cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2,
          "last-second": cert.not_valid_after_utc}[when]
    assert chain_check(http, chain, at, [root_name]).check == "signature"


@pytest.mark.parametrize("chain", CHAINS)
def test_a_real_chain_is_refused_a_second_outside_its_leaf_dates(http, chain):
    cert = leaf(chain)
    late = chain_check(http, chain, cert.not_valid_after_utc + timedelta(seconds=1), CHAINS[chain])
    early = chain_check(http, chain, cert.not_valid_before_utc - timedelta(seconds=1), CHAINS[chain])
    assert (late.check, early.check) == ("cert_expired", "cert_not_yet_valid")
    assert cert.not_valid_after_utc.isoformat() in late.message


@pytest.mark.parametrize(("chain", "wrong_root", "ends_at"), [
    ("echo-api-cert-12.pem", VERISIGN_ROOT, "OU=Starfield Class 2 Certification Authority"),
    ("echo-api-cert-4.pem", "root-amazon-root-ca-1.pem", "CN=VeriSign Class 3 Public Primary Certification Authority - G5"),
])
def test_a_real_chain_under_another_root_fails_cert_chain_saying_where_it_ends(http, chain, wrong_root, ends_at):
    cert = leaf(chain)
    error = chain_check(http, chain, cert.not_valid_before_utc + timedelta(days=30), [wrong_root])
    assert error.check == "cert_chain"
    assert ends_at in error.message and "(trusted roots configured: 1)" in error.message


@pytest.mark.parametrize(("chain", "check"), [
    ("echo-api-cert-10.pem", "signature"),   # Amazon Root CA 1 is in certifi
    ("echo-api-cert-12.pem", "signature"),
    ("echo-api-cert-4.pem", "cert_chain"),   # certifi dropped VeriSign's G5 root in 2020
])
def test_the_default_trust_store_accepts_amazons_current_chains(http, chain, check):
    assert chain_check(http, chain, leaf(chain).not_valid_before_utc + timedelta(days=30), None).check == check


@pytest.fixture(params=REQUESTS, ids=[r["body"] for r in REQUESTS])
def real(request):
    """One request Alexa signed: its headers as sent, raw body, timestamp, chain and root."""
    spec = request.param
    return dict(spec, body=pem(spec["body"]), at=datetime.fromisoformat(spec["timestamp"]))


def test_a_real_request_signed_only_with_sha1_is_refused_naming_the_deprecated_header(http, real):
    error = failure(verifier_at(real["at"], [real["root"]]), real["headers"], real["body"])
    assert error.check == "signature_256"
    assert "only the deprecated SHA-1 'Signature' header" in error.message
    assert len(http.calls) == 0  # refused before any download


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda name: name.capitalize()],
                         ids=["node-lowercase", "upper", "go-canonical"])
def test_the_sha1_only_refusal_reads_the_header_in_any_case(http, real, spelling):
    headers = {spelling(name): value for name, value in real["headers"].items()}
    error = failure(verifier_at(real["at"], [real["root"]]), headers, real["body"])
    assert "only the deprecated SHA-1" in error.message


def test_a_real_sha1_signature_is_genuine_and_its_chain_passes_every_certificate_check(http, real):
    """The SHA-1 signature verifies over the body with the real leaf; under Signature-256 only the hash differs."""
    leaf(real["chain"]).public_key().verify(
        base64.b64decode(real["headers"]["Signature"]), real["body"], padding.PKCS1v15(), hashes.SHA1()
    )
    http.get(real["headers"]["SignatureCertChainUrl"], body=pem(real["chain"]))
    headers = {"SignatureCertChainUrl": real["headers"]["SignatureCertChainUrl"],
               "Signature-256": real["headers"]["Signature"]}
    error = failure(verifier_at(real["at"], [real["root"]]), headers, real["body"])
    assert error.check == "signature"
    assert f"over the {len(real['body'])} raw body bytes" in error.message


@pytest.mark.parametrize(("change", "check"), [
    (lambda r: ("http" + r["headers"]["SignatureCertChainUrl"][5:], r["at"]), "cert_url"),
    (lambda r: (r["headers"]["SignatureCertChainUrl"].replace("echo.api", "ECHO.API"), r["at"]), "cert_url"),
    (lambda r: (r["headers"]["SignatureCertChainUrl"], leaf(r["chain"]).not_valid_after_utc + timedelta(days=1)),
     "cert_expired"),
], ids=["http-url", "path-case", "a-year-later"])
def test_a_real_request_with_its_url_or_time_changed_fails_that_check(http, real, change, check):
    url, at = change(real)
    http.get(url, body=pem(real["chain"]))
    headers = {"SignatureCertChainUrl": url, "Signature-256": real["headers"]["Signature"]}
    assert failure(verifier_at(at, [real["root"]]), headers, real["body"]).check == check


@pytest.mark.parametrize("url", [
    # Every certificate URL found in published Alexa traffic and test suites (SOURCES.md).
    "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-3.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-4.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-5.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-6-ats.pem",
    "https://s3.amazonaws.com/echo.api/echo-api-cert-12.pem",
])
def test_certificate_urls_seen_in_real_traffic_are_accepted(url):
    assert verify_cert_url(url) is None


@pytest.mark.parametrize(("cert_url_name", "signature_name"), [
    ("SignatureCertChainUrl", "Signature-256"),   # as Alexa sends them
    ("signaturecertchainurl", "signature-256"),   # as Node and HTTP/2 present them
    ("Signaturecertchainurl", "Signature-256"),   # as Go's http.Header canonicalises them
])
def test_header_spellings_seen_in_real_traffic_reach_the_chain(http, cert_url_name, signature_name):
    chain = "echo-api-cert-12.pem"
    url = f"https://s3.amazonaws.com/echo.api/{chain}"
    http.get(url, body=pem(chain))
    at = leaf(chain).not_valid_before_utc + timedelta(days=30)
    body = json.dumps({"request": {"timestamp": stamp(at)}}).encode()
    headers = {cert_url_name: url, signature_name: NOBODYS_SIGNATURE}
    assert failure(verifier_at(at, AMAZON_ROOTS), headers, body).check == "signature"


def test_a_signature_whose_plus_signs_became_spaces_says_so(http):
    # A Signature header value as a skill received it after a form-decoding hop (SOURCES.md).
    value = ("cezVeGIQZ2acr6cmNOC/SoytfBxk35aZluOMAHFImvD2A3EUdXgN/98zxAnbySet6bWLLRY7nb4gSeM8tERBOPSFhlU8q6pN40hHnYP6"
             "ELxk2mpCUeyXJmOIGCaVxAVZBohrr7XM/xgrMmWLDZNVTWmSYw0Tkrg0U7EpS/SpkqiulffVpiZE4fO9btpY1D7zBjBYuu/6GYQElc63"
             "OcCTuFH1smXK0jCldWdk1SvZ04uyLitxLcpzpRpjZ5Tii34pP1NtMnJLakf9BX26Ko98N4Q8m1j8H06 uaDiDbKNYt48ZX5jnfPh4pO1"
             "KyKVaLT0t45ocPQq91pKR9GSxdjAsQ==")
    chain = "echo-api-cert-5.pem"
    url = f"https://s3.amazonaws.com/echo.api/{chain}"
    http.get(url, body=pem(chain))
    at = leaf(chain).not_valid_before_utc + timedelta(days=30)
    error = failure(verifier_at(at, [VERISIGN_ROOT]), {"SignatureCertChainUrl": url, "Signature-256": value}, b"{}")
    assert error.check == "signature" and "URL-decoded" in error.message
    fixed = failure(verifier_at(at, [VERISIGN_ROOT]),
                    {"SignatureCertChainUrl": url, "Signature-256": value.replace(" ", "+")}, b"{}")
    assert "URL-decoded" not in fixed.message
