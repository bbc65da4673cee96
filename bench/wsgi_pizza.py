"""WSGI apps for the peer HTTP harness: the same-work pizza skill at ``POST /``, capture on, production logging.

``app``           capture into a SQLite file, JSON access log at INFO, verification off
                  (as the peer's flask-ask-sdk app runs with its checks off).
``app_postgres``  ``app`` capturing into the PostgreSQL ledger at ``$SKILLS_BENCH_PG`` instead.
``app_nocapture`` ``app`` with capture off (``create_app(..., capture=False)``): the same skill, access log
                  and serving layer, no transcript written (bench/worker_cpu.py's middle app).
``app_verified``  the same as ``app`` with Alexa request verification on, against a private test CA: a thin
                  WSGI wrapper adds the ``Signature-256`` and ``SignatureCertChainUrl`` headers Alexa
                  would send for the harness's envelope (signed once at start-up), the chain is served
                  from memory, and the verifier's clock is the envelope's timestamp. So each request
                  pays what production pays: header lookup, one RSA-2048 signature check, the
                  timestamp and application checks (the chain is validated once, then cached).

The harness posts to ``/``; the wrapper routes that to ``/alexa/pizza``.

    PYTHONPATH=bench:. bash ../shared/bench/run.sh http --app ours=wsgi_pizza:app \\
        --app ours_verify=wsgi_pizza:app_verified --app asksdk=app_asksdk:app --app bare=app_bare:app
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ENVELOPE = os.environ.get("ENVELOPE") or os.path.join(HERE, "..", "..", "shared", "bench", "intent_envelope.json")
DB = os.environ.get("SKILLS_BENCH_DB") or os.path.join(
    os.environ.get("BENCH_RESULTS", "/tmp/skills-bench-results"), "ours_http.db")
CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-bench.pem"


def _build(verify: bool, db: str = DB, capture: bool = True) -> Any:
    from same_work import same_work_skill

    from skills_sdk.server import create_app, settle
    from skills_sdk.server.ops import configure_logging

    configure_logging(os.environ.get("SKILLS_LOG_LEVEL", "INFO"))
    verifier, headers = (_test_verifier() if verify else (None, {}))
    skill = same_work_skill()
    if verify:  # a verifying server serves only skills that name their Alexa skill id, as production must
        import json

        skill.application_id = json.load(open(ENVELOPE))["context"]["System"]["application"]["applicationId"]
    flask_app = create_app([skill], db=db, verifier=verifier, capture=capture)
    inner = flask_app.wsgi_app

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/":
            environ["PATH_INFO"] = "/alexa/pizza"
        environ.update(headers)
        return inner(environ, start_response)

    flask_app.wsgi_app = app
    settle()  # as skills_sdk.wsgi does once a worker's app is built
    return flask_app


def _test_verifier() -> tuple[Any, dict[str, str]]:
    """A verifier trusting a fresh private CA, and the headers Alexa would send for ENVELOPE."""
    import json

    import requests
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    from skills_sdk.verify import RequestVerifier

    body = open(ENVELOPE, "rb").read()
    sent = datetime.fromisoformat(json.loads(body)["request"]["timestamp"].replace("Z", "+00:00"))
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]

    def cert(cn: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> x509.Certificate:
        name = lambda n: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, n)])  # noqa: E731
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(sent - timedelta(days=1)).not_valid_after(sent + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("echo-api.amazon.com")]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    root = cert("Bench Root", keys[0], "Bench Root", keys[0], True)
    mid = cert("Bench Intermediate", keys[1], "Bench Root", keys[0], True)
    leaf = cert("echo-api.amazon.com", keys[2], "Bench Intermediate", keys[1], False)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, mid))

    class ChainAdapter(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> requests.Response:
            resp = requests.Response()
            resp.status_code, resp._content, resp.url = 200, pem, request.url
            resp.raw = __import__("io").BytesIO(pem)
            return resp

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://s3.amazonaws.com/", ChainAdapter())
    signature = keys[2].sign(body, padding.PKCS1v15(), hashes.SHA256())
    verifier = RequestVerifier(trusted_roots=[root], session=session, clock=lambda: sent.astimezone(UTC))
    headers = {"HTTP_SIGNATURECERTCHAINURL": CERT_URL, "HTTP_SIGNATURE_256": base64.b64encode(signature).decode()}
    return verifier, headers


def __getattr__(name: str) -> Any:
    if name in ("app", "app_verified", "app_nocapture"):
        globals()[name] = built = _build(verify=name == "app_verified", capture=name != "app_nocapture")
        return built
    if name == "app_postgres":
        if not os.environ.get("SKILLS_BENCH_PG"):
            raise RuntimeError("app_postgres captures into $SKILLS_BENCH_PG (a postgresql:// URL); set it, and "
                               "SKILLS_LEDGER_KEY_FILE.")
        # Its spool beside the SQLite app's database, not under the harness's folder (the default is relative).
        os.environ.setdefault("SKILLS_SPOOL", os.path.join(os.path.dirname(DB), "ours_pg.spool"))
        globals()[name] = built = _build(verify=False, db=os.environ["SKILLS_BENCH_PG"])
        return built
    raise AttributeError(name)
