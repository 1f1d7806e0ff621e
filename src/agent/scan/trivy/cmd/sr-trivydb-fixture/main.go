// sr-trivydb-fixture builds a small Trivy DB with trivy-db's own Go package, for tests and
// benchmarks (never shipped). The advisories are written for packages that really exist in a
// given root filesystem (read from its dpkg status), so a scan of that root must report exactly
// the findings the tool predicts, which it writes as the test's oracle.
//
//	sr-trivydb-fixture --rootfs ROOT --spec SPEC.json --out DIR [--expected FILE]
//	                   [--synthetic N] [--pad-mb N] [--bundle FILE.tar.gz]
//
// SPEC.json:
//
//	{"os": [{"source": "bash", "id": "CVE-…", "rule": "vulnerable|unfixed|fixed_before",
//	         "severity": "HIGH", "title": "…"}],
//	 "npm": [{"name": "lodash", "id": "CVE-…", "vulnerable": ["<4.17.21"], "patched": ["4.17.21"],
//	          "severity": "HIGH", "title": "…", "installed": "4.17.20", "path": "usr/lib/node_modules/lodash/package.json"}]}
//
// "vulnerable": fixed in a version just above the installed source version; "fixed_before": fixed
// in version 0~ (below anything installed, so not reported); "unfixed": no fixed version.
// --synthetic N adds such advisories (alternately vulnerable and fixed_before) for the first N
// installed source packages, for benchmarks. --pad-mb adds N MiB of random data in a bucket the
// scanner never reads, to make a bundle of a given size.
package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	bolt "go.etcd.io/bbolt"
)

type osAdv struct {
	Source   string `json:"source"`
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
}

type npmAdv struct {
	Name       string   `json:"name"`
	ID         string   `json:"id"`
	Vulnerable []string `json:"vulnerable"`
	Patched    []string `json:"patched"`
	Severity   string   `json:"severity"`
	Title      string   `json:"title"`
	Installed  string   `json:"installed"`
	Path       string   `json:"path"`
	Expect     bool     `json:"expect"`
}

type spec struct {
	OS  []osAdv  `json:"os"`
	NPM []npmAdv `json:"npm"`
}

// Finding is one expected line of the scan: what Trivy reports as (VulnerabilityID, PkgName,
// InstalledVersion, FixedVersion).
type Finding struct {
	ID               string `json:"id"`
	PkgName          string `json:"pkg_name"`
	InstalledVersion string `json:"installed_version"`
	FixedVersion     string `json:"fixed_version"`
	Class            string `json:"class"`
}

type dpkgPkg struct {
	name, version, src, srcVersion string
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "sr-trivydb-fixture: "+format+"\n", a...)
	os.Exit(1)
}

func osRelease(root string) (id, versionID string) {
	f, err := os.Open(filepath.Join(root, "etc/os-release"))
	if err != nil {
		f, err = os.Open(filepath.Join(root, "usr/lib/os-release"))
		if err != nil {
			fail("could not read os-release under %s: %v", root, err)
		}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			versionID = v
		}
	}
	return id, versionID
}

// readDpkg reads installed packages from ROOT/var/lib/dpkg/status, with source name and version
// as Trivy's dpkg analyzer derives them.
func readDpkg(root string) []dpkgPkg {
	raw, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		fail("could not read dpkg status under %s: %v", root, err)
	}
	var out []dpkgPkg
	for _, para := range strings.Split(string(raw), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(para, "\n") {
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		if fields["Package"] == "" || !strings.HasSuffix(fields["Status"], " installed") {
			continue
		}
		p := dpkgPkg{name: fields["Package"], version: fields["Version"]}
		p.src, p.srcVersion = p.name, p.version
		if s := fields["Source"]; s != "" {
			name, ver, hasVer := strings.Cut(s, " ")
			p.src = name
			if hasVer {
				p.srcVersion = strings.Trim(ver, "()")
			}
		}
		out = append(out, p)
	}
	return out
}

func severity(s string) types.Severity {
	for i, n := range types.SeverityNames {
		if strings.EqualFold(n, s) {
			return types.Severity(i)
		}
	}
	return types.SeverityUnknown
}

func putVuln(tx *bolt.Tx, dbc db.Config, id, sev, title string) {
	if sev == "" {
		sev = "MEDIUM"
	}
	v := types.Vulnerability{
		Title:       title,
		Description: "Test advisory made by sr-trivydb-fixture.",
		Severity:    sev,
		CVSS: types.VendorCVSS{"nvd": types.CVSS{
			V3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", V3Score: 9.8}},
		References: []string{"https://example.invalid/" + id},
	}
	if err := dbc.PutVulnerability(tx, id, v); err != nil {
		fail("could not store %s: %v", id, err)
	}
}

func main() {
	root := flag.String("rootfs", "", "root filesystem the advisories are written for")
	specPath := flag.String("spec", "", "advisory spec (JSON)")
	out := flag.String("out", "", "directory for trivy.db and metadata.json (created)")
	expectedPath := flag.String("expected", "", "write the expected findings (JSON) here")
	synthetic := flag.Int("synthetic", 0, "also add advisories for the first N installed source packages")
	padMB := flag.Int("pad-mb", 0, "add N MiB of random padding")
	bundle := flag.String("bundle", "", "also write a db.tar.gz bundle here")
	flag.Parse()
	if *root == "" || *out == "" {
		fail("--rootfs and --out are required")
	}
	var sp spec
	if *specPath != "" {
		raw, err := os.ReadFile(*specPath)
		if err != nil {
			fail("could not read %s: %v", *specPath, err)
		}
		if err := json.Unmarshal(raw, &sp); err != nil {
			fail("could not parse %s: %v", *specPath, err)
		}
	}
	osID, osVer := osRelease(*root)
	if osID != "debian" {
		fail("only Debian root filesystems are supported, %s has ID=%s", *root, osID)
	}
	if osVer == "" {
		fail("%s has no VERSION_ID", *root)
	}
	major, _, _ := strings.Cut(osVer, ".")
	platform := "debian " + major
	pkgs := readDpkg(*root)
	if len(pkgs) == 0 {
		fail("no installed packages in %s", *root)
	}
	bySrc := map[string][]dpkgPkg{}
	var srcs []string
	for _, p := range pkgs {
		if _, ok := bySrc[p.src]; !ok {
			srcs = append(srcs, p.src)
		}
		bySrc[p.src] = append(bySrc[p.src], p)
	}
	sort.Strings(srcs)
	for i := 0; i < *synthetic && i < len(srcs); i++ {
		rule := "vulnerable"
		if i%2 == 1 {
			rule = "fixed_before"
		}
		sp.OS = append(sp.OS, osAdv{Source: srcs[i], ID: fmt.Sprintf("CVE-2099-%05d", i+1), Rule: rule,
			Severity: types.SeverityNames[1+i%4], Title: "synthetic advisory for " + srcs[i]})
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail("could not create %s: %v", *out, err)
	}
	if _, err := os.Stat(db.Path(*out)); err == nil {
		fail("%s already exists", db.Path(*out))
	}
	if err := db.Init(*out); err != nil {
		fail("could not create the DB in %s: %v", *out, err)
	}
	dbc := db.Config{}
	var expected []Finding
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		if err := dbc.PutDataSource(tx, platform, types.DataSource{ID: "debian",
			Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"}); err != nil {
			return err
		}
		for _, a := range sp.OS {
			bins, ok := bySrc[a.Source]
			if !ok {
				return fmt.Errorf("source package %s is not installed in %s", a.Source, *root)
			}
			srcVer := bins[0].srcVersion
			adv := types.Advisory{}
			switch a.Rule {
			case "vulnerable":
				adv.FixedVersion = srcVer + "+sr1"
			case "fixed_before":
				adv.FixedVersion = "0~"
			case "unfixed":
				adv.Status = types.StatusAffected
			default:
				return fmt.Errorf("%s: unknown rule %q", a.ID, a.Rule)
			}
			if err := dbc.PutAdvisory(tx, []string{platform, a.Source}, a.ID, adv); err != nil {
				return err
			}
			putVuln(tx, dbc, a.ID, a.Severity, a.Title)
			if a.Rule == "fixed_before" {
				continue
			}
			for _, b := range bins {
				expected = append(expected, Finding{ID: a.ID, PkgName: b.name, InstalledVersion: b.version,
					FixedVersion: adv.FixedVersion, Class: "os-pkgs"})
			}
		}
		const npmBucket = "npm::GitHub Security Advisory npm"
		if len(sp.NPM) > 0 {
			if err := dbc.PutDataSource(tx, npmBucket, types.DataSource{ID: "ghsa",
				Name: "GitHub Security Advisory npm", URL: "https://github.com/advisories"}); err != nil {
				return err
			}
		}
		for _, a := range sp.NPM {
			adv := types.Advisory{VulnerableVersions: a.Vulnerable, PatchedVersions: a.Patched}
			if err := dbc.PutAdvisory(tx, []string{npmBucket, a.Name}, a.ID, adv); err != nil {
				return err
			}
			putVuln(tx, dbc, a.ID, a.Severity, a.Title)
			if a.Expect {
				expected = append(expected, Finding{ID: a.ID, PkgName: a.Name, InstalledVersion: a.Installed,
					FixedVersion: strings.Join(a.Patched, ", "), Class: "lang-pkgs"})
			}
		}
		return nil
	})
	if err != nil {
		fail("could not write advisories: %v", err)
	}
	if *padMB > 0 {
		if err := pad(dbc, *padMB); err != nil {
			fail("could not pad the DB: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		fail("could not close the DB: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := metadata.NewClient(*out).Update(metadata.Metadata{Version: db.SchemaVersion,
		NextUpdate: now.Add(24 * time.Hour), UpdatedAt: now}); err != nil {
		fail("could not write metadata.json: %v", err)
	}
	if *expectedPath != "" {
		sort.Slice(expected, func(i, j int) bool {
			a, b := expected[i], expected[j]
			if a.ID != b.ID {
				return a.ID < b.ID
			}
			return a.PkgName < b.PkgName
		})
		raw, _ := json.MarshalIndent(expected, "", "  ")
		if err := os.WriteFile(*expectedPath, append(raw, '\n'), 0o644); err != nil {
			fail("could not write %s: %v", *expectedPath, err)
		}
	}
	if *bundle != "" {
		if err := writeBundle(*out, *bundle); err != nil {
			fail("could not write the bundle %s: %v", *bundle, err)
		}
	}
	fmt.Printf("sr-trivydb-fixture: %s: %d advisories, %d expected findings, platform %q\n",
		*out, len(sp.OS)+len(sp.NPM), len(expected), platform)
}

func pad(dbc db.Config, mb int) error {
	buf := make([]byte, 1<<20)
	for i := 0; i < mb; i += 16 {
		err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("sr-padding"))
			if err != nil {
				return err
			}
			for j := i; j < i+16 && j < mb; j++ {
				if _, err := rand.Read(buf); err != nil {
					return err
				}
				if err := b.Put([]byte(fmt.Sprintf("%08d", j)), buf); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func writeBundle(dir, path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"metadata.json", "trivy.db"} {
		src, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		st, _ := src.Stat()
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := errors.Join(tw.Close(), gz.Close(), f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
