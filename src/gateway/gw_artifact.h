/* Artifact distribution (the Trivy DB) from NATS to agents. See docs/internals/artifacts.md.
 *
 * A watcher thread follows the KV key `trivy-db` of bucket `artifact.bucket`; on a new
 * version it pulls the object from the Object Store into the cache
 * (<artifact.cache_dir>/artifacts/trivy-db/<hex>, written to a temporary file, verified
 * against the announced size and SHA-256, renamed) and keeps the current and the previous
 * version. Each control stream has a gw_artifact_agent: its forwarder asks
 * gw_artifact_agent_next_command whether an `artifact_update` is due (the agent advertised
 * `trivy` and holds another version) and reports results back. Download calls stream the cached
 * file in chunks. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "gw_command.h"
#include "gw_config.h"
#include "serviceradar/agent/v1/agent.pb-c.h"

#define GW_ARTIFACT_NAME "trivy-db"
#define GW_ARTIFACT_CAPABILITY "trivy"
#define GW_ARTIFACT_COMMAND "artifact_update"
#define GW_ARTIFACT_CHUNK_MAX (2u * 1024u * 1024u)
#define GW_ARTIFACT_DOC_MAX (64u * 1024u) /* a KV value */
#define GW_ARTIFACT_VERSION_MAX 71        /* "sha256:" + 64 hex digits */

/* A trivy_db_update document (the KV value), validated. */
typedef struct {
    char name[65];
    char version[GW_ARTIFACT_VERSION_MAX + 1];
    char hex[65]; /* SHA-256 of the bundle, lowercase hex; version is "sha256:" + hex */
    uint64_t size;
    char bucket[65];
    char object[256];
} gw_artifact_update;

/* Parses and checks the KV value: name "trivy-db", version "sha256:<64 lowercase hex>" equal to
 * "sha256:" + sha256, size 1..max_size, bucket and object (defaults: artifact bucket and name).
 * Unknown keys are ignored. 0, or -EINVAL / -E2BIG with err. */
int gw_artifact_parse_update(const char *json, size_t len, uint64_t max_size, const char *default_bucket,
                             gw_artifact_update *ret, char *err, size_t errlen);

typedef struct gw_artifact gw_artifact;
typedef struct gw_artifact_agent gw_artifact_agent;

typedef struct {
    uint64_t updates_seen, fetches_ok, fetches_failed, commands_sent, downloads_ok, downloads_failed,
        downloads_refused, bytes_sent;
    int active_downloads;
    char current[GW_ARTIFACT_VERSION_MAX + 1]; /* "" when none */
} gw_artifact_stats;

/* Loads what the cache already holds and starts the watcher on nc (which must outlive it).
 * cfg must outlive it too. Nothing touches the disk until a version is announced. */
int gw_artifact_start(const gw_config *cfg, natsConnection *nc, gw_artifact **ret, char *err, size_t errlen);
/* Stops the watcher (an ongoing fetch is abandoned) and frees. Downloads and agents must be
 * gone. Accepts NULL; returns NULL. */
gw_artifact *gw_artifact_free(gw_artifact *a);
/* Makes live downloads end (between two chunks) and refuses new ones. */
void gw_artifact_stop(gw_artifact *a);
void gw_artifact_get_stats(gw_artifact *a, gw_artifact_stats *ret);

/* Per control stream state, from its Hello (capabilities, artifact_versions). */
int gw_artifact_agent_new(gw_artifact *a, const char *agent_id, const Serviceradar__Agent__V1__Hello *hello,
                          gw_artifact_agent **ret);
gw_artifact_agent *gw_artifact_agent_free(gw_artifact_agent *ag);
/* 1 with *ret filled (gw_command_clear it) when an artifact_update should be sent now; else 0.
 * Remembers the command as in flight. */
int gw_artifact_agent_next_command(gw_artifact_agent *ag, gw_command *ret);
/* Feeds the agent's CommandResult; results of other commands are ignored. */
void gw_artifact_agent_result(gw_artifact_agent *ag, const Serviceradar__Agent__V1__CommandResult *res);

typedef struct srg_call srg_call;
/* Serves one Download call (identity already checked) and finishes it. */
void gw_artifact_download(gw_artifact *a, srg_call *call, const char *agent_id);
