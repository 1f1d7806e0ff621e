/* Live control streams by agent identity. A second Control stream from the same identity
 * replaces the first: the old call is cancelled (under the registry lock, so it cannot be
 * freed meanwhile) and its later unregister is a no-op that reports the replacement. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct gw_registry gw_registry;
typedef struct srg_call srg_call;

int gw_registry_new(size_t max_agents, gw_registry **ret);
gw_registry *gw_registry_free(gw_registry *r);

/* Registers call for identity. *ret_token identifies this registration for unregister.
 * Returns 0, 1 when an older stream of the same identity was cancelled, -ENOSPC at the cap,
 * -ESHUTDOWN after gw_registry_close. */
int gw_registry_add(gw_registry *r, const char *identity, srg_call *call, uint64_t *ret_token);
/* Removes the registration if it is still the current one for identity. Returns 0 when it
 * was, -ESTALE when a newer stream replaced it (or it was never registered). The caller must
 * unregister before its handler returns. */
int gw_registry_remove(gw_registry *r, const char *identity, uint64_t token);
/* Number of registered agents. */
size_t gw_registry_count(gw_registry *r);
/* Refuses new registrations and cancels every registered call (shutdown). */
void gw_registry_close(gw_registry *r);
