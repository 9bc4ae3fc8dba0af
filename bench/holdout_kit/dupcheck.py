"""python3 dupcheck.py parts/partN.jsonl: checks one part of a held-out set being gathered.

Each case must be well formed and new against every earlier set and every other part: the same source page, the
same error object or the same error text (whitespace and case aside) is a repeat, as the repository's own test of a
held-out set has it. It says nothing of the labels: a gatherer stays blind to how the classifier reads them.
Standard library only, so it runs in the kit's folder with any Python 3.
"""
import glob
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REASONS = {"invalid_key", "permission_denied", "quota_exhausted", None}
FIELDS = {"provider", "error", "expected", "source", "note", "context", "key_state", "same_host", "key_mangled",
          "key_other", "key_other_kind", "meant_provider"}
KEY_STATES = ("works", "rejected", "no_credit", "unknown")
KEY_OTHER_KINDS = ("user_other_provider", "user_old_key", "app_key", "app_key_unset", None)
SOURCE = re.compile(r"https?://\S+/\S+")
# a repository's own file (a note, a README) rather than a discussion: the kit allows a few per part
REPO_FILE = re.compile(r"https?://[^/]+/[^/]+/[^/]+/(?:-/)?(?:blob|tree)/")
MAX_REPO_FILES = 4
# the usual shapes of a real key: a case must carry a masked one (sk-abc***)
KEY = re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}|gsk_[A-Za-z0-9]{30,}"
                 r"|xai-[A-Za-z0-9]{30,}|hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}")


def text(error: dict) -> str:
    raw = error.get("message") or json.dumps(error.get("body"), sort_keys=True)
    return " ".join(str(raw).split()).lower()


def load(path: str) -> list:
    """(line number, case or the JSON error) for each non-blank line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append((number, json.loads(line)))
                except ValueError as e:
                    out.append((number, e))
    return out


def cases_of(paths: list) -> list:
    return [case for path in paths for _, case in load(path) if isinstance(case, dict)]


def index(cases: list) -> tuple:
    """(sources, error objects, error texts) of `cases`: what a new case must not repeat."""
    return ({c.get("source") for c in cases},
            {json.dumps(c.get("error"), sort_keys=True) for c in cases},
            {text(c["error"]) for c in cases if isinstance(c.get("error"), dict)})


def shape_problems(case: dict) -> list:
    missing = FIELDS - set(case)
    if missing:
        return [f"missing fields {sorted(missing)}"]
    problems = []
    if case["expected"] not in REASONS:
        problems.append("expected must be invalid_key, permission_denied, quota_exhausted or null")
    if not isinstance(case["error"], dict) or not case["error"]:
        problems.append("error must be a non-empty object")
    if not (isinstance(case["source"], str) and SOURCE.match(case["source"]) and "/search" not in case["source"]):
        problems.append("source must be one specific page URL")
    if not (isinstance(case["note"], str) and len(case["note"]) > 20):
        problems.append("note must say what happened and why the label")
    if case["context"] not in (True, False):
        problems.append("context must be true or false")
    if case["key_state"] not in KEY_STATES:
        problems.append("key_state must be works, rejected, no_credit or unknown")
    if any(case[name] not in (True, False, None) for name in ("same_host", "key_mangled", "key_other")):
        problems.append("same_host, key_mangled and key_other must be true, false or null")
    if case["key_other_kind"] not in KEY_OTHER_KINDS:
        problems.append("key_other_kind must be user_other_provider, user_old_key, app_key, app_key_unset or null")
    elif case["key_other_kind"] is not None and case["key_other"] is not True:
        problems.append("key_other_kind is for a case whose key_other is true")
    meant = case["meant_provider"]
    if meant is not None and not (isinstance(meant, str) and re.fullmatch(r"[a-z0-9_]{2,40}", meant)
                                  and meant != case["provider"]):
        problems.append("meant_provider must be null or another provider's lowercase slug")
    if KEY.search(json.dumps(case)):
        problems.append("looks like a real key; mask it (sk-abc***)")
    return problems


def check(target: str) -> tuple[list, list]:
    """(the part's cases, its problems as 'line N: ...')."""
    target = os.path.abspath(target)
    older = cases_of(sorted(glob.glob(os.path.join(HERE, "earlier", "*.jsonl"))))
    others = cases_of([p for p in sorted(glob.glob(os.path.join(HERE, "parts", "*.jsonl")))
                       if os.path.abspath(p) != target])
    seen = {"an earlier set": index(older), "another part": index(others)}
    problems, own_texts, own_errors = [], set(), set()
    cases = load(target)
    for number, case in cases:
        if not isinstance(case, dict):
            problems.append(f"line {number}: not JSON: {case}")
            continue
        found = shape_problems(case)
        problems += [f"line {number}: {p}" for p in found]
        if not isinstance(case.get("error"), dict) or not case.get("error") or "source" not in case:
            continue
        error, said = json.dumps(case["error"], sort_keys=True), text(case["error"])
        for where, (sources, errors, texts) in seen.items():
            if case["source"] in sources:
                problems.append(f"line {number}: REPEAT source already used by {where}")
            if error in errors or said in texts:
                problems.append(f"line {number}: REPEAT error text already in {where}")
        if said in own_texts or error in own_errors:
            problems.append(f"line {number}: REPEAT error text twice in this part")
        own_texts.add(said)
        own_errors.add(error)
    files = [number for number, case in cases if isinstance(case, dict) and REPO_FILE.match(str(case.get("source")))]
    if len(files) > MAX_REPO_FILES:
        problems.append(f"lines {', '.join(map(str, files))}: {len(files)} sources are repository files, not "
                        f"discussions; at most {MAX_REPO_FILES} per part")
    return [case for _, case in cases if isinstance(case, dict)], problems


def main(target: str) -> int:
    good, problems = check(target)
    nulls = sum(c.get("expected") is None for c in good)
    print(f"{len(good)} cases, {nulls} null ({100 * nulls / max(len(good), 1):.0f} %), "
          f"context true {sum(c.get('context') is True for c in good)}")
    print("per provider:", dict(Counter(c.get("provider") for c in good).most_common()))
    print("\n".join(problems) if problems else "OK: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
