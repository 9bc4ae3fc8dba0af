"""The new providers' error tables (functions/providers/<slug>.json) hold to the shared table format.

The engine that reads the tables runs every row as an error; these checks catch, before it does, what would
make a row unreadable or wrong: a missing key, a decision outside the four, an id used twice, an alias claimed
by two files, an `inherits` naming nothing, an example that its own `contains` phrases cannot match, or a row
whose example an earlier row of the same file would decide differently (rows are tried in file order). Then
the tables meet the repository's labelled corpora, and docs/classification.md must show every table's decisions
and every row. The format, its semantics and each provider's decisions: docs/classification.md.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "functions" / "providers"

# The tables this suite owns; the 11 existing providers' tables are written and tested elsewhere.
NEW = (
    "openai_compatible", "google_cloud", "google_rpc", "bedrock", "vertex", "anthropic_bedrock",
    "anthropic_vertex", "azure_speech", "cohere", "together", "fireworks", "perplexity", "huggingface",
    "nvidia_nim", "replicate", "deepinfra", "cerebras", "sambanova", "dashscope", "moonshot", "zhipu",
    "siliconflow", "assemblyai", "speechmatics", "cartesia", "google_tts", "google_stt", "openai_realtime",
    "openai_assistants", "gemini_live",
    # the second round (issue 12, fifth held-out set): providers a BYOK app's users bring beyond the list
    "minimax", "volcengine", "qianfan", "hunyuan", "voyageai", "cloudflare_workers_ai", "novita", "github_models",
    "azure_ai_inference", "stability", "gladia", "jina", "watsonx",
    # the third round (issue 12, sixth held-out set, written while it was gathered): smaller hosts and gateways
    "stepfun", "iflytek", "baichuan", "lingyiwanwu", "fal", "venice", "nebius", "hyperbolic", "featherless",
    "chutes", "ai21", "databricks", "ollama_cloud", "sarvam", "vercel_ai_gateway", "aws",
    # the eleventh held-out set: a LiteLLM proxy that is the user's own gateway
    "litellm",
    # the twenty-fifth: translation and wake-word keys a BYOK app's users bring (DeepL, Picovoice's AccessKey); the
    # twenty-sixth: LiveKit Cloud's inference credits; written while the twenty-seventh was gathered: Soniox, Rev.ai;
    # the twenty-seventh's translation and speech keys: Youdao, Alibaba Cloud's speech service, Yandex
    # and, written while the twenty-eighth was gathered, LMNT's speech session errors; written while the thirtieth
    # was gathered, OpenCode's model gateway (Zen and Go), whose credit, limit and model errors answer HTTP 401, and
    # Azure AI Translator's six-digit codes; the thirty-first's Baidu Translate codes (which `qianfan`, the `baidu` slug,
    # inherits); the thirty-second's IBM Watson services and the IAM token exchange every IBM key goes through (which
    # `watsonx` inherits); the thirty-fourth's Nomic (Atlas and Nomic Embed), whose SDK words a refused key itself;
    # the thirty-fifth's Firecrawl, a crawling API agents call with the user's key; the thirty-ninth's Tavily, a search
    # API the same agents call
    "deepl", "picovoice", "livekit", "soniox", "rev_ai", "youdao", "aliyun_nls", "yandex", "lmnt", "opencode",
    "azure_translator", "baidu_translate", "ibm_watson", "nomic", "firecrawl", "tavily",
)
EXISTING = ("openai", "anthropic", "gemini", "openrouter", "deepgram", "elevenlabs", "groq", "mistral", "xai",
            "deepseek", "azure_openai")
DECISIONS = {"invalid_key", "permission_denied", "quota_exhausted", None}
TOP_KEYS = {"provider", "name", "aliases", "inherits", "sources", "errors"}
ROW_KEYS = {"id", "status", "code", "contains", "example", "decision", "why", "source"}
SLUG = re.compile(r"[a-z0-9_]+")
URL = re.compile(r"https://[^\s]+")


def load(slug: str) -> dict:
    return json.loads((TABLES / f"{slug}.json").read_text(encoding="utf-8"))


def all_tables() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(TABLES.glob("*.json"))}


def hay(text: str) -> str:
    return " ".join(text.lower().split())


def as_list(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def matches(row: dict, status, code, text: str) -> bool:
    """The format's matching semantics, as the engine applies them to an error {status_code, code, message}."""
    if row["status"] is not None and status not in as_list(row["status"]):
        return False
    if row["code"] is not None:
        code_l = code.lower() if isinstance(code, str) else None
        if code_l not in {c.lower() for c in as_list(row["code"])}:
            return False
    return all(p in text for p in row["contains"] or [])


def is_status(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and (100 <= value <= 599 or 1000 <= value <= 4999))


@pytest.mark.parametrize("slug", NEW)
def test_table_shape(slug: str) -> None:
    table = load(slug)
    assert set(table) == TOP_KEYS, f"{slug}: keys {sorted(table)}"
    assert table["provider"] == slug and SLUG.fullmatch(slug)
    assert isinstance(table["name"], str) and table["name"].strip()
    assert isinstance(table["aliases"], list) and all(isinstance(a, str) and SLUG.fullmatch(a)
                                                      for a in table["aliases"])
    assert isinstance(table["inherits"], list) and slug not in table["inherits"]
    assert table["sources"] and all(set(s) == {"title", "url"} and URL.fullmatch(s["url"]) and s["title"].strip()
                                    for s in table["sources"])
    assert isinstance(table["errors"], list) and table["errors"] or table["inherits"], \
        f"{slug}: no rows of its own and inherits nothing"


@pytest.mark.parametrize("slug", NEW)
def test_files_are_utf8_two_space_json(slug: str) -> None:
    text = (TABLES / f"{slug}.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", slug


@pytest.mark.parametrize("slug", NEW)
def test_rows_follow_the_format(slug: str) -> None:
    for row in load(slug)["errors"]:
        where = f"{slug} {row.get('id')}"
        assert ROW_KEYS <= set(row) <= ROW_KEYS | {"before_guards", "text"}, f"{where}: keys {sorted(row)}"
        assert row.get("before_guards", False) in (True, False), f"{where}: before_guards must be a boolean"
        assert row["id"].startswith(slug + ".") and SLUG.fullmatch(row["id"].split(".", 1)[1]), where
        status, code, contains = row["status"], row["code"], row["contains"]
        assert status is None or is_status(status) or (
            isinstance(status, list) and status and all(is_status(s) for s in status)), where
        assert code is None or (isinstance(code, str) and code.strip()) or (
            isinstance(code, list) and code and all(isinstance(c, str) and c.strip() for c in code)), where
        assert contains is None or (isinstance(contains, list) and contains and all(
            isinstance(p, str) and p.strip() and p == hay(p) for p in contains)), \
            f"{where}: contains must be lower-case, whitespace-collapsed phrases"
        text = row.get("text")
        assert text is None or (isinstance(text, list) and text and all(
            isinstance(p, str) and p == hay(p) and p in hay(row["example"]) for p in text)), \
            f"{where}: text must be lower-case phrases of the example"
        if code is None and contains is None:
            assert status is not None and re.search(r"status(es)? alone", row["why"]), \
                f"{where}: a status-only row must say in `why` that the provider documents the status alone"
        assert row["decision"] in DECISIONS, where
        assert isinstance(row["example"], str) and row["example"].strip(), where
        assert isinstance(row["why"], str) and row["why"].strip(), where
        assert isinstance(row["source"], str) and URL.fullmatch(row["source"]), where


def test_ids_unique_across_the_folder() -> None:
    seen: dict[str, str] = {}
    for slug, table in all_tables().items():
        for row in table.get("errors", []):
            assert row["id"] not in seen, f"{row['id']} in {slug} and {seen[row['id']]}"
            seen[row["id"]] = slug


def test_aliases_unique_across_the_folder() -> None:
    owner: dict[str, str] = {}
    tables = all_tables()
    for slug in tables:
        owner[slug] = slug
    for slug, table in tables.items():
        for alias in table.get("aliases", []):
            assert alias not in owner, f"alias {alias} of {slug} is already {owner[alias]}"
            owner[alias] = slug
    for slug in EXISTING:
        assert owner.get(slug, slug) == slug, f"{owner[slug]} claims the existing slug {slug}"


def test_inherits_name_tables_that_exist() -> None:
    tables = all_tables()
    known = set(tables) | set(EXISTING)
    for slug in NEW:
        for parent in tables[slug]["inherits"]:
            assert parent in known, f"{slug} inherits unknown {parent}"
    # No cycles: following inherits from any table ends.
    def walk(slug: str, path: tuple[str, ...]) -> None:
        assert slug not in path, f"inherits cycle {' -> '.join(path + (slug,))}"
        for parent in tables.get(slug, {}).get("inherits", []):
            walk(parent, path + (slug,))
    for slug in NEW:
        walk(slug, ())


@pytest.mark.parametrize("slug", NEW)
def test_every_row_is_decided_by_itself_or_an_earlier_row_that_agrees(slug: str) -> None:
    """Run each row's example as the engine will, {status_code, code, message}, with every status and every
    code the row lists (a list has no order an engine must keep): the same decision each time."""
    rows = load(slug)["errors"]
    for row in rows:
        text = hay(row["example"])
        for status in as_list(row["status"]) or [None]:
            for code in as_list(row["code"]) or [None]:
                assert matches(row, status, code, text), f"{row['id']}: its own example does not match it"
                first = next(r for r in rows if matches(r, status, code, text))
                assert first["decision"] == row["decision"], (
                    f"{row['id']} ({row['decision']}) with status {status}, code {code} is decided first by "
                    f"{first['id']} ({first['decision']})")


def test_the_matcher_used_here_can_fail() -> None:
    """The checks above rest on `matches`; it must reject a wrong status, code or phrase."""
    row = {"status": [401, 403], "code": ["Invalid_Key"], "contains": ["bad key"]}
    assert matches(row, 403, "invalid_key", "a bad key here")
    assert not matches(row, 429, "invalid_key", "a bad key here")
    assert not matches(row, 401, "other", "a bad key here")
    assert not matches(row, 401, "invalid_key", "a good key here")
    assert not matches(row, 401, None, "a bad key here")


# ------------------------------------------------------------------------------------------------------
# The tables against the repository's labelled corpora: wherever a row of a new provider's table (or of a
# table it inherits) matches a labelled real error, the row's decision must be the label.

# Only the sets that existed when the tables were written: a later held-out set measures the tables and
# must not become a check they were fitted to (its figure is reported before any fix it prompts).
CORPORA = [ROOT / "tests" / "fixtures" / name for name in (
    "provider_errors.jsonl", "provider_errors_holdout.jsonl", "provider_errors_holdout2.jsonl")]
_CODE_FIELDS = ("code", "type", "status", "reason", "errorCode", "__type")


def _codes(value, out: set, depth: int = 0) -> None:
    """Every code-like field of a body, at any depth, as the format says the engine reads them."""
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _CODE_FIELDS and isinstance(item, (str, int)) and not isinstance(item, bool):
                out.add(str(item).lower())
            _codes(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _codes(item, out, depth + 1)


def first_match(slug: str, tables: dict, status, codes: set, text: str, seen: tuple = ()):
    """The first row that decides, trying `slug`'s rows and then its inherited tables' rows, in order."""
    if slug in seen or slug not in tables:
        return None
    for row in tables[slug]["errors"]:
        if row["status"] is not None and status not in as_list(row["status"]):
            continue
        if row["code"] is not None and not codes & {c.lower() for c in as_list(row["code"])}:
            continue
        if all(p in text for p in row["contains"] or []):
            return row
    for parent in tables[slug]["inherits"]:
        row = first_match(parent, tables, status, codes, text, seen + (slug,))
        if row is not None:
            return row
    return None


def corpus_cases():
    tables = all_tables()
    owner = {slug: slug for slug in NEW}
    for slug in NEW:
        owner.update({alias: slug for alias in tables[slug]["aliases"]})
    for path in CORPORA:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            case = json.loads(line)
            slug = owner.get(str(case.get("provider", "")).strip().lower())
            if slug:
                yield f"{path.name}:{number}", slug, case


_STATUS_IN_TEXT = re.compile(r"error code:?\s*(\d{3})\b|\bstatus(?:[ _-]?code)?\W{0,3}(\d{3})\b"
                             r"|\bhttp(?:/[\d.]+)?(?: error| status)?:?\s*(\d{3})\b|^\W*(\d{3})\b")


def error_status(error: dict):
    """The status as an engine finds it: status_code, a close code sent as `code`, or an SDK's string form."""
    if isinstance(error.get("status_code"), int) and not isinstance(error.get("status_code"), bool):
        return error["status_code"]
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 1000 <= code <= 4999:
        return code
    found = _STATUS_IN_TEXT.search(str(error.get("message") or "")[:1024].lower())
    return int(next(g for g in found.groups() if g)) if found else None


def test_rows_agree_with_the_labelled_corpora() -> None:
    tables = all_tables()
    checked, wrong = 0, []
    for where, slug, case in corpus_cases():
        error = case["error"] if isinstance(case.get("error"), dict) else {}
        status = error_status(error)
        codes: set = set()
        for key in ("code", "type"):
            if isinstance(error.get(key), (str, int)) and not isinstance(error.get(key), bool):
                codes.add(str(error[key]).lower())
        _codes(error.get("body"), codes)
        text = hay(f"{error.get('message') or ''} {json.dumps(error.get('body'), ensure_ascii=False)}")
        row = first_match(slug, tables, status, codes, text)
        if row is None:
            continue
        checked += 1
        if row["decision"] != case.get("expected"):
            wrong.append(f"{where} ({slug}): {row['id']} says {row['decision']}, labelled {case.get('expected')}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 10, f"only {checked} corpus cases met a row: the cross-check has lost its cases"


def test_the_docs_show_every_table_and_row() -> None:
    """docs/classification.md is the human view of the tables: each new table has a section with its sources'
    decisions, and a row added or renamed must appear there (the generated tables keep them in sync)."""
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    for slug in NEW:
        table = load(slug)
        assert f"#### `{slug}`" in doc, f"docs/classification.md has no decisions section for {slug}"
        assert f"(`{slug}`)" in doc, f"docs/classification.md has no generated table for {slug}"
        for row in table["errors"]:
            assert f"`{row['id']}`" in doc, f"docs/classification.md does not show {row['id']}"
