"""The classifier against real provider errors: the whole corpus through the CLI, then one rule at a time.

tests/fixtures/provider_errors.jsonl holds cases gathered from provider docs, SDK sources and public
issue threads (source and note on every line); docs/classification.md says how to add one.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.classify import REASONS, classify

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE = FIXTURES / "provider_errors.jsonl"
# The held-out sets by number (HELD_OUT[1] is provider_errors_holdout.jsonl, HELD_OUT[n] ..._holdout<n>.jsonl): each
# gathered after the rules of its day were written, labelled and committed before any run; docs/holdout<n>.md says
# how (the first two: docs/classification.md).
HELD_OUT = {int(p.stem.removeprefix("provider_errors_holdout") or 1): p
            for p in FIXTURES.glob("provider_errors_holdout*.jsonl")}
# The sets short of issue 12's size for a new set (150), each gathered as the session's search budget ran out
# or the angles' threads were mostly taken (docs/holdout8.md, docs/holdout29.md, docs/holdout33.md), and those that lean on the main providers, with fewer than 50 beyond them
# (apps' angles, the budget spent before the rarer providers' threads: docs/holdout24.md, 25, 29).
# Sets smaller than issue 12's 150 because too few untaken threads were left for their angles; the forty-second, gathered
# when the search had almost none left (its helpers found nine in ten threads taken), holds 51; the forty-fourth, gathered
# on six more new angles with the session's last look-ups, 104; the forty-sixth, on five more with the next session's
# last look-ups, 61 (a main-leaning set this small holds at least a quarter of its cases beyond the main providers)
SMALL_SETS = (8, 29, 33, 42, 44, 46)
MAIN_LEANING_SETS = (24, 25, 29, 42, 44, 46)
# The eleven providers every set covers; the fourth set must reach at least 50 cases beyond them.
ELEVEN_MAIN = ("openai", "anthropic", "gemini", "openrouter", "deepgram", "elevenlabs", "groq", "mistral", "xai",
               "deepseek", "azure_openai")
MAIN_PROVIDERS = ("openai", "anthropic", "gemini", "openrouter", "deepgram")


def load_cases(path: Path = FIXTURE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_cli(stdin: bytes) -> tuple[int, list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "functions", "classify"], input=stdin, cwd=ROOT,
                          capture_output=True, timeout=120)
    return proc.returncode, [json.loads(line) for line in proc.stdout.decode().splitlines()]


# ---------------------------------------------------------------------------------------------- corpus

def test_corpus_is_big_varied_and_honest():
    cases = load_cases()
    assert len(cases) >= 150
    per_provider = defaultdict(int)
    for case in cases:
        assert set(case) >= {"provider", "error", "expected", "source", "note"}, case
        assert case["expected"] in REASONS or case["expected"] is None
        assert isinstance(case["error"], dict) and case["source"] and case["note"]
        per_provider["gemini" if case["provider"] == "vertex" else case["provider"]] += 1
    for provider in MAIN_PROVIDERS:
        assert per_provider[provider] >= 15, (provider, per_provider[provider])
    negatives = sum(case["expected"] is None for case in cases)
    assert negatives / len(cases) >= 0.35


# Real key shapes, unmasked. Fixture keys must be masked by the provider or replaced by a fake.
_REAL_KEY = re.compile(r"sk-(?:proj-|ant-api\d\d-)?[A-Za-z0-9_\-]{32,}|sk-or-v1-[0-9a-f]{32,}|"
                       r"gsk_[A-Za-z0-9]{32,}|xai-[A-Za-z0-9]{32,}|AIza(?!SyFAKE)[0-9A-Za-z_\-]{35}")


def test_corpus_holds_no_secrets():
    assert not _REAL_KEY.findall(FIXTURE.read_text(encoding="utf-8"))


def measure_through_the_cli(path: Path, title: str, capsys) -> tuple[int, int, list]:
    """Every case of `path` through `python -m functions classify`; prints per-provider figures and returns
    (right, false alarms, wrong cases). A false alarm is an actionable answer where none is expected."""
    cases = load_cases(path)
    stdin = "".join(json.dumps({"provider": c["provider"], "error": c["error"]}) + "\n" for c in cases)
    code, results = run_cli(stdin.encode())
    assert code == 0 and len(results) == len(cases)

    stats = defaultdict(lambda: [0, 0, 0])   # provider -> [cases, right, false alarms]
    wrong = []
    for case, result in zip(cases, results):
        row = stats[case["provider"]]
        row[0] += 1
        if result["reason"] == case["expected"]:
            row[1] += 1
        else:
            wrong.append((case["provider"], case["expected"], result["reason"], case["note"]))
            if case["expected"] is None:
                row[2] += 1
    total = len(cases)
    right = sum(r[1] for r in stats.values())
    alarms = sum(r[2] for r in stats.values())
    with capsys.disabled():
        print(f"\n{title}: {right}/{total} right ({100 * right / total:.1f} %), {alarms} false alarms")
        for provider, (n, ok, fa) in sorted(stats.items()):
            print(f"  {provider:14s} {ok:3d}/{n:<3d} {100 * ok / n:5.1f} %  false alarms {fa}")
        for provider, expected, got, note in wrong:
            print(f"  miss: {provider}: expected {expected}, got {got} ({note})")
    return right, alarms, wrong


def check_through_the_cli(path: Path, title: str, capsys) -> None:
    """The bar: at least 98 % right and not one false alarm."""
    right, alarms, wrong = measure_through_the_cli(path, title, capsys)
    assert alarms == 0, wrong
    assert right / len(load_cases(path)) >= 0.98, wrong


def test_whole_corpus_through_the_cli(capsys):
    check_through_the_cli(FIXTURE, "classification corpus", capsys)


# Every set in the order it was gathered: a set's index is its number (the corpus 0, the first held-out 1).
SETS = [FIXTURE, *(HELD_OUT[n] for n in range(1, len(HELD_OUT) + 1))]


@pytest.mark.parametrize("path,earlier", [(path, SETS[:n]) for n, path in enumerate(SETS) if n],
                         ids=[path.stem.removeprefix("provider_errors_") for path in SETS[1:]])
def test_holdout_is_new_real_and_honest(path, earlier):
    cases = load_cases(path)
    number = SETS.index(path)
    assert len(cases) >= (150 if number >= 3 and number not in SMALL_SETS else 50)
    for c in cases:
        assert set(c) >= {"provider", "error", "expected", "source", "note"}, c
        assert c["expected"] in REASONS or c["expected"] is None
        assert isinstance(c["error"], dict) and c["source"] and c["note"]
    assert sum(c["expected"] is None for c in cases) / len(cases) >= 0.35
    # new cases: no error, and no source thread, of an earlier set again
    older = [c for p in earlier for c in load_cases(p)]
    seen = {json.dumps(c["error"], sort_keys=True) for c in older}
    assert not [c["source"] for c in cases if json.dumps(c["error"], sort_keys=True) in seen]
    if number >= 2:
        sources = {c["source"] for c in older}
        assert not [c["source"] for c in cases if c["source"] in sources]
    if number >= 4:
        assert sum(c["provider"] not in ELEVEN_MAIN for c in cases) >= (
            min(25, len(cases) // 4) if number in MAIN_LEANING_SETS else 50)
    if number >= 7:
        assert all(c["context"] in (True, False) for c in cases)
    if number >= 9:
        assert all(c["key_state"] in ("works", "rejected", "no_credit", "unknown") for c in cases)
    # where the key's state was seen, whether the thread shows it mangled
    if number >= 13:
        assert all(c["same_host"] in (True, False, None) and c["key_mangled"] in (True, False, None) for c in cases)
    if number >= 47:   # gathered since the notifier's current-key check: whether a key other than the user's was sent
        assert all(c["key_other"] in (True, False, None) for c in cases)
    if number >= 3:
        # issue 12's bar for the new set: 45 % not actionable, every source a specific page (one blog of the
        # nineteenth set serves plain http), no error text of an earlier set again (whitespace and case aside),
        # and none twice within the set
        assert sum(c["expected"] is None for c in cases) / len(cases) >= 0.45
        assert all(re.match(r"https?://\S+/\S+", c["source"]) and "/search" not in c["source"] for c in cases)

        def text(error: dict) -> str:
            raw = error.get("message") or json.dumps(error.get("body"), sort_keys=True)
            return " ".join(str(raw).split()).lower()
        old_texts = {text(c["error"]) for c in older}
        assert not [c["source"] for c in cases if text(c["error"]) in old_texts]
        assert len({text(c["error"]) for c in cases}) == len(cases)
    assert not _REAL_KEY.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path,title", [(HELD_OUT[1], "held-out set"), (HELD_OUT[2], "second held-out set")],
                         ids=["holdout", "holdout2"])
def test_holdout_through_the_cli(path, title, capsys):
    check_through_the_cli(path, title, capsys)


# Each later held-out set holds what the fixes it prompted reached, so no later change slips back. The figure that
# counts is each set's before its fixes (the honest one, in docs/holdoutN.md and docs/classification.md); all are
# short of issue 12's bar (>= 98 %, at most 1 false alarm per 100 not actionable).
LATER_SETS = [
    # (set, title, right at least, false alarms at most, what the floor is)
    (HELD_OUT[3], "third held-out set", 173, 2,
     "174/180 and the 2 documented false alarms left; 175 until Zhipu's 1003 row (a JWT our SDK signed expired); 173 "
     "since the seventeenth set read Gemini's free-tier limit 0 as a model the plan lacks (line 143 says money)"),
    (HELD_OUT[4], "fourth held-out set", 166, 8,
     "166/182, 8 false alarms, each a documented verdict; 167 later, and 166 again after the fortieth set: line 162, "
     "Replicate's answer to a request without a token, labelled the key's before the no-key rule, is no key sent"),
    (HELD_OUT[5], "fifth held-out set", 179, 15,
     "179/200, 15 of 125 (one label changed by the no-key rule); before: 155/200 (77.5 %), 21 false alarms"),
    (HELD_OUT[6], "sixth held-out set", 151, 36, "151/200, 36 of 128; before: 138/200 (69.0 %), 39 false alarms"),
    (HELD_OUT[7], "seventh held-out set", 164, 25,
     "168/200 and 22 of 125 after its fixes, 167 and 23 since the tenth set read Kimi For Coding's refusal as the "
     "user's (line 194 is that text from an allowed agent in a brief fault), 166 and 24 since the twenty-second set "
     "read a LiteLLM budget on the user's own proxy as money (line 184, a cost the proxy logged wrong), 165 and 25 "
     "since the twenty-fifth read Google's referrer refusal under any Google Cloud slug as the key's restriction "
     "(line 91, thread-only: a demo key that needed the API Explorer's origin), 164 since the forty-first read "
     "Hugging Face's 'You must be authenticated to access it' as a request without a token (line 146, labelled the "
     "key's before the no-key rule); before: 157/200 (78.5 %), 26"),
    (HELD_OUT[8], "eighth held-out set", 79, 14,
     "small, measured and not tuned on: 77/98, 16 of 58 (78 and 15 by later sets' rules); 79 and 14 since the "
     "nineteenth set read OpenRouter's 'No auth credentials found' as no key sent"),
    (HELD_OUT[9], "ninth held-out set", 176, 15,
     "176/200, 14 of 120; 15 since the twenty-second set read a LiteLLM budget on the user's own proxy as money (line "
     "165, a key the proxy refused with no budget set); before: 171/200 (85.5 %), 16 false alarms"),
    (HELD_OUT[10], "tenth held-out set", 164, 27,
     "167/200, 23 of 128 after its fixes; 24 since the seventeenth set read new-api's 预扣费额度失败 (the quota is below "
     "the request's cost) as the user's, line 195 being a relay channel the reporter had set wrong; 166/200, 25 since "
     "the opencode table (written while the thirtieth set was gathered) reads Zen's 'Free usage exceeded' as the "
     "free quota's end, line 33 being an old client's bug (thread-only); 164/200, 27 since the azure_translator table "
     "reads 403001 (the free quota spent) as the key's, lines 137 and 138 being apps' own shared keys (thread-only); "
     "before: 156/200 (78.0 %), 25 false alarms"),
    (HELD_OUT[11], "eleventh held-out set", 175, 14,
     "173/200, 15 of 134 (one thread-only false alarm more: Claude Code's own credential text in a Claude Code "
     "incident), 174 since the twenty-second set's LiteLLM budget rows (line 156), 175 and 14 since the forty-first "
     "set's reading of Hugging Face's anonymous gated-repo wording (line 128); before: 167/200 (83.5 %), 14 false "
     "alarms"),
    (HELD_OUT[12], "twelfth held-out set", 162, 28,
     "158/200, 31 of 145 (one thread-only false alarm more: transformers' gated-repo text from a cookbook that passed "
     "no token), 160 and 30 since the nineteenth set read OpenRouter's 'No auth credentials found' as no key sent, "
     "162 and 28 since the forty-first read Hugging Face's anonymous gated-repo wording (lines 139, 143); before: "
     "157/200 (78.5 %), 30 false alarms"),
    (HELD_OUT[13], "thirteenth held-out set", 165, 26,
     "163/200, 27 of 150 after its fixes, 164 and 26 since the fifteenth set's echo of no key ('provided: "
     "undefined'), 165 and 25 since Gemini's 402 row no longer reads a bare RESOURCE_EXHAUSTED without its status "
     "(seventeenth set), 26 since the twenty-second set's LiteLLM budget rows (line 3 right, line 15 a negative budget "
     "the proxy accepted, wrong); before: 161/200 (80.5 %), 28 false alarms"),
    (HELD_OUT[14], "fourteenth held-out set", 138, 25,
     "135/180, 27 of 118 after its fixes, 137 and 25 since the fifteenth set's fixes (the echo of no key, the "
     "regional zero limit); before: 132/180 (73.3 %), 27 false alarms"
     "; 138 after the thirty-seventh set: one-api's pre-consume wording of a spent quota (line 26)"),
    (HELD_OUT[15], "fifteenth held-out set", 140, 15,
     "139/167, 15 of 102; before: 135/167 (80.8 %), 17 false alarms; 140/167 since the thirty-seventh set's Qianfan "
     "SDK row"),
    (HELD_OUT[16], "sixteenth held-out set", 121, 20,
     "119/150, 21 of 94 after its fixes, 120 since the seventeenth set's reading of Gemini's free-tier limit 0, 121 "
     "and 20 since the nineteenth set's reading of OpenRouter's 'No auth credentials found'; before: 115/150 "
     "(76.7 %), 23 false alarms"),
    (HELD_OUT[17], "seventeenth held-out set", 141, 24,
     "140/184, 24 of 115 after its fixes, 141 since the Volcengine speech table (line 143); before: 132/184 (71.7 %), "
     "27 false alarms"),
    (HELD_OUT[18], "eighteenth held-out set", 138, 18,
     "136/175, 18 of 105, measured after the seventeenth set's fixes and not tuned on (no false alarm where the text "
     "gives the label, nothing there with a documented reading to add); 137/175 and 17 since the thirty-sixth set's "
     "fixes read a gateway's Chinese 'API key missing' as no key sent"
     "; 138/175 and 18 after the thirty-seventh set: a relay fork's 'Token count has been exhausted' is money (lines"
     " 43, 44), Dify's 'Incorrect model credentials provided' the key's (line 54, thread-only, a false alarm)"),
    (HELD_OUT[19], "nineteenth held-out set", 139, 8,
     "135/154, 8 of 93 after its fixes; before: 130/154 (84.4 %), 11 false alarms"
     "; 138 after the thirty-seventh set: OpenAI's 'Check your plan and billing details' alone is money (line 129)"
     "; 139 since GitHub Models' daily limit by its header (line 95)"),
    (HELD_OUT[20], "twentieth held-out set", 133, 12,
     "128/160, 13 of 94 after its fixes (Imagen's billed-users refusal, new-api's rewrite of an upstream 429), 129 and "
     "12 since the twenty-seventh set read ComfyUI's 'Please login first' as no key sent (line 85), 130 since the "
     "thirty-fourth read OpenAI's organization tied to the key as access (line 125); before: 125/160 "
     "(78.1 %), 15 false alarms, none where the text gives the label"
     "; 133 after the thirty-seventh set: Dify's 'Incorrect model credentials provided' is the key's (lines 49, 61)"),
    (HELD_OUT[21], "twenty-first held-out set", 137, 14,
     "135/161, 14 of 101 after its fixes (all fourteen thread-only), 136 since the twenty-eighth set read a numeric "
     "code the app kept as a number (line 64, MiniMax's 1004); before: 126/161 (78.3 %), 14 false alarms, none where "
     "the text gives the label"
     "; 137 since Bedrock's use-case form in the console's words (line 90)"),
    (HELD_OUT[22], "twenty-second held-out set", 129, 20,
     "128/160, 19 of 96 since the twenty-third set's masked echo of sk-no-key-required (line 40), 127 and 20 since the "
     "twenty-seventh set's yandex table read ERR_KEY_INVALID as the key's (line 86, thread-only: a Yandex Cloud key "
     "the app sent to the legacy Translate API); 127/160 and 20 after its fixes (19 of them thread-only); before: "
     "113/160 (70.6 %), 20 false alarms, 2 where the text gives the label"
     "; 128 after the thirty-seventh set: a free relay key 'limit to use' named models is access (line 31)"
     "; 129 since a ChatGPT plan's usage_limit_reached (line 132)"),
    (HELD_OUT[23], "twenty-third held-out set", 128, 22,
     "128/160, 22 of 98 after its fixes (21 of them thread-only); before: 125/160 (78.1 %), 25 false alarms, 2 where "
     "the text gives the label"),
    (HELD_OUT[24], "twenty-fourth held-out set", 121, 22,
     "121/150, 22 of 94 after its fixes (all thread-only; 100/100 where the text gives the label); before: 117/150 "
     "(78.0 %), 25 false alarms, 2 where the text gives the label"),
    (HELD_OUT[25], "twenty-fifth held-out set", 141, 9,
     "140/160, 10 of 98 after its fixes (9 thread-only; 133/135 where the text gives the label); before: 127/160 "
     "(79.4 %), 12 false alarms, 3 where the text gives the label"
     "; 141 and 9 since the forty-third set read an app's 'API key not found' as no key sent (line 105)"),
    (HELD_OUT[26], "twenty-sixth held-out set", 125, 24,
     "124/160, 24 of 98 after its fixes (23 thread-only; 105/109 where the text gives the label); before: 119/160 "
     "(74.4 %), 25 false alarms, 2 where the text gives the label"
     "; 125 since a trial's quota (line 63)"),
    (HELD_OUT[27], "twenty-seventh held-out set", 123, 22,
     "123/160, 22 of 98 after its fixes (all thread-only; 100/103 where the text gives the label); before: 116/160 "
     "(72.5 %), 23 false alarms, 1 where the text gives the label"),
    (HELD_OUT[28], "twenty-eighth held-out set", 137, 12,
     "137/160, 12 of 98 after its fixes (all thread-only; 122/127 where the text gives the label); before: 126/160 "
     "(78.8 %), 14 false alarms, 2 where the text gives the label"),
    (HELD_OUT[29], "twenty-ninth held-out set", 112, 13,
     "small: 112/130, 13 of 82 after its fixes (12 thread-only; 92/93 where the text gives the label); before: "
     "109/130 (83.8 %), 14 false alarms, 2 where the text gives the label"),
    (HELD_OUT[30], "thirtieth held-out set", 126, 28,
     "126/160, 28 of 99 after its fixes (all thread-only; 102/102 where the text gives the label); before: 118/160 "
     "(73.8 %), 30 false alarms, 1 where the text gives the label"),
    (HELD_OUT[31], "thirty-first held-out set", 118, 19,
     "118/150, 19 of 93 after its fixes (all thread-only; 96/99 where the text gives the label); before: 116/150 "
     "(77.3 %), 19 false alarms, none where the text gives the label"),
    (HELD_OUT[32], "thirty-second held-out set", 124, 24,
     "124/159, 23 of 99 after its fixes (all thread-only; 106/108 where the text gives the label); before: 121/159 "
     "(76.1 %), 25 false alarms, 1 where the text gives the label"
     "; 125 after the thirty-seventh set: the same relay wording (line 9); 124 and 24 after the thirty-eighth: "
     "Picovoice's device-limit words read as the activation limit they are (lines 117, 118, both thread-only)"),
    (HELD_OUT[33], "thirty-third held-out set", 128, 2,
     "small: 128/142, 2 of 88 after its fixes (all thread-only; 105/108 where the text gives the label); before: "
     "125/142 (88.0 %), 4 false alarms, 1 where the text gives the label"),
    (HELD_OUT[34], "thirty-fourth held-out set", 163, 23,
     "161/202, 23 of 127 after its fixes (22 thread-only; 131/138 where the text gives the label); before: 154/202 "
     "(76.2 %), 26 false alarms, 2 where the text gives the label"
     "; 163 since access restricted to a model (line 29) and a token of the wrong kind for a GitHub endpoint (line "
     "152)"),
    (HELD_OUT[35], "thirty-fifth held-out set", 177, 13,
     "177/197, 13 of 126 after its fixes (all thread-only; 153/157 where the text gives the label); before: 173/197 "
     "(87.8 %), 16 false alarms, 3 where the text gives the label"),
    (HELD_OUT[36], "thirty-sixth held-out set", 168, 10,
     "168/188, 10 of 117 after its fixes (all thread-only; 147/147 where the text gives the label); before: 158/188 "
     "(84.0 %), 14 false alarms, 3 where the text gives the label"),
    (HELD_OUT[37], "thirty-seventh held-out set", 167, 17,
     "166/192, 17 of 121 after its fixes (all thread-only; 151/155 where the text gives the label); before: 154/192 "
     "(80.2 %), 19 false alarms, 2 where the text gives the label"
     "; 167 after the review of every set's text-given misses that followed it (line 116, the free relay key)"),
    (HELD_OUT[38], "thirty-eighth held-out set", 166, 13,
     "166/193, 13 of 120 after its fixes (all thread-only; 149/152 where the text gives the label); before: 158/193 "
     "(81.9 %), 13 false alarms, none where the text gives the label"),
    (HELD_OUT[39], "thirty-ninth held-out set", 133, 22,
     "133/162, 22 of 114 after its fixes (21 thread-only; 110/113 where the text gives the label); before: 125/162 "
     "(77.2 %), 25 false alarms, 4 where the text gives the label"),
    (HELD_OUT[40], "fortieth held-out set", 157, 15,
     "157/189, 15 of 119 after its fixes (all thread-only; 130/138 where the text gives the label); before: 149/189 "
     "(78.8 %), 17 false alarms, 2 where the text gives the label"),
    (HELD_OUT[41], "forty-first held-out set", 127, 23,
     "127/170, 23 of 109 after its fixes (22 thread-only; 105/113 where the text gives the label); before: 114/170 "
     "(67.1 %), 25 false alarms, 1 where the text gives the label"),
    (HELD_OUT[42], "forty-second held-out set", 41, 8,
     "small, measured and not tuned on (nothing it prompted was kept): 41/51 (80.4 %), 8 false alarms of 32, all "
     "thread-only; 38/40 where the text gives the label"),
    (HELD_OUT[43], "forty-third held-out set", 183, 19,
     "183/215, 19 of 160 after its fixes (18 thread-only; 162/169 where the text gives the label); before: 175/215 "
     "(81.4 %), 22 false alarms, 4 where the text gives the label"),
    (HELD_OUT[44], "forty-fourth held-out set", 93, 9,
     "small: 93/104, 9 of 83 after its fix (all thread-only; 74/75 where the text gives the label); before: 92/104 "
     "(88.5 %), 9 false alarms, none where the text gives the label"),
    (HELD_OUT[45], "forty-fifth held-out set", 169, 14,
     "169/193, 14 of 150 after its fixes (12 thread-only; 140/142 where the text gives the label); before: 164/193 "
     "(85.0 %), 15 false alarms, 3 where the text gives the label"),
    (HELD_OUT[46], "forty-sixth held-out set", 53, 7,
     "small: 53/61, 7 of 49 after its fixes (6 thread-only; 47/48 where the text gives the label); before: 51/61 "
     "(83.6 %), 8 false alarms, 2 where the text gives the label"),
]


@pytest.mark.parametrize("path,title,right_at_least,alarms_at_most,floor", LATER_SETS,
                         ids=[title.split()[0] for _, title, *_ in LATER_SETS])
def test_later_holdout_through_the_cli(path, title, right_at_least, alarms_at_most, floor, capsys):
    right, alarms, wrong = measure_through_the_cli(path, title, capsys)
    assert alarms <= alarms_at_most, (floor, wrong)
    assert right >= right_at_least, (floor, wrong)


def test_the_probe_estimate_on_the_held_out_sets():
    """bench/probe_estimate.py (docs/holdout9.md to docs/holdout12.md): a probe's answer that follows the key's real
    state never turns a right verdict wrong; on the ninth set it settles the one false alarm it reaches (DeepSeek's
    "Authentication Fails" for a key that worked with curl)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("probe_estimate", ROOT / "bench" / "probe_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.estimate(load_cases(HELD_OUT[9]))
    assert r["probed"] >= 5
    assert r["right_with_probe"] >= r["right_alone"] and r["alarms_with_probe"] <= r["alarms_alone"]
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert [c["provider"] for c in r["changed"]] == ["deepseek"]
    # the tenth set: OpenAI's 401 account_deactivated no longer reads as a rejected key (it did, and turned a
    # right permission_denied into invalid_key), and the Realtime slug now has OpenAI's read
    r = module.estimate(load_cases(HELD_OUT[10]))
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert "openai_realtime" in [c["provider"] for c in r["changed"]]
    # the AWS reads (signed ListAsyncInvokes, DescribeVoices) reach the Bedrock and Polly cases whose credentials
    # worked elsewhere; Transcribe's host has no read, so its case is not probed
    changed = [c["provider"] for c in r["changed"]]
    assert {"amazon_polly", "bedrock", "anthropic_bedrock"} <= set(changed) and "amazon_transcribe" not in changed
    # the relay reads (new-api's token usage, LiteLLM's key info) reach the relays' own slugs; a refused key is read
    # as refused only where the read rejects on the failed call's own status (Moonshot's terminated account answers
    # 403, Gemini's suspended consumer 403: the read calls both unknown), so no right answer turns wrong
    assert changed.count("new_api") == 2
    for path in (HELD_OUT[11], HELD_OUT[12], HELD_OUT[14]):
        r = module.estimate(load_cases(path))
        assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
        assert r["alarms_with_probe"] < r["alarms_alone"]
    # the key-form check: a case whose thread shows the key's value mangled gets the reporter's key_malformed, and
    # a key that worked only at another host reads as refused at the failed call's (docs/holdout13.md, line 6)
    r = module.estimate(load_cases(HELD_OUT[14]))
    assert r["key_malformed"] == 7 and {c["verdict"] for c in r["changed"]} >= {"key_malformed", "key_works"}
    r = module.estimate(load_cases(HELD_OUT[13]))
    wrong = [c for c in r["changed"] if c["with_probe"] != c["expected"]]
    assert [(c["line"], c["verdict"]) for c in wrong] == [(6, "key_rejected")]
    # the fifteenth set: fewer false alarms, line 6 turned wrong by the gatherers' key states (a restricted key's
    # missing scope recorded as a rejected key, below) and line 70 wrong both ways (Gemini's region answer without a
    # billing account: a miss alone, invalid_key with a rejected key): docs/holdout15.md. Line 45, a library that sent
    # no key to another provider's host, recorded as a key that worked only elsewhere, was read as refused there until
    # the estimate was mended after the twenty-sixth set (no host that never saw the key refuses it)
    r = module.estimate(load_cases(HELD_OUT[15]))
    assert r["alarms_with_probe"] < r["alarms_alone"] and r["key_malformed"] == 4
    wrong = [c for c in r["changed"] if c["with_probe"] != c["expected"]]
    assert [(c["line"], c["verdict"]) for c in wrong] == [(70, "key_rejected")]
    assert 45 not in [c["line"] for c in r["changed"]]
    # line 6 (a restricted key's "insufficient permissions" kept only in the message) and the sixteenth set's line 20
    # (OpenAI's account_deactivated kept as the error's code, no body) are answers the read calls unknown: since
    # docs/holdout16.md the estimate reads the error's code and message as that answer, not only a JSON body
    r = module.estimate(load_cases(HELD_OUT[16]))
    assert r["alarms_with_probe"] < r["alarms_alone"] and r["key_malformed"] == 3
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the reads added before the seventeenth set reach a key that worked at Volcengine's Ark (twelfth set) and at
    # Pollinations (sixteenth), and turn no right answer wrong anywhere
    assert (98, "pollinations", "key_works") in [(c["line"], c["provider"], c["verdict"]) for c in r["changed"]]
    r = module.estimate(load_cases(HELD_OUT[12]))
    assert (193, "volcengine", "key_works") in [(c["line"], c["provider"], c["verdict"]) for c in r["changed"]]
    # the seventeenth set: fewer false alarms; four right answers turned wrong by the gatherers' fields: three keys a
    # user typed wrong recorded as mangled (the kit's words were wider than the key-form check's forms: a
    # placeholder's braces, a pasted shell line, a placeholder never replaced) and Gemini's free tier without the
    # model recorded as a rejected key (docs/holdout17.md)
    r = module.estimate(load_cases(HELD_OUT[17]))
    assert r["alarms_with_probe"] < r["alarms_alone"] and r["key_malformed"] == 9
    wrong = [c for c in r["changed"] if c["with_probe"] != c["expected"]]
    assert [(c["line"], c["verdict"]) for c in wrong if c["alone"] == c["expected"]] == [
        (2, "key_malformed"), (3, "key_malformed"), (50, "key_rejected"), (140, "key_malformed")]
    # the eighteenth set, gathered with key_mangled worded as the key-form check's forms: three false alarms settled
    # (one by the Volcengine Ark read added before the seventeenth set), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[18]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 3 and r["key_malformed"] == 0
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert (108, "volcengine", "key_works") in [(c["line"], c["provider"], c["verdict"]) for c in r["changed"]]
    # the nineteenth set: the two false alarms the probe reaches on its labels' commit are settled by a key that
    # works (OpenRouter's and Anthropic's reads), none turned wrong; OpenRouter's "No auth credentials found" has
    # needed no probe since (docs/holdout19.md)
    r = module.estimate(load_cases(HELD_OUT[19]))
    assert r["key_malformed"] == 0 and r["alarms_with_probe"] <= r["alarms_alone"]
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert (150, "anthropic", "key_works") in [(c["line"], c["provider"], c["verdict"]) for c in r["changed"]]
    # the twentieth set: two false alarms settled by keys that work; one right answer turned wrong by the key-form
    # check, line 19, a key sent in the quotes the user typed into a config (the reporter reads quotes as the
    # backend's mangling and pages the developers instead of telling the user: docs/holdout20.md)
    r = module.estimate(load_cases(HELD_OUT[20]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 2 and r["key_malformed"] == 2
    assert [(c["line"], c["verdict"]) for c in r["changed"] if c["with_probe"] != c["expected"]] == [
        (19, "key_malformed")]
    # the twenty-first set: two false alarms settled (a DashScope key the firmware truncated, an xAI key that worked
    # with curl at the same host); two right answers turned wrong by the gatherers' key_mangled, keys a user typed
    # wrong (a bare "sk-", a pasted "apiKey: " prefix: docs/holdout21.md)
    r = module.estimate(load_cases(HELD_OUT[21]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 2 and r["key_malformed"] == 5
    assert [(c["line"], c["verdict"]) for c in r["changed"] if c["alone"] == c["expected"]] == [
        (115, "key_malformed"), (122, "key_malformed")]
    # the twenty-second set: six false alarms settled (seven before the twenty-third set's masked echo of
    # sk-no-key-required settled line 40 in the text), all by keys its gatherers recorded as mangled (placeholders,
    # None, no key at all: docs/holdout22.md reads several as generous), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[22]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 6 and r["key_malformed"] == 13
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the twenty-third set: five false alarms settled, four by the probe at the failed call's own host (keys that
    # worked there), one by the key-form check; one miss turned into silence (line 1, Mistral's bare 401 for an
    # account without credit, which the probe sees as a working key): no right answer turned wrong
    r = module.estimate(load_cases(HELD_OUT[23]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 5 and r["key_malformed"] == 12
    assert r["right_with_probe"] - r["right_alone"] == 5
    # the twenty-fourth set: two false alarms settled by the probe at the failed call's own host, none turned wrong
    # (three since DashScope's model list, below)
    r = module.estimate(load_cases(HELD_OUT[24]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 3 and r["key_malformed"] == 5
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the twenty-fifth: four false alarms settled (keys that worked at the same host, a Groq call sent with no key),
    # none turned wrong; line 77 (an app's own key check refused a key that had worked only elsewhere) was turned
    # wrong until the estimate stopped reading a key as refused by a host that never saw it; line 143 (an
    # out-of-credit account behind an app's "Incorrect API Key") stays wrong either way
    r = module.estimate(load_cases(HELD_OUT[25]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 4 and r["key_malformed"] == 5
    assert [c["line"] for c in r["changed"] if c["alone"] == c["expected"]] == []
    # the twenty-sixth: three false alarms settled (two by the probe at the failed call's own host, one by the
    # key-form check), none turned wrong (line 8, a request that reached OpenRouter without credentials whose key had
    # worked only elsewhere, was, until the mend above)
    r = module.estimate(load_cases(HELD_OUT[26]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 3 and r["key_malformed"] == 8
    assert [c["line"] for c in r["changed"] if c["alone"] == c["expected"]] == []
    # the twenty-seventh: seven false alarms settled (five keys that worked at the failed call's own host, two
    # mangled keys), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[27]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 7 and r["key_malformed"] == 15
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the twenty-eighth: no false alarm reached (its thread-only ones are keys the threads saw nowhere; one since
    # DashScope's model list, below), none turned wrong; line 128 (Azure Speech's F0 refusal of batch synthesis, a key
    # that worked for plain synthesis) was read as a refused key until the estimate stopped reading a genuine key's
    # missing access that way
    r = module.estimate(load_cases(HELD_OUT[28]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 1 and r["key_malformed"] == 3
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert 128 not in [c["line"] for c in r["changed"]]
    # the twenty-ninth: two false alarms settled (keys that worked at the same host); line 49 (an OAuth token its
    # gatherer saw working only elsewhere, which Anthropic's documented api_error reads as not the key) was turned
    # into a false alarm until the estimate stopped reading a key as refused by a host whose documented answer was
    # not about the key (after the thirty-fifth set); three since DashScope's model list, below
    r = module.estimate(load_cases(HELD_OUT[29]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 3
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    assert 49 not in [c["line"] for c in r["changed"]]
    # the thirtieth: six false alarms settled (five keys that worked at the failed call's own host, one placeholder
    # sent as a local server's "EMPTY"), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[30]))
    # 6 before DashScope's read, 7 before the Hugging Face Hub's (line 38: a token that works at the Hub, which a
    # library fetching a gated tokenizer did not send)
    assert r["alarms_alone"] - r["alarms_with_probe"] == 8 and r["key_malformed"] == 3
    assert (38, "huggingface", "key_works") in [(c["line"], c["provider"], c["verdict"]) for c in r["changed"]]
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the thirty-first: two false alarms settled (a key that worked at the same host, a key litellm left out of the
    # header), one right answer turned into a false alarm (line 114: an app's own "Please enter a valid API Key" for a
    # key its gatherer saw working only in other integrations, read as refused at the failed call's host)
    r = module.estimate(load_cases(HELD_OUT[31]))
    assert r["alarms_alone"] - r["alarms_with_probe"] == 1 and r["key_malformed"] == 5
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [114]
    # the thirty-second: one false alarm settled (line 21, a Gemini key that worked, behind an IDE's "Authentication
    # failed"), none turned wrong; before its fixes a second (line 147, no Authorization header reached Zhipu, seen
    # as a blank key), which its fixes now settle from the text alone
    r = module.estimate(load_cases(HELD_OUT[32]))
    assert [c["line"] for c in r["changed"]] == [21] and r["key_malformed"] == 4
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the small thirty-third: two false alarms settled (line 43, an OpenAI key that worked at the same host; line 141,
    # a Mistral key stored as "Bearer <key>", sent with the scheme twice), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[33]))
    assert [c["line"] for c in r["changed"]] == [43, 141] and r["alarms_with_probe"] == 0
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the thirty-fourth: five false alarms settled (lines 57, 103 and 190, keys that worked at the failed call's own
    # host; line 5, a StepFun key that worked there, read since StepFun's model list was added after the set; line
    # 19, no key sent, seen as a blank one) and one miss found (line 134, a relay's HTML 401 page for a key it
    # refused), none turned wrong; before its fixes three more false alarms, which its fixes settle from the text
    # alone (lines 13, 69, 168); since DeepL's usage read (after the thirty-seventh set), line 117 (a DeepL key that
    # worked at its host) settled and line 118 (a key DeepL refused, a miss) found
    r = module.estimate(load_cases(HELD_OUT[34]))
    assert [c["line"] for c in r["changed"]] == [5, 19, 57, 103, 117, 118, 134, 190] and r["key_malformed"] == 8
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the thirty-fifth: four false alarms settled (lines 25, 26, 45 and 114, keys that worked at the failed call's own
    # host), none turned wrong; line 177 (Google's "Multiple authentication credentials received", our request's form
    # by gemini.overloaded_credentials, for a key its gatherer saw working only at the native endpoint) was read as
    # refused at this host until the mend above; before its fixes two more settled as keys sent blank (lines 18,
    # 113), which its fixes now settle from the text alone
    r = module.estimate(load_cases(HELD_OUT[35]))
    assert [c["line"] for c in r["changed"]] == [25, 26, 45, 114] and r["key_malformed"] == 12
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the thirty-sixth: two false alarms settled (lines 102 and 188, keys that worked at the failed call's own host),
    # one by the key-form check (line 132); one right answer turned into a false alarm (line 6: a relay's "API key is
    # missing or invalid" to a Gemini key sent in the wrong form, which its gatherer saw working only at Google's own
    # host); before its fixes three more settled as keys sent blank (lines 133, 160, 161), and line 112 (Azure's 401
    # reason phrase, read as access until its fixes) turned right by a refused key
    r = module.estimate(load_cases(HELD_OUT[36]))
    assert [c["line"] for c in r["changed"]] == [6, 102, 132, 188] and r["key_malformed"] == 7
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [6]
    # the thirty-seventh: three false alarms settled (line 95, a Gemini key that worked at the failed call's own host;
    # lines 176 and 189, requests its gatherers saw sent without the key), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[37]))
    assert [c["line"] for c in r["changed"]] == [95, 176, 189] and r["key_malformed"] == 13
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # DashScope's model list (added after the thirty-seventh set; checked without the key first, at DashScope's hosts
    # only) settles seven false alarms of earlier sets, keys that worked at the failed call's own host (and the
    # thirtieth's line 100, already settled as a key sent blank), none turned wrong; an Alibaba Cloud product under
    # a DashScope slug at another host (the thirty-seventh's line 186, machine translation) gets no read
    from byok_reporter import probe as probes
    is_dashscope = probes.ProbeTable(probes.load_table()).canonical
    for number, lines in ((12, [154, 173]), (14, [158]), (24, [137]), (28, [19]), (29, [42]), (30, [7, 100])):
        r = module.estimate(load_cases(HELD_OUT[number]))
        settled = [c for c in r["changed"] if is_dashscope(c["provider"]) == "dashscope"]
        assert [c["line"] for c in settled] == lines and all(c["with_probe"] == c["expected"] for c in settled)
    r = module.estimate(load_cases(HELD_OUT[37]))
    assert 186 not in [c["line"] for c in r["changed"]]
    # the thirty-eighth set: two keys that worked at the failed call's own host and one sent as a serialized value
    # settled, none turned wrong; its line 21 ("api key is not provided", a key that worked only in other plugins)
    # turned wrong as measured, and no longer does since the no-key guard reads that wording (docs/holdout38.md)
    r = module.estimate(load_cases(HELD_OUT[38]))
    assert [c["line"] for c in r["changed"]] == [2, 19, 159] and r["key_malformed"] == 6
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the thirty-ninth: five keys that worked at the failed call's own host and a local server's key settled; line 137
    # (an app's own key test for a key its gatherer saw working only in other software) turns wrong, as measured
    r = module.estimate(load_cases(HELD_OUT[39]))
    assert [c["line"] for c in r["changed"]] == [28, 97, 131, 137, 141, 153, 159] and r["key_malformed"] == 11
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [137]
    # the fortieth: six keys that worked at the failed call's own host, one sent blank and one refused settled; lines 142
    # and 143 (Claude Code's "runs on usage credits" for a plan whose allowance worked in the desktop app, recorded as
    # a key that worked only elsewhere) turn wrong, as measured
    r = module.estimate(load_cases(HELD_OUT[40]))
    assert [c["line"] for c in r["changed"]] == [1, 47, 64, 66, 94, 142, 143, 150, 151, 185] and r["key_malformed"] == 7
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [142, 143]
    # the forty-first: four keys that worked at the failed call's own host and one key sent blank settled, one account
    # out of credit found; lines 38 and 66 (keys their gatherers saw working only elsewhere: Claude Code behind a
    # gateway, an app's own key test) turn wrong, as measured
    r = module.estimate(load_cases(HELD_OUT[41]))
    assert [c["line"] for c in r["changed"]] == [18, 38, 53, 66, 135, 137, 148, 167] and r["key_malformed"] == 12
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [38, 66]
    # the small forty-second: no read reaches its false alarms (Azure Translator and Code Assist have none), and the
    # answers it changes change nothing right or wrong
    r = module.estimate(load_cases(HELD_OUT[42]))
    assert r["right_with_probe"] == r["right_alone"] == 41 and r["alarms_with_probe"] == r["alarms_alone"] == 8
    # the forty-third: two keys that worked at the failed call's own host settled (an Azure key Weaviate's module sent
    # as it should, an app's key test), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[43]))
    assert [c["line"] for c in r["changed"]] == [1, 120] and r["key_malformed"] == 9
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the small forty-fourth: three keys that worked at the failed call's own host settled and one key refused found, none
    # turned wrong
    r = module.estimate(load_cases(HELD_OUT[44]))
    assert [c["line"] for c in r["changed"]] == [47, 70, 71, 75] and r["key_malformed"] == 4
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # the forty-fifth: two keys that worked at the failed call's own host settled, a refused key found, a placeholder
    # key seen by the key-form check; line 166 (a Codestral key that worked only at Codestral's own host, sent by an app
    # to Mistral's) turns wrong, as measured
    r = module.estimate(load_cases(HELD_OUT[45]))
    assert [c["line"] for c in r["changed"]] == [122, 130, 141, 166, 181] and r["key_malformed"] == 7
    assert [c["line"] for c in r["changed"] if c["with_probe"] != c["expected"]] == [166]
    # the small forty-sixth: a key the key-form check reads (an app's placeholder), none turned wrong
    r = module.estimate(load_cases(HELD_OUT[46]))
    assert [c["line"] for c in r["changed"]] == [22] and r["key_malformed"] == 2
    assert all(c["with_probe"] == c["expected"] for c in r["changed"]), r["changed"]
    # sets gathered before `key_other` give the probe's figure again for the current-key record
    assert (r["key_other"], r["right_with_current_key"], r["alarms_with_current_key"]) == (
        0, r["right_with_probe"], r["alarms_with_probe"])
    # ...and a case whose thread shows a key other than the user's was sent tells no one with it (the forty-fifth set's
    # line 65, OpenAI's refusal of a dummy key an app sent in place of the user's, marked so here): a false alarm fewer;
    # a broken key the user set up (line 19, DeepSeek's 401), marked so as well, becomes a miss (the right answer line
    # 65 gained is lost again): the check is only as good as the backend's record of the user's current key
    cases = load_cases(HELD_OUT[45])
    base = module.estimate(cases)
    cases[64]["key_other"] = True
    r = module.estimate(cases)
    assert r["alarms_with_current_key"] == base["alarms_with_probe"] - 1
    assert r["right_with_current_key"] == base["right_with_probe"] + 1
    assert cases[18]["expected"] == "invalid_key"
    cases[18]["key_other"] = True
    r = module.estimate(cases)
    assert r["right_with_current_key"] == base["right_with_probe"] and r["key_other"] == 2


# ------------------------------------------------------------------------------------------------- CLI

def test_cli_reports_bad_lines_and_keeps_going():
    lines = [
        b'{"provider": "openai", "error": {"status_code": 429, "code": "insufficient_quota"}}',
        b"not json",
        b"[1, 2]",
        b'{"provider": "openai"}',
        b"\xff\xfe garbage",
        b"[" * 100000,
        b"",
        b'{"provider": "deepgram", "error": {"message": "server rejected WebSocket connection: HTTP 401"}}',
    ]
    code, results = run_cli(b"\n".join(lines) + b"\n")
    assert code == 0
    assert len(results) == len(lines)
    assert results[0] == {"reason": "quota_exhausted"}
    for bad in results[1:7]:
        assert bad["reason"] is None and bad["error"]
    assert results[7] == {"reason": "invalid_key"}


# ------------------------------------------------------------------------------- rules, one real case each

def case(source_fragment: str, index: int = 0) -> dict:
    found = [c for c in load_cases() if source_fragment in c["source"]]
    return found[index]


RULES = [
    # (rule, source of the real case in the corpus)
    ("OpenAI insufficient_quota code", "chatanywhere/GPT_API_free/issues/229"),
    ("OpenAI billing_not_active", "BerriAI/litellm/issues/2743"),
    ("OpenAI invalid_api_key", "popjane/free_chatgpt_api/issues/3"),
    ("OpenAI model access ('does not have access to it')", "shobrook/wut/issues/14"),
    ("OpenAI restricted key missing scopes", "openai/openai-java/issues/720"),
    ("OpenAI region block is not actionable", "community.openai.com/t/968465"),
    ("OpenAI free-tier daily cap", "invisible_playwright_mcp/issues/109"),
    ("OpenAI daily cap that frees in seconds is a rate limit", "MSU-AI-Agents/fall-2025-course/issues/76"),
    ("per-minute rate limit", "phodal/auto-dev/issues/21"),
    ("context length", "crewAI-examples/issues/121"),
    ("Anthropic credit balance too low (a 400)", "claude-quickstarts/issues/229"),
    ("Anthropic spend limit", "claude-code/issues/38035"),
    ("Anthropic enforced monthly spend limit in a 429", "anthropic-529-overloaded-error"),
    ("Anthropic invalid x-api-key", "abi/screenshot-to-code/issues/272"),
    ("Anthropic organization disabled", "claude-code/issues/19028"),
    ("Anthropic 529 overloaded", "anthropic-529-overloaded"),
    ("Anthropic per-minute rate limit via LiteLLM", "OpenHands/OpenHands/issues/9259"),
    ("Gemini API_KEY_INVALID", "openai-scala-client/issues/109"),
    ("Gemini leaked key", "continuedev/continue/issues/10513"),
    ("Gemini SERVICE_DISABLED", "deprecated-generative-ai-python/issues/10"),
    ("Gemini free tier limit: 0", "continuedev/continue/issues/9570"),
    ("Gemini per-day quota", "langgenius/dify/issues/19838"),
    ("Gemini per-minute quota that says 'quota'", "gemini-cli-action/issues/36"),
    ("Gemini prepayment credits depleted (402)", "depleted-prepay-credits"),
    ("Gemini region block", "poenl/gemini-api/issues/4"),
    ("Vertex shared-capacity 429", "gemini-cli/issues/14811"),
    ("OpenRouter 402 insufficient credits", "open-assistant/issues/80"),
    ("OpenRouter per-key limit (403)", "Roo-Code/issues/515"),
    ("OpenRouter free-models-per-day", "cline/cline/issues/5301"),
    ("OpenRouter free-models-per-min", "cline/cline/issues/3656"),
    ("OpenRouter 'User not found' (401)", "apurvsinghgautam/robin/issues/103"),
    ("OpenRouter data policy blocks every route", "unoplat-code-confluence/issues/1080"),
    ("OpenRouter upstream error relayed", "ai-sdk-provider/issues/24"),
    ("OpenRouter moderation 403", "errors-and-debugging"),
    ("Deepgram INVALID_AUTH", "natively-cluely-ai-assistant/issues/369"),
    ("Deepgram WebSocket 402", "BasedHardware/omi/issues/11695"),
    ("Deepgram WebSocket 429", "deepgram-python-sdk/issues/726"),
    ("Deepgram project without model access", "orgs/deepgram/discussions/1599"),
    ("Fern SDK ElevenLabs quota_exceeded in a 401", "home-assistant/core/issues/160414"),
    ("Groq tokens per day", "continuedev/continue/issues/10920"),
    ("xAI bad key answered with 400", "continuedev/continue/issues/10778"),
    ("Azure key/endpoint mismatch", "SciSharp/BotSharp/issues/386"),
    ("DeepSeek 402 Insufficient Balance", "continuedev/continue/issues/11387"),
    ("5xx never actionable", "claude-code/issues/91800"),
]


@pytest.mark.parametrize("rule,source", RULES, ids=[r for r, _ in RULES])
def test_rule_on_a_real_case(rule, source):
    c = case(source)
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


# Rules added after the held-out evaluation, each with the held-out case that showed it was missing.
HOLDOUT_RULES = [
    ("ws 'Unexpected server response: 401' carries the status", "natively-cluely-ai-assistant/issues/78"),
    ("OpenAI chat model sent to /embeddings (403) is our request", "infiniflow/ragflow/issues/1835"),
    ("Anthropic edge 403 'Request not allowed' is not the key", "di-sukharev/opencommit/issues/411"),
    ("account terminated, even as a RateLimitError", "acheong08/ChatGPT/issues/533"),
    ("Azure '401 (PermissionDenied)' reason phrase is a bad key", "microsoft/semantic-kernel/issues/10337"),
    ("Azure principal without the role stays permission", "microsoft/PromptWizard/issues/18"),
    ("monthly trial cap ('1000 API calls / month')", "diegosouzapw/OmniRoute/pull/12252"),
    ("per-minute trial limit stays a rate limit", "claude-docs:docs/ai-platforms/cohere"),
    ("Vertex 'Publisher Model ... not found' is a model id we chose", "truefoundry/models/pull/961"),
]


@pytest.mark.parametrize("rule,source", HOLDOUT_RULES, ids=[r for r, _ in HOLDOUT_RULES])
def test_rule_found_by_the_holdout(rule, source):
    c = next(c for c in load_cases(HELD_OUT[1]) if source in c["source"])
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


# Rules added after the second held-out evaluation, each with the case that showed it was missing, and
# the look-alike negatives of the same set that must stay None.
HOLDOUT2_RULES = [
    ("whitespace runs collapse: a wrapped 'has been     disabled'", "anthropics/claude-code/issues/54311"),
    ("whitespace runs collapse: 'Incorrect API\\n key' (Codex)", "openai/codex/issues/1352"),
    ("'API error 402: {...}' carries the status", "chaogei/Kiro-account-manager/issues/27"),
    ("Azure Speech 'WebSocket upgrade failed: ... (401)' carries the status",
     "cognitive-services-speech-sdk/issues/966"),
    ("... and its '(400)' bad request stays ours", "cognitive-services-speech-sdk/issues/36"),
    ("'invalid api token' (old Cohere SDK, no status)", "cohere-ai/notebooks/issues/6"),
    ("Hugging Face 'exceeded your monthly included credits'", "huggingface/agents-course/issues/386"),
    ("'Insufficient quota.' reworded without the code", "openai/codex/issues/751"),
    ("AssemblyAI 4003 'requires you to add a credit card'", "assemblyai@4.14.0", "add a credit card"),
    ("... and its 4029 'Rate limited' stays transient", "assemblyai@4.14.0", "Rate limited"),
    ("Voyage 3 RPM limit that asks for a payment method stays a rate limit", "gpt-researcher/issues/1148"),
    ("OpenRouter 'no endpoints available matching your guardrail restrictions and data policy'",
     "truefoundry/models/pull/826"),
    ("OpenRouter 'no endpoints found that support tool use' stays ours", "Kilo-Org/kilocode/issues/9006"),
]


@pytest.mark.parametrize("rule,source,needle", [(r[0], r[1], r[2] if len(r) > 2 else "") for r in HOLDOUT2_RULES],
                         ids=[r[0] for r in HOLDOUT2_RULES])
def test_rule_found_by_the_second_holdout(rule, source, needle):
    """`needle` (optional) picks one case among several from the same source."""
    found = [c for c in load_cases(HELD_OUT[2]) if source in c["source"] and needle in json.dumps(c["error"])]
    assert len(found) == 1, (source, needle)
    c = found[0]
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


# Documented rows added after the fourth held-out evaluation, each with the case that showed it was missing,
# and look-alikes that must keep their answer.
HOLDOUT4_RULES = [
    ("Moonshot 429 'suspended due to insufficient balance' without its code", "continuedev/continue/issues/11443"),
    ("Hugging Face 'the token seems invalid'", "krishnaik06/Complete-Langchain-Tutorials/issues/2"),
    ("Hugging Face body {'error': 'invalid token'}", "huggingface/api-inference-community/issues/38"),
    ("ElevenLabs 'Free Tier usage disabled' raised as RateLimitError", "elevenlabs/elevenlabs-python/issues/119"),
    ("ElevenLabs detected_unusual_activity quoted in a wrapper's text", "livekit/agents/issues/921"),
    ("DeepInfra 'Unauthorised' body", "xtekky/gpt4free/issues/1948"),
    ("Cloud Storage refusing the input object is the request's", "python-docs-samples/issues/2324"),
]


@pytest.mark.parametrize("rule,source", HOLDOUT4_RULES, ids=[r for r, _ in HOLDOUT4_RULES])
def test_rule_found_by_the_fourth_holdout(rule, source):
    found = [c for c in load_cases(HELD_OUT[4]) if source in c["source"]]
    assert len(found) == 1, source
    c = found[0]
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


# Each later held-out set's fixes, on texts like its cases that must keep their answer: the set's name, then
# (provider, error, expected) cases and their ids; one test runs them all.
LOOK_ALIKES: dict[str, tuple[list, list]] = {}
LOOK_ALIKES["fourth"] = ([
    # a tokenizer's 'invalid token id' is the request's, not the key
    ("huggingface", {"status_code": 400, "message": "Input validation error: invalid token id 50257"}, None),
    # Kimi Code's usage allowance for the period (hours or a week) is the plan's cap, not a rate (the labelling rule
    # the sixth set settled: a cap that does not clear within minutes is money)
    ("moonshot", {"status_code": 429, "message": "You've reached your usage limit for this period."},
     "quota_exhausted"),
    # a bare Moonshot 429 stays a rate limit
    ("moonshot", {"status_code": 429, "message": "Too Many Requests"}, None),
    # an ElevenLabs RateLimitError that is a concurrency limit stays transient
    ("elevenlabs", {"type": "RateLimitError", "status_code": 429, "message": "elevenlabs.api.error.RateLimitError: "
                    "too_many_concurrent_requests: Too many concurrent requests for your subscription."}, None),
    # a Google API's own IAM refusal on the project still alarms
    ("google_stt", {"status_code": 403, "message": "Permission denied on resource project my-project."},
     "permission_denied"),
],
    ["hf-tokenizer", "moonshot-period", "moonshot-bare-429", "elevenlabs-concurrency", "google-iam-project"])


# Fixes prompted by the fifth held-out set, each with the case that showed it was missing (by source), and the
# look-alikes that must keep their answer.
HOLDOUT5_RULES = [
    ("OpenAI Realtime 'does not have access to the Realtime API'", "livekit/agents/issues/994"),
    ("Groq permissions_error 'blocked at the project level'", "raycast/extensions/issues/25045"),
    ("ElevenLabs paid_plan_required: a feature the plan lacks is access", "dograh-hq/dograh/issues/290"),
    ("AWS SSO session expired (SDK credential provider)", "anthropics/claude-code/issues/849"),
    ("Together model gated to build tier 2 and above", "Nutlope/logocreator/issues/10"),
    ("Replicate's DRF 'Invalid token.'", "replicate/inpainter/issues/20"),
    ("AWS IAM 'is not authorized to perform ... explicit deny'", "posit-dev/positron/issues/10683"),
    ("AWS IAM 'no identity-based policy allows'", "aws-devtools-labs/aws-blocks/pull/562"),
    ("Bedrock ValidationException 'Operation not allowed' (account not allowed)", "aws/aws-cli/issues/8717"),
    ("... and behind LiteLLM's prefix", "kirodotdev/Kiro/issues/11191"),
    ("Gemini 'unregistered callers': no key reached Google", "PublicAffairs/openai-gemini/issues/92"),
    ("... without the JSON", "google-gemini/deprecated-generative-ai-python/issues/463"),
    ("MiniMax 1004 with no Authorization header is our request", "nearai/ironclaw/issues/1742"),
    ("GitHub token without the models permission (401)", "microsoft/ai-agents-for-beginners/issues/213"),
    ("GitHub 'Resource not accessible by integration'", "github/gh-models/issues/35"),
    ("Cloudflare slug: Workers AI daily free neurons", "get-engram/engram/issues/34"),
    ("'Exhausted balance'", "fal-ai/fal/issues/1162"),
    ("'User is locked' (admin lock)", "fal-ai/fal/issues/1168"),
    ("'does not have enough balance'", "dmarx/video-killed-the-radio-star/issues/59"),
    ("429 weekly usage limit is a cap", "HomericIntelligence/Scylla/issues/346"),
    ("watsonx IAM token our client mints expired", "BerriAI/litellm/issues/9219"),
    ("Azure RBAC 'lacks the required data action' (401)", "davrous/AzureAgentToM365/issues/3"),
    ("Azure 'Key based authentication is disabled'", "Azure/Copilot-Studio-and-Azure/issues/58"),
    ("OpenAI-compatible 'does not exist or you do not have access to it' is a model id", "bytedance/UI-TARS-desktop/issues/1784"),
]


@pytest.mark.parametrize("rule,source", HOLDOUT5_RULES, ids=[r for r, _ in HOLDOUT5_RULES])
def test_rule_found_by_the_fifth_holdout(rule, source):
    found = [c for c in load_cases(HELD_OUT[5]) if source in c["source"]]
    assert len(found) == 1, source
    c = found[0]
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


LOOK_ALIKES["fifth"] = ([
    # a per-minute allocation used up is a rate limit, not a cap
    ("openai_compatible", {"status_code": 429, "message": "You have used up your per-minute allocation, retry in 10s"},
     None),
    # a plain 429 rate limit stays transient on the generic dialect
    ("ollama_cloud", {"status_code": 429, "message": "Rate limit exceeded: 60 requests per minute"}, None),
    # a tokenizer's invalid token on Replicate is the request's
    ("replicate", {"status_code": 422, "message": "Input validation error: invalid token id 50256"}, None),
    # a malformed Bedrock request stays ours
    ("bedrock", {"type": "ValidationException", "message": "ValidationException: Malformed input request: "
                 "#: extraneous key [foo] is not permitted"}, None),
    # AWS throttling stays transient even with an IAM-looking ARN in it
    ("bedrock", {"type": "ThrottlingException", "message": "Rate exceeded for arn:aws:bedrock:us-east-1::"
                 "foundation-model/x"}, None),
    # OpenAI's own model-access wording still reads as access on OpenAI
    ("openai", {"status_code": 404, "message": "The model `o3` does not exist or you do not have access to it."},
     "permission_denied"),
    # Fireworks documents one 401 text for both a bad key and missing permissions: the key
    ("fireworks", {"status_code": 401, "message": "Invalid API key or insufficient permissions."}, "invalid_key"),
    # context length is never money, whatever 'not enough' says
    ("openai_compatible", {"status_code": 400, "message": "Not enough tokens left in the context window"}, None),
    # OpenAI's organization membership 401 is access, the key works
    ("deepseek", {"status_code": 401, "message": "You must be a member of an organization to use the API."},
     "permission_denied"),
    # output that ran out of tokens is the request's length, never money
    ("openai_compatible", {"status_code": 400, "message": "The model ran out of tokens before finishing the answer"},
     None),
    # a parameter the model does not take is our request, whatever 'not permitted' says
    ("openai_compatible", {"status_code": 400, "message": "You are not permitted to use the 'logit_bias' parameter "
                           "with this model."}, None),
],
    ["per-minute-allocation", "rpm-429", "tokenizer", "bedrock-malformed", "bedrock-throttle", "openai-model-access",
     "fireworks-401", "context-not-enough", "org-member-401", "ran-out-of-tokens", "parameter-not-permitted"])


# Fixes prompted by the sixth held-out set, each with the case that showed it was missing (by source), and the
# look-alikes that must keep their answer.
HOLDOUT6_RULES = [
    ("a URL-encoded text is read decoded (xAI 400 'Incorrect%20API%20key')", "i-am-bee/beeai-framework/issues/447"),
    ("gRPC's 503 for the client's own credentials plugin: the credential's text decides", "BerriAI/litellm/pull/3130"),
    ("'No access to model' (403)", "actions/ai-inference/issues/95"),
    ("'has no access to model' (403)", "QuantumNous/new-api/issues/5675"),
    ("'Access to model denied' (403)", "QwenLM/qwen-code/issues/9605"),
    ("Alibaba RAM 'not authorized to operate on the specified resource'", "zhayujie/CowAgent/issues/1858"),
    ("'Model requires a Pro subscription' is a plan that lacks the model", "radareorg/r2ai/pull/65"),
    ("an empty key echo ('Your api key:  is invalid'): no key was sent", "bytedance/deer-flow/issues/1283"),
    ("an SDK's 'No api key provided' before any request", "X-PLUG/MM_StoryAgent/issues/2"),
    ("'API key required' (api_key_required): no key reached the provider", "Gitlawb/openclaude/issues/1809"),
    ("Zhipu's JWT expiry without its code (1003's wording)", "STranslate/STranslate/issues/670"),
    ("Zhipu 1308: the plan's 5-hour usage cap is spent", "dirge-code/dirge/issues/818"),
    ("Ollama Cloud's session usage limit is the plan's cap", "continuedev/continue/issues/11444"),
    ("Azure subscription not registered for Azure OpenAI", "azure-search-openai-demo/issues/1104"),
]


LOOK_ALIKES["sixth"] = ([
    # a key the provider calls invalid or missing is still the key
    ("gladia", {"status_code": 401, "message": "Invalid or missing API key"}, "invalid_key"),
    ("openai_compatible", {"status_code": 401, "message": "A valid API key is required"}, "invalid_key"),
    # DeepSeek's echo of a real (masked) key stays the key
    ("deepseek", {"status_code": 401, "message": "Authentication Fails, Your api key: ****abcd is invalid"},
     "invalid_key"),
    # a URL-encoded rate limit stays transient
    ("xai", {"status_code": 429, "message": "Too%20many%20requests,%20retry%20in%2010s"}, None),
    # a 503 without the credentials plugin stays a server error, whatever it says of keys
    ("vertex", {"status_code": 503, "message": "503 Service Unavailable: invalid_grant while refreshing"}, None),
    # the credentials plugin reporting a network failure is no verdict on the key
    ("vertex", {"status_code": 503, "message": "Getting metadata from plugin failed with error: HTTPSConnectionPool"
                "(host='oauth2.googleapis.com', port=443): Read timed out."}, None),
    # OpenAI's own 404 model wording on an OpenAI-compatible API stays a model id
    ("openai_compatible", {"status_code": 404, "message": "The model `x` does not exist or you do not have access "
                           "to it."}, None),
    # an hourly allowance clears within the hour
    ("ollama_cloud", {"status_code": 429, "message": "you've reached your hourly usage limit, please wait or "
                      "upgrade to continue"}, None),
    # a per-minute limit on a coding plan stays a rate
    ("zhipu", {"status_code": 429, "message": "{\"error\":{\"code\":\"1302\",\"message\":\"您的账户已达到速率限制，"
               "请您控制请求频率\"}}"}, None),
    # 'requires a paid plan' reads as access, 'upgrade your plan for higher rate limits' does not
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached. Upgrade your plan for higher rate "
                           "limits."}, None),
],
    ["invalid-or-missing", "valid-key-required", "deepseek-echo", "urlencoded-429", "vertex-503", "plugin-network",
     "compat-model-404", "ollama-hourly", "zhipu-1302", "upgrade-for-rate"])


# Fixes prompted by the seventh held-out set, each with the case that showed it was missing (by source).
HOLDOUT7_RULES = [
    ("OpenAI 'associated with a deactivated account'", "ashinnotfound/ChatGPT-YourChatRobot/issues/43"),
    ("Azure Speech: only Standard subscriptions (a tier the free resource lacks)", "ThioJoe/Auto-Synced-Translated-Dubs/issues/9"),
    ("... and behind the batch API's exception", "cognitive-services-speech-sdk/issues/1307"),
    ("an httpx '401 PermissionDenied' is a reason phrase, not a permission", "AstrBotDevs/AstrBot/issues/2720"),
    ("Google's insufficient scopes without the code are our client's", "googleapis/google-cloud-python/issues/5006"),
    ("an app's 500 around the generative-ai JS SDK's '[400 Bad Request]'", "Jazee6/cloudflare-ai-web/issues/17"),
    ("AWS 'needs a subscription for the service'", "digital-go-jp/genai-web/issues/13"),
    ("Groq's model_not_found without the code", "continuedev/continue/issues/10815"),
    ("watsonx authentication_token_not_valid: the IAM token our client minted", "spring-projects/spring-ai/issues/2727"),
    ("a relay's 'Incorrect model ID'", "ZhuLinsen/daily_stock_analysis/issues/470"),
    ("a relay's 'user quota is not enough'", "popjane/free_chatgpt_api/issues/85"),
]


LOOK_ALIKES["seventh"] = ([
    # a 403 PermissionDenied stays a permission refusal
    ("openai_compatible", {"status_code": 403, "message": "Client error '403 PermissionDenied' for url "
                           "'https://example.invalid/v1/chat'"}, "permission_denied"),
    # the key's own wording wins over a model-id phrase elsewhere in the text
    ("openai_compatible", {"status_code": 401, "message": "Incorrect API key provided: sk-abc***. Incorrect model "
                           "ID is not the issue."}, "invalid_key"),
    # 'not enough' of a request's own budget is never money
    ("openai_compatible", {"status_code": 400, "message": "max_tokens is not enough for the reasoning effort "
                           "requested"}, None),
    # the JS SDK's embedded 429 or 503 inside an app's 500 stays transient
    ("gemini", {"status_code": 500, "message": "[GoogleGenerativeAI Error]: Error fetching from https://generative"
                "language.googleapis.com/v1beta/models/x:generateContent: [429 Too Many Requests] Resource has been "
                "exhausted (e.g. check quota)."}, None),
    ("gemini", {"status_code": 500, "message": "[GoogleGenerativeAI Error]: Error fetching from https://generative"
                "language.googleapis.com/v1beta/models/x:generateContent: [503 Service Unavailable] The model is "
                "overloaded."}, None),
    # a deactivated model is our model id, a deactivated account is the user's
    ("openai", {"status_code": 404, "message": "The model `text-davinci-003` has been deactivated"}, None),
],
    ["403-permissiondenied", "key-beside-model-id", "max-tokens-not-enough", "js-sdk-429-in-500",
     "js-sdk-503-in-500", "deactivated-model"])


# Fixes the ninth held-out set prompted (docs/holdout9.md), each tested on its case and on look-alikes.
HOLDOUT9_RULES = [
    ("another vendor's model in OpenAI's 'does not exist or you do not have access'", "Shopify/roast/issues/13"),
    ("GitHub Models: a token without the models permission", "ai-agents-for-beginners/issues/203"),
    ("GitHub Models: 'Your account type is not currently supported'", "sdcb/chats/issues/58"),
    ("MiniMax: the Token Plan's 'usage limit reached'", "MiniMax-AI/minimax-code/issues/108"),
    ("IBM's 'no Bearer token in the request header': no key was sent", "langchain-ibm/issues/35"),
]


# Fixes the tenth held-out set prompted (docs/holdout10.md).
HOLDOUT10_RULES = [
    ("xAI's 'Content violates usage guidelines' 403 is a content refusal", "Wei-Shaw/sub2api/issues/4785"),
    ("a quota that names its window of minutes clears by itself", "doublepost.link/guild/1066739690436313158"),
    ("Replicate's 'reached the free time limit'", "RuliLG/Laravel-Stable-Diffusion/issues/1"),
    ("ElevenLabs: instant voice cloning not in the plan", "PipedreamHQ/pipedream/pull/10319"),
    ("'not_enough_balance' is money", "aixplain/aiXplain/issues/148"),
    ("Hugging Face: GatedRepoError 403 is a repo the token was not granted", "McGill-NLP/llm2vec/issues/36"),
    ("Hugging Face: a gated repo without a token is no key sent", "kyegomez/NeoSapiens/issues/3"),
    ("Hugging Face: 'Cannot access content at' 403 is a permission", "meta-llama/llama3/issues/189"),
    ("Kimi For Coding outside the coding agents is the user's key", "egoist/chatwise-releases/issues/1332"),
    ("AWS's signature mismatch without its code is the secret key", "BerriAI/litellm/issues/14763"),
]


LOOK_ALIKES["tenth"] = ([
    # xAI's account-level refusal keeps its permission reading; only the content words make it a filter
    ("xai", {"status_code": 403, "code": "permission-denied",
             "message": "{\"code\":\"permission-denied\",\"error\":\"Access to the chat endpoint is denied\"}"},
     "permission_denied"),
    # ElevenLabs' monthly quota stays money; its burst window is not
    ("elevenlabs", {"message": "This request exceeds your quota. You have 11 characters remaining, while 70 "
                    "characters are required for this request."}, "quota_exhausted"),
    ("elevenlabs", {"message": "This request exceeds your quota limit of 100000 characters within a 1-minute "
                    "window."}, None),
    # a gated repo: no token is ours, a token not granted is the user's
    ("huggingface", {"status_code": 401, "type": "GatedRepoError", "message": "Cannot access gated repo for url "
                     "https://huggingface.co/x/y/resolve/main/config.json. Repo model x/y is gated. You must be "
                     "authenticated to access it."}, None),
    ("huggingface", {"status_code": 403, "type": "GatedRepoError", "message": "Cannot access gated repo for url "
                     "https://huggingface.co/x/y/resolve/main/config.json."}, "permission_denied"),
    # "not enough balance" and its code form
    ("openai_compatible", {"message": "{'error': 'err.not_enough_balance'}"}, "quota_exhausted"),
    ("openai_compatible", {"message": "Not enough balance to run this model"}, "quota_exhausted"),
],
    ["xai-account-refusal", "elevenlabs-monthly", "elevenlabs-window", "hf-gated-no-token", "hf-gated-403",
     "not-enough-balance-code", "not-enough-balance-words"])


# Fixes the eleventh held-out set prompted (docs/holdout11.md).
HOLDOUT11_RULES = [
    ("Azure: 'A Virtual Network is configured for this resource' is the resource's network rule",
     "continuedev/continue/issues/12547"),
    ("OpenRouter: 'No allowed providers are available' is the account's routing setting", "farion1231/cc-switch/issues/995"),
    ("OpenRouter: the same, its provider list naming cloudflare, is not read as a CDN page",
     "agent0ai/agent-zero/issues/1255"),
    ("Anthropic: a credential only authorized for Claude Code is the user's", "anymorph-ai/Claudable/issues/45"),
    ("Anthropic: the same without its status", "RooCodeInc/Roo-Code/issues/10566"),
    ("a subscription plan that does not include access to a model is plan-gated", "nesquena/hermes-webui/issues/17"),
    ("LiteLLM as the user's own gateway: a deployment's budget crossed is money", "BerriAI/litellm/issues/14144"),
]


# Fixes the twelfth held-out set prompted (docs/holdout12.md).
HOLDOUT12_RULES = [
    ("Hugging Face: transformers' gated-repo wrapper with a 403 is the user's model access",
     "huggingface/transformers/issues/31367"),
    ("Hugging Face: the same wrapper where no status was kept", "georgian-io/LLM-Finetuning-Toolkit/issues/158"),
]


# Fixes the thirteenth held-out set prompted (docs/holdout13.md).
HOLDOUT13_RULES = [
    ("DashScope: AllocationQuota.FreeTierOnly in its newer wording is a spent free quota",
     "axoviq-ai/synthadoc/issues/215"),
    ("ElevenLabs: needs_authorization is a request that carried no key", "codewithbro95/J.A.R.V.I.S/issues/18"),
]


# Fixes the fourteenth held-out set prompted (docs/holdout14.md).
HOLDOUT14_RULES = [
    ("Moonshot: a JSON error naming cloudflare among its headers is the provider's answer, not a CDN page",
     "errs.dmxapi.cn/detail.php?id=1850"),
    ("AWS: the String-to-Sign tail of SignatureDoesNotMatch is a wrong secret", "awsdocs/aws-doc-sdk-examples/issues/1588"),
    ("Qianfan: a Token Plan key outside its plan is the plan's access", "vastsa/PI-Desktop/issues/518"),
]


# Fixes the fifteenth held-out set prompted (docs/holdout15.md).
HOLDOUT15_RULES = [
    ("the provider's echo of the key shows none reached it ('')", "openai-php/laravel/issues/117"),
    ("Google: a per-minute limit of 0 for a region is where the call came from", "tech-shrimp/gemini-playground/issues/10"),
    ("Gemini: the billing account tier cap is a spend cap", "discuss.ai.google.dev/t/gemini-api-billing-tier-upgrade"),
    ("an account with the service disabled for a Terms of Service violation is suspended", "anomalyco/opencode/issues/11239"),
]


# Fixes the sixteenth held-out set prompted (docs/holdout16.md).
HOLDOUT16_RULES = [
    ("Pollinations: a model above the account's tier is access", "pollinations/pollinations/issues/3552"),
    ("Pollinations: the anonymous tier is a request that carried no token", "pollinations/pollinations/issues/3831"),
]


HOLDOUT17_RULES = [
    ("OpenRouter: 'Missing Authentication header' is a request that carried no key", "osaurus-ai/osaurus/issues/678"),
    ("Vertex: a project not allowed to use a publisher's model is access", "langchain-google/issues/593"),
    ("Tencent Cloud speech: the resource pack is used up", "MoneyPrinterPlus/issues/53"),
    ("new-api: the pre-consumed quota is above the user's", "QuantumNous/new-api/issues/667"),
    ("Gemini: the free tier's limit 0 for a model is a model the plan lacks", "429-resource-exhausted"),
]


HOLDOUT19_RULES = [
    ("OpenRouter: 'No auth credentials found' is a request that carried no key", "avante.nvim/issues/2547"),
    ("Gemini: a model without a free quota tier is a model the plan lacks", "danny-avila/LibreChat/issues/7283"),
    ("Azure Resource Manager: AuthorizationFailed is a role the identity lacks", "foundry-dev-tools"),
]


HOLDOUT20_RULES = [
    ("Gemini: a model for billed users only is a model the plan lacks", "openjourney/issues/1"),
    ("new-api: its rewrite of an upstream 429 is the relay's channel, whatever type it keeps", "BettaFish/issues/579"),
    ("new-api: its rewrite of an upstream 429 without a status", "FastGPT/issues/3856"),
]


HOLDOUT21_RULES = [
    ("GitHub: a fine-grained token without a permission is access", "copilot-cli/issues/46"),
    ("Azure Resource Manager: ReadOnlyDisabledSubscription is an account disabled", "microsoft-foundry-for-vscode/issues/374"),
    ("a kebab-case invalid-api-key code is the key", "node-sdk/issues/264"),
    ("a kebab-case daily limit code is a day's cap", "news-intelligence"),
    ("a feature the Lite plan lacks is access", "dotnet-standard-sdk"),
    ("a rate limit that asks for a wait of hours is a cap", "copilot-cli/issues/2696"),
    ("Google's billing-disabled words under any slug are money", "php-docs-samples"),
    ("an overdue account is money", "Roo-Code/issues/12309"),
]


HOLDOUT22_RULES = [
    ("LiteLLM: a budget of the user's own proxy exceeded is money", "BerriAI/litellm/issues/30670"),
    ("LiteLLM: ExceededBudget from the proxy's auth check is money", "BerriAI/litellm/issues/35247"),
    ("LiteLLM: ExceededBudget as an app logged it", "OpenHands-Cloud/issues/16"),
    ("LiteLLM: a team not allowed the model is access", "BerriAI/litellm/pull/1933"),
    ("OpenAI: insufficient_quota's sentence without its code is money", "Danse-Macabre/issues/2"),
    ("a usage limit that asks for a wait of days is a cap", "openai/codex/issues/3124"),
    ("a free allowance over a rolling 24-hour window is a day's cap", "sub2api/issues/4568"),
    ("a bare 403 whose text says the credits ran out is money", "agenc-core/pull/2483"),
    ("'no quota left' is money", "agent-zero/issues/1111"),
    ("a 5-hour usage limit is a cap", "kimi-cli/issues/2647"),
    ("NVIDIA: 'Header of type authorization was missing' is a request without the key", "picoclaw/issues/2479"),
    ("a subscription required to use the models is a plan that lacks them", "opencode/issues/49648"),
    ("Azure: a feature only on the Standard S0 tier is a plan that lacks it", "cognitive-services-speech-sdk/issues/2164"),
    ("blocked from accessing a service is access", "coaidev/coai/issues/14"),
    ("an organization that disabled the access is access", "claude-code/issues/58598"),
]


HOLDOUT23_RULES = [
    ("Anthropic: 'x-api-key header is required' is a request without the key", "chatbox/issues/1221"),
    ("Anthropic: the same words behind an app's own prefix", "plasmallm/issues/122"),
    ("OpenAI's masked echo of sk-no-key-required is a local server's no-key value", "paper-qa/issues/558"),
    ("OpenAI: a dashboard endpoint that takes only a session key is our request", "ChuanhuChatGPT/pull/498"),
]


HOLDOUT24_RULES = [
    ("LangChain.js: 'OpenAI or Azure OpenAI API key not found' is an SDK that sent nothing", "Perplexica/issues/49"),
    ("Anthropic: a daily rate limit is a cap", "LaVague/issues/503"),
    ("an app's 'API key not found. Please set it' is no key sent", "computer_use_ootb/issues/6"),
    ("'Bearer token not found' is a header without the key", "api-manager/issues/3204"),
]


HOLDOUT25_RULES = [
    ("DeepL: 456 is the month's characters or the cost limit used up", "immersive-translate/issues/2394"),
    ("DeepL: 456 in an HTTP client's words", "zotero-pdf-translate/issues/198"),
    ("ElevenLabs: watermark-free dubbing is a plan feature", "ElevenlabsDubbingGradio/issues/1"),
    ("Google Cloud: a referrer restriction in its message alone", "thing-translator/issues/13"),
    ("Google Cloud: a referrer restriction beside a legacy rateLimitExceeded reason", "laravel-google-translate/issues/18"),
    ("Picovoice: the AccessKey's activation limit, as an exception class", "porcupine/issues/1481"),
    ("Picovoice: the AccessKey's activation limit, as a C status", "picovoice/issues/769"),
    ("Google Cloud: 'missing a valid API key' is no key sent", "assistant-sdk-python/issues/224"),
    ("Anthropic: a subscription's OAuth token refused by the API is the plan's", "zeroclaw/issues/451"),
    ("Anthropic: the same refusal with only its message", "claude-code/issues/28091"),
    ("Anthropic: a browser request without the opt-in header is ours", "NextChat/issues/5429"),
]


HOLDOUT26_RULES = [
    ("Claude Code: a subscription's usage window spent until its reset is a cap", "dismech/pull/10680"),
    ("Anthropic: a subscription that serves third-party apps only from extra usage is the plan's", "hermes-agent/issues/31668"),
    ("LiveKit Cloud: the month's inference credits spent", "hirecoach/blob"),
    ("'No API key was found' is no key sent", "TTS-Emulator/issues/7"),
    ("Bedrock: an account not authorized for an action is access, whatever exception carried it", "prowler/pull/12801"),
]


HOLDOUT27_RULES = [
    ("'You don't have enough credit' is money", "ComfyUI-Tripo/issues/53"),
    ("ComfyUI's 'Please login first' is no key sent", "ComfyUI/issues/9269"),
    ("Yandex Translate: the day's translated characters spent", "ACT.FFXIVTranslate/issues/10"),
    ("Youdao: errorCode 401 is an account in arrears, not a refused key", "YoudaoTranslator/issues/38"),
    ("A trial key's lifetime quota on a 429 is a cap, not a rate", "awesometts-anki-addon/issues/254"),
    ("Alibaba Cloud speech: a RAM AccessKey without the speech permission (ErrCode 40020503)",
     "folotoy-server-self-hosting/issues/232"),
    ("Alibaba Cloud speech: an AppKey not of the AccessKey's account", "folotoy-server-self-hosting/issues/149"),
]


HOLDOUT28_RULES = [
    ("An app's 'API key not found. Make sure it is defined' is no key sent", "AI-Youtube-Shorts-Generator/issues/21"),
    ("'Your account doesn't have API access' is the plan's", "StreamingAvatarSDK/issues/3"),
    ("ElevenLabs: the free tier disabled, under the older quota_exceeded status", "ShortGPT/issues/15"),
    ("A relay's 'not authorized to access the requested model' is access", "BettaFish/issues/247"),
    ("Baidu speech: 'request pv too much' is the day's request volume", "wukong-robot/issues/181"),
    ("Volcengine: the public InvalidAccessKey code is the key's", "rtc-aigc-demo/issues/23"),
    ("Alibaba Cloud speech: the free trial's number kept as a number", "tts-now/issues/14"),
    ("iFlytek transcription: 26601 illegal app info is the key's", "Translate-Subtitle-File/issues/84"),
    ("Cloudflare's challenge page without its markup is a gateway's", "litellm/issues/27755"),
    ("Vertex: a feature for allowlisted projects only is access", "generative-ai/issues/1018"),
]


HOLDOUT29_RULES = [
    ("An SDK's 'API key not found for `x` provider. Please set ...' is no key sent", "stagehand/issues/1084"),
    ("A key's 'credit limit reached' is money, whatever status carried it", "aider/issues/2143"),
    ("An app's 'API key quota exceeded' is a cap on the key", "PowerToys/issues/36551"),
]


HOLDOUT30_RULES = [
    ("MiniMax's 'Please carry the API secret key in the ... field' is no key sent, whichever header it names",
     "openclaw/issues/110763"),
    ("A gateway's '403 Key Expired' is the key's", "edgee/pull/127"),
    ("Anthropic's 429 that would exceed the account's monthly spend limit is money", "oh-my-pi/pull/5418"),
    ("A plan that lacks the request with no credits left to pay for it is money", "modeling-app/issues/13082"),
    ("LiteLLM's 'Malformed API Key passed in. Ensure Key has `Bearer ` prefix' is the header, not the key",
     "litellm/issues/5146"),
    ("A quota whose reset is given as '140h 21m' is a cap, not a rate", "OmniRoute/issues/11859"),
    ("An account 'temporarily suspended' and locked is the account's access", "Kiro/issues/8276"),
    ("A key whose plan 'only allows Codex official clients' is access", "9router/issues/2912"),
]


HOLDOUT31_RULES = [
    ("AWS's 'Your account is not authorized to make this call' is the account's access",
     "amazon-translate-video-subtitles-captions-translation/issues/4"),
    ("Google's legacy dailyLimitExceeded ('Daily Limit Exceeded') is a day's quota spent", "easy_translate/issues/46"),
]


HOLDOUT32_RULES = [
    ("IBM Cloud IAM's BXNIM0415E 'Provided API key could not be found' is the key's", "food-coach/issues/28"),
    ("A credit limit over a '60-minute' window is a rate, not a cap", "Kiro/issues/7212"),
    ("Zhipu's 1001 'Header中未收到Authorization参数' is no key sent, whichever header it names",
     "kilocode/issues/3205"),
]


HOLDOUT33_RULES = [
    ("Azure API Management's 'Access denied due to missing subscription key' is no key sent", "openai-apim-lb/issues/31"),
    ("Azure's MissingSubscriptionRegistration (a resource provider not registered) is access",
     "foundry-dev-tools/issues/762"),
    ("ElevenLabs' landing-page quota_exceeded is the allowance of requests without a key", "elevenlabs-docs/issues/302"),
]


HOLDOUT46_RULES = [
    ("OpenAI's model_not_found for a placeholder model id ('model') is our request", "social-to-mealie/issues/93"),
    ("A quota exceeded whose type is a lifetime allowance is money", "type4me/issues/290"),
]


LOOK_ALIKES["forty-sixth"] = ([
    # a placeholder where the model id belongs is our request; a real model the account lacks stays access
    ("openai", {"status_code": 404, "code": "model_not_found", "message": "The model `undefined` does not exist or you "
                "do not have access to it."}, None),
    ("openai", {"status_code": 404, "code": "model_not_found", "message": "The model `gpt-4o-mini` does not exist or you "
                "do not have access to it."}, "permission_denied"),
    # Volcengine speech's quota by type: a lifetime allowance is money, its concurrency quota a rate
    ("volcengine_speech", {"message": "quota exceeded for types: audio_duration_lifetime"}, "quota_exhausted"),
    ("volcengine_speech", {"message": "quota exceeded for types: concurrency"}, None),
],
    ["placeholder-model", "real-model-not-granted", "lifetime-quota", "concurrency-quota"])


HOLDOUT45_RULES = [
    ("An app's 'ANTHROPIC_API_KEY environment variable is required' is no key sent, whatever body came with it",
     "next-ai-draw-io/issues/852"),
    ("AWS's 'The bearer token included in the request is invalid' is the key's, whatever status carried it",
     "AIClient2API/issues/274"),
    ("Chutes' 'you need to add a balance of $5.00' is money", "claude-code-router/issues/432"),
    ("'Coding Plan is currently only available for Coding Agents' is the plan's access under any slug",
     "knowledge-base/issues/14"),
    ("Qianfan's 'Coding Plan API key is not allowed for non-Coding Plan requests' is access without its code",
     "inkos/issues/175"),
]


LOOK_ALIKES["forty-fifth"] = ([
    # the Node SDKs' and apps' missing key variable is no key sent; a key refused that names the variable stays the key's
    ("openai", {"message": "OpenAIError: The OPENAI_API_KEY environment variable is missing or empty; either provide "
                "it, or instantiate the OpenAI client with an apiKey option, like new OpenAI({ apiKey: 'My API Key' })."},
     None),
    ("openai", {"status_code": 401, "message": "Invalid API key. Check that the OPENAI_API_KEY environment variable is "
                "set correctly."}, "invalid_key"),
    # a bearer token AWS refuses is the key's, as its signed form; a request without the token is not
    ("aws", {"status_code": 403, "message": "The bearer token included in the request is invalid."}, "invalid_key"),
    ("openai_compatible", {"status_code": 401, "message": "Bearer token not found"}, None),
    # balance to add is money; a per-minute limit that mentions balance is still a rate
    ("chutes", {"message": "Your account is currently in free mode. To start using Chutes, you need to add a balance "
                "of $5.00."}, "quota_exhausted"),
    ("chutes", {"status_code": 429, "message": "Rate limit exceeded: 60 requests per minute. Add balance to raise your "
                "limit."}, None),
    # plans that serve only coding agents or their own endpoint: access, whatever slug carried them
    ("openai_compatible", {"status_code": 405, "body": {"error": "Coding Plan is currently only available for Coding "
                           "Agents"}}, "permission_denied"),
    ("qianfan", {"message": "Coding Plan API key is not allowed for non-Coding Plan requests"}, "permission_denied"),
    # Pollinations' own answers (gen.pollinations.ai's billing middleware)
    ("pollinations", {"status_code": 401, "message": "A valid API key is required. Get one at "
                      "https://enter.pollinations.ai/keys"}, "invalid_key"),
    ("pollinations", {"status_code": 402, "message": "API key budget is too low for this request"}, "quota_exhausted"),
    ("pollinations", {"status_code": 403, "message": "This API key cannot use the requested model"},
     "permission_denied"),
],
    ["node-sdk-no-key", "key-refused-names-variable", "aws-bearer-refused", "bearer-not-found", "chutes-add-balance",
     "chutes-rate-add-balance", "coding-agents-only", "qianfan-plan-key", "pollinations-key-required",
     "pollinations-key-budget", "pollinations-key-model"])


HOLDOUT44_RULES = [
    ("ModelScope's 'Please bind your Alibaba Cloud account before use.' is access, not the 401's key",
     "QwenPaw/issues/1644"),
]


LOOK_ALIKES["forty-fourth"] = ([
    # an account without the binding ModelScope requires is access; a token it refuses stays the key's
    ("modelscope", {"status_code": 401, "message": "Error code: 401 - {'error': {'message': 'Please bind your Alibaba "
                    "Cloud account before use.'}}"}, "permission_denied"),
    ("modelscope", {"status_code": 401, "message": "Error code: 401 - {'error': {'message': 'Invalid API key'}}"},
     "invalid_key"),
],
    ["modelscope-unbound", "modelscope-bad-token"])


HOLDOUT43_RULES = [
    ("Cloudflare's block page ('Sorry, you have been blocked') is not the key, whatever status carried it",
     "DB-GPT/issues/802"),
    ("An app's own 'OpenAI API Key not found' is no key sent", "chatbot-ui/issues/1192"),
    ("An app's 'API key not found or is not formatted correctly' is no key sent", "gptstudio/issues/39"),
    ("GitHub's 'model access is not permitted per policy settings' is access", "CopilotChat.nvim/issues/433"),
    ("GitHub's 'Your account type is not currently supported' is access, not the 'unauthorized' code's key",
     "CopilotChat.nvim/issues/1052"),
    ("A preview open to 'select customers only' is access", "stability-sdk/issues/282"),
    ("'Organization is not authorized to access any resource' is access", "kibana/issues/283739"),
    ("'This user is inactive.' is the account's access", "zammad/issues/5890"),
]


LOOK_ALIKES["forty-third"] = ([
    # Cloudflare's block page is the edge's, not the key's
    ("openai", {"status_code": 403, "message": "Please enable cookies.\nSorry, you have been blocked\nYou are unable to "
                "access api.openai.com"}, None),
    # an app's own "API key not found" is no key sent; Google's answer to a key it does not know stays the key's
    ("openai", {"message": "Error: OpenAI API Key not found"}, None),
    ("gemini", {"status_code": 400, "message": "API Key not found. Please pass a valid API key."}, "invalid_key"),
    ("openai_compatible", {"status_code": 401, "message": "Invalid API key: a95***. Key not found in system."},
     "invalid_key"),
    # GitHub's plan and policy refusals are access; its bad credentials stay the key's
    ("github_copilot", {"message": "{\"error\":{\"message\":\"model access is not permitted per policy settings\"}}"},
     "permission_denied"),
    ("github_copilot", {"code": "unauthorized", "message": "Your account type is not currently supported"},
     "permission_denied"),
    ("github_copilot", {"status_code": 401, "message": "Bad credentials"}, "invalid_key"),
    # a preview for select customers, an organization not entitled, an inactive user: access
    ("stability", {"message": "Fine-Tuning is currently available in Limited Preview for select customers only"},
     "permission_denied"),
    ("elastic", {"status_code": 403, "message": "Organization is not authorized to access any resource"},
     "permission_denied"),
    ("zammad_ai", {"body": {"error": "This user is inactive."}}, "permission_denied"),
],
    ["cloudflare-block-page", "app-key-not-found", "google-key-not-found", "key-not-found-in-system",
     "copilot-policy", "account-type", "copilot-bad-credentials", "select-customers", "organization-not-authorized",
     "user-inactive"])


HOLDOUT41_RULES = [
    ("Yandex Cloud IAM's 'Permission to [...] denied' is access", "homeassistant-yandexgpt/pull/45"),
    ("OpenCode Go's 'Subscription quota exceeded. You can continue using free models.' is the plan's window spent",
     "OmniRoute/issues/1772"),
    ("'not allowed for this account' is access", "llmgateway/pull/4012"),
    ("A key kind 'not authorized for this route' is access, whatever a bare 403 row says", "OmniRoute/issues/2929"),
    ("A feature unlocked by adding a payment method is the plan's", "gradio/issues/3804"),
    ("Hugging Face's gated-repo request rejected by the repo's authors is access", "fairchem/issues/1439"),
    ("'Access to model org/name is restricted' is access", "kimjammer/Neuro/issues/6"),
    ("A model licence refused ('do not meet the criteria to obtain a license') is access", "llama3/issues/396"),
    ("Hugging Face's 'You must be authenticated to access it' is a request without a token",
     "prov-gigapath/issues/38"),
    ("A 403 'Quota Exceeded' (Azure AI services) is the allowance", "botframework-sdk/issues/2298"),
    ("The ChatGPT backend's token_revoked/token_invalidated inside a gateway's 502 is the credential's", "sub2api/issues/4544"),
    ("omi's LLM gateway's byok_rate_limit inside its 401 credential_failure is a rate limit", "omi/pull/10706"),
]


LOOK_ALIKES["forty-first"] = ([
    # Yandex Cloud IAM's refusal by its resources; a folder ID the request named wrong stays ours
    ("yandex", {"message": "Permission to [resource-manager.folder b1g, resource-manager.cloud b1g] denied"},
     "permission_denied"),
    # OpenCode's subscription limit in both wordings; its rate limit stays a rate
    ("opencode", {"status_code": 429, "message": "Subscription quota exceeded. You can continue using free models."},
     "quota_exhausted"),
    ("opencode", {"status_code": 429, "message": "Subscription quota exceeded. Retry in 4 hours."}, "quota_exhausted"),
    ("opencode", {"status_code": 429, "message": "Rate limit exceeded. Please try again later."}, None),
    # refusals for the account or the key's kind are access; a wrong key stays the key's
    ("openai_compatible", {"status_code": 400, "message": "Access to Anthropic models is not allowed for this "
                           "account"}, "permission_denied"),
    ("fireworks", {"status_code": 403, "message": "Fire Pass API keys are not authorized for this route."},
     "permission_denied"),
    ("fireworks", {"status_code": 401, "message": "Invalid API key"}, "invalid_key"),
    # Hugging Face: a payment method to add is the plan's; a gated repo refused or reset is access; the same repo
    # asked for without a token is ours
    ("huggingface", {"status_code": 403, "message": "You must add a payment method to your account to upgrade the "
                     "hardware of this Space."}, "permission_denied"),
    ("huggingface", {"status_code": 403, "message": "Your request to access model meta-llama/Llama-2-7b-hf has been "
                     "rejected by the repo's authors."}, "permission_denied"),
    ("huggingface", {"status_code": 403, "message": "Your request to access model meta-llama/Llama-3.1-8B has been "
                     "reset by the repo's authors. Visit https://huggingface.co/meta-llama/Llama-3.1-8B to submit a new "
                     "request."}, "permission_denied"),
    ("huggingface", {"message": "Access to model meta-llama/Meta-Llama-3-8B is restricted"}, "permission_denied"),
    ("huggingface", {"status_code": 401, "message": "GatedRepoError: 401 Client Error. Cannot access gated repo for "
                     "url https://huggingface.co/x/y/resolve/main/config.json. Access to model x/y is restricted. You "
                     "must be authenticated to access it."}, None),
    # a licence refused is access
    ("meta", {"message": "Thank you for your interest in using Llama. Unfortunately, you do not meet the criteria to "
              "obtain a license at this time."}, "permission_denied"),
    # a 403 quota with no short window is the allowance; one per minute stays a rate
    ("luis", {"status_code": 403, "message": "Response status code does not indicate success: 403 (Quota Exceeded)."},
     "quota_exhausted"),
    ("azure_translator", {"status_code": 403, "message": "Quota exceeded per minute for this subscription"}, None),
    # the ChatGPT backend's sign-in token invalidated, by its code or its words, also inside a gateway's 502
    ("openai", {"status_code": 401, "code": "token_invalidated", "message": "Your authentication token has been "
                "invalidated. Please try signing in again."}, "invalid_key"),
    ("openai", {"status_code": 502, "message": "upstream error 401: {\"error\": {\"code\": \"token_revoked\"}}"},
     "invalid_key"),
    # omi's LLM gateway wraps every BYOK failure as a 401 credential_failure: its failure class decides
    ("anthropic", {"status_code": 401, "code": "credential_failure", "type": "authentication_error",
                   "message": "provider request failed: byok_rate_limit"}, None),
    ("openai", {"status_code": 401, "code": "credential_failure", "type": "authentication_error",
                "message": "provider request failed: missing_byok_key"}, None),
    ("anthropic", {"status_code": 401, "code": "credential_failure", "type": "authentication_error",
                   "message": "provider request failed: byok_quota"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 401, "code": "credential_failure", "type": "authentication_error",
                           "message": "provider request failed: byok_auth"}, "invalid_key"),
],
    ["yandex-permission-denied", "opencode-go-limit", "opencode-retry-hours", "opencode-rate", "not-allowed-account",
     "fire-pass-route", "fireworks-invalid-key", "hf-payment-method", "hf-gated-rejected", "hf-gated-reset",
     "hf-access-restricted", "hf-anonymous-gated", "llama-licence", "luis-403-quota", "translator-403-per-minute",
     "chatgpt-token-invalidated", "chatgpt-token-revoked-in-502", "omi-gateway-rate-limit", "omi-gateway-no-key",
     "omi-gateway-quota", "omi-gateway-auth"])


HOLDOUT40_RULES = [
    ("Azure API Management's 'missing application credentials or subscription key' is no key sent", "codex/issues/3048"),
    ("Replicate's 'You did not pass an authentication token' is no key sent", "zeke/aimg/issues/1"),
    ("A named IAM permission missing ('does not have [storage.buckets.get] IAM permission') is access",
     "nodejs-automl/issues/254"),
    ("'quota exceeded, check your billing' is insufficient_quota reworded", "voice-transcription/blob"),
    ("Gemini's credits exhausted are money, not a rate", "roni/pull/125"),
    ("'没有获得体验资格' (no eligibility granted) is access", "gpt_academic/issues/1512"),
    ("The Firebase AI SDK's API_NOT_ENABLED ('... API to be enabled') is access", "flutterfire/issues/13542"),
    ("Azure API Management's 'Out of call volume quota' is the quota policy's allowance spent",
     "node-bing-api/issues/34"),
]


LOOK_ALIKES["fortieth"] = ([
    # no key sent to an API behind Azure API Management, in both its wordings; a wrong key stays the key's
    ("azure_openai", {"status_code": 401, "message": "Access denied due to a missing application credentials or "
                      "subscription key. Make sure to include an application token or a subscription key when making "
                      "requests to the API."}, None),
    ("azure_openai", {"status_code": 401, "message": "Access denied due to invalid subscription key or wrong API "
                      "endpoint. Make sure to provide a valid key for an active subscription and use a correct "
                      "regional API endpoint for your resource."}, "invalid_key"),
    # Replicate: no token sent is ours; a token refused is the key's
    ("replicate", {"status_code": 401, "body": {"title": "Unauthenticated", "detail": "You did not pass an "
                   "authentication token", "status": 401}}, None),
    ("replicate", {"status_code": 401, "body": {"title": "Unauthenticated", "detail": "You did not pass a valid "
                   "authentication token", "status": 401}}, "invalid_key"),
    # a named IAM permission missing is access; a permission name in a request error is not
    ("vertex", {"status_code": 403, "message": "Service account sa@p.iam.gserviceaccount.com does not have "
                "`aiplatform.endpoints.predict` IAM permission on the resource"}, "permission_denied"),
    # quota words with billing are money; a per-minute quota stays a rate
    ("openai", {"status_code": 429, "message": "OpenAI quota exceeded. Please check your OpenAI billing and usage "
                "limits."}, "quota_exhausted"),
    ("mistral", {"status_code": 429, "message": "Quota exceeded per minute, please retry later"}, None),
    # Google: credits used up are money; a per-minute quota stays a rate
    ("gemini", {"status_code": 429, "message": "Your prepaid credits are depleted. Add credits in Google AI "
                "Studio."}, "quota_exhausted"),
    ("gemini", {"status_code": 429, "message": "Quota exceeded for metric: generate_content_requests per minute"},
     None),
    # an API to be enabled is access; billing to be enabled stays money
    ("gemini", {"status_code": 403, "message": "The Firebase AI SDK requires the Firebase AI API "
                "('firebasevertexai.googleapis.com') to be enabled in your Firebase project."}, "permission_denied"),
    ("google_cloud", {"status_code": 403, "message": "This API method requires billing to be enabled. Please "
                      "enable billing on project #1 then retry."}, "quota_exhausted"),
    # Azure API Management's quota policy is the allowance; its rate-limit policy stays a rate
    ("bing_search", {"status_code": 403, "message": "Out of call volume quota. Quota will be replenished in "
                     "07:01:20."}, "quota_exhausted"),
    ("bing_search", {"status_code": 429, "message": "Rate limit is exceeded. Try again in 26 seconds."}, None),
],
    ["apim-missing-credentials", "apim-invalid-key", "replicate-no-token", "replicate-invalid-token",
     "iam-permission-named", "quota-billing-words", "quota-per-minute", "gemini-credits-depleted",
     "gemini-quota-per-minute", "firebase-api-not-enabled", "billing-to-be-enabled", "apim-call-volume-quota",
     "apim-rate-limit"])


HOLDOUT39_RULES = [
    ("Codex's 'reached your Codex usage limits' is a plan's window spent", "openai/codex/issues/38405"),
    ("Copilot's 'has reached their quota limit' is money", "git-workflow-skill/pull/184"),
    ("A quota that names its window as an hour is a rate", "tavily-hikari/issues/251"),
    ("'x-api-key header is invalid' is the key's", "composio/issues/1238"),
    ("Tavily's 432 is the plan's usage limit", "alerts_and_ha_dashboard_defaults.rs"),
    ("Anthropic's browser-access header missing is our request, however CORS is rendered", "textgenerator-plugin/issues/315"),
    ("A 401 to a CORS preflight (OPTIONS) is not the key", "LocalAI/issues/6216"),
]


LOOK_ALIKES["thirty-ninth"] = ([
    # Codex's plan windows by their words; a per-minute limit stays a rate
    ("openai", {"message": "You have reached your Codex usage limits for security reviews. Please try again later."},
     "quota_exhausted"),
    ("openai", {"status_code": 429, "message": "Rate limit reached for codex-mini-latest on tokens per min (TPM)"},
     None),
    # a quota reached by their words is money; a window of an hour or less in a JSON field is a rate
    ("github_copilot", {"message": "Copilot was unable to review this pull request because the user who requested "
                        "the review has reached their quota limit"}, "quota_exhausted"),
    ("tavily", {"body": {"error": "quota_exceeded", "window": "hour", "hourly": {"limit": 100, "used": 100}}},
     None),
    ("tavily", {"body": {"error": "quota_exceeded", "window": "month", "monthly": {"limit": 1000, "used": 1000}}},
     "quota_exhausted"),
    # Exa's wording of a refused key; a missing header stays ours
    ("exa", {"status_code": 400, "message": "{\"error\":\"x-api-key header is invalid\"}"}, "invalid_key"),
    ("exa", {"status_code": 401, "message": "x-api-key header is required"}, None),
    # Tavily's own statuses: 432 the plan, 433 the pay-as-you-go cap, 429 a rate, 401 the key
    ("tavily", {"status_code": 432, "message": "This request exceeds your plan's set usage limit."}, "quota_exhausted"),
    ("tavily", {"message": "ForbiddenError: This request exceeds your plan's set usage limit. Please upgrade your "
                "plan"}, "quota_exhausted"),
    ("tavily", {"status_code": 433, "message": "This request exceeds the pay-as-you-go limit."}, "quota_exhausted"),
    ("tavily", {"status_code": 429, "message": "Your request has been blocked due to excessive requests."}, None),
    ("tavily", {"status_code": 401, "message": "Unauthorized: invalid API key."}, "invalid_key"),
    # Anthropic's browser header, however the page broke "CORS"; the organization's CORS setting stays access
    ("anthropic", {"status_code": 401, "type": "authentication_error", "message": "C  ORS requests must set "
                   "'anthropic-dangerous-direct-browser-access' header"}, None),
    # a CORS preflight refused is not the key; a POST refused is
    ("openai_compatible", {"status_code": 401, "message": "WRN Client error ip=1 method=OPTIONS status=401 "
                           "url=/v1/models"}, None),
    ("openai_compatible", {"status_code": 401, "message": "WRN Client error ip=1 method=POST status=401 "
                           "url=/v1/chat/completions"}, "invalid_key"),
],
    ["codex-usage-limits", "codex-per-minute", "copilot-quota-limit", "quota-window-hour", "quota-window-month",
     "exa-header-invalid", "exa-header-required", "tavily-432", "tavily-432-words", "tavily-433", "tavily-429",
     "tavily-401", "anthropic-browser-header", "cors-preflight-options", "post-refused"])


HOLDOUT38_RULES = [
    ("A ChatGPT workspace deactivated (deactivated_workspace) is access, whatever its 402", "llm-for-zotero/issues/74"),
    ("Picovoice's demo words for its activation limit are the plan's device allowance", "porcupine/issues/1433"),
    ("Azure's ExpiredAuthenticationToken is the credential expired", "microsoft-foundry-for-vscode/issues/590"),
    ("An Azure refusal that asks to assign an RBAC role is access", "llmops-gha-demo/issues/7"),
    ("A weekly limit hit is a cap", "amd/gaia/issues/4080"),
    ("A service's own credits insufficient are money", "connectonion/pull/544"),
    ("Gemini's File Search store at its storage limit is a cap", "python-genai/issues/1774"),
    ("OpenAI's phone_number_required is access", "sora2api/issues/54"),
]


LOOK_ALIKES["thirty-eighth"] = ([
    # the ChatGPT backend's deactivated workspace by its code or its words; a workspace not found stays ours
    ("openai", {"status_code": 402, "code": "deactivated_workspace", "message": "HTTP 402"}, "permission_denied"),
    ("openai", {"status_code": 403, "message": "This workspace has been deactivated and can no longer be used."},
     "permission_denied"),
    ("openai", {"status_code": 404, "message": "Workspace not found"}, None),
    # a phone to verify is the account's; a phone number in a request's parameter is ours
    ("openai", {"status_code": 400, "code": "phone_number_required", "type": "server_error",
                "message": "You must verify a phone number before continuing."}, "permission_denied"),
    ("openai", {"status_code": 400, "code": "invalid_phone_number", "message": "Invalid phone number format"}, None),
    # Picovoice's device limit in the demos' words (Python, Unity) is the activation limit; throttling stays a rate
    ("picovoice", {"message": "AccessKey 'abc***' has reached it's temporary device limit"}, "quota_exhausted"),
    ("picovoice", {"message": "AccessKey reached its device limit"}, "quota_exhausted"),
    ("picovoice", {"message": "PorcupineActivationThrottledError: AccessKey has been throttled"}, None),
    # Azure: an expired access token is the credential's; a role to assign is access; a throttled ARM call stays a rate
    ("azure_openai", {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time '5/11/2026 "
                      "5:47:35 AM' is earlier than current UTC time '5/11/2026 5:56:12 AM'."}, "invalid_key"),
    ("azure_openai", {"message": "The access token expiry UTC time '1/2/2026 1:00:00 AM' is earlier than current UTC "
                      "time '1/2/2026 1:05:00 AM'."}, "invalid_key"),
    ("azure_ml", {"code": "UserError", "message": "Access denied due to invalid authentication. Please assign RBAC "
                  "role 'AzureML Data Scientist' to the endpoint."}, "permission_denied"),
    ("azure_openai", {"status_code": 429, "code": "TooManyRequests", "message": "Number of requests for subscription "
                      "exceeded the limit. Please retry after 17 seconds."}, None),
    # a week's limit hit is a cap, an hour's or a minute's stays a rate; a service's own credits short are money
    ("anthropic", {"message": "You've hit your weekly limit · resets Sep 23, 8am (America/Los_Angeles)"},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "You've hit your per-minute limit, retry in 20 seconds"},
     None),
    ("connectonion", {"message": "Insufficient ConnectOnion Credits\nBalance: $0.0018   Required: $0.0025"},
     "quota_exhausted"),
    ("ollama_cloud", {"status_code": 403, "message": "your subscription payment is past due. update your payment "
                      "method: https://ollama.com/settings/billing"}, "quota_exhausted"),
    # Gemini's File Search store full is a cap; a per-minute RESOURCE_EXHAUSTED stays a rate
    ("gemini", {"status_code": 429, "message": "429 RESOURCE_EXHAUSTED. {'error': {'code': 429, 'message': 'Corpus "
                "has reached the storage limit of 1000000000 bytes.', 'status': 'RESOURCE_EXHAUSTED'}}"},
     "quota_exhausted"),
    ("gemini", {"status_code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                "body": {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}}, None),
    # "API key (is) not provided" is no key sent, as "No API key provided"; "a valid API key is not provided" and
    # "not provided or invalid" stay the key's
    ("openai", {"message": "error: api key is not provided for the model"}, None),
    ("openai_compatible", {"status_code": 401, "message": "A valid API key is not provided"}, "invalid_key"),
    ("openai_compatible", {"status_code": 401, "message": "API key not provided or invalid"}, "invalid_key"),
],
    ["workspace-deactivated-code", "workspace-deactivated-words", "workspace-not-found", "phone-number-required",
     "phone-number-parameter", "picovoice-temporary-device-limit", "picovoice-unity-device-limit",
     "picovoice-throttled", "azure-expired-token-code", "azure-expired-token-words", "azure-assign-rbac-role",
     "azure-arm-throttled", "weekly-limit-hit", "per-minute-limit-hit", "service-credits-insufficient",
     "subscription-payment-past-due", "gemini-file-search-storage", "gemini-per-minute-exhausted",
     "api-key-not-provided", "valid-api-key-not-provided", "not-provided-or-invalid"])


HOLDOUT37_RULES = [
    ("The Chinese 'please recharge before use' is money", "ERNIE-SDK/issues/342"),
    ("Google's 'account is not eligible for Antigravity' is access", "antigravity-cli/issues/785"),
    ("'this account is ineligible to use' is access", "Antigravity-Manager/issues/688"),
    ("A limit reached for a monthly request count is a cap", "kiro-gateway/issues/62"),
    ("OpenAI's 'Incorrect API key provided' inside an app's 500 is the 401's", "shinkai-node/pull/706"),
    ("The Qianfan SDK's 'AK(...) is not correct, please check!' is the key refused", "MaxKB/issues/3862"),
    ("An error code missing_scope is access", "Roomote/pull/2542"),
    ("Yandex's 'You have to specify folder ID for user account' is our request's form", "docs/issues/380"),
    ("GigaChat's SDK 'Please use only base64 credentials' is before any request", "gigachat-adapter/issues/7"),
    ("DeepL's 'Authorization failed. Please supply a valid token' is the key's by its wording",
     "bob-plugin-deepl-translate/issues/3"),
    ("The Chinese 'this API may be called by specific accounts only' is access", "omegat-tencent-plugin/pull/5"),
    ("Alibaba Cloud's InvalidAccessKeyId is the key's", "vscode-comment-translate/issues/142"),
]


LOOK_ALIKES["thirty-seventh"] = ([
    # the Qianfan SDK's AuthError names the key in both languages; a model name "not correct" is not the key
    ("qianfan", {"message": "SK(bce-v3***) is not correct, please check! SK(`bce-v3***`) 错误, 请检查！"}, "invalid_key"),
    ("qianfan", {"message": "The model name is not correct, please check the model list"}, None),
    # Alibaba Cloud's InvalidAccessKeyId, by its code or its wording
    ("aliyun_nls", {"code": "InvalidAccessKeyId.NotFound", "message": "Specified access key is not found."},
     "invalid_key"),
    ("dashscope", {"message": "InvalidAccessKeyIdError: Specified access key is not found or invalid."},
     "invalid_key"),
    # DeepL's 403 sentence ends by the auth form; its wrong-endpoint 403 stays ours
    ("deepl", {"message": "Authorization failed. Please supply a valid DeepL-Auth-Key via the Authorization "
               "header."}, "invalid_key"),
    ("deepl", {"status_code": 403, "message": "Wrong endpoint. Use https://api.deepl.com"}, None),
    # Yandex: a folder ID a user account's request lacks is ours; a token refused stays the key's
    ("yandex", {"message": "Error code StatusCode.UNAUTHENTICATED, message: You have to specify folder ID for user "
                "account"}, None),
    ("yandex", {"status_code": 401, "message": "Error code StatusCode.UNAUTHENTICATED, message: The token is "
                "invalid"}, "invalid_key"),
    ("gigachat", {"message": "Invalid credentials format. Please use only base64 credentials (Authorization data, "
                  "not client secret!)"}, None),
    # missing authentication is no key sent; invalid authentication stays the key's
    ("openai_compatible", {"status_code": 401, "message": "{\"error\":\"Unauthorized: missing authentication\"}"},
     None),
    ("openai_compatible", {"status_code": 401, "message": "{\"error\":\"Unauthorized: invalid authentication\"}"},
     "invalid_key"),
    # OpenAI's 401 wording inside an app's 500 is the 401's; a 500 of its own stays a server error
    ("openai", {"status_code": 500, "message": "LLM Provider Unexpected Error: invalid_api_key: Incorrect API key "
                "provided: sk-abc***wxyz. You can find your API key at https://platform.openai.com/account/api-keys."},
     "invalid_key"),
    ("openai", {"status_code": 500, "message": "Internal server error: upstream connect error"}, None),
    # access: a missing scope by its code, an account not eligible, specific accounts only; a request's own
    # ineligibility is not the account's
    ("openai", {"status_code": 401, "code": "missing_scope", "message": "This key cannot generate voice previews."},
     "permission_denied"),
    ("google_cloud", {"status_code": 403, "message": "Eligibility check failed: Your current account is not eligible "
                      "for Antigravity."}, "permission_denied"),
    ("databricks", {"message": "InvalidParameterValue: served entity system.ai.gpt-oss-120b is not eligible for "
                    "provisioned throughput."}, None),
    ("tencent_cloud", {"message": "请求被拒绝，该接口只允许特定账户调用。"}, "permission_denied"),
    # money: "please recharge", a monthly count; a per-minute allowance stays a rate, whatever it asks
    ("baidu_aistudio", {"message": "APIError: token 已经用完毕，请充值后使用"}, "quota_exhausted"),
    ("openai_compatible", {"message": "每分钟请求额度已用尽，请充值或稍后再试"}, None),
    ("kiro", {"message": "You have reached the limit. (reason: MONTHLY_REQUEST_COUNT)"}, "quota_exhausted"),
    ("kiro", {"status_code": 429, "message": "Too many requests (reason: REQUESTS_PER_MINUTE)"}, None),
    # read after it, from the earlier sets' text-given misses: Dify's InvokeAuthorizationError is the provider's
    # refusal of the key; one-api's pre-consume wording and a fork's spent token count are money; OpenAI's billing
    # sentence alone is money; a free relay key "limit to use" named models is access (a per-minute limit stays a rate)
    ("gemini", {"message": "[google] Incorrect model credentials provided, please check and try again."},
     "invalid_key"),
    ("one_api", {"message": "user [3446] quota [-20847155]preConsumedQuota [743]is not enough(request id:1)"},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 401, "message": "{'error': {'code': '', 'message': '[sk-Nt7***Rs9] Token "
                           "count has been exhausted token.RemainCount = 0'}}"}, "quota_exhausted"),
    ("openai", {"message": "Quota exceeded. Check your plan and billing details."}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 403, "message": "403 - limit to use gpt-3.5-turbo and embeddings"},
     "permission_denied"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached: your key is limited to 3 requests per "
                           "minute"}, None),
    # and documented answers no row read yet: GitHub Models' daily limit by its header (its per-minute one stays a
    # rate), Bedrock's use-case form in the console's words, a ChatGPT plan's usage_limit_reached (Codex), a trial's
    # quota, access restricted to a model, a token of the wrong kind for a GitHub endpoint
    ("github_models", {"status_code": 429, "message": "Too Many Requests",
                       "body": "x-ratelimit-type: UserByModelByDay\nretry-after: 24367"}, "quota_exhausted"),
    ("github_models", {"status_code": 429, "message": "Too Many Requests",
                       "body": "x-ratelimit-type: UserByModelByMinute\nretry-after: 24"}, None),
    ("bedrock", {"status_code": 400, "message": "You have not filled out the required use-case form for this model."},
     "permission_denied"),
    ("openai", {"status_code": 429, "type": "usage_limit_reached", "message": "The usage limit has been reached"},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Maxed out trial quota. Please sign up for the paid plan."},
     "quota_exhausted"),
    ("pollinations", {"message": "Access to nanobanana is currently restricted. Please contact support for access."},
     "permission_denied"),
    ("github_copilot", {"message": "bad request: Personal Access Tokens are not supported for this endpoint"},
     "invalid_key"),
],
    ["qianfan-sk-not-correct", "model-name-not-correct", "aliyun-access-key-not-found", "aliyun-access-key-text",
     "deepl-auth-header", "deepl-wrong-endpoint", "yandex-folder-id", "yandex-token-invalid", "gigachat-base64",
     "missing-authentication", "invalid-authentication", "openai-401-in-500", "plain-500", "missing-scope-code",
     "antigravity-not-eligible", "request-not-eligible", "tencent-specific-accounts", "recharge-before-use",
     "per-minute-recharge", "kiro-monthly-count", "kiro-per-minute", "dify-model-credentials",
     "one-api-preconsume", "fork-token-count-exhausted", "billing-sentence-alone", "free-relay-limit-to-use",
     "limited-per-minute", "github-models-day-header", "github-models-minute-header", "bedrock-use-case-form",
     "codex-plan-usage-limit", "trial-quota", "model-access-restricted", "github-pat-wrong-endpoint"])


HOLDOUT36_RULES = [
    ("A relay's 'API_KEY缺失' (API key missing, in Chinese) is no key sent", "grok2api_python/issues/68"),
    ("A quota that resets after more than an hour ('1h50m21s') is a cap, not a rate", "openclaw/issues/15287"),
    ("OpenAI's 'You do not have an account because it has been deleted or deactivated' is access",
     "AutoGPT/issues/6230"),
    ("OpenAI's 'account associated with this API key has been deactivated', without its code, is access",
     "WISE/issues/9"),
    ("Azure's 401 reason phrase in requests' form ('401 Client Error: PermissionDenied') is the key's",
     "core/issues/113470"),
    ("Unstructured's 'API key is missing, please provide an API key in the header' is no key sent",
     "unstructured-api/issues/456"),
    ("'You need an active, paid subscription to use this API' is a plan's access", "marker/issues/542"),
    ("OpenAI's 'Missing bearer or basic authentication in header' is no key sent", "litter/issues/87"),
    ("Anthropic's 'Account role ... does not meet requirements for scope' is access",
     "fix-claude-code-auth-error-reuse-key"),
]


LOOK_ALIKES["thirty-sixth"] = ([
    # a key said to be missing is no key sent; a list of causes ("missing or invalid", "missing, wrong, or expired")
    # leaves the 401 to say it
    ("unstructured", {"status_code": 401, "message": "API key is missing, please provide an API key in the header"},
     None),
    ("openai_compatible", {"status_code": 401, "message": "{\"error\":\"API key is missing or invalid\"}"},
     "invalid_key"),
    ("xiaomi_mimo", {"status_code": 401, "message": "Authentication failed (HTTP 401): Your API key is missing, "
                     "wrong, or expired."}, "invalid_key"),
    ("openai_compatible", {"status_code": 401, "message": "Chat completion request error: UNAUTHORIZED "
                           "{\"error\":\"API_KEY缺失\"}"}, None),
    ("openai_compatible", {"status_code": 401, "message": "{\"type\":\"error\",\"error\":{\"type\":\"AuthError\","
                           "\"message\":\"缺少 API 密钥。\"}}"}, None),
    ("openai_compatible", {"status_code": 401, "message": "错误：API 密钥缺失或无效"}, "invalid_key"),
    ("openai", {"status_code": 401, "message": "401 Unauthorized: Missing bearer or basic authentication in header"},
     None),
    ("openai", {"status_code": 401, "message": "Invalid bearer token"}, "invalid_key"),
    # an account deactivated or deleted is access, with or without OpenAI's code; a key deleted is the key's
    ("openai", {"message": "The OpenAI account associated with this API key has been deactivated"},
     "permission_denied"),
    ("openai", {"message": "You do not have an account because it has been deleted or deactivated. If you believe "
                "this was an error, please contact us through our help center at help.openai.com."},
     "permission_denied"),
    ("tavily", {"status_code": 401, "message": "The account associated with this API key has been deactivated."},
     "permission_denied"),
    ("openai", {"status_code": 401, "message": "The API key associated with this account has been deleted."},
     "invalid_key"),
    # a role short of a scope, a plan without the API: access; Azure's "valid key for an active subscription" stays
    # the key's
    ("anthropic", {"message": "Account role 'user' does not meet requirements for scope 'org:create_api_key'. One of "
                   "these roles is required: claude_code_user, developer, owner, admin"}, "permission_denied"),
    ("datalab", {"message": "You need an active, paid subscription to use this API"}, "permission_denied"),
    ("azure_openai", {"status_code": 401, "message": "Access denied due to invalid subscription key or wrong API "
                      "endpoint. Make sure to provide a valid key for an active subscription and use a correct "
                      "regional API endpoint for your resource."}, "invalid_key"),
    # a wait longer than an hour is a cap; an hour or less, or an hour and no minutes, is a rate
    ("gemini_code_assist", {"status_code": 429, "message": "Cloud Code Assist API error (429): You have exhausted "
                            "your capacity on this model. Your quota will reset after 1h50m21s."}, "quota_exhausted"),
    ("gemini_code_assist", {"status_code": 429, "message": "You have exhausted your capacity on this model. Your "
                            "quota will reset after 59m12s."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached. Please try again in 1h0m0s."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Too many requests. Try again in 1 hour."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Usage limit reached. Try again in 1 hour 30 minutes."},
     "quota_exhausted"),
    # Azure's 401 reason phrase "PermissionDenied" in requests' form is the 401's; a 403 saying it stays access
    ("azure_speech", {"status_code": 401, "message": "401 Client Error: PermissionDenied for url: "
                      "https://eastus.api.cognitive.microsoft.com/sts/v1.0/issueToken"}, "invalid_key"),
    ("azure_speech", {"status_code": 403, "message": "403 Client Error: PermissionDenied for url: "
                      "https://eastus.api.cognitive.microsoft.com/sts/v1.0/issueToken"}, "permission_denied"),
],
    ["unstructured-key-missing", "relay-missing-or-invalid", "list-of-causes", "relay-key-missing-zh",
     "gateway-key-missing-zh", "missing-or-invalid-zh", "openai-no-bearer", "invalid-bearer-token",
     "openai-account-deactivated-text", "openai-account-deleted-or-deactivated", "tavily-account-deactivated",
     "key-deleted", "anthropic-role-scope", "datalab-paid-subscription", "azure-active-subscription",
     "code-assist-reset-over-an-hour", "code-assist-reset-under-an-hour", "one-hour-no-minutes", "one-hour",
     "one-hour-thirty", "azure-401-reason-phrase", "azure-403-permission-denied"])


HOLDOUT35_RULES = [
    ("LiteLLM's 'Missing <provider> API Key ... no key is set either in the environment variables' is our setup",
     "jupyter-ai/issues/1535"),
    ("ragas' OpenAIKeyNotFound is raised before any request", "ragas/issues/502"),
    ("Firecrawl's 401 'Unauthorized: Token missing' is no key sent", "owl/issues/162"),
    ("An app's 500 around Anthropic's typed 400 (the org's API usage limits) is the 400's", "continue/issues/11621"),
    ("Google's 'Multiple authentication credentials received' is our request's form", "obsidian-clipper/pull/792"),
]


LOOK_ALIKES["thirty-fifth"] = ([
    # LiteLLM refusing before any request is ours, under any slug; Anthropic's own refusal of a key stays the key's
    ("anthropic", {"message": "litellm.AuthenticationError: Missing Anthropic API Key - A call is being made to "
                   "anthropic but no key is set either in the environment variables or via params. Please set "
                   "`ANTHROPIC_API_KEY` in your environment vars"}, None),
    ("cloudflare_workers_ai", {"message": "ValueError: Missing Cloudflare API Key - A call is being made to cloudflare "
                               "but no key is set either in the environment variables or via params"}, None),
    ("anthropic", {"message": "litellm.AuthenticationError: AnthropicException - {\"type\":\"error\",\"error\":"
                   "{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}"}, "invalid_key"),
    # ragas' own check is ours; OpenAI's answer to a key stays the key's
    ("openai", {"message": "ragas.exceptions.AzureOpenAIKeyNotFound: Azure OpenAI API key not found!"}, None),
    ("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: sk-abc***wxyz. "
                "You can find your API key at https://platform.openai.com/account/api-keys."}, "invalid_key"),
    # Firecrawl: no token is ours, a token it does not know is the key's, spent credits are money
    ("firecrawl", {"status_code": 401, "message": "Unauthorized: Token missing"}, None),
    ("firecrawl", {"message": "requests.exceptions.HTTPError: Unexpected error during scrape URL: Status code 401. "
                   "Unauthorized: Token missing"}, None),
    ("firecrawl", {"status_code": 401, "message": "Unauthorized: Invalid token"}, "invalid_key"),
    ("firecrawl", {"status_code": 402, "message": "Insufficient credits to perform this request. For more credits, "
                   "you can upgrade your plan at https://firecrawl.dev/pricing."}, "quota_exhausted"),
    # an app's 500 around Anthropic's typed object: the type's documented status decides; Anthropic's own 5xx types
    # stay a server error
    ("anthropic", {"status_code": 500, "body": {"type": "error", "error": {"type": "authentication_error",
                   "message": "invalid x-api-key"}}}, "invalid_key"),
    ("anthropic", {"status_code": 500, "message": "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\","
                   "\"message\":\"Your credit balance is too low to access the Anthropic API.\"}}"}, "quota_exhausted"),
    ("anthropic", {"status_code": 500, "body": {"type": "error", "error": {"type": "api_error", "message":
                   "Internal server error"}}}, None),
    ("anthropic", {"status_code": 529, "body": {"type": "error", "error": {"type": "overloaded_error", "message":
                   "Overloaded"}}}, None),
    ("anthropic", {"status_code": 502, "body": {"type": "error", "error": {"type": "rate_limit_error", "message":
                   "Number of request tokens has exceeded your per-minute rate limit"}}}, None),
    # two credentials in one request are ours; a key Google refuses stays the key's
    ("gemini", {"message": "Multiple authentication credentials received. Please pass only one."}, None),
    ("gemini", {"status_code": 400, "message": "API key not valid. Please pass a valid API key."}, "invalid_key"),
],
    ["litellm-missing-anthropic-key", "litellm-missing-cloudflare-key", "litellm-anthropic-refusal",
     "ragas-azure-key-not-found", "openai-incorrect-key", "firecrawl-token-missing", "firecrawl-token-missing-sdk",
     "firecrawl-invalid-token", "firecrawl-credits", "envelope-typed-authentication", "envelope-typed-billing-escaped",
     "envelope-typed-api-error", "anthropic-overloaded", "envelope-typed-rate-limit", "google-two-credentials",
     "google-key-not-valid"])


HOLDOUT34_RULES = [
    ("LiteLLM's 'No api key passed in' is no key sent", "deeperseeker/issues/2"),
    ("An error identifier 'missing_api_key' is no key sent, whatever code wraps it", "memU/issues/320"),
    ("OpenAI's echo of a key that begins with the auth scheme, quoted, is the scheme sent twice",
     "go-chatgpt-api/issues/229"),
    ("Nomic's SDK 'Your authorization token is no longer valid' is the key refused", "nomic/issues/199"),
    ("A wait written as a Go duration ('Resets in 71h15m27s') is a cap over days", "9router/issues/1400"),
    ("OpenAI's 'You do not have access to the organization tied to the API key' is access", "budibase/issues/17210"),
    ("Anthropic's 'invalid x-api-key' with its words hyphenated is the key's", "griptape-nodes-engine/issues/337"),
]


LOOK_ALIKES["thirty-fourth"] = ([
    # LiteLLM's proxy: no key is ours, a key it cannot find stays the key's
    ("litellm", {"status_code": 401, "code": "401", "type": "auth_error",
                 "message": "Authentication Error, No api key passed in."}, None),
    ("litellm", {"status_code": 401, "message": "Authentication Error, Invalid proxy server token passed. Received API "
                 "Key = sk-...abcd, Key Hash (Token) =1234. Unable to find token in cache or "
                 "`LiteLLM_VerificationTokenTable`"}, "invalid_key"),
    # the identifier says which: missing_api_key is ours, invalid_api_key the key's
    ("openai_compatible", {"status_code": 401, "body": {"error": {"code": "invalid_api_key", "message":
                           "missing_api_key", "type": "authentication_error"}}}, None),
    ("openai_compatible", {"status_code": 401, "body": {"error": {"code": "invalid_api_key", "message":
                           "invalid_api_key", "type": "authentication_error"}}}, "invalid_key"),
    # OpenAI's echo, quoted: a placeholder or the scheme is ours, a key's masked value stays the key's
    ("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: 'undefined'. "
                "You can find your API key at https://platform.openai.com/account/api-keys."}, None),
    ("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: 'sk-abc***wxyz'. "
                "You can find your API key at https://platform.openai.com/account/api-keys."}, "invalid_key"),
    ("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: "
                "'nullabc**wxyz'."}, "invalid_key"),
    # Nomic's SDK: a refused key is the key's; none configured and a 5xx are not
    ("nomic", {"message": "ValueError: Your authorization token is no longer valid. Run `nomic login` to obtain a new "
               "one."}, "invalid_key"),
    ("nomic", {"message": "ValueError: Could not find an authorization token. Run `nomic login` to authorize this "
               "client with the Nomic API."}, None),
    ("nomic", {"message": "Exception: Cannot contact establish a connection with Nomic services."}, None),
    # a Go duration: days are a cap, seconds a rate, in either dialect
    ("openai_compatible", {"status_code": 429, "message": "Weekly limit reached. Resets in 71h15m27s."},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit exceeded. Resets in 0h0m27s."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached on tokens per min (TPM): Limit 100000. "
                           "Please try again in 114h18m0s."}, None),
    ("gemini", {"status_code": 429, "message": "Individual quota reached. Contact your administrator to enable "
                "overages. Resets in 3h2m1s."}, "quota_exhausted"),
    ("gemini", {"status_code": 429, "message": "You have exhausted your capacity on this model. Your quota will reset "
                "after 0s."}, None),
    # OpenAI's organization or project the key's user lost is access; the header of another organization is not
    ("openai", {"status_code": 401, "code": "invalid_organization", "message": "You do not have access to the project "
                "tied to the API key."}, "permission_denied"),
    ("openai", {"message": "AuthenticationError: 401 You do not have access to the organization tied to the API "
                "key."}, "permission_denied"),
    ("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: sk-proj-***"
                "abcd."}, "invalid_key"),
    ("anthropic", {"message": "Invalid-x-api-key"}, "invalid_key"),
],
    ["litellm-no-key", "litellm-unknown-key", "missing-api-key-id", "invalid-api-key-id", "echo-quoted-undefined",
     "echo-quoted-key", "echo-quoted-null-prefix", "nomic-token-refused", "nomic-no-token", "nomic-5xx",
     "go-duration-days", "go-duration-seconds", "go-duration-per-minute-limit", "gemini-go-duration-hours", "gemini-reset-0s", "openai-project-access",
     "openai-organization-access-in-text", "openai-incorrect-key", "anthropic-hyphenated"])


LOOK_ALIKES["thirty-third"] = ([
    # a subscription key missing is ours; one invalid stays the key's
    ("azure_openai", {"status_code": 401, "body": {"statusCode": 401, "message": "Access denied due to missing "
                      "subscription key. Make sure to include subscription key when making requests to an API."}}, None),
    ("azure_openai", {"status_code": 401, "body": {"statusCode": 401, "message": "Access denied due to invalid "
                      "subscription key. Make sure to provide a valid key for an active subscription."}},
     "invalid_key"),
    # a resource provider not registered is access, under the code or in the text alone
    ("azure_ai_foundry", {"status_code": 409, "code": "MissingSubscriptionRegistration", "message": "The "
                          "subscription is not registered to use namespace 'Microsoft.CognitiveServices'."},
     "permission_denied"),
    ("azure_openai", {"message": "Deployment failed: The subscription is not registered to use namespace "
                      "'Microsoft.CognitiveServices'. See https://aka.ms/rps-not-found"}, "permission_denied"),
    # ElevenLabs' landing page's allowance is requests without a key; a key's own quota_exceeded stays money
    ("elevenlabs", {"status_code": 401, "code": "quota_exceeded", "message": "Thanks for trying out our speech "
                    "synthesis! You have reached the limit of available requests on the landing page."}, None),
    ("elevenlabs", {"status_code": 401, "code": "quota_exceeded", "message": "This request exceeds your quota of "
                    "10000. You have 0 credits remaining, while 91 credits are required for this request."},
     "quota_exhausted"),
],
    ["apim-missing-key", "apim-invalid-key", "rp-not-registered", "rp-not-registered-in-text", "landing-page-quota",
     "key-quota-exceeded"])


LOOK_ALIKES["thirty-second"] = ([
    # IAM's unknown key is the key's; its missing header is ours; a Watson service's bare 401 is the key's
    ("ibm_watson", {"status_code": 400, "body": {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could "
                    "not be found."}}, "invalid_key"),
    ("watsonx", {"message": "Failed to get access token: {\"errorCode\":\"BXNIM0415E\",\"errorMessage\":\"Provided API "
                 "key could not be found.\"}"}, "invalid_key"),
    ("ibm_watson", {"status_code": 401, "message": "BXNIM0308E: No authorization header found"}, None),
    ("watson", {"status_code": 401, "body": {"error": "Unauthorized", "code": 401}}, "invalid_key"),
    # a credit limit over minutes clears; over five hours it is a cap
    ("openai_compatible", {"code": "ThrottlingException", "message": "60-minute credit limit exceeded"}, None),
    ("openai_compatible", {"message": "5-hour credit limit exceeded"}, "quota_exhausted"),
    # Zhipu's 1001 in either wording is ours; its 1002 (an illegal token) stays the key's
    ("zhipu", {"status_code": 401, "message": "401 Header中未收到Authorization参数，无法进行身份验证。"}, None),
    ("zhipu", {"status_code": 401, "message": "Header 中未收到 Authentication 参数，无法进行身份验证"}, None),
    ("zhipu", {"status_code": 401, "body": {"error": {"code": "1002", "message": "Authorization Token非法，请确认"
               "Authorization Token正确传递。"}}}, "invalid_key"),
],
    ["iam-key-not-found", "iam-key-not-found-in-text", "iam-no-header", "watson-bare-401", "credit-60-minute",
     "credit-5-hour", "zhipu-1001-authorization", "zhipu-1001-documented", "zhipu-1002"])


LOOK_ALIKES["thirty-first"] = ([
    # an account not authorized to make a call is access; a bare "Unauthorized" stays the key's
    ("aws", {"code": "NotAuthorizedException", "message": "An error occurred (NotAuthorizedException) when calling "
             "the StartTextTranslationJob operation: Your account is not authorized to make this call."},
     "permission_denied"),
    ("openai_compatible", {"status_code": 401, "message": "Unauthorized"}, "invalid_key"),
    # Google's day spent is money; the same words for a call that carried no key are ours
    ("google_cloud", {"message": "EasyTranslate::EasyTranslateException (Daily Limit Exceeded)"}, "quota_exhausted"),
    ("google_cloud", {"status_code": 403, "message": "Daily Limit for Unauthenticated Use Exceeded. Continued use "
                      "requires signup."}, None),
    # Baidu Translate's codes under the `baidu` slug: balance, signature, a service not opened, a rate
    ("baidu", {"body": {"error_code": "54004", "error_msg": "账户余额不足"}}, "quota_exhausted"),
    ("baidu", {"body": {"error_code": "54001", "error_msg": "Invalid Sign"}}, "invalid_key"),
    ("baidu", {"message": "52003 UNAUTHORIZED USER"}, "permission_denied"),
    ("baidu", {"body": {"error_code": "54003", "error_msg": "Invalid Access Limit"}}, None),
],
    ["account-not-authorized", "bare-unauthorized", "daily-limit-exceeded", "daily-limit-unauthenticated",
     "baidu-balance", "baidu-sign", "baidu-unauthorized-user", "baidu-rate"])


LOOK_ALIKES["thirtieth"] = ([
    # a key expired is the key's; an access token expired at an OAuth refresh stays as its table reads it
    ("openai_compatible", {"status_code": 403, "message": "403 Key Expired"}, "invalid_key"),
    ("openai_compatible", {"status_code": 403, "message": "403 Forbidden"}, None),
    # a month's spend limit is money; Anthropic's per-minute 429 stays a rate
    ("anthropic", {"status_code": 429, "type": "rate_limit_error", "message": "This request would exceed your "
                   "account's monthly spend limit. Please try again later."}, "quota_exhausted"),
    ("anthropic", {"status_code": 429, "type": "rate_limit_error", "message": "Number of request tokens has "
                   "exceeded your per-minute rate limit"}, None),
    # a plan that lacks the request with no credits to pay for it is money; a plan that lacks it alone is access
    ("openai_compatible", {"message": "This request is not included in your current plan, and your account has no "
                           "API credits available."}, "quota_exhausted"),
    ("openai_compatible", {"message": "This feature is not available on the free plan"}, "permission_denied"),
    # a reset days away in compact form is a cap; one in minutes is a rate (an hour and two minutes away was a rate
    # too until the thirty-sixth set: no hourly limit asks for a wait longer than an hour, so it is a cap since)
    ("openai_compatible", {"status_code": 429, "message": "All accounts have exhausted their quota (reset after "
                           "140h 21m 10s)"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Too many requests (reset after 1h 2m)"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Too many requests (reset after 58m 10s)"}, None),
    # an account locked or temporarily suspended is access; a service temporarily unavailable is not
    ("openai_compatible", {"status_code": 403, "message": "Your User ID (123) is temporarily suspended. We've "
                           "locked your account as a security precaution."}, "permission_denied"),
    ("openai_compatible", {"status_code": 503, "message": "Service temporarily suspended for maintenance"}, None),
    # a plan's official-client-only key is access; LiteLLM's malformed Bearer header is ours
    ("openai_compatible", {"status_code": 403, "message": "This account only allows Codex official clients"},
     "permission_denied"),
    ("litellm", {"status_code": 401, "message": "Authentication Error, Malformed API Key passed in. Ensure Key has "
                 "`Bearer ` prefix. Passed in: bearer sk-1***"}, None),
],
    ["key-expired", "bare-403", "monthly-spend-limit", "minute-rate", "plan-without-credits", "plan-gated",
     "reset-140h", "reset-1h", "reset-58m", "account-locked", "service-suspended", "official-clients-only",
     "malformed-bearer"])


LOOK_ALIKES["twenty-ninth"] = ([
    # an SDK's refusal naming the provider is no key sent; a provider's "API key not found" stays the key's
    ("anthropic", {"message": "StagehandError: API key not found for `anthropic` provider. Please set the "
                   "ANTHROPIC_API_KEY environment variable or pass an apiKey in the options object."}, None),
    ("gemini", {"status_code": 400, "message": "API Key not found. Please pass a valid API key."}, "invalid_key"),
    # a credit limit reached is money; a rate limit reached is not
    ("openai_compatible", {"status_code": 401, "message": "API key credit limit reached. You can change it on the "
                           "keys page."}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached for requests"}, None),
    # a key's quota exceeded is a cap; a per-minute quota stays a rate
    ("openai", {"message": "API key quota exceeded"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Quota exceeded: 60 requests per minute"}, None),
],
    ["sdk-key-not-found-provider", "google-key-not-found", "credit-limit-reached", "rate-limit-reached",
     "key-quota-exceeded", "minute-quota"])


LOOK_ALIKES["twenty-eighth"] = ([
    # an app's own refusal before any call is no key sent; Google's answer to a key that came stays the key's
    ("openai", {"message": "ValueError: API key not found. Make sure it is defined in the .env file."}, None),
    ("gemini", {"status_code": 400, "message": "API Key not found. Please pass a valid API key."}, "invalid_key"),
    # an account without API access is the plan's; an API without access to a model named by the app stays ours
    ("heygen", {"code": 400599, "message": "Your account doesn't have API access"}, "permission_denied"),
    # ElevenLabs' disabled free tier under quota_exceeded is access; its spent characters stay money
    ("elevenlabs", {"status_code": 401, "body": {"detail": {"status": "quota_exceeded", "message": "Unusual "
                    "activity detected. Free Tier usage disabled."}}}, "permission_denied"),
    ("elevenlabs", {"status_code": 401, "body": {"detail": {"status": "quota_exceeded", "message": "This request "
                    "exceeds your quota of 10000. You have 12 credits remaining."}}}, "quota_exhausted"),
    # a relay key not authorized for the requested model is access; a bare 403 stays unconfirmed
    ("openai_compatible", {"status_code": 403, "message": "Forbidden – key:(950f34) not authorized to access the "
                           "requested model:(gemini-2.0-flash)"}, "permission_denied"),
    ("openai_compatible", {"status_code": 403, "message": "Forbidden"}, None),
    # Baidu speech: the day's volume is money, the second's rate is not
    ("baidu", {"message": "baidu-asr 语音识别出错了: request pv too much"}, "quota_exhausted"),
    ("baidu", {"message": "baidu-asr 语音识别出错了: request qps too much"}, None),
    # Volcengine's invalid AccessKey is the key's; its RPM limit is not
    ("volcengine", {"code": "InvalidAccessKey", "message": "The security token included in the request is "
                    "invalid."}, "invalid_key"),
    ("volcengine", {"code": "RateLimitExceeded.EndpointRPMExceeded", "message": "rpm exceeded"}, None),
    # numeric codes kept as numbers: Alibaba Cloud's ended trial is money, iFlytek's 11200 stays unclear
    ("aliyun_nls", {"status_code": 400, "code": 40000010, "message": "Gateway:FREE TRIAL EXPIRED"}, "quota_exhausted"),
    ("iflytek", {"code": 11200, "message": "11200"}, None),
    ("iflytek", {"code": 26601, "message": "错误码 26601, 错误描述: 非法应用信息|no appId info"}, "invalid_key"),
    # Cloudflare's challenge words are a gateway's page; OpenAI's own 403 text stays OpenAI's
    ("openai", {"status_code": 403, "message": "Enable JavaScript and cookies to continue"}, None),
    ("openai", {"status_code": 403, "body": {"error": {"code": "unsupported_country_region_territory", "message":
                "Country, region, or territory not supported"}}}, None),
    # Vertex: a setting for allowlisted projects is access; an argument our platform got wrong stays ours
    ("vertex", {"code": "FAILED_PRECONDITION", "message": "Project or the user is not allowlisted to turn off child "
                "detection filter"}, "permission_denied"),
    ("vertex", {"code": "INVALID_ARGUMENT", "message": "Request contains an invalid argument."}, None),
],
    ["no-key-make-sure", "google-key-not-found", "heygen-api-access", "elevenlabs-free-tier-disabled",
     "elevenlabs-quota", "relay-requested-model", "bare-403", "baidu-pv", "baidu-qps", "volcengine-access-key",
     "volcengine-rpm", "nls-trial-number", "iflytek-11200", "iflytek-26601", "cloudflare-challenge",
     "openai-region", "vertex-allowlist", "vertex-invalid-argument"])


LOOK_ALIKES["twenty-seventh"] = ([
    # spent credit in a contraction is money; having enough credit said positively is not a refusal at all
    ("tripo", {"message": "Failed to generate mesh: You don't have enough credit to create this task"},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Too many requests, please make sure you have enough "
                           "time between calls"}, None),
    # "please login first" is no credential; a login that was refused stays the key's
    ("comfy_org", {"message": "Unauthorized: Please login first to use this node."}, None),
    ("openai_compatible", {"status_code": 401, "message": "Login failed: invalid API key"}, "invalid_key"),
    # a day's limit in words is a cap; a minute's is a rate
    ("yandex", {"message": "Exceeded the daily limit on the amount of translated text"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit exceeded: 60 requests per minute"}, None),
    # Youdao's numbers are its own: 401 is arrears, 411 a frequency limit, 108 the app ID
    ("youdao", {"body": {"errorCode": "401", "l": "auto2auto"}}, "quota_exhausted"),
    ("youdao", {"body": {"errorCode": "411", "l": "auto2auto"}}, None),
    ("youdao", {"body": {"errorCode": "108", "l": "auto2auto"}}, "invalid_key"),
    # a lifetime quota on a 429 is a cap; a bare 429 stays a rate
    ("languagetools", {"status_code": 429, "message": "{\"error\": \"Exceeded User lifetime quota)\"}"},
     "quota_exhausted"),
    ("languagetools", {"status_code": 429, "message": "{\"error\": \"Too many requests\"}"}, None),
    # Alibaba Cloud's speech codes under the cloud's own slug; a token our platform let lapse is ours
    ("aliyun", {"body": {"ErrMsg": "No permission!", "ErrCode": 40020503}}, "permission_denied"),
    ("aliyun", {"status_code": 400, "body": {"status": 40020105, "message": "Meta:APPKEY_NOT_EXIST:Appkey not "
                                             "exist!"}}, "invalid_key"),
    ("aliyun", {"body": {"status": 40000001, "status_text": "The token 'abc' has expired!", "ErrCode": 40000001}},
     None),
],
    ["tripo-credit", "enough-time", "comfy-login-first", "login-failed-invalid-key", "yandex-daily", "minute-rate",
     "youdao-arrears", "youdao-frequency", "youdao-app-id", "lifetime-quota", "bare-429", "nls-no-permission",
     "nls-appkey", "nls-token-expired"])


LOOK_ALIKES["twenty-sixth"] = ([
    # Claude Code's spent window is money; a bare "limit" word without its reset is left to the rest of the order
    ("anthropic", {"message": "You've hit your limit · resets 3pm (Europe/Berlin)"}, "quota_exhausted"),
    ("anthropic", {"status_code": 429, "body": {"type": "error", "error": {"type": "rate_limit_error", "message":
                   "This request would exceed the rate limit for your organization of 50 requests per minute."}}},
     None),
    # a subscription's third-party use is the plan's; long-context extra usage stays as the sets decided it
    ("anthropic", {"status_code": 400, "message": "Third-party apps now draw from your extra usage, not your plan "
                   "limits. Add more at claude.ai/settings/usage and keep going."}, "permission_denied"),
    ("anthropic", {"status_code": 429, "body": {"type": "error", "error": {"type": "rate_limit_error", "message":
                   "Extra usage is required for long context requests."}}}, None),
    # LiveKit's credits are money; its relayed provider answers read as the OpenAI-compatible table reads them
    ("livekit", {"message": "LLM token credit quota exceeded, category: MaxGatewayCredits, remaining_limit: 0"},
     "quota_exhausted"),
    ("livekit", {"status_code": 429, "message": "Too Many Requests"}, None),
    # no key found is no key sent; a key found and refused stays the key's
    ("openai_compatible", {"status_code": 401, "body": {"message": "No API key found in request"}}, None),
    ("openai_compatible", {"status_code": 401, "body": {"message": "Invalid authentication credentials"}},
     "invalid_key"),
    # Bedrock: an account not authorized for an action is access; a plain validation error stays our request
    ("bedrock", {"message": "An error occurred (ValidationException) when calling the CreateModelInvocationJob "
                 "operation: Your account is not authorized to perform this action. Please create a support case."},
     "permission_denied"),
    ("bedrock", {"message": "An error occurred (ValidationException) when calling the Converse operation: "
                 "messages: text content blocks must be non-empty"}, None),
],
    ["claude-code-window", "anthropic-minute", "third-party-extra-usage", "long-context-extra-usage",
     "livekit-credits", "livekit-429", "no-key-found", "credentials-invalid", "bedrock-account-action",
     "bedrock-validation"])


LOOK_ALIKES["twenty-fifth"] = ([
    # DeepL's 456 is money; its 429 is a rate; a Free key at the Pro host is our routing; its 403 is the key's
    ("deepl", {"status_code": 456, "body": {"message": "Quota Exceeded"}}, "quota_exhausted"),
    ("deepl", {"status_code": 429, "body": {"message": "Too many requests"}}, None),
    ("deepl", {"status_code": 403, "body": {"message": "Wrong endpoint. Use https://api-free.deepl.com"}}, None),
    ("deepl", {"status_code": 403, "message": "Authorization failed. Please supply a valid auth_key parameter."},
     "invalid_key"),
    ("deepl", {"message": "deepl.exceptions.QuotaExceededException: Quota for this billing period has been exceeded, "
               "message: Quota Exceeded"}, "quota_exhausted"),
    # Picovoice: the activation limit is the plan's allowance, a refusal the key's, throttling and a failed
    # activation nobody's
    ("picovoice", {"message": "pvleopard.LeopardActivationLimitError: Leopard failed to initialize"}, "quota_exhausted"),
    ("picovoice", {"message": "PorcupineActivationRefusedError: Porcupine failed to initialize"}, "invalid_key"),
    ("picovoice", {"message": "'pv_cheetah_init' failed with 'ACTIVATION_THROTTLED'"}, None),
    ("picovoice", {"message": "PorcupineActivationError: Porcupine failed to initialize"}, None),
    # Google: a referrer restriction is the key owner's setting under every Google slug; no key at all is our call;
    # a key Google does not know stays the key's
    ("google_tts", {"status_code": 403, "message": "Requests from referer https://example.org/ are blocked."},
     "permission_denied"),
    ("google_cloud", {"status_code": 403, "body": {"error": {"code": 403, "message": "The request is missing a valid "
                      "API key.", "status": "PERMISSION_DENIED"}}}, None),
    ("google_cloud", {"status_code": 400, "body": {"error": {"code": 400, "message": "API key not valid. Please pass "
                      "a valid API key.", "status": "INVALID_ARGUMENT"}}}, "invalid_key"),
    # Anthropic: a subscription token is the plan's, a missing browser header ours, a bad key still the key's
    ("anthropic", {"status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message":
                   "OAuth authentication is currently not supported."}}}, "permission_denied"),
    ("anthropic", {"status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message":
                   "CORS requests must set 'anthropic-dangerous-direct-browser-access' header"}}}, None),
    ("anthropic", {"status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message":
                   "invalid x-api-key"}}}, "invalid_key"),
    # ElevenLabs: only the plan's words make watermark_not_allowed the user's
    ("elevenlabs", {"status_code": 400, "body": {"detail": {"status": "watermark_not_allowed", "message": "Dubbing "
                    "without a watermark is only available for Creator+ users."}}}, "permission_denied"),
    ("elevenlabs", {"status_code": 400, "body": {"detail": {"status": "watermark_not_allowed", "message": "Watermark "
                    "is not allowed here."}}}, None),
],
    ["deepl-456", "deepl-429", "deepl-wrong-endpoint", "deepl-403", "deepl-python-quota", "picovoice-limit",
     "picovoice-refused", "picovoice-throttled", "picovoice-activation-error", "google-referrer", "google-no-key",
     "google-key-not-valid", "anthropic-oauth", "anthropic-cors-header", "anthropic-invalid-key",
     "elevenlabs-watermark-plan", "elevenlabs-watermark-other"])


LOOK_ALIKES["twenty-fourth"] = ([
    # "API key not found" asking the user to set a key is an app with none; Google's, asking for a valid one, is the key's
    ("anthropic", {"message": "API key not found. Please set it in the environment or storage."}, None),
    ("gemini", {"status_code": 400, "message": "API Key not found. Please pass a valid API key.",
                "body": {"error": {"code": 400, "message": "API Key not found. Please pass a valid API key.",
                                   "status": "INVALID_ARGUMENT"}}}, "invalid_key"),
    # LangChain.js refuses before any request, in its older and newer words
    ("openai", {"message": "Error: OpenAI or Azure OpenAI API key or Token Provider not found"}, None),
    # Anthropic's daily token limit is a cap; its per-minute limit stays a rate
    ("anthropic", {"status_code": 429, "body": {"type": "error", "error": {"type": "rate_limit_error", "message":
                   "Number of request tokens has exceeded your daily rate limit"}}}, "quota_exhausted"),
    ("anthropic", {"status_code": 429, "body": {"type": "error", "error": {"type": "rate_limit_error", "message":
                   "Number of request tokens has exceeded your per-minute rate limit"}}}, None),
    # no bearer token in the header is no key sent; a bearer token refused stays the key's
    ("mistral", {"status_code": 401, "message": "Bearer token not found"}, None),
    ("openai_compatible", {"status_code": 401, "message": "Invalid bearer token"}, "invalid_key"),
],
    ["app-key-not-found", "google-key-not-found", "langchain-js-no-key", "anthropic-daily", "anthropic-minute",
     "bearer-not-found", "bearer-invalid"])


LOOK_ALIKES["twenty-third"] = ([
    # only Anthropic's words for a missing header are no key sent; its refusal of a key that came stays the key's
    ("anthropic", {"status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message":
                   "x-api-key header is required"}}}, None),
    ("anthropic", {"status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message":
                   "invalid x-api-key"}}}, "invalid_key"),
    # a masked echo is no key only where its ends are a no-key value's; a real key's masked echo stays the key's
    ("openai", {"status_code": 401, "message": "Incorrect API key provided: sk-no-ke******ired. You can find your API "
                "key at https://platform.openai.com/account/api-keys."}, None),
    ("openai", {"status_code": 401, "message": "Incorrect API key provided: sk-proj-************************abcd. You "
                "can find your API key at https://platform.openai.com/account/api-keys."}, "invalid_key"),
    # a dashboard endpoint refusing an API key is our request; a bare 403 from OpenAI stays its documented access
    ("openai", {"status_code": 403, "message": "Your request to GET /dashboard/billing/credit_grants must be made with "
                "a session key (that is, it can only be made from the browser)."}, None),
    # Vertex's restricted BLOCK_NONE threshold stays our request (the sixteenth set's two labels against one)
    ("vertex", {"status_code": 400, "message": "User has requested a restricted HarmBlockThreshold setting BLOCK_NONE. "
                "You can get access either (a) through an allowlist via your Google account team"}, None),
],
    ["anthropic-no-header", "anthropic-invalid-key", "masked-no-key-echo", "masked-real-key-echo",
     "dashboard-session-key", "vertex-block-none"])


LOOK_ALIKES["twenty-second"] = ([
    # LiteLLM's budget words decide only on the user's own proxy; under another slug they are our platform's proxy
    ("litellm", {"message": "Budget has been exceeded! Current cost: 10.2, Max budget: 10.0"}, "quota_exhausted"),
    ("openai", {"message": "litellm.BudgetExceededError: Budget has been exceeded! Current cost: 10.2, Max budget: "
                "10.0"}, None),
    ("litellm", {"status_code": 401, "message": "Authentication Error - Expired Key. Key Expiry time 2026-01-01 and "
                 "current time 2026-02-01"}, "invalid_key"),
    ("litellm", {"status_code": 401, "body": {"error": {"message": "key not allowed to access model. This key can only "
                 "access models=['gpt-4o-mini']. Tried to access gpt-4o.", "type": "key_model_access_denied"}}},
     "permission_denied"),
    # OpenAI's insufficient_quota sentence is money; its per-minute rate limit stays a rate
    ("openai", {"status_code": 429, "message": "Rate limit reached for gpt-4o in organization org-x on tokens per min "
                "(TPM): Limit 30000, Used 30000, Requested 100. Please try again in 200ms."}, None),
    # a usage limit that clears within the hour stays a rate; a day's window is a cap
    ("openai_compatible", {"message": "You've hit your usage limit. Try again in 45 minutes."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Usage resets over a rolling 24-hour window."},
     "quota_exhausted"),
    # a bare 401 that names the key stays the key, whatever money words come with it
    ("openai_compatible", {"status_code": 401, "message": "Invalid API key. Add credits at https://example.invalid"},
     "invalid_key"),
    # a 1-hour usage limit is a rate; 5 hours is a cap
    ("openai_compatible", {"status_code": 403, "message": "1-hour usage limit"}, None),
    # a header the request lacked is no key sent; a header the provider refused stays the key
    ("nvidia_nim", {"status_code": 401, "message": "Header of type authorization was missing"}, None),
    ("nvidia_nim", {"status_code": 401, "message": "Authentication failed"}, "invalid_key"),
    # a tier word other than Azure's Standard S0 stays unread (an output format an app chose: seventeenth set)
    ("elevenlabs", {"status_code": 403, "message": "Output format 'pcm_44100' is only available on the Pro tier and "
                    "above"}, None),
],
    ["litellm-budget-own-proxy", "litellm-budget-other-slug", "litellm-expired-key", "litellm-key-model-access",
     "openai-per-minute", "usage-limit-minutes", "rolling-24-hours", "bare-401-names-the-key", "one-hour-usage-limit",
     "nvidia-header-missing", "nvidia-auth-failed", "pro-tier-format"])


LOOK_ALIKES["twenty-first"] = ([
    # a wait of hours or days is a cap; a wait in seconds, minutes or one hour stays a rate, whatever its size
    ("openai_compatible", {"status_code": 429, "message": "Rate limit exceeded. Please try again in 3 days."},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit exceeded. Please try again in 1 hour."}, None),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit exceeded. Please try again in 20 minutes."}, None),
    ("azure_openai", {"status_code": 429, "message": "Requests to the ChatCompletions_Create Operation under Azure "
                      "OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing "
                      "tier. Please retry after 86400 seconds."}, None),
    # a daily limit in prose inside a relay's own error stays unread; the code form is the cap
    ("one_api", {"message": "relay error (channel id 2, user id: 1): Open api daily request limit reached"}, None),
    ("openai_compatible", {"status_code": 400, "message": "daily_request_limit_exceeded"}, "quota_exhausted"),
    # a token refused for a missing permission is access; a token refused as invalid stays the key
    ("openai_compatible", {"status_code": 401, "message": "Personal Access Token does not have Models permission"},
     "permission_denied"),
    ("openai_compatible", {"status_code": 401, "message": "Bad credentials"}, "invalid_key"),
    # billing words: Google's billing-disabled is money under any slug; an overdue account is money
    ("google_translate", {"status_code": 403, "message": "This API method requires billing to be enabled. Please "
                          "enable billing on project #1 then retry.", "type": "PERMISSION_DENIED"}, "quota_exhausted"),
    ("openai_compatible", {"status_code": 403, "message": "Your account has an overdue balance"}, "quota_exhausted"),
    # the plan gate reads the free plan's other names, and only with a plan or tier
    ("openai_compatible", {"status_code": 403, "message": "This feature is not available on the trial tier."},
     "permission_denied"),
    ("openai_compatible", {"status_code": 400, "message": "This voice is not available in the lite model."}, None),
],
    ["wait-days", "wait-one-hour", "wait-minutes", "azure-seconds", "relay-daily-prose", "daily-limit-code",
     "token-without-permission", "bad-credentials", "google-billing-any-slug", "overdue-balance", "trial-tier",
     "lite-model-not-plan"])


LOOK_ALIKES["relay definitions"] = ([
    # new-api's and one-api's own token errors (i18n/locales/en.yaml, model/token.go) decide over a bare 401/403:
    # the relay token the user gave us is spent, expired, disabled or limited to other models...
    ("new_api", {"status_code": 401, "message": "This token quota is exhausted TokenStatusExhausted[sk-abc***xyz]"},
     "quota_exhausted"),
    ("new_api", {"status_code": 401, "message": "This token has expired"}, "invalid_key"),
    ("new_api", {"status_code": 401, "message": "This token status is unavailable"}, "invalid_key"),
    ("new_api", {"status_code": 403, "message": "This token has no access to any models"}, "permission_denied"),
    ("new_api", {"status_code": 403, "body": {"error": {"message": "token quota is not enough", "type":
                 "new_api_error", "code": "pre_consume_token_quota_failed"}}}, "quota_exhausted"),
    ("new_api", {"status_code": 403, "body": {"error": {"message": "entitlement is inactive", "type": "new_api_error",
                 "code": "entitlement_inactive"}}}, "permission_denied"),
    # ...while no token reaching it, or the relay's own upstream key or channels, is never the user's token
    ("one_api", {"status_code": 401, "message": "未提供令牌"}, None),
    ("new_api", {"status_code": 401, "message": "Token not provided"}, None),
    ("new_api", {"status_code": 401, "body": {"error": {"message": "invalid api key", "type": "new_api_error",
                 "code": "channel:invalid_key"}}}, None),
    ("new_api", {"status_code": 503, "message": "No available channel for model gpt-4o under group default "
                 "(distributor)"}, None),
],
    ["token-exhausted-401", "token-expired", "token-disabled", "token-model-list", "token-pre-consume",
     "entitlement-inactive", "no-token-zh", "no-token", "relay-channel-key", "no-channel"])


LOOK_ALIKES["twentieth"] = ([
    # Google's INVALID_ARGUMENT stays our request unless it says the model is for billed users only
    ("gemini", {"status_code": 400, "message": '{"error":{"code":400,"message":"Invalid value at \'generation_config\'",'
                '"status":"INVALID_ARGUMENT"}}'}, None),
    ("gemini", {"message": "Imagen API is only accessible to billed users at this time."}, "permission_denied"),
    # new-api: the user's own relay balance (its insufficient_user_quota) stays quota, under any message
    ("new_api", {"status_code": 429, "body": {"error": {"message": "当前分组上游负载已饱和，请稍后再试", "type":
                 "insufficient_quota", "code": "insufficient_user_quota"}}}, "quota_exhausted"),
    ("new_api", {"status_code": 403, "body": {"error": {"message": "user quota is not enough", "type": "new_api_error",
                 "code": "insufficient_user_quota"}}}, "quota_exhausted"),
    # ...and OpenAI's own insufficient_quota, unrewritten, stays quota
    ("new_api", {"status_code": 429, "body": {"error": {"message": "You exceeded your current quota, please check your "
                 "plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}}},
     "quota_exhausted"),
],
    ["gemini-invalid-argument", "imagen-billed-no-status", "new-api-user-quota-rewritten", "new-api-user-quota",
     "relay-passes-openai-quota"])


LOOK_ALIKES["nineteenth"] = ([
    # OpenRouter: a key it does not know, or a header it cannot read, stays the key's
    ("openrouter", {"status_code": 401, "message": "User not found."}, "invalid_key"),
    ("openrouter", {"message": "AI_APICallError: No auth credentials found"}, None),
    ("openrouter", {"status_code": 401, "message": "Invalid credentials"}, "invalid_key"),
    # Gemini: a free-tier model's per-minute 429 stays a rate; a daily free-tier cap stays quota
    ("gemini", {"status_code": 429, "message": "You exceeded your current quota, please check your plan and billing "
                "details. Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_"
                "requests, limit: 10, model: gemini-2.5-flash"}, None),
    ("gemini", {"status_code": 429, "message": "Quota exceeded for quota metric 'Generate Content API requests per "
                "day' GenerateRequestsPerDayPerProjectPerModel-FreeTier"}, "quota_exhausted"),
    # Azure: a management-plane refusal is the role's; its rate limits and a missing deployment stay ours
    ("azure_ai_foundry", {"code": "AuthorizationFailed", "message": "The client 'a@b.c' with object id '0' does not "
                          "have authorization to perform action 'Microsoft.CognitiveServices/accounts/read' over "
                          "scope '/subscriptions/s' or the scope is invalid."}, "permission_denied"),
    ("azure_openai", {"status_code": 404, "code": "DeploymentNotFound", "message": "The API deployment for this "
                      "resource does not exist."}, None),
    ("azure_openai", {"status_code": 429, "message": "Requests to the ChatCompletions_Create Operation have "
                      "exceeded token rate limit of your current OpenAI S0 pricing tier."}, None),
],
    ["openrouter-user-not-found", "openrouter-no-credentials-no-status", "openrouter-invalid-credentials",
     "gemini-free-tier-minute", "gemini-free-tier-day", "azure-arm-authorization-failed", "azure-deployment-missing",
     "azure-token-rate"])


LOOK_ALIKES["seventeenth"] = ([
    # only a text that says no header came is no key sent; an invalid header stays the key's ("No auth credentials
    # found" says none came: no key sent since the nineteenth set, see LOOK_ALIKES["nineteenth"])
    ("openrouter", {"status_code": 401, "message": "No auth credentials found"}, None),
    ("openrouter", {"status_code": 401, "message": "Invalid authentication header"}, "invalid_key"),
    ("cloudflare_ai_gateway", {"status_code": 401, "message": "No or an invalid authentication header was provided "
                               "on the request."}, "invalid_key"),
    # a model id that does not exist stays ours
    ("vertex", {"status_code": 404, "message": "Publisher Model `projects/p/locations/us-central1/publishers/google/"
                "models/gemini-1.0-pro-002` was not found or your project does not have access to it."}, None),
    # new-api's log of a refund that failed is not an answer about the user's quota
    ("new_api", {"message": "return pre-consumed quota failed: record not found"}, None),
    # Tencent Cloud: a frequency limit and a request error stay ours; the common key codes still decide
    ("tencent_cloud", {"code": "LimitExceeded.AccessLimit", "message": "The request frequency exceeds the limit."}, None),
    ("tencent_cloud", {"code": "AuthFailure.SecretIdNotFound", "message": "The SecretId is not found."}, "invalid_key"),
    # RESOURCE_EXHAUSTED without its status is every 429's code: only a 402 is Gemini's spent prepayment
    ("gemini", {"code": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted (e.g. check quota)."}, None),
    ("gemini", {"message": "RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota)."}, None),
    ("gemini", {"status_code": 402, "code": "RESOURCE_EXHAUSTED", "message": "Resource exhausted"}, "quota_exhausted"),
],
    ["no-auth-credentials", "invalid-auth-header", "no-or-invalid-header", "vertex-model-not-found",
     "new-api-refund-log", "tencent-frequency", "tencent-secret-id", "bare-resource-exhausted-code",
     "bare-resource-exhausted-text", "gemini-402"])


LOOK_ALIKES["sixteenth"] = ([
    # Pollinations' spent balance stays money; MiniMax's 2061 decides outside a 5xx, and an explicit 500 stays a
    # server error whatever it says (line 130 of the set: docs/holdout16.md)
    ("pollinations", {"status_code": 402, "message": "Insufficient balance. This model costs ~0.0002 pollen per "
                      "request, but your available balance is 0.0000."}, "quota_exhausted"),
    ("minimax", {"status_code": 400, "message": "your current token plan not support model, MiniMax-M2.7-highspeed "
                 "(2061)"}, "permission_denied"),
    ("minimax", {"status_code": 500, "message": "your current token plan not support model, MiniMax-M2.7-highspeed "
                 "(2061)"}, None),
    ("openai", {"status_code": 402, "message": "Your tier: anonymous"}, "quota_exhausted"),
],
    ["pollen-balance", "minimax-2061-as-400", "minimax-2061-in-a-500", "anonymous-elsewhere"])


LOOK_ALIKES["fifteenth"] = ([
    # a masked key in the echo is a key that reached the provider; only an echo with no key in it is ours
    ("openai", {"status_code": 401, "message": "Incorrect API key provided: sk-proj-************abcd. You can find "
                "your API key at https://platform.openai.com/account/api-keys."}, "invalid_key"),
    ("openai", {"status_code": 401, "message": "Incorrect API key provided: nullable-key-1234. You can find your "
                "API key at https://platform.openai.com/account/api-keys."}, "invalid_key"),
    # the free tier's zero limit of a model stays the user's (a model the free plan lacks, permission_denied since
    # the seventeenth set); only the per-region per-minute limit is where we call from
    ("gemini", {"status_code": 429, "message": "Quota exceeded for metric: generativelanguage.googleapis.com/"
                "generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro"}, "permission_denied"),
    # a content filter that cites the terms is not an account suspension
    ("openai", {"status_code": 400, "message": "Your request was rejected as a result of our safety system. Your "
                "prompt may contain text that is not allowed by our safety system."}, None),
],
    ["masked-key-echo", "word-starting-null", "free-tier-zero-limit", "safety-filter"])


LOOK_ALIKES["fourteenth"] = ([
    # a Cloudflare page, or its name with no provider code beside it, stays a CDN's answer
    ("moonshot", {"status_code": 403, "message": "<!DOCTYPE html><html><title>Attention Required! | Cloudflare</title>"
                  "</html>"}, None),
    ("openai", {"status_code": 403, "message": "403 Forbidden - server: cloudflare"}, None),
    # AWS's clock skew stays ours; only the signature computed over the same string is the secret
    ("aws_transcribe", {"status_code": 403, "message": "Signature expired: 20210116T002411Z is now earlier than "
                        "20210116T003911Z (20210116T004411Z - 5 min.)"}, None),
],
    ["cloudflare-page", "cloudflare-header-alone", "aws-clock-skew"])


LOOK_ALIKES["thirteenth"] = ([
    # a wrong ElevenLabs key stays a wrong key; only the answer to no key at all is ours
    ("elevenlabs", {"status_code": 401, "message": "{'detail': {'status': 'invalid_api_key', 'message': 'Invalid API "
                    "key'}}"}, "invalid_key"),
    # DashScope's per-minute allocation stays a rate; a free quota that ran out under a paid account is not the
    # free-tier-only switch's wording
    ("dashscope", {"status_code": 429, "code": "Throttling.AllocationQuota", "message": "Allocated quota exceeded, "
                   "please increase your quota limit."}, None),
],
    ["elevenlabs-wrong-key", "dashscope-per-minute"])


LOOK_ALIKES["twelfth"] = ([
    # transformers' wrapper around a 401 (no token reached the Hub) stays with the 401 rows, not access
    ("huggingface", {"status_code": 401, "type": "OSError", "message": "OSError: You are trying to access a gated "
                     "repo.\nMake sure to have access to it at https://huggingface.co/x/y.\n401 Client Error.\n\n"
                     "Cannot access gated repo for url https://huggingface.co/x/y/resolve/main/config.json.\nRepo "
                     "model x/y is gated. You must be authenticated to access it."}, None),
    # a repository that does not exist is our model id, whatever the wrapper says about tokens
    ("huggingface", {"type": "OSError", "message": "x/y is not a local folder and is not a valid model identifier "
                     "listed on 'https://huggingface.co/models'\nIf this is a private repository, make sure to pass a "
                     "token having permission to this repo"}, None),
],
    ["hf-gated-wrapper-401", "hf-not-a-model-id"])


LOOK_ALIKES["eleventh"] = ([
    # Azure's firewall wording keeps its row; a 403 that only says Forbidden stays unconfirmed
    ("azure_openai", {"status_code": 403, "message": "Access denied due to Virtual Network/Firewall rules."},
     "permission_denied"),
    ("azure_openai", {"status_code": 403, "message": "Forbidden"}, None),
    # OpenRouter's own model-id 404 is ours; the routing setting is the user's
    ("openrouter", {"status_code": 404, "message": "No endpoints found for openai/gpt-9."}, None),
    # a Claude Code token in Claude Code's own dialect of other errors keeps their reading
    ("anthropic", {"status_code": 401, "type": "authentication_error", "message": "invalid x-api-key"}, "invalid_key"),
    # a plan's spent allowance stays money; a plan that lacks a model is access
    ("zhipu", {"message": "Your plan does not include enough credits for this request. Please add credits."},
     "quota_exhausted"),
    ("openai_compatible", {"message": "This model is not included in your current plan"}, "permission_denied"),
    # under any other slug a LiteLLM budget is our platform's proxy; under `litellm` its wording alone was too until
    # the twenty-second set (five such texts labelled money where the text gives the label, four proxy bugs only
    # the thread shows, which the reporter's LiteLLM key read answers: docs/holdout22.md)
    ("openai", {"message": "litellm.BadRequestError: Litellm_proxyException - Budget has been exceeded! Current "
                "cost: 1000.2, Max budget: 1000.0"}, None),
    ("litellm", {"message": "Budget has been exceeded! Current cost: 26.075, Max budget: 0.25"}, "quota_exhausted"),
    ("openai", {"status_code": 429, "message": "429 No deployments available - crossed budget: Exceeded budget for "
                "deployment model_name: gpt-4o: 10.2 >= 10.0"}, None),
],
    ["azure-firewall", "azure-bare-403", "openrouter-model-id", "anthropic-bad-key", "plan-lacks-credits",
     "plan-excludes-model", "litellm-budget-other-slug", "litellm-budget-own-proxy", "deployment-budget-other-slug"])


LOOK_ALIKES["ninth"] = ([
    # OpenAI's own models stay access: organizations are granted models one by one
    ("openai", {"status_code": 404, "message": "The model `gpt-4.5-preview` does not exist or you do not have access "
                "to it."}, "permission_denied"),
    ("openai", {"status_code": 404, "message": "The model `ft:gpt-4o-mini:acme::abc123` does not exist or you do not "
                "have access to it."}, "permission_denied"),
    # ...another vendor's model is ours, with or without a vendor prefix
    ("openai", {"status_code": 404, "message": "The model `claude-3-5-sonnet-latest` does not exist or you do not have "
                "access to it."}, None),
    ("azure_openai", {"message": "The model meta-llama/Llama-3.3-70B-Instruct does not exist or you do not have "
                      "access to it."}, None),
    # a token without the models permission is a scope; a wrong token stays a wrong token
    ("github_models", {"status_code": 401, "message": "Must have 'models' permissions to access this endpoint"},
     "permission_denied"),
    ("github_models", {"status_code": 401, "message": "Bad credentials"}, "invalid_key"),
    # MiniMax's per-minute limit is not its plan's usage window
    ("minimax", {"status_code": 429, "message": "rate limit exceeded(RPM)"}, None),
    ("minimax", {"message": "Token Plan usage limit reached"}, "quota_exhausted"),
    # a bearer token that arrived and was refused is still the key's
    ("openai_compatible", {"status_code": 401, "message": "Invalid bearer token"}, "invalid_key"),
    ("watsonx", {"status_code": 401, "message": "{\"errors\":[{\"code\":\"authentication_no_token\"}]}"}, None),
],
    ["own-model", "own-fine-tune", "claude-on-openai", "llama-on-azure", "models-permission", "bad-credentials",
     "minimax-rpm", "minimax-window", "bearer-refused", "ibm-no-token-code"])


LOOK_ALIKE_CASES = [pytest.param(provider, error, expected, id=f"{name}: {case_id}")
                    for name, (cases, ids) in LOOK_ALIKES.items()
                    for (provider, error, expected), case_id in zip(cases, ids, strict=True)]


@pytest.mark.parametrize("provider,error,expected", LOOK_ALIKE_CASES)
def test_holdout_look_alikes_keep_their_answer(provider, error, expected):
    assert classify(provider, error) == expected


@pytest.mark.parametrize("provider,error,expected", [
    # AWS's common errors are the same for every service: Polly and Transcribe read them with the `aws` table
    ("aws_polly", {"message": "An error occurred (UnrecognizedClientException) when calling the SynthesizeSpeech "
                   "operation: The security token included in the request is invalid."}, "invalid_key"),
    ("transcribe", {"type": "AccessDeniedException", "message": "User: arn:aws:iam::123456789012:user/x is not "
                    "authorized to perform: transcribe:StartStreamTranscription"}, "permission_denied"),
    ("polly", {"message": "An error occurred (ThrottlingException) when calling the SynthesizeSpeech operation: "
               "Rate exceeded"}, None),
    ("polly", {"message": "botocore.exceptions.NoCredentialsError: Unable to locate credentials"}, None),
    # ...and so does an unknown slug whose text has botocore's shape
    ("sagemaker", {"message": "An error occurred (ExpiredTokenException) when calling the InvokeEndpoint operation: "
                   "The security token included in the request is expired"}, "invalid_key"),
    ("sagemaker", {"message": "An error occurred (ValidationError) when calling the InvokeEndpoint operation: "
                   "Endpoint x of account 123 not found."}, None),
    # a monthly allowance used up is money, a monthly figure beside a per-minute limit is not
    ("openai_compatible", {"status_code": 403, "message": "Your account has exceeded its monthly usage limit"},
     "quota_exhausted"),
    ("openai_compatible", {"status_code": 429, "message": "Rate limit reached: 100 requests per minute (monthly "
                           "quota resets on the 1st)"}, None),
    # Volcengine's speech API (openspeech) answers access errors in words its FAQ defines, under its own code
    # (3001 is every invalid request's): the words decide, under the speech slug or the Ark slug a backend may send
    ("volcengine_speech", {"status_code": 403, "message": '{"reqid":"r","code":3001,"message":"[resource_id='
                           'volc.bigasr.sauc.duration] requested resource not granted"}'}, "permission_denied"),
    ("volcengine", {"status_code": 401, "message": "authenticate request: load grant: requested grant not found"},
     "invalid_key"),
    ("doubao_tts", {"message": "quota exceeded for types: concurrency"}, None),
    ("volcengine_speech", {"status_code": 401, "message": "authenticate request: authentication signature from "
                           "request: invalid authorization method requested"}, None),
    ("volcengine_speech", {"code": "3001", "message": "invalid request: operation is not supported"}, None),
    ("volcengine", {"status_code": 401, "code": "AuthenticationError", "message": "The API key or AK/SK in the "
                    "request is missing or invalid."}, "invalid_key"),
    # Baidu speech synthesis: its character allowance used up is money, its QPS limit is not
    ("baidu", {"message": '{"err_no": 16, "err_msg": "Open api characters limit reached"}'}, "quota_exhausted"),
    ("baidu", {"message": '{"err_no": 13, "err_msg": "Open api qps request limit reached"}'}, None),
    # Anthropic's error details (anthropic-sdk-python 2.14, types/shared): the user's own encryption key turned off is
    # an account setting, a Claude Code key whose creator left is dead; a ramp limit and a sandbox's egress are not
    # theirs, whatever the 429 or 403 type says
    ("anthropic", {"status_code": 400, "body": {"type": "error", "error": {
        "type": "invalid_request_error", "message": "The workspace's customer-managed encryption key is disabled or "
        "revoked.", "details": {"error_code": "cmek_key_disabled"}}}}, "permission_denied"),
    ("anthropic", {"status_code": 400, "body": {"type": "error", "error": {
        "type": "invalid_request_error", "message": "The API key belongs to the Claude Code workspace, and the user who "
        "created it is no longer a member", "details": {"error_code": "claude_code_key_creator_not_member"}}}},
     "invalid_key"),
    ("anthropic", {"status_code": 429, "body": {"type": "error", "error": {
        "type": "rate_limit_error", "message": "The request would exceed a ramp limit.",
        "details": {"error_code": "ramp_limit_exceeded"}}}}, None),
    ("anthropic", {"status_code": 403, "body": {"type": "error", "error": {
        "type": "permission_error", "message": "The request came from a Claude sandbox with restricted network access.",
        "details": {"error_code": "sandbox_egress_restricted"}}}}, None),
    # OpenAI's SessionTurnError codes (openai-python 3.57): a usage, plan or billing limit is money; a safety refusal
    # is not the user's
    ("openai", {"body": {"error": {"code": "usage_limit_exceeded", "message": "The organization has reached a usage, "
                                   "plan, or billing limit."}}}, "quota_exhausted"),
    ("openai", {"code": "cyber_policy", "message": "The request was rejected by a safety policy."}, None),
    # ElevenLabs' realtime sockets (elevenlabs-python's realtime events and payload types): a failed payment is money,
    # terms not accepted are the account's step; a session's time limit is not the user's
    ("elevenlabs", {"status_code": 1008, "body": {"message_type": "payment_issue", "error": "Payment issue"}},
     "quota_exhausted"),
    ("elevenlabs", {"body": {"message_type": "unaccepted_terms", "error": "Terms not accepted"}}, "permission_denied"),
    ("elevenlabs", {"body": {"message_type": "session_time_limit_exceeded", "error": "Session time limit exceeded"}},
     None),
], ids=["polly-unrecognized", "transcribe-iam", "polly-throttling", "polly-no-credentials", "botocore-shape-expired",
        "botocore-shape-validation", "monthly-usage-limit", "per-minute-beside-monthly", "volc-speech-not-granted",
        "volc-speech-grant-not-found", "volc-speech-concurrency", "volc-speech-auth-method", "volc-speech-3001",
        "volc-ark-auth-still", "baidu-tts-characters", "baidu-tts-qps", "anthropic-cmek-disabled",
        "anthropic-claude-code-key-orphaned", "anthropic-ramp-limit", "anthropic-sandbox-egress",
        "openai-session-usage-limit", "openai-session-cyber-policy", "elevenlabs-realtime-payment",
        "elevenlabs-realtime-terms", "elevenlabs-realtime-session-limit"])
def test_documented_dialects_beyond_the_sets(provider, error, expected):
    assert classify(provider, error) == expected


# ------------------------------------------------------------------------------ wrapped forms (issue 3)

WRAPPED = [
    ("python sdk repr", "openai", {"message": "Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-abc***wxyz.', 'type': 'invalid_request_error', 'param': None, 'code': 'invalid_api_key'}}"}, "invalid_key"),
    ("node sdk json", "anthropic", {"message": '402 {"type":"error","error":{"type":"billing_error","message":"Billing error"}}'}, "quota_exhausted"),
    ("google-genai", "gemini", {"message": "403 PERMISSION_DENIED. {'error': {'code': 403, 'message': 'Your API key was reported as leaked. Please use another API key.', 'status': 'PERMISSION_DENIED'}}"}, "invalid_key"),
    ("fern sdk", "deepgram", {"message": "status_code: 402, body: {'err_code': 'ASSET_INSUFFICIENT', 'err_msg': 'Insufficient funds.'}"}, "quota_exhausted"),
    ("deepgram v3", "deepgram", {"type": "DeepgramApiError", "message": "DeepgramApiError: Invalid credentials. (Status: 401)"}, "invalid_key"),
    ("deepgram v3 transient", "deepgram", {"message": "DeepgramApiError: Internal error (Status: 500)"}, None),
    ("litellm auth", "openai", {"message": "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided"}, "invalid_key"),
    ("litellm budget is ours", "openai", {"message": "litellm.BudgetExceededError: Budget has been exceeded! Current cost: 10.2, Max budget: 10.0"}, None),
    ("langchain without status", "anthropic", {"type": "AuthenticationError", "message": "invalid x-api-key"}, "invalid_key"),
    ("sse chunk overloaded", "anthropic", {"message": 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'}, None),
    ("sse chunk billing", "anthropic", {"message": 'event: error\ndata: {"type": "error", "error": {"type": "billing_error", "message": "Your credit balance is too low."}}'}, "quota_exhausted"),
    ("sse mid-stream upstream", "openrouter", {"status_code": 200, "body": {"error": {"code": "server_error", "message": "Provider disconnected unexpectedly"}, "choices": [{"finish_reason": "error"}]}}, None),
    ("websocket 402", "elevenlabs", {"message": "server rejected WebSocket connection: HTTP 402"}, "quota_exhausted"),
    ("timeout", "openai", {"type": "APITimeoutError", "message": "Request timed out."}, None),
    ("unknown provider, OpenAI shape", "together", {"status_code": 401, "body": {"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}}, "invalid_key"),
    ("unknown provider, bare 429", "together", {"status_code": 429, "message": "Too Many Requests"}, None),
    ("bare 403 html from a CDN", "openai", {"status_code": 403, "message": "<html><head><title>Attention Required! | Cloudflare</title></head></html>"}, None),
]


@pytest.mark.parametrize("name,provider,error,expected", WRAPPED, ids=[w[0] for w in WRAPPED])
def test_wrapped_forms(name, provider, error, expected):
    assert classify(provider, error) == expected


# ------------------------------------------------------------------------------------------- robustness

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=200),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
errors = st.fixed_dictionaries({}, optional={
    "status_code": st.none() | st.integers(-1000, 100000) | st.booleans() | st.text(max_size=5),
    "type": json_values, "code": json_values, "message": json_values, "body": json_values,
})


@settings(max_examples=300, deadline=None)
@given(provider=json_values, error=errors | json_values)
def test_never_raises_and_answers_a_reason(provider, error):
    assert classify(provider, error) in REASONS + (None,)


def test_huge_and_deep_inputs_are_bounded():
    deep: object = "insufficient_quota"
    for _ in range(5000):
        deep = {"error": deep}
    huge = {"message": "x" * 5_000_000 + " insufficient_quota", "body": ["y" * 1000] * 10000}
    assert classify("openai", {"body": deep}) is None        # deeper than we follow: no evidence
    assert classify("openai", huge) is None                   # beyond the scanned prefix: no evidence
    assert classify("openai", {"message": "x" * 100 + " insufficient_quota"}) == "quota_exhausted"


def test_the_cached_classifier_agrees_with_the_classifier_on_every_case():
    from functions.classify import classify, classify_cached

    cases = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    for case in cases * 2:  # the second pass is answered from the cache
        assert classify_cached(case["provider"], case["error"]) == classify(case["provider"], case["error"])
    # what JSON cannot encode, or is too large to keep, is classified directly
    odd = {"status_code": 401, "body": {1j}}
    assert classify_cached("openai", odd) == classify("openai", odd) == "invalid_key"
    big = {"status_code": 402, "message": "Insufficient credits " + "x" * 10_000}
    assert classify_cached("openrouter", big) == classify("openrouter", big) == "quota_exhausted"


@pytest.mark.parametrize("provider,error,expected", [
    # a relay that re-encodes the body with json.dumps' default turns 余额不足 into \u escapes: still money
    ("one_api", {"status_code": 403, "message": 'Upstream error: {"error": "{\\"error\\": {\\"message\\": '
                 '\\"\\\\u4f59\\\\u989d\\\\u4e0d\\\\u8db3\\"}}"}'}, "quota_exhausted"),
    # ...a banned user (用户已被封禁) is an account refusal
    ("one_api", {"status_code": 403, "message": 'Upstream error: {"error": "{\\"message\\": '
                 '\\"\\\\u7528\\\\u6237\\\\u5df2\\\\u88ab\\\\u5c01\\\\u7981\\"}"}'}, "permission_denied"),
    # a Windows path's backslash-u is not an escape
    ("openai_compatible", {"status_code": 500, "message": "C:\\users\\app\\upload failed"}, None),
], ids=["escaped-balance", "escaped-banned", "windows-path"])
def test_json_escaped_non_ascii_is_read(provider, error, expected):
    assert classify(provider, error) == expected


def _rule_sets():
    import functions.classify as module
    return [(name, rules) for name, rules in sorted(vars(module).items()) if isinstance(rules, module._Rules)]


def test_every_rule_pattern_is_guarded_by_a_literal_it_needs():
    """Each text rule runs its regex only on texts that hold its literal (a C-speed scan), which keeps a new
    error's cost flat as rules are added: a pattern the guard cannot read (a lookbehind ahead of the word, a class
    first) would run on every text, as one did this session (the 1 MB case went from 1.7 to 2.1 ms). And the
    guard must be sound: on every text of every corpus and every table example, a pattern never matches a text
    that lacks its literal."""
    from functions.classify import _anchors
    texts = []
    for path in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")):
        for case in load_cases(path):
            texts.append(" ".join(json.dumps(case["error"], ensure_ascii=False).lower().split()))
            texts.append(" ".join(str(case["error"].get("message", "")).lower().split()))
    for table in sorted((ROOT / "functions" / "providers").glob("*.json")):
        texts += [" ".join(row["example"].lower().split())
                  for row in json.loads(table.read_text(encoding="utf-8"))["errors"]]
    unguarded, unsound = [], []
    for name, rules in _rule_sets():
        for part in rules.parts:
            anchors = _anchors(part)
            if not anchors:
                unguarded.append((name, part))
                continue
            options = (anchors,) if isinstance(anchors, str) else anchors
            pattern = re.compile(part)
            unsound += [(name, part, t[:80]) for t in texts
                        if pattern.search(t) and not any(a in t for a in options)]
    assert not unguarded
    assert not unsound


# The rules each later held-out set prompted (docs/holdout6.md on), each on its own case: every HOLDOUTn_RULES list
# belongs to the set of its number (the eighth and eighteenth prompted none; the first five have tests of their own).
LATER_RULES = [(HELD_OUT[n], rule, needle) for n in sorted(HELD_OUT) if n >= 6 and f"HOLDOUT{n}_RULES" in globals()
               for rule, needle in globals()[f"HOLDOUT{n}_RULES"]]


def test_every_later_rules_list_is_run():
    """A HOLDOUTn_RULES list defined below LATER_RULES would be left out of it unseen."""
    named = {int(n) for n in re.findall(r"^HOLDOUT(\d+)_RULES = ", Path(__file__).read_text(), re.M) if int(n) >= 6}
    assert named == {int(p.stem.removeprefix("provider_errors_holdout")) for p, _, _ in LATER_RULES}


@pytest.mark.parametrize("path,rule,needle", LATER_RULES,
                         ids=[f"{p.stem.split('_')[-1]}: {r}" for p, r, _ in LATER_RULES])
def test_rule_found_by_a_later_holdout(path, rule, needle):
    # the needle names one source ("issues/15" not also "issues/153")
    found = [c for c in load_cases(path) if re.search(re.escape(needle) + r"(?!\d)", c["source"])]
    assert len(found) == 1, needle
    c = found[0]
    assert classify(c["provider"], c["error"]) == c["expected"], (rule, c["note"])


# The status scan's prefilter (classify._STATUS_WORDS...) skips the regex only on heads it cannot match.
def _prefilter_passes(head: str) -> bool:
    from functions import classify as c
    return (any(w in head for w in c._STATUS_WORDS) or ("http" in head and bool(c._HTTP_NOT_URL.search(head)))
            or bool(c._STATUS_AT_START.match(head)))


def test_the_status_prefilter_never_skips_a_status_the_scan_would_find():
    from functions import classify as c
    heads = [str(case["error"].get("message") or "").lower()[:c._STATUS_HEAD]
             for path in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")) for case in load_cases(path)]
    heads += ["error code: 401 - {...}", "(status: 429)", "http/1.1 403 forbidden", "http 502", "http: 401",
              "unexpected server response: 401", "websocket upgrade failed: authentication error (401)",
              "api error 402: {}", "429 {\"error\": 1}", "google.api_core.exceptions: 400 bad", "x - y: 403 no"]
    found = [h for h in heads if c._text_status(h) is not None]
    assert len(found) > 300
    assert [h for h in found if not _prefilter_passes(h)] == []
    assert sum(not _prefilter_passes(h) for h in heads) > len(heads) / 3   # and it does skip most of the rest


@given(st.text(alphabet="abcdehilnoprstuxy:/ -.()0123456789", max_size=60))
@settings(max_examples=400, deadline=None)
def test_the_status_prefilter_holds_on_any_text(text):
    from functions import classify as c
    if c._text_status(text) is not None:
        assert _prefilter_passes(text)


# The status forms were one alternation searched at every position of the head; each is now tried only where its own
# literal stands. Same answer: the leftmost plausible status, at one place the first form, a status opening the text
# last.
_ONE_ALTERNATION = re.compile(
    r"error code:?\s*(\d{3})\b|\bstatus(?:[ _-]?code)?\W{0,3}(\d{3})\b|\bhttp(?:/[\d.]+)?(?: error| status)?:?\s*(\d{3})\b"
    r"|\bunexpected (?:server )?response(?: code)?:?\s*(\d{3})\b|\bupgrade failed\b[^(\n]{0,60}\((\d{3})\)"
    r"|\bapi error:?\s*(\d{3})\b|^\s*(?:[\w.]++(?: -)?:\s*)*(\d{3})\b(?![.,:]\d)")


def test_the_status_forms_answer_as_one_alternation_on_every_corpus_text():
    from functions import classify as c
    heads = [str(case["error"].get("message") or "").lower()[:c._STATUS_HEAD]
             for path in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")) for case in load_cases(path)]
    assert [h for h in heads if c._text_status(h) != c._error_status_in(_ONE_ALTERNATION, h)] == []


@given(st.lists(st.sampled_from(["error code: ", "status ", "status_code=", "http ", "http/1.1 ", "http error: ",
                                 "unexpected server response: ", "upgrade failed: x (", "api error ", "401", "200",
                                 "429", "503", "1.403", ", ", ": ", " - ", ") ", "x", "openai.error", "\n"]),
                max_size=8))
@settings(max_examples=600, deadline=None)
def test_the_status_forms_answer_as_one_alternation_on_any_text(parts):
    from functions import classify as c
    text = "".join(parts)
    assert c._text_status(text) == c._error_status_in(_ONE_ALTERNATION, text)


# The rule sets run each pattern only as an anchored match where one of its literals stands (classify._Rules): the
# same answer as searching every pattern everywhere, on every corpus text, every table example and generated text.
def _all_rule_sets():
    from functions import classify as c
    return {name: value for name, value in vars(c).items() if isinstance(value, c._Rules)}


def _searched_everywhere(rules, text: str) -> bool:
    return any(re.search(part, text) for part in rules.parts)


def test_the_anchored_rule_sets_answer_as_a_plain_search():
    texts = []
    for path in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")):
        for case in load_cases(path):
            error = case["error"]
            texts.append(" ".join(str(error.get(k) or "") for k in ("type", "code", "message")).lower())
            texts.append(json.dumps(error.get("body"), ensure_ascii=False).lower())
    for path in sorted((ROOT / "functions" / "providers").glob("*.json")):
        texts += [row["example"].lower() for row in json.loads(path.read_text(encoding="utf-8"))["errors"]]
    texts += [prefix + t for t in texts[:400] for prefix in ("x", "invalid or ", "valid ")]
    rule_sets = _all_rule_sets()
    assert len(rule_sets) >= 10 and len(texts) > 5000
    hits = 0
    for name, rules in rule_sets.items():
        for text in texts:
            expected = _searched_everywhere(rules, text)
            assert rules.search(text) == expected, (name, text[:200])
            hits += expected
    assert hits > 1000


@given(st.text(alphabet="abcdefgiklmnoprstuvy _-:.'\"", max_size=80))
@settings(max_examples=300, deadline=None)
def test_the_anchored_rule_sets_hold_on_any_text(text):
    for name, rules in _all_rule_sets().items():
        assert rules.search(text) == _searched_everywhere(rules, text), name


@pytest.mark.parametrize("names,status", [
    ("openai.ratelimiterror wrapped as authenticationerror", 429),   # the leftmost name decides
    ("x unauthenticatedratelimiterror", 401),      # a name that starts first wins, though another starts inside it
    ("apiconnectionerror: connection refused", 503),
    ("request timeout after 30s, then authenticationerror", 503),   # "timeout" as a word of its own
    ("readtimeouterror", 503),
    ("timeouts are set to 30 seconds", None),      # ...and not as part of a longer word
    ("timeoutauthenticationerror", 401),
    ("permissiondeniederror", 403),
    ("nothing here", None),
])
def test_an_exception_class_name_stands_for_its_status(names, status):
    """A wrapper that dropped the status keeps the exception's class name (docs/classification.md): the leftmost
    name decides, at one place the first listed, as the single regex over all names did."""
    from functions.classify import _class_status
    assert _class_status(names) == status
