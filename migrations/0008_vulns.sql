-- Vulnerability scans: Trivy reports and CycloneDX SBOMs that agents upload in parts
-- (UploadBatch.scan, subject scan.trivy.results), the packages installed on each host and
-- container, the vulnerabilities known for them and the findings with their open/fixed
-- lifecycle (docs/internals/vulns.md, docs/internals/contracts.md).
--
-- A target is "host" (the agent's own root filesystem) or "container:<id>". Severity is
-- Trivy's word (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL) with severity_rank 0..4 beside it for
-- sorting. Keys and names compare byte-wise (COLLATE "C").

-- Parts of documents still being received. A part is stored once (primary key); when all
-- `count` parts of (agent_id, scan_id, target, kind) are here the core assembles them in idx
-- order, checks total_size and total_sha256, processes the document and deletes the parts.
-- The scan_parts_retention job deletes sets that stay incomplete (retention.scan_parts_age).
CREATE TABLE scan_parts (
    agent_id     text COLLATE "C" NOT NULL,
    scan_id      text COLLATE "C" NOT NULL,
    target       text COLLATE "C" NOT NULL,
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('report', 'sbom')),
    idx          integer NOT NULL CHECK (idx >= 0),
    count        integer NOT NULL CHECK (count >= 1 AND idx < count),
    total_size   bigint NOT NULL,
    total_sha256 bytea NOT NULL,
    data         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, scan_id, target, kind, idx)
);
CREATE INDEX scan_parts_received_at ON scan_parts (received_at);

-- One row per scanned target of a scan run, written when its first part arrives.
-- report_status / sbom_status: NULL (nothing of that document yet), receiving, then
-- processed (report applied), stale (report older than the last applied one of the target:
-- recorded, findings untouched), stored (SBOM kept), failed (error says why) or expired
-- (parts incomplete past retention.scan_parts_age).
CREATE TABLE scans (
    agent_id          text COLLATE "C" NOT NULL,
    scan_id           text COLLATE "C" NOT NULL,
    target            text COLLATE "C" NOT NULL,
    target_name       text NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,   -- the agent's time, at most the time of arrival
    db_version        text NOT NULL DEFAULT '',
    scanner_version   text NOT NULL DEFAULT '',
    targets_in_run    integer NOT NULL DEFAULT 0,
    report_status     text CHECK (report_status IN ('receiving', 'processed', 'stale', 'failed', 'expired')),
    sbom_status       text CHECK (sbom_status IN ('receiving', 'stored', 'failed', 'expired')),
    error             text,
    packages          integer,                -- report: packages listed
    vulnerabilities   integer,                -- report: findings listed
    findings_opened   integer,                -- new findings (first seen)
    findings_reopened integer,                -- fixed findings seen again
    findings_fixed    integer,                -- open findings this report no longer lists
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz,
    PRIMARY KEY (agent_id, scan_id, target)
);
-- The newest applied report of a target (out-of-order check) and the API's scan lists.
CREATE INDEX scans_target_finished ON scans (agent_id, target, finished_at DESC);

-- Packages as Trivy identifies them. type is the result type (debian, alpine, redhat, jar,
-- npm, gomod, ...); version is the installed version as Trivy prints it ([epoch:]version
-- [-release]); purl is the package URL when Trivy gives one ('' otherwise), which tells apart
-- packages of the same name and version from different distributions.
CREATE TABLE packages (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type    text COLLATE "C" NOT NULL,
    name    text COLLATE "C" NOT NULL,
    version text COLLATE "C" NOT NULL,
    purl    text COLLATE "C" NOT NULL DEFAULT '',
    UNIQUE (type, name, version, purl)
);
CREATE INDEX packages_name ON packages (name);

-- A package installed on a target. path is where a language package was found (the jar,
-- the lock file, package.json; Trivy's FilePath), '' for OS packages. A package that a later
-- report no longer lists keeps its row with removed_at set (cleared when it comes back), so
-- findings keep their package.
CREATE TABLE host_packages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id      text COLLATE "C" NOT NULL,
    target        text COLLATE "C" NOT NULL,
    package_id    bigint NOT NULL REFERENCES packages (id),
    path          text COLLATE "C" NOT NULL DEFAULT '',
    class         text COLLATE "C" NOT NULL DEFAULT '', -- os-pkgs, lang-pkgs
    result_target text NOT NULL DEFAULT '',             -- the Trivy result it was listed in
    src_name      text NOT NULL DEFAULT '',
    src_version   text NOT NULL DEFAULT '',
    arch          text NOT NULL DEFAULT '',
    layer_digest  text NOT NULL DEFAULT '',
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    removed_at    timestamptz,
    last_scan_id  text COLLATE "C" NOT NULL,
    UNIQUE (agent_id, target, package_id, path)
);
CREATE INDEX host_packages_package ON host_packages (package_id);

-- The files a package installed (Trivy's InstalledFiles), as absolute paths inside the target.
-- Indexed by path: a mapped file of a running process leads to its package.
CREATE TABLE package_files (
    host_package_id bigint NOT NULL REFERENCES host_packages (id) ON DELETE CASCADE,
    path            text COLLATE "C" NOT NULL,
    PRIMARY KEY (host_package_id, path)
);
CREATE INDEX package_files_path ON package_files (path);

-- Vulnerability records as the latest report carried them (Trivy DB). cvss is Trivy's CVSS
-- map ({"nvd": {"V3Score": 9.8, "V3Vector": "...", ...}, "redhat": {...}}); cvss_v3_score the
-- highest V3Score in it.
CREATE TABLE vulnerabilities (
    id               text COLLATE "C" PRIMARY KEY,      -- CVE-2021-44228, GHSA-..., DLA-...
    severity         text COLLATE "C" NOT NULL DEFAULT 'UNKNOWN'
                     CHECK (severity IN ('UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    severity_rank    smallint NOT NULL DEFAULT 0 CHECK (severity_rank BETWEEN 0 AND 4),
    cvss             jsonb NOT NULL DEFAULT '{}',
    cvss_v3_score    real,
    title            text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    "references"     text[] NOT NULL DEFAULT '{}',
    cwe_ids          text[] NOT NULL DEFAULT '{}',
    primary_url      text NOT NULL DEFAULT '',
    published_at     timestamptz,
    last_modified_at timestamptz,
    data_source      jsonb,                              -- {"ID", "Name", "URL"}
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vulnerabilities_severity ON vulnerabilities (severity_rank);

-- A vulnerability of a package installed on a target. open while the latest applied report of
-- the target lists it; fixed (fixed_at = that report's time) once a newer report does not; a
-- fixed finding listed again is open again (reopened_at). Never deleted. severity is copied
-- from the report (the distribution's rating may differ from the record's).
CREATE TABLE findings (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id          text COLLATE "C" NOT NULL,
    target            text COLLATE "C" NOT NULL,
    vulnerability_id  text COLLATE "C" NOT NULL REFERENCES vulnerabilities (id),
    host_package_id   bigint NOT NULL REFERENCES host_packages (id),
    package_id        bigint NOT NULL REFERENCES packages (id),
    installed_version text NOT NULL DEFAULT '',
    fixed_version     text NOT NULL DEFAULT '',
    vendor_status     text NOT NULL DEFAULT '',          -- Trivy's Status: fixed, affected, will_not_fix, ...
    severity          text COLLATE "C" NOT NULL
                      CHECK (severity IN ('UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    severity_rank     smallint NOT NULL CHECK (severity_rank BETWEEN 0 AND 4),
    status            text COLLATE "C" NOT NULL CHECK (status IN ('open', 'fixed')),
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    fixed_at          timestamptz,
    reopened_at       timestamptz,
    last_scan_id      text COLLATE "C" NOT NULL,
    UNIQUE (agent_id, target, vulnerability_id, host_package_id)
);
-- Per host, filtered by status and ordered by severity (the API's page order), the list over
-- all hosts, the per-CVE lookup and the lifecycle step (agent_id, target, status).
CREATE INDEX findings_host_status ON findings (agent_id, status, severity_rank DESC, id);
CREATE INDEX findings_status ON findings (status, severity_rank DESC, id);
CREATE INDEX findings_vulnerability ON findings (vulnerability_id);
CREATE INDEX findings_target_status ON findings (agent_id, target, status);

-- The latest CycloneDX SBOM of each target, exactly as the agent sent it.
CREATE TABLE sboms (
    agent_id    text COLLATE "C" NOT NULL,
    target      text COLLATE "C" NOT NULL,
    scan_id     text COLLATE "C" NOT NULL,
    finished_at timestamptz NOT NULL,
    sha256      bytea NOT NULL,
    document    bytea NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, target)
);
