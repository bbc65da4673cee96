#!/usr/bin/env bash
# In-process round trip, side by side in one session: ask-sdk-core (the peer), the plain-dict floor,
# and skills_sdk (same-work skill and the example pizza skill, capture on and off), on the exact
# bytes of ../shared/bench/intent_envelope.json. Prints each figure and the ratios.
#
#   bash bench/compare_inproc.sh            # N=2000 REPEATS=5 by default
#   BEFORE=../main bash bench/compare_inproc.sh   # also another checkout's same-work skill, in the same session
#
# Needs the peer harness in ../shared/bench (it makes its own venv, /tmp/anchors-venv) with this
# project installed into that venv (done here).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER_BENCH:-$ROOT/../shared/bench}"
VENV="${ANCHORS_VENV:-/tmp/anchors-venv}"
OUT="${BENCH_RESULTS:-/tmp/skills-bench-results}"
export N="${N:-2000}" REPEATS="${REPEATS:-5}" BENCH_RESULTS="$OUT"
mkdir -p "$OUT"
rm -f "$OUT"/inproc_same-work-capture-before.json   # only this run's BEFORE is reported

bash "$PEER/run.sh" inproc >/dev/null 2>&1 || true      # creates the venv on first use
"$VENV/bin/pip" install -q -e "$ROOT" >/dev/null 2>&1
# The peer's packages were byte-compiled by pip when they were installed; an editable install of
# this project is not, and with PYTHONDONTWRITEBYTECODE set every fresh process would compile it
# from source again (about two thirds of its cold start here). Compile it as an install would.
"$VENV/bin/python" -m compileall -q "$ROOT/skills_sdk" >/dev/null   # the package, not the bench glue

run() {  # name target [env...]
  local name="$1" target="$2"; shift 2
  # $ROOT first on the path: this checkout is measured even if another one is installed in the venv.
  env PYTHONPATH="$ROOT/bench:$ROOT" "$@" bash "$PEER/run.sh" inproc --target "$target" --name "$name" \
    --out "$OUT/inproc_$name.json" 2>/dev/null | grep -E "round trip|cold start" || true
}

echo "== $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
bash "$PEER/run.sh" inproc 2>/dev/null | grep -E "round trip|cold start" || true
run same-work-capture  inproc_target:handle_json_same_work
if [ -n "${BEFORE:-}" ]; then
  BEFORE="$(cd "$BEFORE" && pwd)"
  "$VENV/bin/python" -m compileall -q "$BEFORE/skills_sdk" >/dev/null
  run same-work-capture-before inproc_target:handle_json_same_work PYTHONPATH="$BEFORE/bench:$BEFORE"
fi
run same-work-nocapture inproc_target:handle_json_same_work SKILLS_BENCH_CAPTURE=0
run example-pizza-capture inproc_target:handle_json
run example-pizza-nocapture inproc_target:handle_json SKILLS_BENCH_CAPTURE=0

"$VENV/bin/python" - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def us(name):
    try:
        data = json.loads((out / name).read_text())
    except FileNotFoundError:
        return None
    for label, v in data.get("benchmarks", {}).items():
        if label.endswith("round trip"):
            return v["per_request_us_median"]
    return None
asksdk = us("inproc.json")
rows = {n: us(f"inproc_{n}.json") for n in ("same-work-capture", "same-work-capture-before", "same-work-nocapture",
                                           "example-pizza-capture", "example-pizza-nocapture")}
rows["plain-dict floor"] = us("inproc_plain.json")
print("\n%-26s %10s %14s" % ("target", "us/request", "ask-sdk / ours"))
print("%-26s %10.1f %14s" % ("ask-sdk-core", asksdk or float("nan"), "1.00x"))
for name, v in rows.items():
    if v:
        print("%-26s %10.1f %13.2fx" % (name, v, asksdk / v if asksdk else float("nan")))
summary = {"asksdk_us": asksdk, **{k.replace(" ", "_") + "_us": v for k, v in rows.items()}}
print(json.dumps(summary))
PY
