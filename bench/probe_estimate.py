"""What the reporter's provider probe would add on a held-out set whose cases carry `key_state`.

Not a speed benchmark: an estimate (docs/holdout9.md). The rules were fixed before the ninth set was read:
- a probe runs only where the reporter would run one: the provider has a probe (probes.json, aliases resolved as
  the reporter resolves them) and the error calls for one (ProbeTable.calls_for_probe, with the exception class
  names the case keeps as `type` or in its message);
- its verdict follows the thread's `key_state`, limited to what that probe kind can answer (its rules' verdicts):
  rejected -> key_rejected; works -> key_works; no_credit -> no_credit where the kind reads a balance, else
  key_works (the key authenticates); unknown -> no verdict, the classifier alone;
- added with the tenth set: a rejected key whose failed call's own answer is one the kind's rules read as
  `unknown` (OpenAI's 401 account_deactivated) gets `unknown`, since the probe's read meets the same account;
- added before the eleventh set: an AWS read (Bedrock's, Polly's) runs only at its own service's hosts, so a case
  on the `aws` slugs counts as probed only when its slug or text names that service (`bedrock`, `polly`); a
  Transcribe case is not probed;
- added before the twelfth set: a read checked without the key first (`control`: relays and gateways) is taken
  as refused without it, since each such read in the table is documented as authenticated, and such a read runs
  only for the slugs the table names (a case's slug is the relay's own: `new_api`, `litellm`...), never for a
  relay under a name the table does not know;
- added before the twelfth set, for the reads limited to some hosts or key forms: Azure Speech's voice list runs
  only at a region's text-to-speech host, so a case counts as probed only when its slug or text names speech
  synthesis (tts, synthes, text to speech, voice); Google Text-to-Speech's read is made only with a Google API key,
  so a case whose text speaks of OAuth, a service account, an access token or application default credentials is
  not probed; and where a read tells a rejected key only by the answer's text (Google's "API key not valid"), a
  `rejected` case gets `key_rejected` only when its own error shows that text: the same key meets the same refusal
  at the same host, and any other refusal (a referrer or API restriction, a bare 403) reads `unknown` there;
- mended after the sixteenth set was read (its estimate and the fifteenth's are given both ways in
  docs/holdout16.md): the tenth set's rule above read the failed call's answer only from a JSON body with a status,
  so an answer a wrapper kept as the error's code or message (OpenAI's `account_deactivated`, its restricted key's
  "insufficient permissions") was still read as a rejected key; the code, type and message now count as that answer;
- added after the twelfth set was read (so its estimate is given both ways in docs/holdout12.md): the same holds for
  the status: a `rejected` case whose failed call has a status gets `key_rejected` only where one of the kind's
  key_rejected rules takes that status (Gemini's suspended consumer answers 403, which its read calls `unknown`;
  Moonshot's terminated account the same);
- added before the thirteenth set, whose cases also record `same_host` and `key_mangled`: a key that worked only at
  another host, region or endpoint (`same_host: false`) is read as refused, since the probe asks at the failed
  call's own host, where the same refusal waits; a case whose thread shows the key's value mangled
  (`key_mangled: true`: quotes kept, undefined/null/None, a serialized list, Bearer twice, blank; the forms the
  reporter's keyform.py knows, given to the gatherers in those words) gets the reporter's local verdict
  `key_malformed`, on any provider, before any probe; the sets without these fields are estimated as before;
- added with the reads of the seventeenth set's session (Speechmatics, Soniox, Rev.ai, Volcengine Ark, Pollinations,
  Gladia, Cloudflare Workers AI), before that set was read: a read limited to some hosts is not made for a case whose
  slug or text names the provider's other service (a real-time or WebSocket host of Speechmatics or Soniox, the
  legacy text/image hosts of Pollinations, Cloudflare's AI Gateway);
- mended after the twenty-sixth set was read (the twenty-fifth's and twenty-sixth's estimates are given both ways in
  docs/holdout26.md): a key that worked only elsewhere is read as refused at the failed call's host only where that
  host saw it; where the classifier reads the answer as a request that carried no key (the no-key and SDK-setup
  guards), the key's state there is unknown;
- mended after the twenty-eighth set was read (its estimate given both ways in docs/holdout28.md): the same holds
  where the classifier reads the failed call's answer as a genuine key's missing access or money (a plan's refusal
  of a feature at another endpoint of a host where the key works): the probe's authenticated read would not meet it;
- mended after the thirty-fifth set was read (the twenty-ninth's and thirty-fifth's estimates are given both ways in
  docs/holdout35.md): the same holds where the classifier reads the failed call's answer by a provider's documented
  row as not the key's (a rate limit, our request's form, a token of another kind): that host did not refuse the key;
- added with DashScope's model list, after the thirty-seventh set was read (each set's estimate with and without it
  is in docs/heldout.md): that read runs only at DashScope's hosts, so a case on its slugs whose text names another
  Alibaba Cloud product's host (machine translation, speech) is not probed; the same for DeepL's usage read, added
  with it, and a case that names DeepL's web translator or DeepLX;
- added with the Hugging Face Hub's token read, after the forty-first set was read (each set's estimate with and
  without it is in docs/heldout.md): that read runs only at the Hub, and only where the failed call's host is known, so a
  case on Hugging Face's slugs counts as probed only when its text names a URL at the Hub itself (huggingface.co, not
  Inference Providers' router, the serverless API or an Endpoint);
- the notifier's functions.verification.apply then decides, as it does for a real event;
- added with the notifier's current-key check, before the forty-seventh set (whose cases also record `key_other`:
  the thread shows the call sent a key other than the one the user had set up): a third figure, for a backend that
  records the fingerprint of the user's current key (README: the key the user has now), where such a case tells the
  user nothing (outcome `superseded_key`), whatever the classifier and the probe said; sets without the field give
  the probe's figure again. It assumes the backend records a key for every provider the user set up: the notifier
  sees another key only where the user saved one for the failed call's provider (`superseded_key`), or where the key
  sent is the one they saved for another provider (`misrouted_key`, added after the forty-seventh set was measured);
  an app's placeholder sent to a provider the user set up no key for is generous here (docs/holdout47.md, line 113);
- added before the forty-ninth set, whose cases also record `key_other_kind`: a key that was never the user's, sent
  to a provider the user set up no key for (`app_key_unset`), is seen by no record, so the third figure keeps the
  probe's answer for it; the other kinds (the user's key for another provider, their replaced key, an app's key
  where the user has one for this provider) and a case that does not say which are settled as before;
- added with the reporter's host check (reporter 2.4.0), before the fifty-first set, whose cases also record
  `meant_provider` (the provider the app was set up to call, where the call reached another's host): such a case gets
  the reporter's local verdict `key_misdirected` where the reporter would see it (the failed call's provider has an
  official host in the probe table that the meant provider does not share: `ProbeTable.misdirected`) and the notifier
  would act on it (the two never take one key: `Registry.separate`), after the key-form check and before any probe;
  sets without the field are estimated as before;
- added after the fifty-first set was measured (its estimate is given both ways in docs/holdout51.md), with the
  reporter's base-URL check (reporter 2.5.0): where the meant provider has no official host of its own in the probe
  table (the generic relay slot, Azure OpenAI, LiteLLM, new-api), the backend must give the reporter the base URL
  it set up for its probe to run at all, so the reporter also sees the call miss that base URL
  (`LOCAL /base/<provider>`) and the notifier acts without asking whether the two providers take one key.
Run: .venv/bin/python bench/probe_estimate.py [tests/fixtures/provider_errors_holdout9.jsonl ...]
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "reporter")]

from byok_reporter import probe as probes  # noqa: E402
from functions.classify import Verdict, explain  # noqa: E402
from functions.verification import apply, for_provider  # noqa: E402

_CLASS_NAME = re.compile(r"\b([A-Z]\w*(?:Error|Exception))\b")
# the classifier's readings of an answer to a request that carried no key
_NO_KEY_RULES = frozenset({"guard.no_key_sent", "guard.sdk_setup"})
# ...and its readings of a refusal of a genuine key: access the key lacks, money the account lacks
_GENUINE_KEY_REASONS = frozenset({"permission_denied", "quota_exhausted"})
# reads limited to some hosts or key forms: the case must name the host's service, or must not name another key form
_NAMES_SERVICE = {"azure_speech_voices": re.compile(r"tts|synthes|text.to.speech|voice", re.I),
                  "huggingface_whoami": re.compile(r"(?<![\w.-])huggingface\.co/", re.I)}
_OTHER_SERVICE = {"speechmatics_jobs": re.compile(r"real.?time|\brt\b|\.rt\.|websocket|wss://", re.I),
                  "soniox_files": re.compile(r"real.?time|stt-rt|websocket|wss://", re.I),
                  "pollinations_profile": re.compile(r"(?:text|image)\.pollinations\.ai", re.I),
                  "cloudflare_token_verify": re.compile(r"gateway\.ai\.cloudflare|ai.gateway", re.I),
                  # Alibaba Cloud's other products under DashScope's slugs (machine translation, speech)
                  "dashscope": re.compile(r"\b(?:mt|nls[\w-]*)\.[\w.-]*aliyuncs\.com|machine.translat", re.I),
                  # DeepL's web translator and the unofficial servers that wrap it (DeepLX) take no API key
                  "deepl_usage": re.compile(r"www2?\.deepl\.com|jsonrpc|deeplx", re.I)}
_OTHER_KEY_FORM = {"google_tts_voices": re.compile(r"oauth|service.account|access.token|application.default|"
                                                   r"\badc\b|ya29\.", re.I)}


def _meets(rule: dict, status, text: str) -> bool:
    """Whether the failed call's own answer is one this key_rejected rule reads: its status (when the case has one)
    and its text (when the rule needs one)."""
    if type(status) is int and status not in rule.get("status", ()):
        return False
    return "contains" not in rule or rule["contains"].lower() in text


def _answer_docs(error: dict) -> list:
    """The failed call's answer as the probe's rules read it: the JSON body, and the error's own code, type and
    message as OpenAI-style `error` fields (what a wrapper kept when it dropped the body)."""
    docs = [error["body"]] if isinstance(error.get("body"), dict) else []
    fields = {k: error[k] for k in ("code", "type", "message") if isinstance(error.get(k), str)}
    return docs + ([{"error": fields}] if fields else [])


def _answers(rule: dict, status, doc) -> bool:
    """A rule of the probe's read meets the failed call's answer; a case without a status is taken at the rule's
    own status (the read meets the same account at the same host)."""
    if type(status) is not int:
        status = (rule.get("status") or [None])[0]
    return probes.rule_matches(rule, status, doc)


def probe_verdict(table: dict, probe_table: probes.ProbeTable, case: dict, alone: Verdict) -> str | None:
    """The verdict the reporter's probe would send for this case, or None when none would be sent; `alone` is what
    the classifier alone decided, and by which rule."""
    slug = probe_table.canonical(case["provider"])
    entry = table["providers"].get(slug) if slug else None
    if not entry:
        return None
    error = case["error"]
    aws = table["kinds"][entry["kind"]].get("aws")
    named = f"{case['provider']} {error.get('message') or ''}"
    if aws and aws["signing_name"] not in named.lower():
        return None
    if entry["kind"] in _NAMES_SERVICE and not _NAMES_SERVICE[entry["kind"]].search(named):
        return None
    other = _OTHER_SERVICE.get(slug) or _OTHER_SERVICE.get(entry["kind"])   # a provider's own host limit, or its kind's
    if other is not None and other.search(named):
        return None
    if entry["kind"] in _OTHER_KEY_FORM and _OTHER_KEY_FORM[entry["kind"]].search(named):
        return None
    names = (str(error.get("type") or ""),) + tuple(_CLASS_NAME.findall(str(error.get("message") or "")))
    if not probe_table.calls_for_probe(error, names):
        return None
    can = {rule["verdict"] for rule in table["kinds"][entry["kind"]]["rules"]}
    state = case.get("key_state", "unknown")
    if state == "works" and case.get("same_host") is False:
        # it works elsewhere; here it meets the same refusal, if this host ever saw it and refused the key itself:
        # where the answer says no key reached the host, names a genuine key's missing access or money (the
        # probe's read would authenticate), or is a documented answer that is not about the key, what the probe
        # makes of the key is unknown
        state = ("unknown" if alone.rule in _NO_KEY_RULES or alone.reason in _GENUINE_KEY_REASONS
                 or (alone.reason is None and alone.evidence == "documented") else "rejected")
    rules = table["kinds"][entry["kind"]]["rules"]
    status = error.get("status_code")
    if state == "rejected" and any(rule["verdict"] == "unknown" and _answers(rule, status, doc)
                                   for rule in rules for doc in _answer_docs(error)):
        return None
    if state == "rejected" and not any(_meets(rule, status, json.dumps(error).lower()) for rule in rules
                                       if rule["verdict"] == "key_rejected"):
        return None
    if state == "rejected" and "key_rejected" in can:
        return "key_rejected"
    if state == "works" and "key_works" in can:
        return "key_works"
    if state == "no_credit":
        return "no_credit" if "no_credit" in can else "key_works"
    return None


def misdirected_verdict(probe_table: probes.ProbeTable, case: dict) -> str | None:
    """`key_misdirected` where the app meant another provider than the one whose official host the call reached, the
    reporter would see it, and the notifier would act on it; else None."""
    meant = case.get("meant_provider")
    reached = probe_table.providers.get(probe_table.canonical(case["provider"]) or "") if meant else None
    owner = probe_table.misdirected(meant, reached["base_url"]) if reached and reached["base_url"] else None
    if owner is None:
        return None
    form = "base" if probe_table.providers[probe_table.canonical(meant)]["base_url"] is None else "host"
    kept, _, _ = for_provider(meant, {"verdict": "key_misdirected", "probe": f"LOCAL /{form}/{owner}"})
    return "key_misdirected" if kept else None


def estimate(cases: list[dict]) -> dict:
    """Right answers and false alarms of the classifier alone and with the probe's verdicts applied."""
    table = probes.load_table()
    probe_table = probes.ProbeTable(table)
    out = {"cases": len(cases), "not_actionable": sum(c["expected"] is None for c in cases), "probed": 0,
           "key_malformed": sum(c.get("key_mangled") is True for c in cases),
           "key_other": sum(c.get("key_other") is True for c in cases),
           "key_other_unseen": sum(c.get("key_other_kind") == "app_key_unset" for c in cases),
           "key_misdirected": 0,
           "right_alone": 0, "right_with_probe": 0, "alarms_alone": 0, "alarms_with_probe": 0,
           "right_with_current_key": 0, "alarms_with_current_key": 0, "changed": []}
    for line, case in enumerate(cases, 1):
        decided = explain(case["provider"], case["error"])
        alone = decided.reason
        verdict = ("key_malformed" if case.get("key_mangled") is True
                   else misdirected_verdict(probe_table, case) or probe_verdict(table, probe_table, case, decided))
        final, _ = apply(alone, {"verdict": verdict} if verdict else None)
        out["probed"] += verdict is not None and verdict not in ("key_malformed", "key_misdirected")
        out["key_misdirected"] += verdict == "key_misdirected"
        out["right_alone"] += alone == case["expected"]
        out["right_with_probe"] += final == case["expected"]
        out["alarms_alone"] += case["expected"] is None and alone is not None
        out["alarms_with_probe"] += case["expected"] is None and final is not None
        seen_as_other = case.get("key_other") is True and case.get("key_other_kind") != "app_key_unset"
        current = None if seen_as_other else final   # not the user's current key: superseded or misrouted
        out["right_with_current_key"] += current == case["expected"]
        out["alarms_with_current_key"] += case["expected"] is None and current is not None
        if final != alone:
            out["changed"].append({"line": line, "provider": case["provider"], "key_state": case["key_state"],
                                   "verdict": verdict, "alone": alone, "with_probe": final,
                                   "expected": case["expected"]})
    return out


def main(paths: list[str]) -> None:
    for path in paths or [str(ROOT / "tests/fixtures/provider_errors_holdout9.jsonl")]:
        cases = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        r = estimate(cases)
        print(f"{Path(path).name}: classifier alone {r['right_alone']}/{r['cases']}, "
              f"{r['alarms_alone']} false alarms of {r['not_actionable']}; with the probe {r['right_with_probe']}/"
              f"{r['cases']}, {r['alarms_with_probe']} false alarms; {r['probed']} cases probed, "
              f"{r['key_malformed']} mangled keys seen by the reporter"
              + (f", {r['key_misdirected']} calls it saw reach another provider's host" if r["key_misdirected"] else "")
              + (f"; with the current-key record {r['right_with_current_key']}/{r['cases']}, "
                 f"{r['alarms_with_current_key']} false alarms ({r['key_other']} keys other than the user's, "
                 f"{r['key_other_unseen']} of them where the user set up no key for the provider)"
                 if r["key_other"] else ""))
        for c in r["changed"]:
            print(f"  line {c['line']} {c['provider']} ({c['key_state']} -> {c['verdict']}): "
                  f"{c['alone']} -> {c['with_probe']}, expected {c['expected']}")
        print("RESULT " + json.dumps({"bench": "probe_estimate", **{k: v for k, v in r.items() if k != 'changed'}},
                                     sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
