-- Draws (docs/draws.md). An entry's row is written by the consumer from the
-- entry's message; one per buyer and sale, so a redelivery is a no-op. The
-- draw reads these rows (with the entries Redis holds) once, under an
-- advisory lock that holds off entry inserts, and records what it drew.
CREATE TABLE draw_entries (
  sale_id     text        NOT NULL,
  user_id     text        NOT NULL,
  entry_id    uuid        NOT NULL,
  quantity    integer     NOT NULL CHECK (quantity BETWEEN 1 AND 65535),
  entered_at  timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sale_id, user_id)
);

-- One row per draw, written once: the revealed seed, the digest and the
-- packed list it drew from (34 bytes an entry, published page by page), and
-- its winners. EXTERNAL storage (uncompressed) lets a page be read with
-- substring() without reading the whole list.
CREATE TABLE draws (
  sale_id        text        PRIMARY KEY,
  procedure      text        NOT NULL,
  seed           bytea       NOT NULL,
  entries_digest text        NOT NULL,
  entries        integer     NOT NULL,
  stock          integer     NOT NULL,
  winners        jsonb       NOT NULL,
  entries_packed bytea       NOT NULL,
  drawn_at       timestamptz NOT NULL
);
ALTER TABLE draws ALTER COLUMN entries_packed SET STORAGE EXTERNAL;
