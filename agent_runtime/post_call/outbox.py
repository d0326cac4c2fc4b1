"""The durable outbox: every after-call delivery is on disk before its first try.

A delivery (a webhook, an email, an SMS, a recording upload) is a row of an SQLite file, keyed
so that adding it twice adds it once. Whoever delivers first *claims* a due row for a while (a
lease), so the job process that wrote it and the worker's delivery loop never send it twice at
once; a process that dies mid-try leaves its lease to expire and the row is tried again, except
an at-most-once delivery (an SMS: the provider may have it) which is then given up as "may
have been sent". Rows are kept once done or given up, with the reason, for the record.

SQLite is used from several processes (each job and the worker): WAL mode and a busy timeout
let them share the file; every method is short and blocking, so async callers run it in a
thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

State = Literal["pending", "sending", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    at_most_once INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    detail TEXT
)
"""


@dataclass(frozen=True)
class Delivery:
    """One delivery as the outbox holds it."""

    key: str
    kind: str
    payload: dict[str, Any]
    at_most_once: bool
    state: State
    attempts: int
    created_at: float
    next_at: float
    detail: str | None


class Outbox:
    """An SQLite file of deliveries; thread-safe, shareable between processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._db.close()

    def add(
        self,
        key: str,
        kind: str,
        payload: dict[str, Any],
        *,
        at_most_once: bool = False,
        now: float | None = None,
    ) -> bool:
        """Add a delivery, due now; False when ``key`` is there already (nothing changes)."""
        moment = time.time() if now is None else now
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries"
                " (key, kind, payload, at_most_once, state, created_at, next_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (key, kind, json.dumps(payload), int(at_most_once), moment, moment),
            )
            return cursor.rowcount == 1

    def claim(
        self,
        *,
        now: float,
        lease: float,
        limit: int = 20,
        keys: Collection[str] | None = None,
    ) -> list[Delivery]:
        """The deliveries due at ``now``, claimed for ``lease`` seconds, oldest first.

        ``keys``: only these (one call's own deliveries); all of them by default. An
        at-most-once delivery whose try was cut (its lease ran out while ``sending``) is given
        up instead: it may have been sent.
        """
        only = ""
        if keys is not None:
            only = f" AND key IN ({', '.join('?' * len(keys))})" if keys else " AND 0"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE deliveries SET state = 'failed',"
                    " detail = 'the try was interrupted: it may have been sent, not sent again'"
                    " WHERE state = 'sending' AND at_most_once = 1 AND lease_until <= ?",
                    (now,),
                )
                rows = self._db.execute(
                    "SELECT key FROM deliveries"
                    " WHERE state IN ('pending', 'sending') AND next_at <= ? AND lease_until <= ?"
                    f"{only} ORDER BY created_at, key LIMIT ?",
                    (now, now, *(keys or ()), limit),
                ).fetchall()
                keys = [row[0] for row in rows]
                self._db.executemany(
                    "UPDATE deliveries SET state = 'sending', lease_until = ?,"
                    " attempts = attempts + 1 WHERE key = ?",
                    [(now + lease, key) for key in keys],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [d for d in (self.get(key) for key in keys) if d is not None]

    def done(self, key: str, detail: str) -> None:
        """The delivery went through."""
        self._settle(key, "done", detail, next_at=None)

    def later(self, key: str, *, at: float, reason: str) -> None:
        """The delivery failed for now: try again at ``at``."""
        self._settle(key, "pending", reason, next_at=at)

    def give_up(self, key: str, reason: str) -> None:
        """The delivery failed for good; ``reason`` is kept."""
        self._settle(key, "failed", reason, next_at=None)

    def _settle(self, key: str, state: State, detail: str, *, next_at: float | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state = ?, detail = ?, lease_until = 0,"
                " next_at = COALESCE(?, next_at) WHERE key = ?",
                (state, detail, next_at, key),
            )

    def get(self, key: str) -> Delivery | None:
        """The delivery of ``key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, kind, payload, at_most_once, state, attempts, created_at, next_at,"
                " detail FROM deliveries WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return Delivery(
            key=row[0],
            kind=row[1],
            payload=json.loads(row[2]),
            at_most_once=bool(row[3]),
            state=row[4],
            attempts=row[5],
            created_at=row[6],
            next_at=row[7],
            detail=row[8],
        )

    def tally(self) -> list[tuple[str, State, int, float]]:
        """Deliveries by kind and state: how many, and when the oldest of them was added."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, state, COUNT(*), MIN(created_at) FROM deliveries"
                " GROUP BY kind, state ORDER BY kind, state"
            ).fetchall()
        return [(str(kind), state, int(n), float(oldest)) for kind, state, n, oldest in rows]

    def waiting(self) -> int:
        """How many deliveries are not done nor given up."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')"
            ).fetchone()
        return int(count)
