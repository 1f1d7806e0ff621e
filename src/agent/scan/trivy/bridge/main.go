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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
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
	eNOMEM     = 12
	eUNKNOWN   = 5
	maxOptsLen = 64 << 10
)

var (
	scanMu sync.Mutex // one scan at a time: trivy-db keeps one global handle

	cancelMu sync.Mutex
	cancels  = map[int]context.CancelFunc{}
	nextScan int
)

// track registers cancel so srtrivy_cancel_all reaches it; the returned func unregisters.
func track(cancel context.CancelFunc) func() {
	cancelMu.Lock()
	defer cancelMu.Unlock()
	id := nextScan
	nextScan++
	cancels[id] = cancel
	return func() {
		cancelMu.Lock()
		delete(cancels, id)
		cancelMu.Unlock()
	}
}

//export srtrivy_cancel_all
func srtrivy_cancel_all() {
	cancelMu.Lock()
	defer cancelMu.Unlock()
	for _, c := range cancels {
		c()
	}
}

type scanOpts struct {
	Parallel int      `json:"parallel"`
	TimeoutS int      `json:"timeout_s"`
	CacheDir string   `json:"cache_dir"`
	SkipDirs []string `json:"skip_dirs"`
}

func init() {
	// Trivy logs through slog to stderr; the agent owns stderr, so only errors get through.
	log.InitLogger(false, true)
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

// cbytes copies b into malloc'ed memory with a terminating NUL.
func cbytes(b []byte) *C.char {
	p := C.malloc(C.size_t(len(b) + 1))
	if p == nil {
		return nil
	}
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
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return eTIMEDOUT
	case errors.Is(err, context.Canceled):
		return eCANCELED
	case errors.Is(err, os.ErrNotExist):
		return eNOENT
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

func runScan(root, dbDir string, o scanOpts) ([]byte, []byte, int, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, nil, errnoOf(err), fmt.Errorf("could not open root %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, nil, eNOTDIR, fmt.Errorf("root %s is not a directory", root)
	}
	if _, err := os.Stat(trivydb.Path(dbDir)); err != nil {
		return nil, nil, errnoOf(err), fmt.Errorf("no Trivy DB in %s: %w", dbDir, err)
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
	defer track(cancel)()

	scanMu.Lock()
	defer scanMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, errnoOf(err), fmt.Errorf("scan of %s cancelled before it started: %w", root, err)
	}
	// Bounded parallelism: Go runs at most `parallel` threads of scan work at once, and gives the
	// memory back to the system when the scan is over (the agent idles between scans).
	runtime.GOMAXPROCS(parallel)
	defer debug.FreeOSMemory()

	if err := db.Init(dbDir); err != nil {
		return nil, nil, eIO, fmt.Errorf("could not open the Trivy DB in %s: %w", dbDir, err)
	}
	defer func() { _ = db.Close() }()

	copts := cache.Options{Backend: string(cache.TypeMemory)}
	if o.CacheDir != "" {
		copts = cache.Options{Backend: string(cache.TypeFS), CacheDir: o.CacheDir}
	}
	c, cleanupCache, err := cache.New(copts)
	if err != nil {
		return nil, nil, eIO, fmt.Errorf("could not open the scan cache: %w", err)
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
		return nil, nil, eINVAL, fmt.Errorf("could not set up the scan of %s: %w", root, err)
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
		return nil, nil, errnoOf(err), fmt.Errorf("could not scan %s: %w", root, err)
	}
	if err := result.Filter(ctx, report, result.FilterOptions{Severities: allSeverities()}); err != nil {
		return nil, nil, eIO, fmt.Errorf("could not filter the results of %s: %w", root, err)
	}

	rep, err := json.Marshal(report)
	if err != nil {
		return nil, nil, eIO, fmt.Errorf("could not encode the report of %s: %w", root, err)
	}
	marshaler := sbomcdx.NewMarshaler("serviceradar-agent (trivy " + moduleVersion() + ")")
	bom, err := marshaler.MarshalReport(ctx, report)
	if err != nil {
		return nil, nil, eIO, fmt.Errorf("could not make the CycloneDX SBOM of %s: %w", root, err)
	}
	var sb strings.Builder
	enc := cdx.NewBOMEncoder(&sb, cdx.BOMFileFormatJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return nil, nil, eIO, fmt.Errorf("could not encode the CycloneDX SBOM of %s: %w", root, err)
	}
	return rep, []byte(sb.String()), 0, nil
}

//export srtrivy_scan
func srtrivy_scan(cRoot, cDB, cOpts *C.char, report **C.char, reportLen *C.size_t,
	sbom **C.char, sbomLen *C.size_t, errOut **C.char) C.int {
	if cRoot == nil || cDB == nil || report == nil || reportLen == nil || sbom == nil || sbomLen == nil {
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
	rep, bom, code, err := runScan(C.GoString(cRoot), C.GoString(cDB), o)
	if err != nil {
		setErr(errOut, "%v", err)
		return C.int(-code)
	}
	r := cbytes(rep)
	s := cbytes(bom)
	if r == nil || s == nil {
		C.free(unsafe.Pointer(r))
		C.free(unsafe.Pointer(s))
		return -eNOMEM
	}
	*report, *reportLen = r, C.size_t(len(rep))
	*sbom, *sbomLen = s, C.size_t(len(bom))
	return 0
}

//export srtrivy_db_install
func srtrivy_db_install(cBundle, cDest *C.char, metaOut **C.char, errOut **C.char) C.int {
	if cBundle == nil || cDest == nil || metaOut == nil {
		setErr(errOut, "invalid arguments")
		return -eINVAL
	}
	meta, code, err := installBundle(C.GoString(cBundle), C.GoString(cDest))
	if err != nil {
		setErr(errOut, "%v", err)
		return C.int(-code)
	}
	m := cbytes(meta)
	if m == nil {
		return -eNOMEM
	}
	*metaOut = m
	return 0
}

func main() {}
