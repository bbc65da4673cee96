"""``skills serve``: host skills over HTTP on the embedded SQLite store (one threaded process, or gunicorn workers)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
from typing import Any

import click

from ._common import DEFAULT_SKILLS, db_option, load_skills, opening_ledger, partner_session

__all__ = ["register", "serve", "run_threaded"]


def _proxy_hops(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """``--proxy-hops`` (or ``SKILLS_PROXY_HOPS``) as a number; a usage error naming where a bad one came from."""
    from ..errors import SettingError
    from ..server.proxy import PROXY_HOPS, proxy_hops

    from_env = ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.ENVIRONMENT
    try:
        return proxy_hops(value, PROXY_HOPS if from_env else "--proxy-hops")
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--skills", "skills_spec", default=None, metavar="MODULE:ATTR",
              help=f"Your skills (a Skill, a list, or a factory). Default: {DEFAULT_SKILLS}.")
@click.option("--verify/--no-verify", default=None,
              help="Check Alexa request signatures. Default: on with --production, off otherwise.")
@click.option("--production", is_flag=True,
              help="Serve as in production: request verification on and JSON log lines.")
@click.option("--any-application", is_flag=True,
              help="With verification on, serve skills that set no application_id (they then answer requests "
                   "signed for any Alexa skill); without it such skills refuse to start.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; more than 1 runs gunicorn (sync workers) with skills_sdk.wsgi:app.")
@click.option("--proxy-hops", default="0", show_default=True, envvar="SKILLS_PROXY_HOPS", show_envvar=True,
              metavar="N", callback=_proxy_hops,
              help="Reverse proxies (load balancers) in front that set X-Forwarded-For, -Proto, -Host and -Port: "
                   "the client's address, scheme and host are read from the last N. 0 ignores those headers, "
                   "which any client can send.")
@click.option("--log-level", default="INFO", show_default=True, envvar="SKILLS_LOG_LEVEL", show_envvar=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def serve(db_path: str, host: str, port: int, skills_spec: str | None, verify: bool | None,
          production: bool, any_application: bool, workers: int, proxy_hops: int, log_level: str) -> None:
    """Serve skills at http://HOST:PORT/alexa/<skill>, recording transcripts in --db.

    SIGTERM or Ctrl-C stops accepting connections, finishes the requests in flight, then exits.
    """
    if verify is None:
        verify = production
    _check_listen(host, port)
    from ..errors import RegistrationError, SettingError
    from ..server import check_settings

    try:
        check_settings({"SKILLS_PROXY_HOPS": proxy_hops})  # every SKILLS_* value, before a skill is loaded or a worker forked
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None
    if workers > 1:
        skills = load_skills(skills_spec)  # a bad --skills, or a partner setting, as one line here, not from every worker
        partner_session(skills_spec)
        if verify:
            from ..server import check_application_ids

            try:
                check_application_ids(skills, any_application)
            except RegistrationError as exc:
                raise click.UsageError(str(exc)) from None
        _exec_gunicorn(db_path, host, port, skills_spec, verify, workers, log_level, any_application, proxy_hops)
        return
    from ..server import create_app, settle
    from ..server.ops import configure_logging

    configure_logging(log_level, json_format=production)
    skills = load_skills(skills_spec)
    http = partner_session(skills_spec)  # the module's partner_session(), else PartnerSession.from_env()
    try:
        with opening_ledger():
            app = create_app(skills, db=db_path, http=http, verify=verify,
                             test_config={"SKILLS_ANY_APPLICATION": any_application, "SKILLS_PROXY_HOPS": proxy_hops})
    except (RegistrationError, SettingError) as exc:
        raise click.UsageError(str(exc)) from None
    names = ", ".join(s.name for s in skills)
    settle()
    run_threaded(app, host, port, banner=f"Serving {names} on http://{host}:{port}/alexa/<skill>  "
                                         f"(transcripts: {db_path}; verification {'on' if verify else 'off'})")


def _check_listen(host: str, port: int) -> None:
    """Refuse, before any skill or ledger is loaded, an address this process cannot listen on, naming the option.

    Bound and let go at once with the options the servers use (``SO_REUSEADDR``), so a port only in
    ``TIME_WAIT`` is not refused; a port taken between here and the server's own bind gets its message.
    """
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise click.BadParameter(f"{host!r} is no address of this machine: {exc.strerror}. "
                                 "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
                                 param_hint="--host") from None
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"Port {port} on {host} is in use by another program (another `skills "
                                       f"serve`?). Stop it, or pass a free port: --port {port + 1 if port < 65535 else 8000}.") from None
        if exc.errno == errno.EACCES and port < 1024:
            raise click.ClickException(f"Port {port} needs root (ports below 1024 are privileged). Pass "
                                       "--port 8000, or put a proxy in front on port 80/443.") from None
        raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}. Check --host and --port.") from None
    finally:
        probe.close()


def run_threaded(app: Any, host: str, port: int, *, banner: str | None = None) -> None:
    """Serve ``app`` on a threaded werkzeug server until SIGTERM or SIGINT, then drain in-flight requests.

    ``banner`` is printed once the port is bound, so a port in use is never announced as served.

    >>> run_threaded(create_app(db="var/t.db"), "127.0.0.1", 8000)   # doctest: +SKIP
    """
    # Imported here: werkzeug's server costs every other command ~50 ms of start-up.
    from werkzeug.serving import WSGIRequestHandler, make_server

    class RequestHandler(WSGIRequestHandler):
        """werkzeug's handler without its per-request line, which quotes the whole URL (user ids, search text).

        The app's own access line (server/ops.py) replaces it; an error werkzeug reports itself names
        only its status, since its message may quote the request line.
        """

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

        def log_error(self, format: str, *args: Any) -> None:
            code = args[0] if args and isinstance(args[0], int) else "-"
            logging.getLogger("werkzeug").warning("malformed HTTP request from a client (%s)", code)

    server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    server.daemon_threads = False  # server_close() then joins the request threads still running
    if banner:
        click.echo(banner)

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever() to return, so it cannot run on this (the serving) thread.
        threading.Thread(target=server.shutdown, name="skills-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exec_gunicorn(db_path: str, host: str, port: int, skills_spec: str | None, verify: bool,
                   workers: int, log_level: str, any_application: bool = False, proxy_hops: int = 0) -> None:
    """Replace this process with gunicorn serving ``skills_sdk.wsgi:app``, configured by environment."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        raise click.UsageError(
            f"--workers {workers} needs gunicorn, which is not installed. "
            "Install it with: pip install 'skills_sdk[serve]' (or use --workers 1)."
        ) from None
    # A path is made absolute (gunicorn may change directory); a URL is passed as it is.
    env = dict(os.environ, SKILLS_DB=db_path if "://" in db_path else os.path.abspath(db_path),
               SKILLS_VERIFY="1" if verify else "0", SKILLS_LOG_LEVEL=log_level.upper(),
               SKILLS_ANY_APPLICATION="1" if any_application else "0", SKILLS_PROXY_HOPS=str(proxy_hops))
    env["SKILLS_SKILLS"] = skills_spec or DEFAULT_SKILLS
    from ..server.gunicorn_hooks import OWNED_METRICS_DIR

    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # The workers' metrics meet in files here, so /metrics on any worker counts them all. This
        # process is replaced by gunicorn, so its master removes the folder when it exits
        # (gunicorn_hooks.on_exit); a folder the operator gave is theirs and stays.
        env["PROMETHEUS_MULTIPROC_DIR"] = env[OWNED_METRICS_DIR] = tempfile.mkdtemp(prefix="skills-metrics-")
    if skills_spec:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(workers), "-b", f"{host}:{port}",
            "--graceful-timeout", "30", "--log-level", log_level.lower(),
            "-c", "python:skills_sdk.server.gunicorn_hooks", "skills_sdk.wsgi:app"]
    click.echo(f"Serving with gunicorn, {workers} sync workers, on http://{host}:{port}/alexa/<skill>  "
               f"(transcripts: {db_path}; verification {'on' if verify else 'off'})")
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)


def register(main: click.Group) -> None:
    """Add ``serve`` to ``main``."""
    main.add_command(serve)
