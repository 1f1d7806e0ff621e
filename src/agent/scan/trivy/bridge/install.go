package main

import (
	"archive/tar"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	bolt "go.etcd.io/bbolt"
)

// Bundle limits: a real trivy.db is about 1 GB uncompressed today.
const (
	maxDBBytes   = 16 << 30
	maxMetaBytes = 64 << 10
	maxEntries   = 16
)

// installBundle extracts a Trivy DB bundle (db.tar.gz of the trivy-db OCI artifact) into dest,
// which must not exist. On failure dest does not exist either.
func installBundle(bundle, dest string) ([]byte, int, error) {
	if err := os.Mkdir(dest, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, eEXIST, fmt.Errorf("could not install into %s: it already exists", dest)
		}
		return nil, errnoOf(err), fmt.Errorf("could not create %s: %w", dest, err)
	}
	meta, code, err := extractAndCheck(bundle, dest)
	if err != nil {
		_ = os.RemoveAll(dest)
		return nil, code, err
	}
	return meta, 0, nil
}

func extractAndCheck(bundle, dest string) ([]byte, int, error) {
	f, err := os.Open(bundle)
	if err != nil {
		return nil, errnoOf(err), fmt.Errorf("could not open bundle %s: %w", bundle, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, eBADMSG, fmt.Errorf("bundle %s is not gzip: %w", bundle, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	seen := map[string]bool{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, eBADMSG, fmt.Errorf("bundle %s: bad tar: %w", bundle, err)
		}
		if n >= maxEntries {
			return nil, eBADMSG, fmt.Errorf("bundle %s: more than %d entries", bundle, maxEntries)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag == tar.TypeDir && (name == "" || name == ".") {
			continue
		}
		if name != "trivy.db" && name != "metadata.json" {
			return nil, eBADMSG, fmt.Errorf("bundle %s: unexpected entry %q", bundle, h.Name)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, eBADMSG, fmt.Errorf("bundle %s: %s is not a regular file", bundle, name)
		}
		if seen[name] {
			return nil, eBADMSG, fmt.Errorf("bundle %s: %s appears twice", bundle, name)
		}
		seen[name] = true
		limit := int64(maxDBBytes)
		if name == "metadata.json" {
			limit = maxMetaBytes
		}
		if h.Size < 0 || h.Size > limit {
			return nil, eOVERFLOW, fmt.Errorf("bundle %s: %s has %d bytes, limit %d", bundle, name, h.Size, limit)
		}
		if err := writeFile(filepath.Join(dest, name), tr, h.Size); err != nil {
			code := eIO
			var corrupt flate.CorruptInputError
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
				errors.Is(err, tar.ErrHeader) || errors.As(err, &corrupt) {
				code = eBADMSG // the bundle, not the disk
			}
			return nil, code, fmt.Errorf("bundle %s: could not extract %s: %w", bundle, name, err)
		}
	}
	// The tar ends before the gzip stream does: read the rest (zero padding) so gzip checks its CRC
	// and size, and refuse trailing data.
	if n, err := io.Copy(io.Discard, io.LimitReader(gz, 1<<20)); err != nil {
		return nil, eBADMSG, fmt.Errorf("bundle %s: %w", bundle, err)
	} else if n == 1<<20 {
		return nil, eBADMSG, fmt.Errorf("bundle %s: data after the tar archive", bundle)
	}
	if !seen["trivy.db"] || !seen["metadata.json"] {
		return nil, eBADMSG, fmt.Errorf("bundle %s: trivy.db and metadata.json are both required", bundle)
	}

	raw, err := os.ReadFile(filepath.Join(dest, "metadata.json"))
	if err != nil {
		return nil, eIO, fmt.Errorf("could not read metadata.json: %w", err)
	}
	var m metadata.Metadata
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, eBADMSG, fmt.Errorf("bundle %s: metadata.json: %w", bundle, err)
	}
	if m.Version != trivydb.SchemaVersion {
		return nil, eBADMSG, fmt.Errorf("bundle %s: DB schema version %d, this agent reads %d",
			bundle, m.Version, trivydb.SchemaVersion)
	}
	if err := checkBolt(filepath.Join(dest, "trivy.db")); err != nil {
		return nil, eBADMSG, fmt.Errorf("bundle %s: trivy.db: %w", bundle, err)
	}
	if d, err := os.Open(dest); err == nil {
		_ = d.Sync()
		d.Close()
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, eIO, err
	}
	return out, 0, nil
}

func writeFile(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkBolt opens the DB read-only and walks its bucket names: a truncated or foreign file fails.
// bbolt panics on some malformed pages and faults on others: both become an error here.
func checkBolt(path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed: %v", r)
		}
	}()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.View(func(tx *bolt.Tx) error {
		n := 0
		err := tx.ForEach(func(_ []byte, _ *bolt.Bucket) error { n++; return nil })
		if err == nil && n == 0 {
			err = errors.New("no buckets")
		}
		return err
	})
}
