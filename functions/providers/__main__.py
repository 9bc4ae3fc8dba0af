"""`python -m functions.providers [--check | --markdown | --update-doc [PATH]]`: validate or show the tables.

--check (the default) loads every table and reports the first problem (exit 1) or a count (exit 0);
--markdown prints the section docs/classification.md embeds between its `tables` markers;
--update-doc rewrites that section in place (PATH defaults to docs/classification.md of this repository).
"""
from __future__ import annotations

import sys

from pathlib import Path

from . import TableError, load, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "classification.md"
START = "<!-- tables:start (python -m functions.providers --markdown) -->\n"
END = "<!-- tables:end -->"


def update_doc(path: Path, text: str) -> None:
    """Replace what lies between the markers of `path` with `text`."""
    doc = path.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{path}: the tables markers are missing")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + START + text + END + tail, encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        reg = load()
    except TableError as exc:
        print(f"provider tables: {exc}", file=sys.stderr)
        return 1
    if argv and argv[0] == "--markdown":
        sys.stdout.write(markdown(reg))
        return 0
    if argv and argv[0] == "--update-doc":
        path = Path(argv[1]) if len(argv) > 1 else DOC
        update_doc(path, markdown(reg))
        print(f"provider tables: {path} updated")
        return 0
    rows = sum(len(t.rows) for t in reg.tables.values())
    print(f"provider tables: {len(reg.tables)} tables, {rows} rows, {len(reg.slugs)} slugs: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
