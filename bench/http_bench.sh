#!/usr/bin/env bash
# HTTP, side by side under the same gunicorn settings (sync workers on 127.0.0.1, wrk POST load):
# ours (same-work pizza skill, capture on, JSON access log), ours with request verification on,
# flask-ask-sdk (the peer) and a bare Flask app returning the same bytes. See bench/wsgi_pizza.py.
# Ours also runs under gunicorn's threaded worker ("ours_gthread": -k gthread $GTHREAD, default
# -w 2 --threads 2), started here with the same app, envelope and access log, and measured by the
# harness as a running server (--url, --server-pid: the CPU of its master and workers).
#
#   bash bench/http_bench.sh                 # DURATION=5 RUNS=3 WORKERS=2 by default
#   BEFORE=../main bash bench/http_bench.sh  # also another checkout's same app ("before"), interleaved in the same run
#   GTHREAD="-w 2 --threads 4" GTHREAD_PORT=18079 bash bench/http_bench.sh
#
# Each of our servers runs with the project's gunicorn settings (-c python:skills_sdk.server.gunicorn_hooks,
# as `skills serve --workers N` runs them: the ledger's background work in one maintenance process, its
# CPU counted with the server's), "before" with its own checkout's. THREAD=1 adds "ours_thread": the same
# with SKILLS_BACKGROUND=thread (the background work on a thread in each worker, as before).
#
# Results (JSON) land in $BENCH_RESULTS (default /tmp/skills-bench-results)/http_ours.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER_BENCH:-$ROOT/../shared/bench}"
VENV="${ANCHORS_VENV:-/tmp/anchors-venv}"
export BENCH_RESULTS="${BENCH_RESULTS:-/tmp/skills-bench-results}" DURATION="${DURATION:-5}" RUNS="${RUNS:-3}"
export ENVELOPE="${ENVELOPE:-$PEER/intent_envelope.json}"   # the bytes every app is given, from any checkout
mkdir -p "$BENCH_RESULTS"
rm -f "$BENCH_RESULTS"/ours_http.db* "$BENCH_RESULTS"/before_http.db* "$BENCH_RESULTS"/ours_gthread_http.db* \
  "$BENCH_RESULTS"/ours_thread_http.db* "$BENCH_RESULTS"/ours_verify_http.db*
[ -x "$VENV/bin/python" ] || bash "$PEER/run.sh" inproc >/dev/null 2>&1 || true   # makes the venv
"$VENV/bin/pip" install -q -e "$ROOT" >/dev/null 2>&1
HOOKS="GUNICORN_CMD_ARGS=-c python:skills_sdk.server.gunicorn_hooks"   # the harness starts gunicorn itself
before=()
if [ -n "${BEFORE:-}" ]; then
  BEFORE="$(cd "$BEFORE" && pwd)"
  "$VENV/bin/python" -m compileall -q "$ROOT/skills_sdk" "$BEFORE/skills_sdk" >/dev/null   # both as an install leaves them
  # Its own path first (its skills_sdk and bench app), its own ledger file.
  before=(--app before=wsgi_pizza:app --env "before=PYTHONPATH=$BEFORE/bench:$BEFORE"
          --env "before=SKILLS_BENCH_DB=$BENCH_RESULTS/before_http.db" --env "before=$HOOKS")
fi
thread=()
if [ -n "${THREAD:-}" ]; then
  thread=(--app ours_thread=wsgi_pizza:app --env "ours_thread=SKILLS_BACKGROUND=thread" --env "ours_thread=$HOOKS"
          --env "ours_thread=SKILLS_BENCH_DB=$BENCH_RESULTS/ours_thread_http.db")
fi
# Ours under gthread, started as the harness starts its apps (from its folder, warnings only, stderr
# to a log in $BENCH_RESULTS) and stopped by its PID however this script ends.
GTHREAD_PORT="${GTHREAD_PORT:-18079}"
# shellcheck disable=SC2086  # GTHREAD is a list of gunicorn options
(cd "$PEER" && PYTHONPATH="$ROOT/bench:$ROOT" SKILLS_BENCH_DB="$BENCH_RESULTS/ours_gthread_http.db" \
  exec "$VENV/bin/gunicorn" -c python:skills_sdk.server.gunicorn_hooks -k gthread ${GTHREAD:--w 2 --threads 2} -b "127.0.0.1:$GTHREAD_PORT" \
  --log-level warning --chdir "$PEER" wsgi_pizza:app >/dev/null 2>"$BENCH_RESULTS/gunicorn_gthread.log") &
gthread_pid=$!
trap 'kill -TERM "$gthread_pid" 2>/dev/null; wait "$gthread_pid" 2>/dev/null || true' EXIT
PYTHONPATH="$ROOT/bench:$ROOT" bash "$PEER/run.sh" http \
  --app ours=wsgi_pizza:app --env "ours=$HOOKS" "${before[@]}" "${thread[@]}" \
  --app ours_verify=wsgi_pizza:app_verified --env "ours_verify=$HOOKS" \
  --env "ours_verify=SKILLS_BENCH_DB=$BENCH_RESULTS/ours_verify_http.db" \
  --app asksdk=app_asksdk:app --app bare=app_bare:app --baseline bare \
  --url "ours_gthread=http://127.0.0.1:$GTHREAD_PORT/" --server-pid "ours_gthread=$gthread_pid" \
  --out "$BENCH_RESULTS/http_ours.json" "$@"
