-- The dedup index leaves the events table: events become append-only, and a
-- compact key set keyed by a 64-bit hash of (topic, event_id) takes the
-- place of the unique (topic, event_id) index, whose random page per new
-- event dominated ingest once it outgrew the cache. See README, "The SQLite
-- dedup index".

-- Merged keys: hash -> seq of the event that holds the key. A hit is
-- confirmed against the stored event, so a hash collision never conflates
-- two keys.
CREATE TABLE dedup_keys (
    h   INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL
);

--bun:split

-- Keys whose hash is already taken in dedup_keys by another key.
CREATE TABLE dedup_overflow (
    topic    TEXT    NOT NULL,
    event_id TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (topic, event_id)
) WITHOUT ROWID;

--bun:split

-- merged_seq is the watermark: the key of every event with seq <= merged_seq
-- is in dedup_keys or dedup_overflow. Keys of later events are rebuilt into
-- memory from the events table at startup.
CREATE TABLE dedup_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    merged_seq INTEGER NOT NULL
);

--bun:split

INSERT INTO dedup_state (id, merged_seq) VALUES (1, 0);

--bun:split

DROP INDEX IF EXISTS events_key;
