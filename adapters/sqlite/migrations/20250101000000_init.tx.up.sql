-- Stored events. seq is the rowid: it gives the processing order and makes
-- appends land at the end of the table.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    topic          TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    payload_digest INTEGER NOT NULL,
    timestamp      TEXT,
    received_at    INTEGER NOT NULL
);

--bun:split

-- The dedup rule: one row per (topic, event_id).
CREATE UNIQUE INDEX events_key ON events (topic, event_id);

--bun:split

-- Serves GET /events?topic=... in seq order without a scan.
CREATE INDEX events_topic_seq ON events (topic, seq);

--bun:split

-- Lifetime counters per topic, kept in the same transaction as the events.
CREATE TABLE topic_stats (
    topic     TEXT    PRIMARY KEY,
    received  INTEGER NOT NULL,
    accepted  INTEGER NOT NULL,
    dropped   INTEGER NOT NULL,
    conflicts INTEGER NOT NULL
) WITHOUT ROWID;
