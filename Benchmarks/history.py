#!/usr/bin/env python3
"""Gives every phone in a HotDesk database the push history of a site in use: JOBS finished
(applied) config pushes per phone, dated over the past JOBS / 2 days (one login and one logout a
day). A fresh benchmark database has none, and a query that reads a phone's whole history looks
fast there (issue 12: every config fetch did, until push_jobs_open). Safe while the server runs
(SQLite WAL; the server sees the change through its change counters).
Usage: history.py DATABASE JOBS"""
import sqlite3, sys, time

database, jobs = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(database, timeout=30)
now = time.time()
macs = [row[0] for row in db.execute("SELECT mac FROM devices")]
with db:
    for mac in macs:
        rows = []
        for i in range(jobs):
            at = now - (jobs - i) * 43200
            reason = "login" if i % 2 == 0 else "logout"
            rows.append((mac, "reload", reason, "applied", 1, "history", "bench", at, at, at, at, at))
        db.executemany(
            "INSERT INTO push_jobs (mac, action, reason, state, attempts, config_hash, actor, created_at, updated_at, due_at, sent_at, applied_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
print(f"{len(macs)} phones: {jobs} finished push jobs each", file=sys.stderr)
