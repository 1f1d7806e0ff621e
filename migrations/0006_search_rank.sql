-- BM25-style relevance for SRQL's sort:relevance (docs/internals/srql.md, "Ranking").
--
-- Term statistics come from a sample: search_stats_refresh(sample_rows) reads the newest
-- sample_rows events (the most recent chunks of the hypertable, through the time index) and
-- records, for every lexeme of their search vectors, in how many of those events it occurs,
-- plus the sample's size and average document length. idf is computed from that sample, so it
-- describes recent events, not the whole history; a lexeme absent from the sample counts as
-- occurring in no document (the highest idf). The core's scheduled job calls the refresh
-- hourly; until it first runs, every term has the same idf and ranking is by term frequency and
-- document length alone.

CREATE TABLE search_term_stats (
    lexeme text PRIMARY KEY,
    ndoc   bigint NOT NULL CHECK (ndoc > 0) -- sampled events whose search vector has the lexeme
);

CREATE TABLE search_stats (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    total_docs   bigint NOT NULL DEFAULT 0,           -- events in the sample
    avg_len      double precision NOT NULL DEFAULT 0, -- their average search_doc_len
    sample_rows  integer NOT NULL DEFAULT 0,          -- the sample size asked for
    refreshed_at timestamptz                          -- NULL: never refreshed
);
INSERT INTO search_stats DEFAULT VALUES;

-- Document length for BM25: the number of positions in the vector (a compound token's parts
-- share its position but are counted, as they are in every document alike).
CREATE FUNCTION search_doc_len(doc tsvector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)::double precision
    FROM unnest(doc) AS u
$$;

-- Recomputes the statistics from the newest sample_rows events (1 .. 10,000,000) and returns
-- the number of events sampled. Runs in the caller's transaction: readers see the old or the
-- new statistics, never a mix.
CREATE FUNCTION search_stats_refresh(sample_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    sampled bigint;
    avg_dl double precision;
BEGIN
    IF sample_rows IS NULL OR sample_rows < 1 OR sample_rows > 10000000 THEN
        RAISE EXCEPTION 'search_stats_refresh: sample_rows must be between 1 and 10000000, not %', sample_rows;
    END IF;
    CREATE TEMP TABLE search_sample ON COMMIT DROP AS
        SELECT e.search FROM events e ORDER BY e.time DESC LIMIT sample_rows;
    SELECT count(*), coalesce(avg(search_doc_len(s.search)), 0) INTO sampled, avg_dl FROM search_sample s;
    DELETE FROM search_term_stats;
    INSERT INTO search_term_stats (lexeme, ndoc)
        SELECT st.word, st.ndoc FROM ts_stat('SELECT search FROM search_sample') AS st;
    UPDATE search_stats SET total_docs = sampled, avg_len = avg_dl, sample_rows = search_stats_refresh.sample_rows,
                            refreshed_at = now();
    DROP TABLE search_sample;
    RETURN sampled;
END
$$;

-- The query side, computed once per query: the distinct terms with their idf and the average
-- document length. idf = ln(1 + (N - n + 0.5) / (n + 0.5)), N the sample size, n the term's
-- document count in the sample (0 when absent): always positive.
CREATE FUNCTION search_query_stats(terms text[])
RETURNS TABLE (terms text[], idf double precision[], avg_len double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(t.lexeme ORDER BY t.ord), '{}'),
           coalesce(array_agg(ln(1 + (s.total_docs - coalesce(ts.ndoc, 0) + 0.5) / (coalesce(ts.ndoc, 0) + 0.5))
                              ORDER BY t.ord), '{}'),
           max(s.avg_len)
    FROM (SELECT DISTINCT ON (u.lexeme) u.lexeme, u.ord
          FROM unnest(search_query_stats.terms) WITH ORDINALITY AS u(lexeme, ord)
          ORDER BY u.lexeme, u.ord) AS t
    LEFT JOIN search_term_stats ts ON ts.lexeme = t.lexeme
    CROSS JOIN search_stats s
$$;

-- BM25 of one document: sum over the query terms present of
--   idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
-- with tf the term's positions in the vector, dl = search_doc_len(doc), k1 = 1.2, b = 0.75.
-- Without statistics (avg_len 0) dl / avgdl counts as 1.
CREATE FUNCTION search_bm25(doc tsvector, terms text[], idf double precision[], avg_len double precision,
                            k1 double precision DEFAULT 1.2, b double precision DEFAULT 0.75)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(q.idf * d.tf * (k1 + 1) /
                        (d.tf + k1 * (1 - b + b * CASE WHEN avg_len > 0 THEN search_doc_len(doc) / avg_len
                                                       ELSE 1 END))), 0)
    FROM unnest(terms, idf) AS q(lexeme, idf)
    JOIN (SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::double precision AS tf
          FROM unnest(doc) AS u) AS d ON d.lexeme = q.lexeme
$$;
