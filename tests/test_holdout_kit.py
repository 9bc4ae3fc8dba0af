"""The kit a held-out set is gathered with (bench/holdout_kit): built outside the repository, it tells a gatherer
whether a case repeats an earlier set or another part, and nothing of how the classifier reads it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "bench" / "holdout_kit"


def _case(**changes) -> dict:
    case = {"provider": "openai", "error": {"status_code": 401, "message": "a text no set has held: kit check 7f3a"},
            "expected": "invalid_key", "source": "https://example.org/owner/repo/issues/1",
            "note": "a made-up case for the kit's own test", "context": False, "key_state": "rejected",
            "same_host": True, "key_mangled": False, "key_other": False, "key_other_kind": None,
            "meant_provider": None}
    case.update(changes)
    return case


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("holdout_kit")
    subprocess.run([sys.executable, str(KIT / "make_kit.py"), str(dest)], check=True, capture_output=True)
    return dest


def _check(kit: Path, cases: list, part: str = "part1", raw: str = "") -> tuple[int, str]:
    """Write the part (`raw` lines first, then the cases) and run the kit's checker on it, as a gatherer does."""
    path = kit / "parts" / f"{part}.jsonl"
    path.write_text(raw + "".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    done = subprocess.run([sys.executable, "dupcheck.py", f"parts/{part}.jsonl"], cwd=kit, capture_output=True,
                          text=True)
    return done.returncode, done.stdout


def test_the_kit_holds_the_instructions_the_checker_and_every_earlier_set(kit):
    fixtures = sorted(p.name for p in (ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl"))
    assert sorted(p.name for p in (kit / "earlier").iterdir()) == fixtures
    text = (kit / "INSTRUCTIONS.md").read_text(encoding="utf-8")
    assert str(kit) in text and str(ROOT) in text and "{" + "SLUGS}" not in text
    assert "openai_compatible" in text and "volcengine_speech" in text        # the tables' slugs, as names
    # nothing of what a table decides: no row id, no decision of the classifier
    assert "openai.insufficient_quota" not in text and "guard." not in text


def test_the_kit_asks_for_key_mangled_in_the_key_form_checks_own_forms(kit):
    """The probe estimate reads `key_mangled` as the reporter's key-form check firing, so the kit names exactly the
    values that check reads as no user's key (contract.NON_VALUES and LOCAL_SERVER_KEYS)."""
    from functions.contract import LOCAL_SERVER_KEYS, NON_VALUES

    text = (kit / "INSTRUCTIONS.md").read_text(encoding="utf-8").lower()
    section = text[text.index("* `key_mangled`"):text.index("## how much and how")]
    assert all(f"`{value}`" in section for value in NON_VALUES + LOCAL_SERVER_KEYS)


def test_the_kit_is_never_built_inside_the_repository(tmp_path):
    done = subprocess.run([sys.executable, str(KIT / "make_kit.py"), str(ROOT / "bench" / "kit_here")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "outside the repository" in done.stderr
    assert not (ROOT / "bench" / "kit_here").exists()


def test_a_new_well_formed_case_passes(kit):
    rc, out = _check(kit, [_case()])
    assert rc == 0 and "OK: no problems" in out and "1 cases, 0 null" in out


def test_a_repeat_of_an_earlier_set_is_named_whatever_its_whitespace_or_case(kit):
    earlier = json.loads((ROOT / "tests" / "fixtures" / "provider_errors_holdout20.jsonl").read_text(
        encoding="utf-8").splitlines()[1])
    message = earlier["error"]["message"]
    rc, out = _check(kit, [_case(error={"message": "  " + message.upper().replace(" ", "\n  ") + " "})])
    assert rc == 1 and "line 1: REPEAT error text already in an earlier set" in out
    rc, out = _check(kit, [_case(source=earlier["source"])])
    assert rc == 1 and "line 1: REPEAT source already used by an earlier set" in out


def test_a_repeat_of_another_part_or_within_the_part_is_named(kit):
    _check(kit, [_case()], part="part2")
    rc, out = _check(kit, [_case(source="https://example.org/owner/repo/issues/2")])
    assert rc == 1 and "REPEAT error text already in another part" in out
    (kit / "parts" / "part2.jsonl").unlink()
    twice = [_case(), _case(source="https://example.org/owner/repo/issues/3")]
    rc, out = _check(kit, twice)
    assert rc == 1 and "line 2: REPEAT error text twice in this part" in out


@pytest.mark.parametrize("changes, problem", [
    ({"expected": "broken"}, "expected must be"),
    ({"source": "https://www.google.com/search?q=x"}, "source must be one specific page"),
    ({"context": "yes"}, "context must be true or false"),
    ({"key_state": "fine"}, "key_state must be"),
    ({"key_other": "maybe"}, "key_other must be true, false or null"),
    ({"key_other": True, "key_other_kind": "someone_else"}, "key_other_kind must be"),
    ({"key_other": False, "key_other_kind": "app_key"}, "key_other_kind is for a case whose key_other is true"),
    ({"meant_provider": "Azure OpenAI"}, "meant_provider must be null or another provider's lowercase slug"),
    ({"meant_provider": "openai"}, "meant_provider must be null or another provider's lowercase slug"),
    ({"error": {"message": "Incorrect API key provided: sk-" + "abcdefghijklmnopqrstuvwxyz012345"}}, "real key"),
])
def test_a_malformed_case_is_named_by_its_problem(kit, changes, problem):
    rc, out = _check(kit, [_case(**changes)])
    assert rc == 1 and problem in out


@pytest.mark.parametrize("kind", ["user_other_provider", "user_old_key", "app_key", "app_key_unset"])
def test_each_kind_of_other_key_is_well_formed(kit, kind):
    rc, out = _check(kit, [_case(key_other=True, key_other_kind=kind)])
    assert rc == 0 and "OK: no problems" in out, out


def test_a_provider_the_app_meant_is_well_formed(kit):
    rc, out = _check(kit, [_case(meant_provider="azure_openai")])
    assert rc == 0 and "OK: no problems" in out, out


def test_more_than_four_repository_files_as_sources_are_named(kit):
    """The twenty-sixth set took 25 cases from developers' own notes in small repositories: real errors, but no
    discussion to label from (docs/holdout26.md); a part may hold a few, never most."""
    notes = [_case(source=f"https://github.com/o/r{n}/blob/0123abc/NOTES.md",
                   error={"message": f"Some provider error number {n}"}) for n in range(5)]
    rc, out = _check(kit, notes[:4])
    assert rc == 0 and "OK: no problems" in out
    rc, out = _check(kit, notes)
    assert rc == 1 and "5 sources are repository files" in out
    rc, out = _check(kit, notes[:4] + [_case(source="https://github.com/o/r9/issues/5",
                                             error={"message": "Another provider error"})])
    assert rc == 0


def test_a_line_that_is_not_json_is_named_and_the_rest_still_checked(kit):
    rc, out = _check(kit, [_case()], raw="{not json\n")
    assert rc == 1 and "line 1: not JSON" in out and "1 cases" in out
