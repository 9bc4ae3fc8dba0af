"""`python -m functions.providers [--markdown | --check]`: validate the tables, or print them as Markdown.

--check (the default) loads every table and reports the first problem (exit 1) or a count (exit 0);
--markdown prints the section docs/classification.md embeds between its `tables` markers.
"""
from __future__ import annotations

import sys

from . import TableError, load, markdown


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
    rows = sum(len(t.rows) for t in reg.tables.values())
    print(f"provider tables: {len(reg.tables)} tables, {rows} rows, {len(reg.slugs)} slugs: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
