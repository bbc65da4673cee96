"""Behind a TLS-terminating proxy: ``X-Forwarded-*`` believed for the hops the operator names, and never by default."""

from __future__ import annotations

import http.client
import os
import re
import subprocess

import pytest
from _server import SKILLS, free_port, start, stop

from skills_sdk.errors import SettingError
from skills_sdk.wsgi import build_app

#: What a load balancer in front of https://skills.example.com tells the server about its client.
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "skills.example.com",
             "X-Forwarded-Port": "443"}
PUBLIC = "https://skills.example.com"


def _request(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def _console_cookie(port: int, headers: dict[str, str]) -> tuple[str, str]:
    """The ``Set-Cookie`` a first visit to the console gets, and the CSRF token its page carries."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/console/", headers=headers)
    resp = conn.getresponse()
    page = resp.read().decode()
    conn.close()
    assert resp.status == 200, page
    return resp.headers["Set-Cookie"], re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _secure(set_cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in set_cookie.split(";")]


@pytest.fixture
def serve(tmp_path):
    """``serve(*args)``: ``skills serve --db ... ARGS`` on a free port; returns the port and the process."""
    procs = []

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, subprocess.Popen]:
        port = free_port()
        procs.append(proc := start(["serve", "--db", str(tmp_path / "t.db"), *args], port, env=env))
        return port, proc

    yield run
    for proc in procs:
        stop(proc)


def test_forwarded_headers_are_believed_only_for_the_proxy_hops_given(serve, order_pizza_body):
    # Without the setting, the same headers are a client's word: ignored.
    port, _ = serve()
    cookie, token = _console_cookie(port, FORWARDED)
    assert not _secure(cookie), f"a client's own X-Forwarded-Proto made the cookie Secure: {cookie}"
    resp = _request(port, "GET", "/console", FORWARDED)
    assert resp.headers["Location"] == f"http://127.0.0.1:{port}/console/"
    # A page elsewhere cannot pass for the console by naming itself in a header.
    resp = _sign_in(port, cookie, token, FORWARDED)
    assert resp.status == 403

    port, _ = serve("--proxy-hops", "1")
    cookie, token = _console_cookie(port, FORWARDED)
    assert _secure(cookie), cookie
    # werkzeug's redirect to the slash-ended address is absolute: the browser's, not the proxy's hop.
    resp = _request(port, "GET", "/console", FORWARDED)
    assert resp.status == 308 and resp.headers["Location"] == f"{PUBLIC}/console/"
    # A form posted from the public page is the console's own (Origin matches the forwarded host).
    resp = _sign_in(port, cookie, token, FORWARDED)
    assert resp.status == 401  # the key is refused; neither the origin nor the token was
    # The Alexa endpoint, answered in front of Flask, behind the same proxy.
    resp = _request(port, "POST", "/alexa/pizza", {**FORWARDED, "Content-Type": "application/json"},
                    order_pizza_body.encode())
    assert resp.status == 200


def _sign_in(port: int, cookie: str, token: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """A developer sign-in with a wrong key, posted from the public console's page."""
    return _request(port, "POST", "/console/sign-in", {**headers, "Origin": PUBLIC, "Cookie": cookie.split(";")[0],
                                                       "Content-Type": "application/x-www-form-urlencoded"},
                    f"csrf_token={token}&key=sk_dev_wrong".encode())


@pytest.mark.parametrize("hops", [None, "1"], ids=["default", "one"])
def test_gunicorn_workers_take_the_setting_and_nothing_else(serve, hops):
    """``--workers 2``: the workers get the setting; gunicorn's own trust of loopback peers is off.

    The client's address is seen in gunicorn's access log (off by default, turned on here), the one
    line that names it.
    """
    env = {**{k: v for k, v in os.environ.items() if k != "SKILLS_PROXY_HOPS"}, "GUNICORN_CMD_ARGS": "--access-logfile - --access-logformat '%(h)s %(U)s'"}
    port, proc = serve("--workers", "2", *(["--proxy-hops", hops] if hops else []), env=env)
    cookie, _ = _console_cookie(port, FORWARDED)
    resp = _request(port, "GET", "/console", FORWARDED)
    stop(proc)
    # Lines of the two requests above (the start-up's /healthz polls come from the test, unproxied).
    clients = re.findall(r"(\S+) /console", proc.stdout.read().decode())
    if hops:
        assert _secure(cookie) and resp.headers["Location"] == f"{PUBLIC}/console/"
        assert clients == ["203.0.113.7"] * 2
    else:
        assert not _secure(cookie), f"a loopback client's X-Forwarded-Proto made the cookie Secure: {cookie}"
        assert resp.headers["Location"] == f"http://127.0.0.1:{port}/console/"
        assert clients == ["127.0.0.1"] * 2


def test_a_local_clients_script_name_header_changes_no_path_under_gunicorn(serve, order_pizza_body):
    """gunicorn believed ``SCRIPT_NAME`` from loopback peers and cut it from the path the app routes on."""
    port, _ = serve("--workers", "2")
    resp = _request(port, "POST", "/alexa/pizza", {"SCRIPT_NAME": "/alexa", "Content-Type": "application/json"},
                    order_pizza_body.encode())
    assert resp.status == 200  # not routed as /pizza
    # A path nothing serves stays unserved: not the console under a prefix the client made up.
    resp = _request(port, "GET", "/elsewhere/console", {"SCRIPT_NAME": "/elsewhere"})
    assert resp.status == 404, resp.headers.get("Location")


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_proxy_hops_option_is_refused_naming_it(tmp_path, value):
    done = subprocess.run([SKILLS, "serve", "--db", str(tmp_path / "t.db"), "--port", str(free_port()),
                           "--proxy-hops", value], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--proxy-hops must be" in done.stderr and "0 (the default)" in done.stderr, done.stderr


def test_a_bad_proxy_hops_variable_is_refused_before_skills_load(tmp_path):
    # The skills cannot be loaded either: the server must name the setting before it tries.
    env = {**os.environ, "SKILLS_PROXY_HOPS": "-2"}
    done = subprocess.run([SKILLS, "serve", "--db", str(tmp_path / "t.db"), "--port", str(free_port()),
                           "--skills", "no_such_module:skill"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "SKILLS_PROXY_HOPS must be 0 or more, got '-2'" in done.stderr, done.stderr


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_wsgi_refuses_a_bad_proxy_hops_naming_the_variable(tmp_path, value):
    with pytest.raises(SettingError, match=rf"^SKILLS_PROXY_HOPS must be .*got '{re.escape(value)}'"):
        build_app({"SKILLS_DB": str(tmp_path / "t.db"), "SKILLS_VERIFY": "0", "SKILLS_PROXY_HOPS": value})


def test_wsgi_app_believes_the_proxy_only_when_told(tmp_path):
    env = {"SKILLS_DB": str(tmp_path / "t.db"), "SKILLS_VERIFY": "0"}
    off = build_app(env).test_client().get("/console", headers=FORWARDED)
    on = build_app({**env, "SKILLS_PROXY_HOPS": "1"}).test_client().get("/console", headers=FORWARDED)
    assert off.headers["Location"] == "http://localhost/console/"
    assert on.headers["Location"] == f"{PUBLIC}/console/"
