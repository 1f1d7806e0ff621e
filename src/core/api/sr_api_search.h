/* POST /api/v1/query: SRQL over the events table (sr_api_search.c). Internal to sr_core_api. */
#pragma once
#include "sr_api_internal.h"

#define SR_API_QUERY_TIMEOUT_MS 10000 /* statement_timeout of each query statement */

/* Compiles the request's SRQL, runs it read-only on a pooled connection and answers with a
 * QueryResponse (openapi.json); SRQL errors answer 400 with position/length/hint, SIMILAR_TO
 * 501 not_available. */
enum MHD_Result sr_api_post_query(sr_api *api, struct MHD_Connection *c, const sr_api_req *req);
