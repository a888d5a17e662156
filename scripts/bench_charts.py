#!/usr/bin/env python3
"""Draws the book's benchmark charts from criterion's output.

    cargo bench                      # or one bench: cargo bench --bench stack
    python3 scripts/bench_charts.py  # writes book/src/charts/<group>.svg

For each criterion group found under `target/criterion` (or the folder given as the first
argument), it reads every benchmark's `new/estimates.json` and `new/benchmark.json`, takes the
median time per element (criterion's median estimate divided by the benchmark's `Elements`
throughput, if it declares one) and draws one horizontal bar per implementation, in rows by
parameter (usually the thread count). threadsmith's own bars are drawn in a darker colour, and
each row says how its first (threadsmith) bar compares with the fastest peer. Each chart's footer
gives the date of the run it was drawn from.

Standard library only, so CI or a reader can run it anywhere Python 3 is.
"""

import json
import sys
from datetime import datetime, timezone
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "book" / "src" / "charts"

# The crate's own implementations, by the function names the benches give them.
OURS = ("threadsmith", "treiber", "ms_queue", "bounded", "token_bucket", "keyed", "pool")
PEER_COLOURS = ["#9db4c0", "#c2a878", "#a3b18a", "#d4a5a5", "#b8b8d1", "#c9c9c9"]
OUR_COLOUR = "#1d3557"


def is_ours(name: str) -> bool:
    return any(name.startswith(prefix) for prefix in OURS)


def load(group_dir: Path):
    """[(parameter, function, ns per element, run time)] for one group."""
    rows = []
    for estimates in sorted(group_dir.rglob("new/estimates.json")):
        meta = json.loads((estimates.parent / "benchmark.json").read_text())
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        elements = (meta.get("throughput") or {}).get("Elements") or 1
        rows.append(
            (
                meta.get("value_str") or "",
                meta["function_id"] or meta["group_id"],
                median / elements,
                estimates.stat().st_mtime,
            )
        )
    return rows


def duration(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def order_key(parameter: str):
    digits = "".join(ch for ch in parameter if ch.isdigit())
    return (int(digits) if digits else 0, parameter)


def chart(group: str, rows) -> str:
    parameters = sorted({p for p, _, _, _ in rows}, key=order_key)
    functions = sorted({f for _, f, _, _ in rows}, key=lambda f: (not is_ours(f), f))
    value = {(p, f): ns for p, f, ns, _ in rows}
    biggest = max(ns for _, _, ns, _ in rows)
    bar_h, gap, label_w, plot_w, note_w = 16, 3, 170, 360, 260
    row_h = len(functions) * (bar_h + gap) + 14
    top, width = 44, label_w + plot_w + note_w
    height = top + len(parameters) * row_h + 36
    colour = {}
    peers = iter(PEER_COLOURS * 4)
    for f in functions:
        colour[f] = OUR_COLOUR if is_ours(f) else next(peers)
    when = datetime.fromtimestamp(max(t for _, _, _, t in rows), timezone.utc)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="8" y="18" font-size="15" font-weight="bold">{escape(group)}</text>',
        '<text x="8" y="34" fill="#555">median time per operation, lower is better</text>',
    ]
    y = top
    for p in parameters:
        out.append(
            f'<text x="8" y="{y + 12}" font-weight="bold">{escape(p or "—")}'
            f'{(" thread" if p == "1" else " threads") if p.isdigit() else ""}</text>'
        )
        present = [f for f in functions if (p, f) in value]
        for i, f in enumerate(present):
            ns = value[(p, f)]
            w = max(1.0, plot_w * ns / biggest)
            by = y + i * (bar_h + gap)
            out.append(f'<text x="{label_w - 6}" y="{by + 12}" text-anchor="end">{escape(f)}</text>')
            out.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{colour[f]}"/>'
            )
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{by + 12}">{duration(ns)}</text>')
        ours = [f for f in present if is_ours(f)]
        theirs = [value[(p, f)] for f in present if not is_ours(f)]
        if ours and theirs:
            ratio = value[(p, ours[0])] / min(theirs)
            out.append(
                f'<text x="{label_w + plot_w + note_w - 6}" y="{y + 12}" text-anchor="end" '
                f'fill="#555">{escape(ours[0])}: {ratio:.2f}× the fastest peer</text>'
            )
        y += row_h
    out.append(
        f'<text x="8" y="{height - 12}" fill="#555">criterion medians, run of '
        f'{when:%Y-%m-%d} UTC; drawn by scripts/bench_charts.py</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "criterion"
    groups = sorted(d for d in source.iterdir() if d.is_dir() and d.name != "report")
    if not groups:
        print(f"no criterion output under {source}: run `cargo bench` first", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for group in groups:
        rows = load(group)
        if rows:
            (OUT / f"{group.name}.svg").write_text(chart(group.name, rows), encoding="utf-8")
            print(f"book/src/charts/{group.name}.svg: {len(rows)} benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
