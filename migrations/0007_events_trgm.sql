-- Trigram indexes on the closed chunks of events, for SRQL's substring terms (`*shadow*`,
-- `message:x` compile to message ILIKE '%...%'; docs/internals/srql.md).
--
-- A trigram GIN on message costs ingest about as much CPU as everything else together (+5.1
-- CPU-s per 100,000 events against ~5.9; migration 0004), so the hypertable has none. Instead
-- the core's job events_trgm_index (docs/internals/jobs.md) builds one on each chunk once the
-- chunk is closed (its range ended a while ago and it takes no more regular ingest), with
-- CREATE INDEX CONCURRENTLY. A chunk is a table of its own that the planner scans as its own
-- relation, so a query on events uses the index of every chunk that has one and scans the
-- others (the open chunk, and closed ones not indexed yet) with their other indexes or
-- sequentially. An index built on a chunk is the chunk's own: TimescaleDB neither copies it to
-- new chunks nor needs it; drop_chunks drops it with its chunk.

-- The name of the trigram index of a chunk, in the chunk's schema: <chunk>_message_trgm
-- (TimescaleDB's chunk names, _hyper_<h>_<n>_chunk, are far below the 50 characters kept).
CREATE FUNCTION events_trgm_index_name(chunk name) RETURNS name
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (left(chunk, 50) || '_message_trgm')::name
$$;

-- The chunks of events whose range ended at or before closed_before and that have no valid
-- trigram index, newest first, at most max_chunks of them, with the statements that index one:
-- drop_sql (NULL unless an invalid index of that name is left over from an interrupted
-- CREATE INDEX CONCURRENTLY) and create_sql. pending counts all such chunks, including those
-- beyond max_chunks. Identifiers are quoted with format('%I'); the operator class is qualified
-- with pg_trgm's schema (an error when pg_trgm, migration 0001, is missing and a chunk is
-- waiting). The statements must run outside a transaction block (CONCURRENTLY).
CREATE FUNCTION events_trgm_pending(closed_before timestamptz, max_chunks integer)
RETURNS TABLE (chunk text, index_name name, drop_sql text, create_sql text, pending bigint)
LANGUAGE sql STABLE AS $$
    WITH trgm AS (
        SELECT n.nspname AS opc_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm'
    ), ht AS (
        SELECT n.nspname AS schema_name, c.relname AS table_name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = 'events'::regclass
    ), closed AS (
        SELECT ch.chunk_schema, ch.chunk_name, ch.range_end,
               format('%I.%I', ch.chunk_schema, ch.chunk_name)::regclass AS rel,
               events_trgm_index_name(ch.chunk_name) AS idx
        FROM timescaledb_information.chunks ch JOIN ht
          ON ch.hypertable_schema = ht.schema_name AND ch.hypertable_name = ht.table_name
        WHERE ch.range_end <= closed_before
    ), todo AS (
        SELECT cl.*,
               (SELECT bool_or(NOT i.indisvalid)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = cl.rel AND ic.relname = cl.idx) AS has_invalid,
               count(*) OVER () AS pending
        FROM closed cl
        WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                          WHERE i.indrelid = cl.rel AND ic.relname = cl.idx AND i.indisvalid)
    )
    SELECT format('%I.%I', t.chunk_schema, t.chunk_name), t.idx,
           CASE WHEN t.has_invalid THEN format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', t.chunk_schema, t.idx) END,
           format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %I.%I USING gin (message %I.gin_trgm_ops)',
                  t.idx, t.chunk_schema, t.chunk_name, (SELECT trgm.opc_schema FROM trgm)),
           t.pending
    FROM todo t
    ORDER BY t.range_end DESC, t.chunk_name
    LIMIT max_chunks
$$;
