"""Asking the provider itself whether the user's key works, after a failure that may be about it.

The error text alone can mislead (a bare 403 "Forbidden", a wrapper's vague message); the backend
still holds the key during the failed request, so the reporter's background thread makes the
provider's cheapest authenticated read with it and sends the verdict in the event's
`verification`. The reads are data (probes.json). Where the key may go is narrow on purpose:
- only to the host of the failed call (the `base_url` given, else the provider's official one;
  never when the failed request visibly went to another host; for a provider whose regions have
  their own hosts and keys, `regional`, never when neither the `base_url` nor the failed URL is known;
  for one with a host per resource and no official one, `base_url` null (Azure OpenAI), only the
  `base_url` given);
- over https only (plain http only to a loopback address, for local tests);
- never redirected (http.client does not follow redirects: a 3xx is an `unknown` verdict);
- only in the request's auth header, never in a URL, a log line or the event (AWS credentials:
  only as a Signature Version 4 signature, aws.py; a read for one AWS service goes only to that
  service's hosts).
Nothing of the answer is kept beyond the status and the one figure a rule reads.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Mapping
from urllib.parse import urlsplit

from .aws import AwsKey, sign
from .contract import PROBE_RE

__all__ = ["ProbePlan", "ProbeTable", "key_fits", "load_table", "rule_matches", "run_probe"]

MAX_ANSWER_BYTES = 262144
MAX_BODY_CHARS = 8192           # of a failed call's error body, read for the words that call for a probe
_MISSING = object()
_LOOPBACK_NAMES = frozenset({"localhost"})


def load_table(source: str | Mapping | None = None) -> dict:
    """The probe table: the packaged probes.json, another JSON file's path, or a dict."""
    if isinstance(source, Mapping):
        return dict(source)
    if source is None:
        text = resources.files(__package__).joinpath("probes.json").read_text(encoding="utf-8")
    else:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    return json.loads(text)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: Any) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None when it is not a usable http(s) URL."""
    try:
        parts = urlsplit(str(url))
        host, port, scheme = parts.hostname, parts.port, parts.scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    return scheme, host.lower(), port or (443 if scheme == "https" else 80)


def elsewhere(base_url: Any, failed: str | None) -> bool:
    """Whether the failed call went to another host than the base URL the app set its client up with (a
    client that ignored the user's relay URL and called the SDK's default host); False when either is unknown."""
    configured = _origin(base_url) if base_url else None
    reached = _origin(failed) if configured is not None and failed is not None else None
    return reached is not None and reached != configured


def failed_url(exc: Any) -> str | None:
    """The URL the failed call requested, when the exception keeps it (openai, anthropic, httpx,
    requests); None otherwise."""
    for holder in (exc, getattr(exc, "response", None)):
        try:
            request = getattr(holder, "request", None)
            url = getattr(request, "url", None)
        except Exception:  # noqa: BLE001 - httpx raises when a response has no request
            url = None
        if url is not None:
            return str(url)
    return None


@dataclass(frozen=True)
class ProbePlan:
    """One read to make: where, how the key goes, and how to read the answer."""
    scheme: str
    host: str
    port: int
    path: str                      # path and query as requested
    method: str
    auth: str                      # bearer | token | deepl-auth-key | the name of a header that carries the key
    headers: tuple[tuple[str, str], ...]
    rules: tuple[Mapping, ...]
    aws: tuple[str, str | None, bool] | None = None   # signing name, region from the host, Bearer too
    control: bool = False          # first the same read without the key: unless refused, it proves nothing
    key_form: re.Pattern | None = None   # the only keys this read may be made with (Google's API keys)

    @property
    def label(self) -> str:
        """What was read, for the event: 'GET /v1/models'."""
        label = f"{self.method} {self.path}"
        return label if PROBE_RE.fullmatch(label) else f"{self.method} /"


def _slug(value: Any) -> str:
    """The form slugs compare in, as the classifier's tables: lower case, `-` and spaces as `_`."""
    return value.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(value, str) else ""


class ProbeTable:
    """The probe table, read once: which errors call for a probe, and the read per provider."""

    def __init__(self, table: Mapping) -> None:
        triggers = table.get("triggers") or {}
        self.statuses = frozenset(int(s) for s in triggers.get("statuses", ()))
        self.text_statuses = {int(s): tuple(w.lower() for w in words)
                              for s, words in (triggers.get("statuses_when_text_says") or {}).items()}
        self.text_without_status = tuple(w.lower() for w in triggers.get("no_status_when_text_says", ()))
        self.exception_words = tuple(w.lower() for w in triggers.get("exception_words", ()))
        self.codes = frozenset(c.lower() for c in triggers.get("codes", ()))
        kinds = table.get("kinds") or {}
        self.providers: dict[str, dict] = {}
        for provider, entry in (table.get("providers") or {}).items():
            if entry and entry.get("kind") in kinds:
                # a provider entry may narrow its kind's read to its own hosts (DashScope's model list is the
                # OpenAI-compatible one, at DashScope's hosts only)
                own = {"host": entry["host"]} if entry.get("host") else {}
                self.providers[provider] = {**kinds[entry["kind"]], **own, "base_url": entry["base_url"],
                                            "regional": bool(entry.get("regional"))}
                for field in ("host", "key_form"):
                    if self.providers[provider].get(field):
                        self.providers[provider][field] = re.compile(self.providers[provider][field])
                aws = self.providers[provider].get("aws")
                if aws:
                    self.providers[provider]["aws"] = (aws["signing_name"], re.compile(aws["host"]),
                                                       bool(aws.get("bearer")))
        self.aliases = {_slug(alias): canonical for alias, canonical in (table.get("aliases") or {}).items()
                        if canonical in self.providers}
        self._seen: dict[str, str | None] = {}
        # each provider's official host, and the providers that call it theirs (api.openai.com: openai and its
        # Realtime and Assistants slugs), to see a failed call that went to another vendor's host
        owners: dict[str, list[str]] = {}
        for provider, entry in self.providers.items():
            origin = _origin(entry["base_url"]) if entry["base_url"] else None
            if origin is not None:
                owners.setdefault(origin[1], []).append(provider)
        self.owners = {host: tuple(names) for host, names in owners.items()}

    def canonical(self, provider: Any) -> str | None:
        """The probed provider a backend's slug names (`claude`, `Kimi`, `together-ai`...), or None."""
        try:
            return self._seen[provider]   # on every report(): backends send a handful of slugs, resolve each once
        except (KeyError, TypeError):
            pass
        slug = _slug(provider)
        found = slug if slug in self.providers else self.aliases.get(slug)
        if isinstance(provider, str) and len(provider) <= 64 and len(self._seen) < 1024:
            self._seen[provider] = found
        return found

    def misdirected(self, provider: Any, failed: str | None) -> str | None:
        """The provider whose official host the failed call reached, where that host is not one the reported
        provider calls its own (an Azure OpenAI event whose call went to api.openai.com: the key went to OpenAI);
        None when it reached the provider's own host, any host no entry names (a relay, a resource's own host,
        127.0.0.1), or when either side is unknown. Whether the two providers take one key is the notifier's
        call (its tables know which inherit which)."""
        canonical = self.canonical(provider)
        origin = _origin(failed) if canonical is not None and failed is not None else None
        if origin is None:
            return None
        owners = self.owners.get(origin[1], ())
        return owners[0] if owners and canonical not in owners else None

    def calls_for_probe(self, error: Mapping, exc_types: tuple[str, ...]) -> bool:
        """Whether an error may be about the key or the account: 401, 402, 403; a 400 or 429, or an error
        with no status at all, whose text (code, type, message or body) speaks of the key, quota, billing
        or credit; an auth or payment exception class or code."""
        status = error.get("status_code")
        if status in self.statuses:
            return True
        code = error.get("code")
        if isinstance(code, str) and code.lower() in self.codes:
            return True
        names = " ".join(exc_types).lower()
        if names and any(word in names for word in self.exception_words):
            return True
        # no status at all (a wrapper kept only the text): the same words as a 400's, and the auth ones
        words = self.text_statuses.get(status) if isinstance(status, int) else self.text_without_status
        if words:
            text = " ".join(str(error.get(name) or "") for name in ("code", "type", "message")).lower()
            body = error.get("body")
            if body is not None:                 # a backend's dict may carry the provider's words only there
                try:
                    text += " " + json.dumps(body, ensure_ascii=False, default=str)[:MAX_BODY_CHARS].lower()
                except (TypeError, ValueError, RecursionError):
                    pass
            return any(word in text for word in words)
        return False

    def plan(self, provider: str, base_url: str | None, failed: str | None) -> tuple[ProbePlan | None, str]:
        """The read for this provider at this base URL, or (None, why not)."""
        canonical = self.canonical(provider)
        entry = self.providers.get(canonical) if canonical else None
        if entry is None:
            return None, "no_probe_defined"
        if not base_url and (entry["base_url"] is None or (entry["regional"] and failed is None)):
            return None, "host_unknown"     # a host per resource or per region: never guess it
        origin = _origin(base_url or entry["base_url"])
        if origin is None:
            return None, "bad_base_url"
        scheme, host, port = origin
        if scheme != "https" and not _is_loopback(host):
            return None, "not_https"
        if elsewhere(base_url or entry["base_url"], failed):
            return None, "other_host"       # the failed call went elsewhere: the key stays home
        if entry.get("host") and entry["host"].fullmatch(host) is None and not _is_loopback(host):
            return None, "other_service"     # the provider's host for another service (Azure's STT, not TTS)
        aws = None
        if entry.get("aws"):
            signing_name, hosts, bearer = entry["aws"]
            found = hosts.fullmatch(host)
            if found is None and not _is_loopback(host):
                return None, "other_service"     # another AWS service's host (Transcribe under `aws`)
            aws = (signing_name, found.group(1) if found else None, bearer)
        base_path = "" if entry.get("from_root") else urlsplit(base_url or entry["base_url"]).path.rstrip("/")
        headers = tuple((str(k), str(v)) for k, v in (entry.get("headers") or {}).items())
        return ProbePlan(scheme, host, port, base_path + entry["path"], entry.get("method", "GET"),
                         entry["auth"], headers, tuple(entry.get("rules", ())), aws, bool(entry.get("control")),
                         entry.get("key_form")), ""


def _figure(doc: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(doc, Mapping) or name not in doc:
            return _MISSING
        doc = doc[name]
    return doc


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rule_matches(rule: Mapping, status: int | None, doc: Any) -> bool:
    """Whether one of a read's rules takes this answer (status and document)."""
    if status not in rule.get("status", ()):
        return False
    if "left" in rule:
        limit, used = (_number(_figure(doc, p)) for p in rule["left"])
        if limit is None or used is None:
            return False
        value: Any = limit - used
    elif "field" in rule:
        value = _figure(doc, rule["field"])
        if value is _MISSING:
            return False
    else:
        return True
    if "is_null" in rule:
        return (value is None) == bool(rule["is_null"])
    if "equals" in rule:
        expected = rule["equals"]
        return type(value) is type(expected) and value == expected
    if "contains" in rule:
        return isinstance(value, str) and rule["contains"].lower() in value.lower()
    number = _number(value)
    if number is None:
        return False
    if "at_most" in rule and not number <= rule["at_most"]:
        return False
    if "above" in rule and not number > rule["above"]:
        return False
    return True


def verdict_of(rules: tuple[Mapping, ...], status: int | None, doc: Any) -> str:
    """The first rule's verdict that matches the answer, else `unknown`."""
    for rule in rules:
        if rule_matches(rule, status, doc):
            return rule["verdict"]
    return "unknown"


def key_fits(plan: ProbePlan, key: Any) -> bool:
    """Whether this key can make this read: a string for the usual reads, of the read's `key_form`
    where it has one (an OAuth token sent as a Google API key would be refused, which says nothing
    of it); AWS credentials (or, where the service takes one, a Bedrock API key) for an AWS read.
    Temporary AWS credentials without their session token are refused for that alone, which says
    nothing of the key."""
    if plan.aws is None:
        return type(key) is str and (plan.key_form is None or plan.key_form.fullmatch(key) is not None)
    if type(key) is AwsKey:
        return not key.temporary_without_token and bool(plan.aws[1] or key.region)
    return type(key) is str and plan.aws[2]


# `auth` values that name an Authorization scheme; any other value is the name of a header that carries the key bare
_SCHEMES = {"bearer": "Bearer", "token": "Token", "deepl-auth-key": "DeepL-Auth-Key"}


def _auth_header(auth: str, key: str) -> tuple[str, str]:
    scheme = _SCHEMES.get(auth)
    return ("Authorization", f"{scheme} {key}") if scheme else (auth, key)


def _credentials(plan: ProbePlan, key: str | AwsKey) -> dict[str, str]:
    if type(key) is AwsKey and plan.aws is not None:
        host = plan.host if plan.port == (443 if plan.scheme == "https" else 80) else f"{plan.host}:{plan.port}"
        region = plan.aws[1] or key.region or ""
        return {"Host": host, **sign(plan.method, host, plan.path, region, plan.aws[0], key,
                                     datetime.now(timezone.utc))}
    name, value = _auth_header("bearer" if plan.aws is not None else plan.auth, str(key))
    return {name: value}


def _read(plan: ProbePlan, headers: dict[str, str], timeout: float, deadline: float) -> tuple[int | None, Any]:
    """One request of the read: (status, JSON answer or None); status None when it failed or was too slow."""
    status: int | None = None
    doc: Any = None
    connection: http.client.HTTPConnection | None = None
    try:
        if plan.scheme == "https":
            connection = http.client.HTTPSConnection(plan.host, plan.port, timeout=timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(plan.host, plan.port, timeout=timeout)
        connection.request(plan.method, plan.path, headers=headers)
        response = connection.getresponse()
        status = response.status
        chunks, size = [], 0
        while size < MAX_ANSWER_BYTES and time.monotonic() < deadline:
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if time.monotonic() >= deadline:
            status, chunks = None, []        # too slow: as if it had timed out
        try:
            doc = json.loads(b"".join(chunks)) if chunks else None
        except ValueError:
            doc = None
    except (OSError, http.client.HTTPException, socket.timeout, ValueError):
        status = None
    finally:
        if connection is not None:
            connection.close()
    return status, doc


def run_probe(plan: ProbePlan, key: str | AwsKey, timeout: float, user_agent: str) -> dict:
    """Make the read and return the event's `verification`. Never raises; a timeout, a refused
    connection, a redirect or an unreadable answer is verdict `unknown`. A read marked `control`
    (a host whose software, not whose vendor, the table knows: a relay, a gateway) is first made
    without the key; an answer other than 401 or 403 means the read is public there (or the host
    is not what the slug says), so the keyed answer could prove nothing: `unknown`, and the key
    is not sent."""
    deadline = time.monotonic() + timeout
    plain = {"Accept": "application/json", "User-Agent": user_agent, **dict(plan.headers)}
    status: int | None = None
    if plan.control:
        status, _ = _read(plan, plain, timeout, deadline)
    if not plan.control or status in (401, 403):
        status, doc = _read(plan, {**plain, **_credentials(plan, key)}, max(0.0, deadline - time.monotonic()),
                            deadline)
        verdict = verdict_of(plan.rules, status, doc) if status is not None else "unknown"
    else:
        verdict = "unknown"
    return {"probe": plan.label, "status": status, "verdict": verdict, "checked_at": checked_at()}


def checked_at() -> str:
    """Now, as the contract's `checked_at` (RFC 3339, milliseconds, UTC)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_verification(what: str, verdict: str) -> dict:
    """A `verification` the reporter reached without asking anyone (`LOCAL /key/<form>`, `LOCAL /host/<provider>`,
    `LOCAL /base/<provider>`): no status, since no provider answered."""
    return {"probe": f"LOCAL /{what}", "status": None, "verdict": verdict, "checked_at": checked_at()}
