-- Extensions the core relies on. TimescaleDB and Apache AGE must be listed in
-- shared_preload_libraries on the server (scripts/devdb.sh does this for the dev database).
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS age;
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
