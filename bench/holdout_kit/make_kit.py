"""Build a gathering kit for a new held-out set outside the repository (issue 12's evidence).

A held-out set measures the classifier only if its gatherers never see the classifier, its tables, its docs or
the earlier sets' labels. So the kit lives outside the repository: the instructions (the first table's
definitions and the labelling rules as text, with this repository's provider slugs), the checker that tells a
gatherer only whether a page or an error text repeats an earlier set or another part, and the earlier sets the
checker compares against. Gatherers write `parts/partN.jsonl`; the parts are concatenated into
`tests/fixtures/provider_errors_holdoutN.jsonl` and the labels committed before the classifier first runs on them
(docs/classification.md, "Held-out evaluation").

Run: .venv/bin/python bench/holdout_kit/make_kit.py /work/holdout23
"""
from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def slugs() -> list[str]:
    """The canonical provider slugs of the tables: names only, nothing of what a table decides."""
    sys.path.insert(0, str(ROOT))
    from functions import providers

    return sorted(providers.load().tables)


def make(dest: Path) -> Path:
    """Write the kit to `dest` (which must not be inside the repository) and return it."""
    dest = dest.resolve()
    if dest == ROOT or ROOT in dest.parents:
        raise SystemExit(f"the kit must live outside the repository ({ROOT}), so gatherers never open it")
    (dest / "parts").mkdir(parents=True, exist_ok=True)
    (dest / "earlier").mkdir(exist_ok=True)
    for fixture in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")):
        shutil.copyfile(fixture, dest / "earlier" / fixture.name)
    listed = textwrap.fill(", ".join(slugs()), width=112, initial_indent="  ", subsequent_indent="  ").lstrip()
    text = (HERE / "INSTRUCTIONS.md").read_text(encoding="utf-8")
    text = text.replace("{KIT}", str(dest)).replace("{REPO}", str(ROOT)).replace("{SLUGS}", listed)
    (dest / "INSTRUCTIONS.md").write_text(text, encoding="utf-8")
    shutil.copyfile(HERE / "dupcheck.py", dest / "dupcheck.py")
    return dest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="a folder outside the repository")
    kit = make(parser.parse_args(argv).dest)
    print(f"kit ready in {kit}: give each gatherer {kit / 'INSTRUCTIONS.md'} and a part number")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
