"""The providers' documented error tables (functions/providers/*.json) and the engine that reads them.

Every row of every file in the folder (whoever wrote it) is run as an error and must get its own decision;
the loader's validation, slug resolution, inheritance and order are checked on small tables written here;
the shapes beyond a status (bodies of a 200, SSE error events, WebSocket close frames, HTML pages, Chinese
wording, app envelopes around an upstream failure, SDK set-up errors) each with the verdict they must give.
"""
from __future__ import annotations

import dataclasses

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions import providers
from functions.classify import REASONS, Verdict, classify, classify_cached, explain, explain_cached
from functions.providers import FALLBACK_TABLE, TableError, load

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "classification.md"
REGISTRY = load()


def all_rows():
    for slug, table in sorted(REGISTRY.tables.items()):
        for row in table.rows:
            yield pytest.param(slug, row, id=row.id)


# ------------------------------------------------------------------------------------ every row, run

@pytest.mark.parametrize("slug,row", list(all_rows()))
def test_every_documented_row_decides_its_own_example(slug, row):
    """The row's documented example, as the format says an event carries it, gets the row's decision, and
    that decision is made by this row, by an earlier row of the chain with the same decision, or (for a
    not-actionable row: a 5xx, an overload, a region block) by a guard that is tried before every table."""
    status = min(row.statuses) if row.statuses else None
    code = min(row.codes) if row.codes else None
    verdict = explain(slug, {"status_code": status, "code": code, "message": row.example})
    assert verdict.reason == row.decision, (row.id, verdict)
    chain = REGISTRY.chains[slug]
    ids = [r.id for r in chain.rows]
    if verdict.rule == row.id:
        assert verdict.evidence == "documented"
    elif verdict.rule in ids:
        earlier = chain.rows[ids.index(verdict.rule)]
        assert ids.index(earlier.id) < ids.index(row.id) and earlier.decision == row.decision, (row.id, verdict)
    else:
        assert row.decision is None and verdict.evidence == "guard", (row.id, verdict)


def test_the_tables_cover_the_providers_of_today_with_their_sources():
    for slug in ("openai", "anthropic", "gemini", "openrouter", "deepgram", "elevenlabs", "groq", "mistral",
                 "xai", "deepseek", "azure_openai"):
        table = REGISTRY.tables[slug]
        assert table.sources and len(table.rows) >= 3, slug
        assert all(s["url"].startswith("https://") for s in table.sources)
        decisions = {r.decision for r in table.rows}
        assert None in decisions and decisions & set(REASONS), slug   # both sides documented
    assert sum(len(t.rows) for t in REGISTRY.tables.values()) >= 100


def test_files_are_utf8_two_space_json_and_round_trip():
    for path in sorted(providers.FOLDER.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", path.name


# ------------------------------------------------------------------------------------ slugs

TODAY = ["google", "google_genai", "google-genai", "genai", "gemini", "aistudio", "azure", "azure_openai",
         "azure-openai", "x-ai", "grok", "claude"]
# Vertex slugs belong to the `vertex` table (another branch: it inherits google_cloud then gemini).
VERTEX = ["vertex", "vertex_ai", "vertexai", "vertex-ai", "google_vertex"]


@pytest.mark.parametrize("slug", TODAY)
def test_every_slug_accepted_before_the_tables_still_resolves(slug):
    expected = {"claude": "anthropic", "x-ai": "xai", "grok": "xai"}.get(slug)
    resolved = REGISTRY.resolve(slug)
    if expected:
        assert resolved == expected
    elif "azure" in slug:
        assert resolved == "azure_openai"
    else:
        assert resolved == "gemini"


@pytest.mark.parametrize("slug", VERTEX)
def test_vertex_slugs_read_the_google_dialect_once_the_vertex_table_lands(slug):
    if "vertex" not in REGISTRY.tables:
        pytest.skip("vertex.json is not in this branch yet")
    chain = REGISTRY.chain(slug)
    assert chain.slug == "vertex" and "gemini" in chain.tables


# Slugs issue 12 names for the new providers' tables (written on another branch): once a table is in the folder,
# the slugs a backend sends for it must resolve to it.
NEW_SLUGS = [("aws_bedrock", "bedrock"), ("aws-bedrock", "bedrock"), ("anthropic-bedrock", "anthropic_bedrock"),
             ("anthropic_vertex", "anthropic_vertex"), ("qwen", "dashscope"), ("kimi", "moonshot")]


@pytest.mark.parametrize("slug,table", NEW_SLUGS)
def test_slugs_of_the_new_tables_resolve_once_they_land(slug, table):
    if table not in REGISTRY.tables:
        pytest.skip(f"{table}.json is not in this branch yet")
    assert REGISTRY.resolve(slug) == table


def test_slugs_are_case_and_dash_insensitive():
    assert REGISTRY.resolve(" OpenAI ") == REGISTRY.resolve("open-ai".replace("-", "")) == "openai"
    assert REGISTRY.resolve("Azure-OpenAI") == REGISTRY.resolve("azure_openai") == "azure_openai"
    assert REGISTRY.resolve("Google-GenAI") == "gemini"
    assert REGISTRY.resolve(None) is None and REGISTRY.resolve(42) is None


def write(folder: Path, slug: str, errors: list[dict], **top) -> None:
    doc = {"provider": slug, "name": slug.title(), "aliases": [], "inherits": [],
           "sources": [{"title": "t", "url": "https://example.com/errors"}], "errors": errors}
    doc.update(top)
    (folder / f"{slug}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


def row(rid: str, decision, status=None, code=None, contains=None, example="x", text=None) -> dict:
    return {"id": rid, "status": status, "code": code, "contains": contains, "example": example,
            "decision": decision, "why": "because", "source": "https://example.com/errors"} | (
        {"text": text} if text is not None else {})


def test_an_unknown_slug_uses_the_fallback_table_when_it_exists(tmp_path):
    write(tmp_path, FALLBACK_TABLE, [row(f"{FALLBACK_TABLE}.bad_key", "invalid_key", 401, "invalid_api_key")])
    write(tmp_path, "acme", [row("acme.x", None, code="acme_specific")])
    reg = load(tmp_path)
    assert reg.chain("never-heard-of").slug == FALLBACK_TABLE
    assert reg.chain("acme").slug == "acme"
    hit = reg.chain("never-heard-of").match(401, {"invalid_api_key"}, "")
    assert hit.id == f"{FALLBACK_TABLE}.bad_key"
    # without the fallback file, an unknown slug has no table: the heuristics alone decide
    (tmp_path / f"{FALLBACK_TABLE}.json").unlink()
    assert load(tmp_path).chain("never-heard-of") is None


def test_unknown_provider_without_a_table_still_gets_the_heuristics():
    verdict = explain("some-new-llm", {"status_code": 401, "message": "Invalid API key provided"})
    if FALLBACK_TABLE not in REGISTRY.tables:
        assert verdict == Verdict("invalid_key", "text.invalid_key", "heuristic")
    else:
        assert verdict.reason == "invalid_key"


# ------------------------------------------------------------------------------------ order and inheritance

def test_rows_are_tried_in_file_order_then_inherited_tables_in_order(tmp_path):
    write(tmp_path, "base", [row("base.quota_text", "quota_exhausted", contains=["out of money"]),
                             row("base.auth", "invalid_key", 401, "auth")])
    write(tmp_path, "other", [row("other.auth", "permission_denied", 401, "auth")])
    write(tmp_path, "child", [row("child.rate", None, 429, contains=["per minute"]),
                              row("child.auth_text", "permission_denied", contains=["scope"])],
          inherits=["base", "other"], aliases=["child_alias"])
    reg = load(tmp_path)
    chain = reg.chain("child-alias")
    assert chain.tables == ("child", "base", "other")
    assert [r.id for r in chain.rows] == ["child.rate", "child.auth_text", "base.quota_text", "base.auth", "other.auth"]
    assert chain.match(401, {"auth"}, "").id == "base.auth"                  # base before other
    assert chain.match(401, {"auth"}, "missing scope").id == "child.auth_text"  # own rows first
    assert chain.match(429, set(), "out of money per minute").id == "child.rate"   # first in order wins
    assert chain.match(429, set(), "out of money").id == "base.quota_text"
    assert chain.match(500, {"nothing"}, "nothing") is None


def test_a_rows_text_stands_for_it_when_the_code_and_status_are_dropped(tmp_path, monkeypatch):
    """`text` is the documented wording alone: tried right after its row, reported as that same row, and never
    the row's stand-in for the loose (status-unknown) match or the id lookup."""
    write(tmp_path, "acme", [
        row("acme.broke", "quota_exhausted", 402, "acct_broke", text=["your account is broke"],
            example="Your account is broke. Top up."),
        row("acme.broke_anywhere", None, contains=["account is broke"]),
        row("acme.late", "invalid_key", 401, "bad_key", example="Bad key")])
    reg = load(tmp_path)
    chain = reg.chain("acme")
    assert [(r.id, r.by_text) for r in chain.rows] == [("acme.broke", False), ("acme.broke", True),
                                                     ("acme.broke_anywhere", False), ("acme.late", False)]
    assert chain.match(None, set(), "oops: your account is broke. top up.").id == "acme.broke"
    assert chain.match(500, set(), "your account is broke").by_text                 # any status, as a twin did
    assert chain.match(None, set(), "the account is broke").id == "acme.broke_anywhere"   # all phrases, exactly
    hit = chain.match(None, {"acct_broke"}, "")
    assert hit.id == "acme.broke" and not hit.by_text and hit.statuses == frozenset({402})
    monkeypatch.setattr(providers, "_registry", reg)
    assert explain("acme", {"message": "HTTPError: Your account is broke. Top up."}) == \
        Verdict("quota_exhausted", "acme.broke", "documented")


@pytest.mark.parametrize("bad,match", [
    (row("acme.t", "invalid_key", contains=["x"], text=["x"]), "has neither"),       # nothing to drop
    (row("acme.t", "invalid_key", 401, text=["not in it"], example="Bad key"), "is not in the example"),
    (row("acme.t", "invalid_key", 401, text=["Bad Key"], example="Bad key"), "lower case"),
    (row("acme.t", "invalid_key", 401, text=[], example="Bad key"), "text must be a non-empty list"),
])
def test_a_text_that_cannot_stand_for_its_row_is_refused(tmp_path, bad, match):
    write(tmp_path, "acme", [bad])
    with pytest.raises(TableError, match=match):
        load(tmp_path)


def test_a_null_decision_is_authoritative(tmp_path, monkeypatch):
    write(tmp_path, "acme", [row("acme.rate", None, 429, "rate_limited")])
    monkeypatch.setattr(providers, "_registry", load(tmp_path))
    # the heuristics would say quota (a daily cap), but the documented row says "not actionable"
    err = {"status_code": 429, "code": "rate_limited", "message": "daily limit reached, add credits"}
    assert explain("acme", err) == Verdict(None, "acme.rate", "documented")


@pytest.mark.parametrize("message,code", [
    ("An error occurred (AccessDeniedException) when calling the InvokeModel operation: You don't have access to "
     "the model with the specified model ID.", "AccessDeniedException"),                      # botocore ClientError
    ("<_InactiveRpcError of RPC that terminated with: status = StatusCode.PERMISSION_DENIED details = "
     "\"Permission denied\">", "PERMISSION_DENIED"),                                           # gRPC
    ("google.auth.exceptions.RefreshError: ('invalid_grant: Token has been expired or revoked.', "
     "{'error': 'invalid_grant', 'error_description': 'Token has been expired or revoked.'})", "RefreshError"),
])
def test_codes_are_read_where_sdk_string_forms_put_them(tmp_path, monkeypatch, message, code):
    """A row keyed by a code matches when only str(exception) arrived and the code sits in the SDK's wording."""
    write(tmp_path, "acme", [row("acme.by_code", "permission_denied", code=code)])
    monkeypatch.setattr(providers, "_registry", load(tmp_path))
    assert explain("acme", {"message": message}) == Verdict("permission_denied", "acme.by_code", "documented")
    assert explain("acme", {"message": "nothing of the sort: " + code.lower()[:-2]}).rule != "acme.by_code"


def test_before_guards_rows_run_before_the_guards_and_others_after(tmp_path, monkeypatch):
    """A provider's own page (an HTML 401 of its edge) opts out of the HTML guard; a row without the field,
    whatever it says, never overrides a guard."""
    page = "<html><title>401 Authorization Required</title><center>acme-edge</center></html>"
    early = row("acme.edge_page", "invalid_key", contains=["401 authorization required", "acme-edge"])
    early["before_guards"] = True
    write(tmp_path, "acme", [early])
    write(tmp_path, "bravo", [row("bravo.edge_page", "invalid_key", contains=["401 authorization required"])])
    monkeypatch.setattr(providers, "_registry", load(tmp_path))
    assert explain("acme", {"message": page}) == Verdict("invalid_key", "acme.edge_page", "documented")
    assert explain("bravo", {"message": page}) == Verdict(None, "guard.html_page", "guard")
    # an explicit 5xx is still tried first: a before_guards row cannot turn a server error into an alarm
    assert explain("acme", {"status_code": 502, "message": page}).rule == "guard.server_error"
    assert explain("acme", {"message": "<html>other page</html>"}).rule == "guard.html_page"


def test_a_row_needs_every_non_null_field_to_match(tmp_path):
    write(tmp_path, "acme", [row("acme.x", "invalid_key", [401, 403], ["bad_key", "BadKey"], ["key", "is bad"])])
    chain = load(tmp_path).chain("acme")
    assert chain.match(403, {"badkey"}, "the key is bad").id == "acme.x"     # codes match case-insensitively
    assert chain.match(400, {"badkey"}, "the key is bad") is None            # status outside the list
    assert chain.match(401, {"other"}, "the key is bad") is None             # code absent
    assert chain.match(401, {"bad_key"}, "the key") is None                  # one phrase absent


PHRASES = ["key limit", "free-models-per-day", "api key not valid", "has been disabled", "credit balance is too low",
           "余额不足", "data-0000", "-per-day", "per minute (tpm)", "invalid x-api-key", "no such user here",
           "quota", "key not valid", "is too low", "(rpm)", "not found for api version"]


def linear_first(rows, status, codes, hay):
    """The reference: every row in order, no index. An unknown status waives a row's status where the row also
    names a code or phrases; a row with a status alone never matches an unknown status."""
    for r in rows:
        if r.codes is not None and not (r.codes & set(codes)):
            continue
        if status is None and r.statuses is not None:
            if r.codes is None and r.contains is None:
                continue
            r = dataclasses.replace(r, statuses=None)
        if r.matches(status, hay):
            return next(orig for orig in rows if orig.id == r.id)    # the table's row, status and all
    return None


def test_a_row_decides_by_its_code_or_wording_when_a_wrapper_dropped_the_status():
    """LangChain keeps only str(exception) and many logs lose the status field: a documented row's code or
    wording still decides then, in chain order, but never against a status the error does carry."""
    rows = [providers.Row("t.scope", frozenset({403}), None, ("does not have the required scope",),
                          "permission_denied", "x", "w", "https://example.com", 0),
            providers.Row("t.code", frozenset({402}), frozenset({"asr_payment_required"}), None,
                          "quota_exhausted", "x", "w", "https://example.com", 1),
            providers.Row("t.bare", frozenset({401}), None, None, "invalid_key", "x", "w", "https://example.com", 2),
            providers.Row("t.any", None, None, ("scope",), None, "x", "w", "https://example.com", 3)]
    chain = providers.Chain("t", ("t",), rows)
    hay = "your account does not have the required scope to perform that action"
    assert chain.match(None, set(), hay).id == "t.scope"
    assert chain.match(403, set(), hay).id == "t.scope"
    assert chain.match(429, set(), hay).id == "t.any"          # a status the row does not document: not it
    assert chain.match(None, {"asr_payment_required"}, "project has no credits").id == "t.code"
    assert chain.match(None, set(), "unauthorized") is None    # a status-only row needs the status
    assert chain.match(401, set(), "unauthorized").id == "t.bare"
    # through the classifier: the same documented Deepgram refusal with and without its status
    from functions.classify import explain
    text = "Your account does not have the required scope to perform that action for this project."
    assert explain("deepgram", {"status_code": 403, "message": text}).rule == "deepgram.missing_scope"
    assert explain("deepgram", {"type": "DeepgramApiError", "message": text}).rule == "deepgram.missing_scope"


@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.sampled_from(PHRASES), max_size=4), glue=st.sampled_from(["", " ", "x", "-", ":"]),
       status=st.sampled_from([None, 401, 429]))
def test_indexed_lookup_finds_exactly_what_a_linear_scan_finds(picks, glue, status):
    """Groups larger than the index threshold are found by a whole word of their phrases; the answer must be
    the linear scan's, including phrases glued inside longer words and phrases with no whole word."""
    rows = []
    for i, phrase in enumerate(PHRASES * 3):   # 48 rows with no code: above the word-index threshold
        rows.append(providers.Row(f"t.r{i}", None if i % 3 else frozenset({401}), None, (phrase,), None, "x", "w",
                                  "https://example.com", i))
    chain = providers.Chain("t", ("t",), rows)
    hay = "head" + glue + glue.join(picks) + glue + "tail"
    expected = linear_first(chain.rows, status, set(), hay)
    assert chain.match(status, set(), hay) is expected


# ------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("case,fault,message", [
    ("unknown top key", {"top": {"extra": 1}}, "unknown keys ['extra']"),
    ("unknown row key", {"row": {"severity": "high"}}, "unknown keys ['severity']"),
    ("bad decision", {"row": {"decision": "invalid"}}, "decision 'invalid' is not one of"),
    ("id of another provider", {"row": {"id": "other.x"}}, "must be 'acme.<short_name>'"),
    ("matches everything", {"row": {"status": None, "code": None, "contains": None}}, "would match every error"),
    ("upper-case phrase", {"row": {"contains": ["Invalid Key"]}}, "must be lower case"),
    ("status out of range", {"row": {"status": 99}}, "neither an HTTP status nor a WebSocket close code"),
    ("missing example", {"drop": "example"}, "missing keys ['example']"),
    ("source not a URL", {"row": {"source": "the docs"}}, "source must be a URL"),
    ("file name differs", {"top": {"provider": "acme2"}}, "must be the file's name"),
    ("unknown inherited table", {"top": {"inherits": ["nowhere"]}}, "inherits unknown table 'nowhere'"),
    ("before_guards not a boolean", {"row": {"before_guards": "yes"}}, "before_guards must be true or false"),
    ("before_guards without phrases", {"row": {"before_guards": True}}, "a before_guards row needs phrases"),
    ("before_guards without a decision", {"row": {"before_guards": True, "decision": None, "contains": ["x"]}},
     "a before_guards row needs phrases and a decision"),
])
def test_a_bad_table_is_a_clear_error_naming_the_file(tmp_path, case, fault, message):
    r = row("acme.x", "invalid_key", 401, "bad")
    r.update(fault.get("row", {}))
    r.pop(fault.get("drop", ""), None)
    write(tmp_path, "acme", [r], **fault.get("top", {}))
    with pytest.raises(TableError) as info:
        load(tmp_path)
    assert str(info.value).startswith("acme.json:") and message in str(info.value), str(info.value)


def test_duplicate_ids_aliases_claimed_twice_and_cycles_are_errors(tmp_path):
    write(tmp_path, "acme", [row("acme.x", None, 500), row("acme.x", None, 501)])
    with pytest.raises(TableError, match="id 'acme.x' is already used in acme.json"):
        load(tmp_path)
    write(tmp_path, "acme", [row("acme.x", None, 500)], aliases=["shared"])
    write(tmp_path, "bravo", [row("bravo.x", None, 500)], aliases=["Shared"])
    with pytest.raises(TableError, match="alias 'shared' is already claimed by 'acme'"):
        load(tmp_path)
    write(tmp_path, "bravo", [row("bravo.x", None, 500)], aliases=["acme"])
    with pytest.raises(TableError, match="alias 'acme' is already claimed by 'acme'"):
        load(tmp_path)
    write(tmp_path, "acme", [row("acme.x", None, 500)], inherits=["bravo"])
    write(tmp_path, "bravo", [row("bravo.x", None, 500)], inherits=["acme"])
    with pytest.raises(TableError, match="inherits cycle"):
        load(tmp_path)
    (tmp_path / "bravo.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TableError, match="bravo.json: not readable JSON"):
        load(tmp_path)


def test_a_broken_table_is_loud_never_a_silent_not_actionable(tmp_path, monkeypatch):
    write(tmp_path, "acme", [row("acme.x", "nope", 401, "bad")])
    monkeypatch.setattr(providers, "FOLDER", tmp_path)
    monkeypatch.setattr(providers, "_registry", None)
    with pytest.raises(TableError):
        classify("openai", {"status_code": 401})


def test_the_check_command_validates_the_folder():
    proc = subprocess.run([sys.executable, "-m", "functions.providers", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and f"{len(REGISTRY.tables)} tables" in proc.stdout and proc.stdout.endswith("ok\n")


def test_the_tables_load_once_per_process_even_under_threads(monkeypatch):
    calls = []
    real = providers.load

    def counting(folder=providers.FOLDER):
        calls.append(folder)
        return real(folder)

    monkeypatch.setattr(providers, "load", counting)
    monkeypatch.setattr(providers, "_registry", None)
    seen = []
    barrier = threading.Barrier(16)

    def worker():
        barrier.wait()
        seen.append(providers.registry())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in seen}) == 1


# ------------------------------------------------------------------------------------ shapes beyond a status

QUOTA_TEXT = ("You exceeded your current quota, please check your plan and billing details. For more information "
              "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.")
SHAPES = [
    # HTTP 200 answers that carry a failure
    ("assistants run failed for quota", "openai",
     {"status_code": 200, "body": {"object": "thread.run", "status": "failed",
                                   "last_error": {"code": "rate_limit_exceeded", "message": QUOTA_TEXT}}},
     "quota_exhausted", "openai.quota_in_a_rate_limit_code"),
    ("assistants run failed on the server", "openai",
     {"status_code": 200, "body": {"object": "thread.run", "status": "failed",
                                   "last_error": {"code": "server_error", "message": "Sorry, something went wrong."}}},
     None, "openai.server_error"),
    ("assistants run rate limited per minute", "openai",
     {"status_code": 200, "body": {"status": "failed", "last_error": {
         "code": "rate_limit_exceeded", "message": "Rate limit reached for gpt-4o in organization org-abc on "
                                                   "tokens per min (TPM): Limit 30000. Please try again in 2s."}}},
     None, "openai.rate_limit_per_minute"),
    ("responses stream response.failed", "openai",
     {"message": 'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed",'
                 '"error":{"code":"server_error","message":"An error occurred while processing your request."}}}'},
     None, "openai.server_error"),
    ("realtime error event, quota", "openai",
     {"message": '{"type":"error","event_id":"evt_1","error":{"type":"insufficient_quota",'
                 '"code":"insufficient_quota","message":"' + QUOTA_TEXT + '"}}'},
     "quota_exhausted", "openai.insufficient_quota"),
    ("anthropic SSE error event, overloaded", "anthropic",
     {"status_code": 200, "message": 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
                                     '"message": "Overloaded"}}'},
     None, "anthropic.overloaded_error"),
    ("anthropic 200 body with an authentication error", "anthropic",
     {"status_code": 200, "body": {"type": "error", "error": {"type": "authentication_error",
                                                              "message": "invalid x-api-key"}}},
     "invalid_key", "anthropic.authentication_error"),
    # WebSocket close frames: the reason text decides, never the code alone
    ("gemini live 1008 bad key", "gemini",
     {"status_code": 1008, "message": "API key not valid. Please pass a valid API key."},
     "invalid_key", "gemini.api_key_not_valid"),
    ("websockets library close text", "gemini",
     {"message": "received 1008 (policy violation) API key not valid. Please pass a valid API key.; "
                 "then sent 1008 (policy violation) API key not valid. Please pass a valid API key."},
     "invalid_key", "gemini.api_key_not_valid"),
    ("gemini live 1011 internal", "gemini",
     {"status_code": 1011, "message": "Internal error encountered."}, None, "gemini.live_internal_close"),
    ("gemini live 1011 quota without a cap", "gemini",
     {"message": "websockets.exceptions.ConnectionClosedError: received 1011 (internal error) You exceeded your "
                 "current quota, please check your plan and billing details.; then sent 1011 (internal error)"},
     None, None),
    ("deepgram 1008 DATA-0000", "deepgram", {"status_code": 1008, "message": "DATA-0000"}, None,
     "deepgram.data_0000"),
    ("a close code alone", "deepgram", {"status_code": 1008}, None, "none"),
    ("realtime close code alone", "openai", {"status_code": 4001}, None, "none"),
    # HTML pages from gateways and proxies
    ("html 401 from a proxy", "openai",
     {"status_code": 401, "message": "<html><head><title>401 Authorization Required</title></head><body><center>"
                                     "<h1>401 Authorization Required</h1></center><hr><center>nginx</center>"
                                     "</body></html>"}, None, "guard.html_page"),
    # ...but a provider's own edge page, documented in its table with "before_guards", is its verdict
    ("perplexity's own edge html 401", "perplexity",
     {"status_code": 401, "message": "<html><head><title>401 Authorization Required</title></head><body><center>"
                                     "<h1>401 Authorization Required</h1></center><hr><center>openresty</center>"
                                     "</body></html>"}, "invalid_key", "perplexity.html_401"),
    ("the same page on another provider is still a proxy's", "together",
     {"status_code": 401, "message": "<html><head><title>401 Authorization Required</title></head><body><center>"
                                     "<h1>401 Authorization Required</h1></center><hr><center>openresty</center>"
                                     "</body></html>"}, None, "guard.html_page"),
    # a 403 that says nothing more alarms only where the provider documents a bare 403 as a refusal
    ("bare 403 on an openai-shaped provider", "siliconflow",
     {"status_code": 403, "message": "Error: 403 status code (no body)"}, None, "status.403_unconfirmed"),
    ("bare 403 Forbidden on an unknown provider", "myapp",
     {"status_code": 403, "message": "Forbidden"}, None, "status.403_unconfirmed"),
    ("bare 403 from a Google API is PERMISSION_DENIED", "google_stt",
     {"status_code": 403, "message": "403 Client Error: Forbidden for url: https://speech.googleapis.com/v1/x"},
     "permission_denied", "google_rpc.forbidden"),
    ("bare 403 from OpenAI's realtime handshake", "openai_realtime",
     {"message": "WebSocket connection failed: Unexpected response code: 403"}, "permission_denied", "openai.forbidden"),
    ("bare 403 from Anthropic", "anthropic", {"status_code": 403, "message": "Forbidden"},
     "permission_denied", "anthropic.forbidden"),
    # Chinese wording
    ("dashscope invalid key", "dashscope", {"status_code": 401, "body": {"code": "InvalidApiKey",
                                                                       "message": "无效的API-Key"}},
     "invalid_key", None),
    ("balance too low", "qwen", {"message": "余额不足"}, "quota_exhausted", None),
    ("account in arrears", "moonshot", {"message": "您的账户已欠费，请充值后重试"}, "quota_exhausted", None),
    ("token quota used up (one-api)", "new-api", {"message": "该令牌额度已用尽"}, "quota_exhausted", None),
    ("permission", "zhipu", {"message": "权限不足"}, "permission_denied", None),
    ("too frequent", "siliconflow", {"message": "请求过于频繁，请稍后再试"}, None, "text.zh_rate_limit"),
    ("a per-minute allowance used up", "zhipu", {"message": "您的每分钟请求额度已用尽，请稍后再试"},
     None, "text.zh_rate_limit"),
    # app envelopes around an upstream failure
    ("502 around an upstream 401 bad key", "myapp",
     {"status_code": 502, "body": {"status": 502, "error": {"upstream_status": 401,
                                                            "message": "Incorrect API key provided: sk-abc***"}}},
     "invalid_key", None),
    ("500 text naming the upstream 401", "myapp",
     {"status_code": 500, "message": "upstream returned 401: invalid api key"}, "invalid_key", None),
    ("502 around an upstream 401 that says nothing of a key", "myapp",
     {"status_code": 502, "body": {"error": {"upstream_status": 401, "message": "Bad gateway"}}},
     None, "guard.server_error"),
    # ...or around the provider's own answer in the SDKs' "Error code: 4xx - {'error': ...}" form
    ("500 around the provider's own 401 (openai-python form)", "openai",
     {"status_code": 500, "message": "Internal error in route /chat: Error code: 401 - {'error': {'message': "
                                     "'Incorrect API key provided', 'code': 'invalid_api_key'}}"},
     "invalid_key", "openai.invalid_api_key"),
    ("500 around the provider's own 429 with error text", "zhipu",
     {"status_code": 500, "message": 'Error code: 429, with error text {"error":{"code":"1113","message":"余额不足"}}'},
     "quota_exhausted", "zhipu.code_1113"),
    ("500 around the provider's own per-minute 429 stays not actionable", "openai",
     {"status_code": 500, "message": "Error code: 429 - {'error': {'message': 'Rate limit reached for requests', "
                                     "'code': 'rate_limit_exceeded'}}"}, None, "openai.rate_limit_requests"),
    ("500 naming an error code but no provider answer", "openai",
     {"status_code": 500, "message": "Error code: 401 while retrying; see logs"}, None, "guard.server_error"),
    ("500 around an embedded 500", "openai",
     {"status_code": 500, "message": "Error code: 500 - {'error': {'message': 'invalid api key'}}"},
     None, "guard.server_error"),
    # a 5xx only guessed from a wrapper's class (LiteLLM's default APIConnectionError): a documented refusal
    # inside decides, anything else stays a server error
    ("litellm APIConnectionError around a Bedrock Marketplace refusal", "bedrock",
     {"message": "litellm.APIConnectionError: BedrockException - {\"message\":\"Model access is denied: not "
                 "authorized to perform aws-marketplace:Subscribe for this model\"}"},
     "permission_denied", "bedrock.marketplace_subscription"),
    ("litellm APIConnectionError with a plain connection failure", "bedrock",
     {"message": "litellm.APIConnectionError: BedrockException - Connection reset by peer"},
     None, "guard.server_error"),
    ("an explicit 503 around the same text is still a server error", "bedrock",
     {"status_code": 503, "message": "aws-marketplace:Subscribe failed, try again later"},
     None, "guard.server_error"),
    # SDK errors before any request: our platform's bug
    ("openai client without a key", "openai",
     {"type": "OpenAIError", "message": "The api_key client option must be set either by passing api_key to "
                                        "the client or by setting the OPENAI_API_KEY environment variable"},
     None, "guard.sdk_setup"),
    ("anthropic client without a key", "anthropic",
     {"type": "TypeError", "message": "Could not resolve authentication method. Expected either apiKey or "
                                      "authToken to be set. Or for one of the \"X-Api-Key\" or \"Authorization\" "
                                      "headers to be explicitly omitted"}, None, "guard.sdk_setup"),
    ("google-auth without credentials", "gemini",
     {"type": "DefaultCredentialsError", "message": "Your default credentials were not found. To set up "
                                                    "Application Default Credentials, see https://cloud.google.com/"
                                                    "docs/authentication/external/set-up-adc for more information."},
     None, "guard.sdk_setup"),
]


@pytest.mark.parametrize("name,provider,error,reason,rule", SHAPES, ids=[s[0] for s in SHAPES])
def test_shapes_beyond_a_status(name, provider, error, reason, rule):
    verdict = explain(provider, error)
    assert verdict.reason == reason, verdict
    if rule is not None:
        assert verdict.rule == rule, verdict
    assert classify(provider, error) == reason and explain_cached(provider, error) == verdict


# ------------------------------------------------------------------------------------ verdicts

def test_verdicts_say_how_sure():
    documented = explain("openai", {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key"})
    assert documented == Verdict("invalid_key", "openai.invalid_api_key", "documented")
    # (mistral: no table row for a 403, so the text heuristics decide)
    heuristic = explain("mistral", {"status_code": 403, "message": "Your organization has been restricted."})
    assert heuristic.evidence == "heuristic" and heuristic.rule.startswith("text.")
    assert explain("openai", {"status_code": 503}) == Verdict(None, "guard.server_error", "guard")
    assert explain("openai", {"message": "something odd"}) == Verdict(None, "none", "none")
    assert explain("openai", ["not", "a", "mapping"]) == Verdict(None, "none", "none")
    with pytest.raises(AttributeError):
        documented.reason = None   # frozen


def test_the_cache_gives_the_same_verdicts_as_explain_on_every_corpus_case():
    for path in sorted((ROOT / "tests" / "fixtures").glob("provider_errors*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            direct = explain(c["provider"], c["error"])
            assert explain_cached(c["provider"], c["error"]) == direct == explain_cached(c["provider"], c["error"])
            assert classify_cached(c["provider"], c["error"]) == direct.reason


def test_cli_explain_prints_rule_and_evidence_and_plain_output_stays_the_same():
    lines = (b'{"provider": "openai", "error": {"status_code": 429, "code": "insufficient_quota"}}\n'
             b'{"provider": "anthropic", "error": {"status_code": 529, "message": "Overloaded"}}\n'
             b'not json\n')
    run = lambda *args: subprocess.run([sys.executable, "-m", "functions", "classify", *args], input=lines,
                                       cwd=ROOT, capture_output=True, timeout=120)
    plain = run()
    assert plain.returncode == 0
    assert plain.stdout.decode().splitlines()[:2] == ['{"reason": "quota_exhausted"}', '{"reason": null}']
    detail = run("--explain")
    out = [json.loads(x) for x in detail.stdout.decode().splitlines()]
    assert out[0] == {"reason": "quota_exhausted", "rule": "openai.insufficient_quota", "evidence": "documented"}
    assert out[1] == {"reason": None, "rule": "guard.server_error", "evidence": "guard"}
    assert out[2]["reason"] is None and out[2]["error"].startswith("line 3")
    assert run("--bogus").returncode == 2


# ------------------------------------------------------------------------------------ docs cannot drift

def test_the_doc_shows_exactly_the_tables_in_the_folder():
    from functions.providers.__main__ import END, START

    text = DOC.read_text(encoding="utf-8")
    assert START in text and END in text
    embedded = text.split(START, 1)[1].split(END, 1)[0]
    assert embedded == providers.markdown(), "run: .venv/bin/python -m functions.providers --update-doc"


def test_update_doc_rewrites_only_the_section_between_the_markers(tmp_path):
    from functions.providers.__main__ import END, START

    doc = tmp_path / "doc.md"
    doc.write_text(f"# title\n\n{START}stale\n{END}\n\nafter\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "functions.providers", "--update-doc", str(doc)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert doc.read_text(encoding="utf-8") == f"# title\n\n{START}{providers.markdown()}{END}\n\nafter\n"
