// Package main is the Trivy bridge of serviceradar-agent, built with -buildmode=c-archive and
// linked into the agent. It exposes a narrow C API (see src/agent/scan/sr_trivy.h, which wraps
// these exports): scan a root filesystem offline with a given DB, and install a DB bundle.
//
// The scan reproduces what `trivy rootfs --scanners vuln --list-all-pkgs --offline-scan
// --skip-db-update` does (pkg/commands/artifact: ScanRootfs, filesystem standalone service,
// result.Filter), without Trivy's command-line layer, so the agent does not link Trivy's image,
// registry, cloud and server code. Scans are serialized: trivy-db keeps one global handle.
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	cdx "github.com/CycloneDX/cyclonedx-go"
	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"

	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/db"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	artlocal "github.com/aquasecurity/trivy/pkg/fanal/artifact/local"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/fanal/walker"
	"github.com/aquasecurity/trivy/pkg/log"
	"github.com/aquasecurity/trivy/pkg/result"
	sbomcdx "github.com/aquasecurity/trivy/pkg/sbom/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
	bolt "go.etcd.io/bbolt"
)

const trivyModule = "github.com/aquasecurity/trivy"

// Negative errno values returned to C (Linux numbering).
const (
	eNOENT     = 2
	eIO        = 5
	eEXIST     = 17
	eINVAL     = 22
	eTIMEDOUT  = 110
	eBADMSG    = 74
	eCANCELED  = 125
	eMSGSIZE   = 90
	eNOTDIR    = 20
	eOVERFLOW  = 75
	maxOptsLen = 64 << 10
)

var scanMu sync.Mutex // one scan at a time: trivy-db keeps one global handle

type scanOpts struct {
	Parallel int      `json:"parallel"`
	TimeoutS int      `json:"timeout_s"`
	CacheDir string   `json:"cache_dir"`
	SkipDirs []string `json:"skip_dirs"`
}

// watchCancel cancels ctx once the C-owned flag becomes non-zero (checked every 100 ms; reading C
// memory from Go is allowed, the C side writes it atomically). The returned func stops the watch.
func watchCancel(flag *C.int, cancel context.CancelFunc) func() {
	if flag == nil {
		return func() {}
	}
	p := (*int32)(unsafe.Pointer(flag))
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if atomic.LoadInt32(p) != 0 {
				cancel()
				return
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}

func init() {
	// Trivy logs through slog; its warnings (an OS it has no data for, a file it could not parse)
	// go to the agent's stderr next to the agent's own log, its info lines do not.
	log.SetDefault(log.New(log.NewHandler(os.Stderr, &log.Options{Level: slog.LevelWarn})))
	// The package initializers of Trivy's dependencies leave garbage behind; the agent idles
	// between scans, so give it back now rather than at the first GC.
	debug.FreeOSMemory()
}

func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == trivyModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

//export srtrivy_version
func srtrivy_version() *C.char {
	return C.CString(moduleVersion())
}

func setErr(out **C.char, format string, a ...any) {
	if out != nil {
		*out = C.CString(fmt.Sprintf(format, a...))
	}
}

// cbytes copies b into malloc'ed memory with a terminating NUL (cgo's C.malloc aborts rather than
// return NULL).
func cbytes(b []byte) *C.char {
	p := C.malloc(C.size_t(len(b) + 1))
	dst := unsafe.Slice((*byte)(p), len(b)+1)
	copy(dst, b)
	dst[len(b)] = 0
	return (*C.char)(p)
}

// disabledAnalyzers is the set `trivy rootfs --scanners vuln` disables (pkg/commands/artifact:
// disabledAnalyzers + ScanRootfs), with no secret, misconfiguration, license or Rekor scanning.
func disabledAnalyzers() []analyzer.Type {
	var a []analyzer.Type
	a = append(a, analyzer.TypeApkCommand)
	a = append(a, analyzer.TypeSecret)
	a = append(a, analyzer.TypeConfigFiles...)
	a = append(a, analyzer.TypeLicenseFile)
	a = append(a, analyzer.TypeHistoryDockerfile)
	a = append(a, analyzer.TypeExecutable)
	a = append(a, analyzer.TypeRpmArchive)
	a = append(a, analyzer.TypeLockfiles...)
	// Java archives are matched through Trivy's Java DB, which is not distributed yet: without it
	// the jar analyzer fails the whole scan of any root holding a .jar. Skipped until it is.
	a = append(a, analyzer.TypeJar)
	return a
}

func allSeverities() []dbtypes.Severity {
	s := make([]dbtypes.Severity, 0, len(dbtypes.SeverityNames))
	for i := range dbtypes.SeverityNames {
		s = append(s, dbtypes.Severity(i))
	}
	return s
}

func errnoOf(err error) int {
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return eTIMEDOUT
	case errors.Is(err, context.Canceled):
		return eCANCELED
	case errors.Is(err, os.ErrNotExist):
		return eNOENT
	case errors.As(err, &errno) && errno != 0:
		return int(errno)
	default:
		return eIO
	}
}

// linkRootWalker walks a root that is a symbolic link to a directory, as a container's
// /proc/<pid>/root is: filepath.WalkDir does not follow a link given as its root (it would report
// the link alone and nothing under it), so such a root is walked as "<root>/", which the kernel
// resolves; every path below it goes through the link as well.
type linkRootWalker struct{ *walker.FS }

func (w linkRootWalker) Walk(root string, opt walker.Option, fn walker.WalkFunc) error {
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		root += string(filepath.Separator)
	}
	return w.FS.Walk(root, opt, fn)
}

// scanOutput is what a scan gives back: the report, the SBOM, and counts for the caller's summary.
type scanOutput struct {
	report, sbom    []byte
	packages, vulns uint64
}

func runScan(root, dbDir string, o scanOpts, cancelFlag *C.int) (scanOutput, int, error) {
	var none scanOutput
	st, err := os.Stat(root)
	if err != nil {
		return none, errnoOf(err), fmt.Errorf("could not open root %s: %w", root, err)
	}
	if !st.IsDir() {
		return none, eNOTDIR, fmt.Errorf("root %s is not a directory", root)
	}
	if _, err := os.Stat(trivydb.Path(dbDir)); err != nil {
		return none, errnoOf(err), fmt.Errorf("no Trivy DB in %s: %w", dbDir, err)
	}
	timeout := time.Duration(o.TimeoutS) * time.Second
	if timeout <= 0 {
		timeout = time.Hour
	}
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer watchCancel(cancelFlag, cancel)()
	if cancelFlag != nil && atomic.LoadInt32((*int32)(unsafe.Pointer(cancelFlag))) != 0 {
		return none, eCANCELED, fmt.Errorf("scan of %s cancelled before it started", root)
	}

	scanMu.Lock()
	defer scanMu.Unlock()
	if err := ctx.Err(); err != nil {
		return none, errnoOf(err), fmt.Errorf("scan of %s cancelled before it started: %w", root, err)
	}
	// Bounded parallelism: Go runs at most `parallel` threads of scan work at once (threads blocked
	// in system calls aside).
	runtime.GOMAXPROCS(parallel)

	// Read-only: the agent never writes the DB it was given (the installer swaps whole directories).
	if err := db.Init(dbDir, trivydb.WithBoltOptions(&bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})); err != nil {
		return none, eIO, fmt.Errorf("could not open the Trivy DB in %s: %w", dbDir, err)
	}
	defer func() { _ = db.Close() }()

	copts := cache.Options{Backend: string(cache.TypeMemory)}
	if o.CacheDir != "" {
		copts = cache.Options{Backend: string(cache.TypeFS), CacheDir: o.CacheDir}
	}
	c, cleanupCache, err := cache.New(copts)
	if err != nil {
		return none, eIO, fmt.Errorf("could not open the scan cache: %w", err)
	}
	defer cleanupCache()

	art, err := artlocal.NewArtifact(root, c, linkRootWalker{walker.NewFS()}, artifact.Option{
		DisabledAnalyzers: disabledAnalyzers(),
		Parallel:          parallel,
		Offline:           true,
		NoProgress:        true,
		DetectionPriority: ftypes.PriorityPrecise,
		WalkerOption:      walker.Option{SkipDirs: o.SkipDirs},
	})
	if err != nil {
		return none, eINVAL, fmt.Errorf("could not set up the scan of %s: %w", root, err)
	}
	backend := local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(),
		vulnerability.NewClient(trivydb.Config{}))
	svc := scan.NewService(backend, art)

	report, err := svc.ScanArtifact(ctx, types.ScanOptions{
		PkgTypes:            types.PkgTypes,
		PkgRelationships:    ftypes.Relationships,
		Scanners:            types.Scanners{types.VulnerabilityScanner, types.SBOMScanner},
		VulnSeveritySources: []dbtypes.SourceID{"auto"},
	})
	if err != nil {
		return none, errnoOf(err), fmt.Errorf("could not scan %s: %w", root, err)
	}
	if err := result.Filter(ctx, report, result.FilterOptions{Severities: allSeverities()}); err != nil {
		return none, eIO, fmt.Errorf("could not filter the results of %s: %w", root, err)
	}

	rep, err := json.Marshal(report)
	if err != nil {
		return none, eIO, fmt.Errorf("could not encode the report of %s: %w", root, err)
	}
	marshaler := sbomcdx.NewMarshaler("serviceradar-agent (trivy " + moduleVersion() + ")")
	bom, err := marshaler.MarshalReport(ctx, report)
	if err != nil {
		return none, eIO, fmt.Errorf("could not make the CycloneDX SBOM of %s: %w", root, err)
	}
	var sb bytes.Buffer
	enc := cdx.NewBOMEncoder(&sb, cdx.BOMFileFormatJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return none, eIO, fmt.Errorf("could not encode the CycloneDX SBOM of %s: %w", root, err)
	}
	out := scanOutput{report: rep, sbom: sb.Bytes()}
	for _, r := range report.Results {
		out.packages += uint64(len(r.Packages))
		out.vulns += uint64(len(r.Vulnerabilities))
	}
	return out, 0, nil
}

// recoverTo turns a panic in Trivy code running on the calling thread into an error return, so
// the agent survives it (panics in Trivy's own goroutines cannot be caught and end the process).
func recoverTo(ret *C.int, errOut **C.char) {
	if r := recover(); r != nil {
		setErr(errOut, "trivy panicked: %v", r)
		*ret = -eIO
	}
}

//export srtrivy_scan
func srtrivy_scan(cRoot, cDB, cOpts *C.char, cancelFlag *C.int, report **C.char, reportLen *C.size_t,
	sbom **C.char, sbomLen *C.size_t, counts *C.ulonglong, errOut **C.char) (ret C.int) {
	defer recoverTo(&ret, errOut)
	if cRoot == nil || cDB == nil || report == nil || reportLen == nil || sbom == nil || sbomLen == nil ||
		counts == nil {
		setErr(errOut, "invalid arguments")
		return -eINVAL
	}
	var o scanOpts
	if cOpts != nil {
		raw := C.GoString(cOpts)
		if len(raw) > maxOptsLen {
			setErr(errOut, "scan options over %d bytes", maxOptsLen)
			return -eMSGSIZE
		}
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			setErr(errOut, "could not parse scan options: %v", err)
			return -eINVAL
		}
	}
	out, code, err := runScan(C.GoString(cRoot), C.GoString(cDB), o, cancelFlag)
	if err != nil {
		setErr(errOut, "%v", err)
		return C.int(-code)
	}
	*report, *reportLen = cbytes(out.report), C.size_t(len(out.report))
	*sbom, *sbomLen = cbytes(out.sbom), C.size_t(len(out.sbom))
	c := unsafe.Slice(counts, 2)
	c[0], c[1] = C.ulonglong(out.packages), C.ulonglong(out.vulns)
	// The agent idles between scans: give the scan's memory back now that C holds the copies.
	out = scanOutput{}
	debug.FreeOSMemory()
	return 0
}

//export srtrivy_db_install
func srtrivy_db_install(cBundle, cDest *C.char, metaOut **C.char, errOut **C.char) (ret C.int) {
	defer recoverTo(&ret, errOut)
	if cBundle == nil || cDest == nil || metaOut == nil {
		setErr(errOut, "invalid arguments")
		return -eINVAL
	}
	meta, code, err := installBundle(C.GoString(cBundle), C.GoString(cDest))
	if err != nil {
		setErr(errOut, "%v", err)
		return C.int(-code)
	}
	*metaOut = cbytes(meta)
	return 0
}

func main() {}
