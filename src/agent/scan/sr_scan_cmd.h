/* sr_scan_cmd: the scanner on the control stream: the `scan` command, and a run after each new
 * Trivy DB. */
#pragma once
#include "sr_scan.h"
#include "sr_transport.h"

/* Registers the `scan` command on t (payload ignored; progress per target; result: the run's
 * summary JSON). s must outlive t's command threads (free t first). */
int sr_scan_attach(sr_scan *s, sr_transport *t);
/* sr_artifact_installed_fn: records the new DB version and asks for a run. userdata: sr_scan. */
void sr_scan_on_db_installed(const char *version, const char *db_dir, void *userdata);
