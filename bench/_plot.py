"""Draw latency against ledger size as a small hand-written SVG, from store_scale.py JSON lines.

    python bench/_plot.py results-1m.json results-10m.json > docs/img/store-scale.svg
"""

from __future__ import annotations

import json
import math
import sys

SERIES = [  # key, label, colour
    ("user_history_p99_ms", "user history p99", "#1f77b4"),
    ("dev_page_p99_ms", "developer page p99", "#ff7f0e"),
    ("session_p99_ms", "session turns p99", "#2ca02c"),
    ("fts_p99_ms", "full-text search p99", "#d62728"),
    ("erase_1000_ms", "erase a 1,000-row user", "#9467bd"),
    ("purge_day_ms", "purge one day", "#8c564b"),
]
W, H, L, R, T, B = 640, 400, 70, 210, 30, 50


def svg(results: list[dict]) -> str:
    """The SVG text: one line per figure, both axes logarithmic."""
    pts = [(r["rows"], r[k]) for r in results for k, _, _ in SERIES if r.get(k)]
    xs = [math.log10(x) for x, _ in pts]
    ys = [math.log10(y) for _, y in pts]
    x0, x1 = math.floor(min(xs) - 0.2), math.ceil(max(xs) + 0.2)
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))

    def px(x: float) -> float:
        return L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)

    def py(y: float) -> float:
        return H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           f'font-size="12"><rect width="{W}" height="{H}" fill="white"/>']
    for e in range(y0, y1 + 1):
        y = H - B - (e - y0) / (y1 - y0) * (H - T - B)
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0 ** e:g} ms</text>')
    for e in range(x0, x1 + 1):
        x = L + (e - x0) / (x1 - x0) * (W - L - R)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{H - B}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{10 ** e:,} rows</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">transcripts in the ledger</text>')
    out.append(f'<text x="{L}" y="18">latency against ledger size (log-log)</text>')
    for i, (key, label, colour) in enumerate(SERIES):
        line = [(px(r["rows"]), py(r[key])) for r in results if r.get(key)]
        if not line:
            continue
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in line) + '"/>')
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in line)
        ly = T + 10 + i * 20
        out.append(f'<line x1="{W - R + 12}" x2="{W - R + 32}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="2"/><text x="{W - R + 38}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    rows = [json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:]]
    sys.stdout.write(svg(sorted(rows, key=lambda r: r["rows"])))
