"""The providers' documented errors, as data: one JSON table per provider in this folder.

Each file (format: docs/classification.md#the-provider-tables) lists the errors a provider documents, with the
decision and why. This module reads every file once per process (lazily, thread-safe), validates it (a bad
table is a clear `TableError` naming the file, never a silent miss), resolves the slug a backend sends through
canonical names and aliases, and precompiles each provider's rows (its own, then its `inherits`) into lookup
dicts (code -> rows, status -> rows), so one error costs a few dict hits, not a loop over every row.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent
# The table an unknown provider slug uses (most unknown providers speak the OpenAI error shape). When no such
# file exists, an unknown provider goes straight to the text heuristics.
FALLBACK_TABLE = "openai_compatible"
DECISIONS = ("invalid_key", "permission_denied", "quota_exhausted", None)

_TABLE_KEYS = {"provider", "name", "aliases", "inherits", "sources", "errors"}
_TABLE_REQUIRED = {"provider", "name", "sources", "errors"}
_ROW_KEYS = {"id", "status", "code", "contains", "text", "example", "decision", "why", "source", "before_guards"}
_ROW_REQUIRED = {"id", "example", "decision", "why", "source"}
_SLUG = re.compile(r"^[a-z0-9_]+$")


class TableError(ValueError):
    """A provider table that cannot be used: the message names the file and what is wrong."""


def normalise(slug: Any) -> str:
    """The form slugs are compared in: lower case, `-` and spaces as `_`."""
    if not isinstance(slug, str):
        return ""
    return slug.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class Row:
    """One documented error. `order` is its position in the chain it was compiled into; `text`, the documented
    wording that alone stands for the error when a wrapper dropped its code and status. A chain holds such a row
    twice: as documented, then (`by_text`) as its wording alone, right after it."""
    id: str
    statuses: frozenset[int] | None
    codes: frozenset[str] | None
    contains: tuple[str, ...] | None
    decision: str | None
    example: str
    why: str
    source: str
    order: int = 0
    before_guards: bool = False
    text: tuple[str, ...] | None = None
    by_text: bool = False

    def matches(self, status: int | None, hay: str) -> bool:
        if self.statuses is not None and status not in self.statuses:
            return False
        if self.contains is not None:
            for phrase in self.contains:
                if phrase not in hay:
                    return False
        return True


# Rows keyed by neither code nor status are found by a word of their phrases once a group holds more than this
# many (below it, a few `in` scans are cheaper than splitting the text into words).
_WORD_INDEX_MIN = 16
_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def _words(text: str) -> list[str]:
    return text.translate(_SEPARATORS).split()


def _anchor(row: Row) -> str | None:
    """The longest word that is whole wherever the row's phrases occur (a phrase's first and last words may be
    the tail or head of a longer word of the text, its inner words cannot), or None."""
    best = None
    for phrase in row.contains or ():
        spaced = phrase.translate(_SEPARATORS)
        words = spaced.split()
        whole = words[1:-1]
        if words and spaced[0] == " ":
            whole.append(words[0])
        if len(words) > 1 and spaced[-1] == " ":
            whole.append(words[-1])
        for word in whole:
            if best is None or len(word) > len(best):
                best = word
    return best


class _Group:
    """Rows tried in order, small groups as a list, large ones indexed by a whole word of their phrases."""

    __slots__ = ("rows", "_always", "_by_word")

    def __init__(self, rows: list[Row]) -> None:
        self.rows = tuple(rows)
        self._always: tuple[Row, ...] = self.rows
        self._by_word: dict[str, tuple[Row, ...]] | None = None
        if len(rows) > _WORD_INDEX_MIN:
            always, by_word = [], {}
            for row in rows:
                word = _anchor(row)
                if word is None:
                    always.append(row)
                else:
                    by_word.setdefault(word, []).append(row)
            self._always = tuple(always)
            self._by_word = {k: tuple(v) for k, v in by_word.items()}

    def candidates(self, words: "_HayWords") -> tuple[Row, ...] | list[Row]:
        if self._by_word is None:
            return self.rows
        found = list(self._always)
        for word in words.get().intersection(self._by_word):
            found.extend(self._by_word[word])
        found.sort(key=_order)
        return found


_CODE_SEPARATORS = str.maketrans({**{chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) in "_.-")},
                                   **{ch: " " for ch in "“”‘’，：；（）【】「」《》。、"}})   # full-width punctuation


def _order(row: Row) -> int:
    return row.order


class _HayWords:
    """The text's words, split once and only if a large group asks."""

    __slots__ = ("_hay", "_words")

    def __init__(self, hay: str) -> None:
        self._hay, self._words = hay, None

    def get(self) -> frozenset[str]:
        if self._words is None:
            self._words = frozenset(_words(self._hay))
        return self._words


class Chain:
    """A provider's rows then its inherited tables' rows, indexed by code and by status."""

    __slots__ = ("slug", "tables", "rows", "early", "unknown_status", "_by_id", "_by_code", "_by_status", "_any",
                 "_named_codes")

    def __init__(self, slug: str, tables: tuple[str, ...], rows: list[Row], *, statusless: bool = True) -> None:
        self.slug = slug
        self.tables = tables      # this table then every inherited one, in the order their rows are tried
        self.rows = tuple(rows)
        # rows a provider documents in a shape a guard would take (its own HTML 401 page): tried before guards
        self.early = tuple(row for row in self.rows if row.before_guards)
        by_code: dict[str, list[Row]] = {}
        by_status: dict[int, list[Row]] = {}
        anywhere: list[Row] = []
        for row in self.rows:
            if row.codes is not None:
                for code in row.codes:
                    by_code.setdefault(code, []).append(row)
            elif row.statuses is not None:
                for status in row.statuses:
                    by_status.setdefault(status, []).append(row)
            else:
                anywhere.append(row)
        self._by_code = {k: tuple(v) for k, v in by_code.items()}
        self._by_status = {k: _Group(v) for k, v in by_status.items()}
        self._any = _Group(anywhere)
        # When a wrapper dropped the status (LangChain keeps only str(exception), a log line loses the field), a
        # row's documented code or wording still says what the error is: its status-bound rows, status aside.
        # Rows with a status alone never match an unknown status.
        self.unknown_status: Chain | None = None
        if statusless:
            loose = [replace(row, statuses=None) for row in self.rows
                     if row.statuses is not None and (row.codes is not None or row.contains is not None)]
            if loose:
                self.unknown_status = Chain(slug, tables, loose, statusless=False)
        self._by_id = {row.id: row for row in self.rows if not row.by_text}
        # Codes distinctive enough to be the code wherever they stand in the text ("Error: insufficient_quota",
        # Go's "map[code:model_not_found ...]", "AccessDenied.Unpurchased" in a translated page, botocore's
        # "ValidationException" behind a wrapper's prefix): long identifiers with a separator, or exception
        # class names; never a number or a plain word.
        self._named_codes = frozenset(code for code in self._by_code
                                      if (len(code) >= 8 and ("_" in code or "." in code) and not code.isdigit())
                                      or (len(code) >= 12 and code.endswith(("exception", "error"))))

    def codes_named_in(self, hay: str) -> frozenset[str]:
        """The chain's distinctive codes that stand as a whole token in `hay` (lower-cased)."""
        if not self._named_codes:
            return frozenset()
        tokens = hay.translate(_CODE_SEPARATORS).split()
        found = self._named_codes.intersection(tokens)
        if not found:      # a code at the end of a sentence or a clause ("... insufficient_quota.")
            found = self._named_codes.intersection(token.strip(".-") for token in tokens)
        return found

    def match(self, status: int | None, codes: Iterable[str], hay: str,
              words: "_HayWords | None" = None) -> Row | None:
        """The first row (in chain order) that matches: `codes` are the lower-cased codes/types the error
        carries, `hay` the lower-cased, whitespace-collapsed text."""
        best: Row | None = None
        for code in codes:
            for row in self._by_code.get(code, ()):
                if best is not None and row.order >= best.order:
                    break
                if row.matches(status, hay):
                    best = row
                    break
        if words is None:
            words = _HayWords(hay)
        groups = (self._by_status.get(status), self._any) if status is not None else (self._any,)
        for group in groups:
            if group is None:
                continue
            for row in group.candidates(words):
                if best is not None and row.order >= best.order:
                    break
                if row.matches(status, hay):
                    best = row
                    break
        loose_chain = self.unknown_status
        if status is None and loose_chain is not None and (best is None or best.order > loose_chain.rows[0].order):
            loose = loose_chain.match(None, codes, hay, words)
            if loose is not None and (best is None or loose.order < best.order):
                best = self._by_id[loose.id]      # the table's row, as documented
        return best

    def match_early(self, status: int | None, codes: Iterable[str], hay: str) -> Row | None:
        """The first `before_guards` row that matches (a handful per chain at most, so a plain loop)."""
        for row in self.early:
            if row.codes is not None and row.codes.isdisjoint(codes):
                continue
            if row.matches(status, hay):
                return row
        return None


@dataclass(frozen=True)
class Table:
    provider: str
    name: str
    aliases: tuple[str, ...]
    inherits: tuple[str, ...]
    sources: tuple[dict, ...]
    rows: tuple[Row, ...]
    path: Path


class Registry:
    """Every table of a folder, validated, with slug resolution and compiled chains."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.slugs: dict[str, str] = {}
        for table in tables.values():
            self.slugs[table.provider] = table.provider
        for table in tables.values():
            for alias in table.aliases:
                owner = self.slugs.get(alias)
                if owner is not None and owner != table.provider:
                    raise TableError(f"{table.path.name}: alias {alias!r} is already claimed by {owner!r}")
                self.slugs[alias] = table.provider
        self.chains = {slug: Chain(slug, *self._chain_rows(slug)) for slug in tables}
        self._seen: dict[str, Chain | None] = {}

    def _chain_rows(self, slug: str) -> tuple[tuple[str, ...], list[Row]]:
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in path:
                raise TableError(f"{self.tables[slug].path.name}: inherits cycle {' -> '.join(path + (name,))}")
            if name not in order:
                order.append(name)
            for parent in self.tables[name].inherits:
                visit(parent, path + (name,))

        visit(slug, ())
        rows: list[Row] = []
        for name in order:
            for row in self.tables[name].rows:
                rows.append(_with_order(row, len(rows)))
                if row.text is not None:
                    rows.append(replace(row, statuses=None, codes=None, contains=row.text, order=len(rows),
                                        before_guards=False, by_text=True))
        return tuple(order), rows

    def resolve(self, provider: Any) -> str | None:
        """The canonical slug for what a backend sent, or None when no table claims it."""
        return self.slugs.get(normalise(provider))

    def separate(self, a: Any, b: Any) -> bool:
        """Whether two slugs never take one key: both known tables, neither the generic OpenAI-compatible one (a
        relay slot may hold any key), and neither inheriting the other (openai_realtime reads openai's key, vertex
        gemini's)."""
        table_a, table_b = self.resolve(a), self.resolve(b)
        if table_a is None or table_b is None or FALLBACK_TABLE in (table_a, table_b) or table_a == table_b:
            return False
        return table_b not in self.chains[table_a].tables and table_a not in self.chains[table_b].tables

    def chain(self, provider: Any) -> Chain | None:
        """The rows to try for `provider`: its own chain, else the fallback table's, else None."""
        try:
            return self._seen[provider]     # backends send a handful of slugs: resolve each once
        except (KeyError, TypeError):
            pass
        slug = self.resolve(provider)
        if slug is None:
            slug = FALLBACK_TABLE if FALLBACK_TABLE in self.tables else None
        chain = self.chains.get(slug) if slug else None
        if isinstance(provider, str) and len(provider) <= 64 and len(self._seen) < 1024:
            self._seen[provider] = chain
        return chain


def _with_order(row: Row, order: int) -> Row:
    return replace(row, order=order)


# ------------------------------------------------------------------------------------------ loading

def _fail(path: Path, where: str, what: str) -> TableError:
    return TableError(f"{path.name}: {where}: {what}")


def _statuses(path: Path, where: str, value: Any) -> frozenset[int] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _fail(path, where, "status is an empty list (use null for any status)")
    for item in items:
        if type(item) is not int or not (100 <= item <= 599 or 1000 <= item <= 4999):
            raise _fail(path, where, f"status {item!r} is neither an HTTP status nor a WebSocket close code")
    return frozenset(items)


def _codes(path: Path, where: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise _fail(path, where, "code must be a non-empty string, a list of them, or null")
    return frozenset(i.strip().lower() for i in items)


def _contains(path: Path, where: str, value: Any, key: str = "contains") -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(i, str) and i.strip() for i in value):
        raise _fail(path, where, f"{key} must be a non-empty list of phrases, or null")
    for phrase in value:
        if phrase != " ".join(phrase.lower().split()):
            raise _fail(path, where, f"phrase {phrase!r} must be lower case with single spaces")
    return tuple(value)


def _row(path: Path, provider: str, index: int, raw: Any) -> Row:
    where = f"errors[{index}]"
    if not isinstance(raw, dict):
        raise _fail(path, where, "not an object")
    unknown = set(raw) - _ROW_KEYS
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)}")
    missing = _ROW_REQUIRED - set(raw)
    if missing:
        raise _fail(path, where, f"missing keys {sorted(missing)}")
    row_id = raw["id"]
    if not isinstance(row_id, str) or not row_id.startswith(provider + ".") or not _SLUG.match(
            row_id[len(provider) + 1:] or "-"):
        raise _fail(path, where, f"id {row_id!r} must be '{provider}.<short_name>'")
    where = f"{where} ({row_id})"
    if raw["decision"] not in DECISIONS:
        raise _fail(path, where, f"decision {raw['decision']!r} is not one of {list(DECISIONS)}")
    statuses = _statuses(path, where, raw.get("status"))
    codes = _codes(path, where, raw.get("code"))
    contains = _contains(path, where, raw.get("contains"))
    if codes is None and contains is None and statuses is None:
        raise _fail(path, where, "a row needs a status, a code or phrases: this one would match every error")
    for key in ("example", "why", "source"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise _fail(path, where, f"{key} must be a non-empty string")
    if not raw["source"].startswith(("https://", "http://")):
        raise _fail(path, where, "source must be a URL")
    text = _contains(path, where, raw.get("text"), "text")
    if text is not None:
        if codes is None and statuses is None:
            raise _fail(path, where, "text is the wording for when the code or status is dropped: this row has "
                                     "neither, so its phrases belong in contains")
        example = " ".join(raw["example"].lower().split())
        missing_phrases = [phrase for phrase in text if phrase not in example]
        if missing_phrases:
            raise _fail(path, where, f"text phrase {missing_phrases[0]!r} is not in the example")
    early = raw.get("before_guards", False)
    if type(early) is not bool:
        raise _fail(path, where, "before_guards must be true or false")
    if early and (contains is None or raw["decision"] is None):
        raise _fail(path, where, "a before_guards row needs phrases and a decision: it overrides the guards, "
                                 "so it must say exactly which page it is and what it means")
    return Row(row_id, statuses, codes, contains, raw["decision"], raw["example"], raw["why"], raw["source"],
               before_guards=early, text=text)


def _table(path: Path) -> Table:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TableError(f"{path.name}: not readable JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise TableError(f"{path.name}: not a JSON object")
    unknown = set(raw) - _TABLE_KEYS
    if unknown:
        raise TableError(f"{path.name}: unknown keys {sorted(unknown)}")
    missing = _TABLE_REQUIRED - set(raw)
    if missing:
        raise TableError(f"{path.name}: missing keys {sorted(missing)}")
    provider = raw["provider"]
    if not isinstance(provider, str) or not _SLUG.match(provider) or provider != path.stem:
        raise TableError(f"{path.name}: provider {provider!r} must be the file's name, [a-z0-9_]+")
    if not isinstance(raw["name"], str) or not raw["name"].strip():
        raise TableError(f"{path.name}: name must be a non-empty string")
    lists = {}
    for key in ("aliases", "inherits"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise TableError(f"{path.name}: {key} must be a list of slugs")
        lists[key] = tuple(normalise(v) for v in value)
    sources = raw["sources"]
    if not isinstance(sources, list) or not all(
            isinstance(s, dict) and set(s) == {"title", "url"} and all(isinstance(v, str) for v in s.values())
            for s in sources):
        raise TableError(f"{path.name}: sources must be a list of {{\"title\", \"url\"}}")
    if not isinstance(raw["errors"], list):
        raise TableError(f"{path.name}: errors must be a list")
    rows = tuple(_row(path, provider, i, r) for i, r in enumerate(raw["errors"]))
    return Table(provider, raw["name"], lists["aliases"], lists["inherits"], tuple(sources), rows, path)


def load(folder: Path = FOLDER) -> Registry:
    """Read and validate every `*.json` of `folder`; raises TableError on the first problem found."""
    tables: dict[str, Table] = {}
    seen_ids: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        table = _table(path)
        for row in table.rows:
            if row.id in seen_ids:
                raise TableError(f"{path.name}: id {row.id!r} is already used in {seen_ids[row.id]}")
            seen_ids[row.id] = path.name
        tables[table.provider] = table
    for table in tables.values():
        for parent in table.inherits:
            if parent not in tables:
                raise TableError(f"{table.path.name}: inherits unknown table {parent!r}")
    return Registry(tables)


_registry: Registry | None = None
_lock = threading.Lock()


def registry() -> Registry:
    """The tables of this folder, loaded on first use (once per process, thread-safe)."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = load(FOLDER)
    return _registry


# --------------------------------------------------------------------------------------- markdown

def _cell(value: Any) -> str:
    if value is None:
        return "any"
    if isinstance(value, (list, tuple, frozenset)):
        return ", ".join(f"`{v}`" for v in value)
    return f"`{value}`"


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "&#124;").replace("<", "&lt;")


def markdown(reg: Registry | None = None) -> str:
    """Every table as Markdown (docs/classification.md embeds it; a test keeps the two equal)."""
    reg = reg or load()
    out = ["| provider | canonical slug | aliases accepted | inherits | rows |", "| --- | --- | --- | --- | --- |"]
    for slug, t in sorted(reg.tables.items()):
        out.append(f"| {t.name} | `{slug}` | {', '.join(f'`{a}`' for a in t.aliases) or '-'} | "
                   f"{', '.join(f'`{a}`' for a in t.inherits) or '-'} | {len(t.rows)} |")
    for slug, t in sorted(reg.tables.items()):
        raw = json.loads(t.path.read_text(encoding="utf-8"))
        out += ["", f"### {t.name} (`{slug}`)", ""]
        out.append("Sources: " + "; ".join(f"[{s['title']}]({s['url']})" for s in t.sources) + ".")
        if t.inherits:
            out.append(f"Then the rows of: {', '.join(f'`{a}`' for a in t.inherits)}.")
        out += ["", "| id | status | code | text contains | documented message | decision | why |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in raw["errors"]:
            phrases = " + ".join(f"\"{p}\"" for p in r["contains"]) if r.get("contains") else "-"
            if r.get("text"):
                alone = " + ".join(f"\"{p}\"" for p in r["text"])
                phrases = f"{alone} alone" if phrases == "-" else f"{phrases}; {alone} alone"
            example = r["example"] if len(r["example"]) <= 100 else r["example"][:99] + "…"
            out.append(f"| [`{r['id']}`]({r['source']}) | {_cell(r.get('status'))} | "
                       f"{_cell(r.get('code')) if r.get('code') is not None else '-'} | "
                       f"{_md(phrases)} | {_md(example)} | {r['decision'] or 'none'} | "
                       f"{'before the guards: ' if r.get('before_guards') else ''}{_md(r['why'])} |")
    return "\n".join(out) + "\n"
