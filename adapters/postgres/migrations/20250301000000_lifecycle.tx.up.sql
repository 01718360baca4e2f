-- Events retention purged, per topic: accepted - purged are stored now.
ALTER TABLE topic_stats ADD COLUMN purged bigint NOT NULL DEFAULT 0;

--bun:split

-- One row: every event with seq <= purged_through has been purged. A purged
-- event's row stays, without payload, as the dedup memory of its key until
-- the dedup window deletes it.
CREATE TABLE lifecycle (
    id             int    PRIMARY KEY CHECK (id = 1),
    purged_through bigint NOT NULL
);

--bun:split

INSERT INTO lifecycle (id, purged_through) VALUES (1, 0);

