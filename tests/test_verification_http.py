"""Request verification on the Alexa endpoint: each rule broken alone gives a 400 naming it, runs no handler, records nothing."""

from __future__ import annotations

import base64
import json
import logging
import pathlib
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from conftest import make_envelope
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from skills_sdk import Skill, say
from skills_sdk.errors import RegistrationError
from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.verify import RequestVerifier

NOW = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)
STAMP = "2026-11-28T09:30:00Z"
CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-13.pem"
SKILL_ID = "amzn1.ask.skill.secret-pizza"
SECRET = "the secret topping is anchovy"


def _cert(subject, key, issuer, issuer_key, *, ca, san=("echo-api.amazon.com",),
          not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365)):
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    builder = (
        x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san and not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class CA:
    """A private root and intermediate, the Alexa leaf key, and a stranger's key."""

    def __init__(self) -> None:
        self.root_key, self.mid_key, self.leaf_key, self.other_key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)
        )
        self.root = _cert("Test Root", self.root_key, "Test Root", self.root_key, ca=True)
        self.mid = _cert("Test Intermediate", self.mid_key, "Test Root", self.root_key, ca=True)

    def chain(self, **leaf) -> bytes:
        return _pem(_cert("echo-api.amazon.com", self.leaf_key, "Test Intermediate", self.mid_key, ca=False, **leaf),
                    self.mid)

    def untrusted_chain(self) -> bytes:
        rogue = _cert("Rogue Root", self.other_key, "Rogue Root", self.other_key, ca=True)
        leaf = _cert("echo-api.amazon.com", self.leaf_key, "Rogue Root", self.other_key, ca=False)
        return _pem(leaf, rogue)


@pytest.fixture
def restore_logging():
    """Undo what the production entry does to the ``skills_sdk`` logger."""
    logger = logging.getLogger("skills_sdk")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def calls():
    return []


@pytest.fixture
def skill(calls) -> Skill:
    s = Skill("pizza", developer_id="dev-pizza", invocation_name="pizza", application_id=SKILL_ID)

    @s.launch
    def launch(ctx):
        calls.append("launch")
        return say(SECRET)

    return s


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def app(skill, http):
    store = TranscriptStore(":memory:")
    verifier = RequestVerifier(trusted_roots=[_fixture_ca().root], session=requests.Session(), clock=lambda: NOW)
    application = create_app([skill], store=store, verifier=verifier)
    application.extensions["skills_sdk"]["test_store"] = store
    return application


_CA: list[CA] = []


def _fixture_ca() -> CA:
    if not _CA:
        _CA.append(CA())
    return _CA[0]


def signed(body: bytes, *, key=None, url: str = CERT_URL) -> dict[str, str]:
    sig = (key or _fixture_ca().leaf_key).sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"SignatureCertChainUrl": url, "Signature-256": base64.b64encode(sig).decode(),
            "Content-Type": "application/json"}


def body_of(**changes) -> bytes:
    env = make_envelope("LaunchRequest", application_id=changes.pop("app_id", SKILL_ID), timestamp=changes.pop("ts", STAMP))
    return json.dumps(env).encode()


def post(app, body: bytes, headers: dict[str, str]):
    return app.test_client().post("/alexa/pizza", data=body, headers=headers)


def rows(app) -> int:
    return app.extensions["skills_sdk"]["test_store"].count()


def test_valid_signed_request_is_answered_and_recorded(app, http, calls):
    http.get(CERT_URL, body=_fixture_ca().chain())
    body = body_of()
    resp = post(app, body, signed(body))
    assert resp.status_code == 200
    assert SECRET in resp.json["response"]["outputSpeech"]["ssml"]
    assert calls == ["launch"] and rows(app) == 1


BAD_URLS = [
    "http://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "https://notamazon.com/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem",
    "https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/../invalid.path/echo-api-cert.pem",
]


def _case(name, *, chain=None, url=CERT_URL, key=None, ts=STAMP, app_id=SKILL_ID, tamper=False, headers=None):
    return pytest.param(dict(chain=chain, url=url, key=key, ts=ts, app_id=app_id, tamper=tamper, headers=headers),
                        name, id=name + ("" if url == CERT_URL else ":" + url.split("/")[2]))


CASES = [
    *[_case("cert_url", url=u) for u in BAD_URLS],
    _case("cert_expired", chain=lambda ca: ca.chain(not_before=NOW - timedelta(days=400),
                                                     not_after=NOW - timedelta(seconds=1))),
    _case("cert_not_yet_valid", chain=lambda ca: ca.chain(not_before=NOW + timedelta(hours=1))),
    _case("cert_san", chain=lambda ca: ca.chain(san=("echo-api.example.com",))),
    _case("cert_chain", chain=lambda ca: ca.untrusted_chain()),
    _case("cert_download", chain=lambda ca: b"not a certificate"),
    _case("signature", tamper=True),
    _case("signature", key="other"),
    _case("timestamp", ts="2026-11-28T09:27:29Z"),   # 151 s old
    _case("timestamp", ts="2026-11-28T09:32:31Z"),   # 151 s ahead
    _case("application_id", app_id="amzn1.ask.skill.someone-else"),
    _case("signature_cert_chain_url", headers={"Signature-256": "abc"}),
    _case("signature_256", headers={"SignatureCertChainUrl": CERT_URL}),
]


@pytest.mark.parametrize(("case", "check"), CASES)
def test_each_broken_rule_is_a_400_naming_its_check_with_no_handler_and_no_row(app, http, calls, caplog, case, check):
    ca = _fixture_ca()
    http.get(case["url"], body=(case["chain"] or (lambda c: c.chain()))(ca))
    body = body_of(ts=case["ts"], app_id=case["app_id"])
    headers = signed(body, key=ca.other_key if case["key"] else None, url=case["url"])
    if case["tamper"]:
        body = body.replace(b"LaunchRequest", b"SessionEndedRequest")
    if case["headers"] is not None:
        headers = {"Content-Type": "application/json", **case["headers"]}
    with caplog.at_level(logging.INFO, logger="skills_sdk"):
        resp = post(app, body, headers)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "verification_failed"
    assert resp.json["error"]["check"] == check
    assert resp.json["error"]["message"]
    assert calls == [] and rows(app) == 0
    logged = [r for r in caplog.records if getattr(r, "check", None) == check]
    assert logged, "the failure is logged with its check"
    assert all(SECRET not in r.getMessage() and "USER1" not in r.getMessage() for r in caplog.records)


def test_verification_is_off_by_default_for_local_serving(skill, calls):
    app = create_app([skill], store=TranscriptStore(":memory:"))
    resp = app.test_client().post("/alexa/pizza", data=body_of(), content_type="application/json")
    assert resp.status_code == 200 and calls == ["launch"]


def test_verify_true_refuses_unsigned_requests(skill, calls):
    app = create_app([skill], store=TranscriptStore(":memory:"), verify=True)
    resp = app.test_client().post("/alexa/pizza", data=body_of(), content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["check"] == "signature_cert_chain_url"
    assert calls == []


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("false", False), ("off", False)])
def test_production_entry_verifies_unless_turned_off(tmp_path, restore_logging, value, on):
    from skills_sdk.wsgi import build_app

    env = {"SKILLS_DB": str(tmp_path / "t.db"), "SKILLS_LOG_LEVEL": "WARNING", "SKILLS_ANY_APPLICATION": "1"}
    if value is not None:
        env["SKILLS_VERIFY"] = value
    app = build_app(env)
    assert (app.extensions["skills_sdk"]["verifier"] is not None) is on


def test_a_verifying_server_refuses_a_skill_without_application_id_and_opens_nothing(tmp_path):
    """Verification without an application id answers any skill's signed requests: not by default."""
    with pytest.raises(RegistrationError, match="'pizza' have no application_id.*--any-application"):
        create_app([Skill("pizza", developer_id="acme")], db=tmp_path / "t.db", verify=True)
    assert not (tmp_path / "t.db").exists()


def test_the_operator_can_accept_any_application_and_the_log_says_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="skills_sdk.server"):
        create_app([Skill("pizza", developer_id="acme")], store=TranscriptStore(":memory:"), verify=True,
                   test_config={"SKILLS_ANY_APPLICATION": True})
    assert any("'pizza' have no application_id and accept requests for any Alexa skill" in r.getMessage()
               for r in caplog.records)


def test_skills_with_application_ids_start_verifying_without_a_word(caplog):
    with caplog.at_level(logging.WARNING, logger="skills_sdk.server"):
        create_app([Skill("pizza", developer_id="acme", application_id=SKILL_ID)],
                   store=TranscriptStore(":memory:"), verify=True)
    assert "application_id" not in caplog.text


def test_wsgi_refuses_skills_without_application_id_unless_told(tmp_path, restore_logging):
    from skills_sdk.wsgi import build_app

    with pytest.raises(RegistrationError, match="SKILLS_ANY_APPLICATION=1"):
        build_app({"SKILLS_DB": str(tmp_path / "t.db"), "SKILLS_LOG_LEVEL": "WARNING"})


def test_a_real_alexa_request_signed_only_with_sha1_is_a_400_naming_the_deprecated_header(calls):
    """A request Alexa really sent in 2017 (tests/fixtures/verify/SOURCES.md), posted as it arrived."""
    fixtures = pathlib.Path(__file__).parent / "fixtures" / "verify"
    real = json.loads((fixtures / "requests.json").read_text())[0]
    body = (fixtures / real["body"]).read_bytes()
    skill = Skill("hello", developer_id="dev-hello", application_id=json.loads(body)["session"]["application"]["applicationId"])

    @skill.intent("HelloWorld")
    def hello(ctx):
        calls.append("hello")
        return say("hello")

    root = x509.load_pem_x509_certificate((fixtures / real["root"]).read_bytes())
    verifier = RequestVerifier(trusted_roots=[root], session=requests.Session(),
                               clock=lambda: datetime.fromisoformat(real["timestamp"]))
    store = TranscriptStore(":memory:")
    app = create_app([skill], store=store, verifier=verifier)
    resp = app.test_client().post("/alexa/hello", data=body,
                                  headers={**real["headers"], "Content-Type": "application/json; charset=utf-8"})
    assert resp.status_code == 400 and resp.json["error"]["check"] == "signature_256"
    assert "only the deprecated SHA-1 'Signature' header" in resp.json["error"]["message"]
    assert calls == [] and store.count() == 0
