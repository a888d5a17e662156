#!/usr/bin/env python3
"""Checks the book's cross-references after `mdbook build book`:

- every `{{#include path:anchor}}` names a file that exists and contains `ANCHOR: anchor`
  and `ANCHOR_END: anchor` (mdBook includes nothing, silently, for a missing anchor);
- every include names a file of the crate that `cargo test` compiles (under `src/`, `tests/`,
  `examples/` or `benches/`): `build.rs` shows include-only blocks to rustdoc as text on
  that promise;
- no Rust block is marked `ignore`: every block compiles in `cargo test`, and one that must
  not compile says so with `compile_fail`;
- every relative link `[text](page.md#fragment)` in `book/src` names a page that exists, and
  the fragment is an id in that page's rendered HTML (`book/book/page.html`).

Prints each problem and exits 1 if there is any.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "book" / "src"
HTML = ROOT / "book" / "book"

FENCE = re.compile(r"^\s*```(\S*)")
COMPILED = ("src", "tests", "examples", "benches")
INCLUDE = re.compile(r"(?<!\\)\{\{#(?:rustdoc_)?include\s+([^}:\s]+)(?::([A-Za-z0-9_-]+))?\s*\}\}")
LINK = re.compile(r"\]\(([^)\s]+)\)")
ID = re.compile(r'id="([^"]+)"')


def main() -> int:
    problems = []
    pages = sorted(SRC.rglob("*.md"))
    ids_cache = {}

    def ids_of(page: Path):
        html = HTML / page.relative_to(SRC).with_suffix(".html")
        if html not in ids_cache:
            text = html.read_text(encoding="utf-8") if html.exists() else ""
            ids_cache[html] = set(ID.findall(text))
        return ids_cache[html]

    for page in pages:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(ROOT)
        for path, anchor in INCLUDE.findall(text):
            target = (page.parent / path).resolve()
            if not target.exists():
                problems.append(f"{where}: include of a missing file {path}")
                continue
            inside = target.relative_to(ROOT).parts[0] if target.is_relative_to(ROOT) else ""
            if inside not in COMPILED:
                problems.append(f"{where}: include of {path}, which cargo test does not compile")
            if anchor:
                body = target.read_text(encoding="utf-8")
                if f"ANCHOR: {anchor}" not in body or f"ANCHOR_END: {anchor}" not in body:
                    problems.append(f"{where}: include {path}:{anchor}: no such anchor")
        in_block = False
        for number, line in enumerate(text.splitlines(), 1):
            fence = FENCE.match(line)
            if not fence:
                continue
            if not in_block and "ignore" in fence.group(1).split(","):
                problems.append(f"{where}:{number}: a block marked ignore (use compile_fail or fix it)")
            in_block = not in_block
        for link in LINK.findall(text):
            if re.match(r"^[a-z]+:", link) or link.startswith("/"):
                continue  # external (https:, mailto:) or absolute
            file_part, _, fragment = link.partition("#")
            if file_part and not file_part.endswith(".md"):
                continue  # a link to a non-page file, e.g. an image
            target = (page.parent / file_part).resolve() if file_part else page
            if not target.exists():
                problems.append(f"{where}: link to a missing page {link}")
                continue
            if fragment and fragment not in ids_of(target):
                problems.append(f"{where}: link {link}: no heading with that id")

    for problem in problems:
        print(problem)
    print(f"book links: {len(pages)} pages checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
