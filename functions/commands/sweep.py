"""`python -m functions sweep`: remove token documents marked invalid that a lost trigger event left behind.

Eventarc delivers at least once but can still lose an event (a function down past its retries, a
deploy gap, the emulator with nothing listening). The sweep finds every `fcm_tokens` document marked
`invalid == true` (a collection group query), applies the cleanup function's rule to the version it
read (functions/cleanup.py: marked, and its `fid`/`token` still equals `invalid_token`) and deletes it
with a precondition on that version's update time, so a device re-registering during the sweep keeps
its token. Pages of --batch-size documents; each page's deletes go in one batch write, and if any
document changed meanwhile the page falls back to one precondition delete per document.

Output: one JSON line per document found (`document`, `uid`, `device`, `outcome`, `detail`), then one
summary line. Tokens are never printed. Exit status 0, or 1 when Firestore fails (rerun: it is idempotent).

In production the query needs the single-field index on `invalid` with collection-group scope
(see docs/cleanup.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

from .. import cleanup, config
from ..tokens import bounded_retry

WOULD_DELETE = "would_delete"


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def sweep(db, dry_run: bool = False, batch_size: int = 200,
          emit: Callable[[dict[str, Any]], None] = _emit, timeout: float = 10.0) -> dict[str, Any]:
    """Run one sweep over `db`; emits a line per document and returns the summary counts."""
    from google.api_core import exceptions as gexc
    from google.cloud.firestore_v1.base_query import FieldFilter

    deadline = timeout
    counts = {"scanned": 0, cleanup.DELETED: 0, WOULD_DELETE: 0, cleanup.KEPT: 0, cleanup.IGNORED: 0,
              "pages": 0}
    query = (db.collection_group("fcm_tokens").where(filter=FieldFilter("invalid", "==", True))
             .order_by("__name__").limit(batch_size))
    cursor = None
    while True:
        page = list((query.start_after(cursor) if cursor is not None else query).stream(
            retry=bounded_retry(deadline), timeout=deadline))
        if not page:
            break
        counts["pages"] += 1
        cursor = page[-1]
        deletable = []
        for snap in page:
            counts["scanned"] += 1
            path = snap.reference.path
            ids = cleanup.token_path(path)
            line = {"document": path, "uid": ids[0] if ids else None, "device": ids[1] if ids else None}
            if ids is None:
                outcome, detail = cleanup.IGNORED, "not_a_token_document"
            else:
                decision = cleanup.decide(snap.to_dict() or {})
                if decision.delete:
                    deletable.append((snap, line))
                    continue
                outcome = cleanup.KEPT if decision.detail == "token_changed" else cleanup.IGNORED
                detail = decision.detail
            counts[outcome] += 1
            emit({**line, "outcome": outcome, "detail": detail})
        if not deletable:
            continue
        if dry_run:
            for snap, line in deletable:
                counts[WOULD_DELETE] += 1
                emit({**line, "outcome": WOULD_DELETE, "detail": "marked_dead"})
            continue
        batch = db.batch()
        for snap, _ in deletable:
            batch.delete(snap.reference, option=db.write_option(last_update_time=snap.update_time))
        try:
            batch.commit(retry=bounded_retry(deadline), timeout=deadline)
            results = [(cleanup.DELETED, "marked_dead")] * len(deletable)
        except (gexc.FailedPrecondition, gexc.NotFound):
            # A batch is atomic: one changed document fails all; decide them one by one.
            results = [cleanup.delete_if_unchanged(db, snap.reference.path, snap.update_time)
                       for snap, _ in deletable]
        for (snap, line), (outcome, detail) in zip(deletable, results):
            counts[outcome] += 1
            emit({**line, "outcome": outcome, "detail": detail})
    return counts


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions sweep",
                                     description="Remove token documents marked invalid that are still there.")
    parser.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    parser.add_argument("--batch-size", type=int, default=200, help="documents per page and batch (1-500)")
    parser.add_argument("--project", help="project id (default: GOOGLE_CLOUD_PROJECT)")
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 500:
        parser.error("--batch-size must be between 1 and 500 (a Firestore batch holds at most 500 writes)")

    from google.cloud import firestore

    from .. import clients

    try:
        settings = config.load({**os.environ, **({"GOOGLE_CLOUD_PROJECT": args.project} if args.project else {})},
                               need_redis=False)
        db = firestore.Client(project=args.project) if args.project else clients.firestore_client()
        project = settings.project
    except config.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        counts = sweep(db, dry_run=args.dry_run, batch_size=args.batch_size,
                       timeout=settings.firestore_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - report and fail; a rerun is safe
        print(f"sweep failed ({type(exc).__name__}): {exc}; it is safe to run again", file=sys.stderr)
        return 1
    _emit({"summary": True, "project": project, "dry_run": args.dry_run, **counts})
    return 0
