package api

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// downloadLifetime is how long a download's URL works, as Azure's SAS
// URLs for VPN client packages do.
const downloadLifetime = time.Hour

// download is a file kept for download.
type download struct {
	data    []byte
	expires time.Time
}

// downloads are files served by an unguessable name (the URL is the
// credential, as a SAS URL is) until they expire: VPN client packages and
// packet captures.
type downloads struct {
	what string // for errors: "VPN client packages"
	max  int    // files kept at once
	mu   sync.Mutex
	m    map[string]download
}

func newDownloads(what string, max int) *downloads {
	return &downloads{what: what, max: max, m: map[string]download{}}
}

// add keeps data for download and returns its name, ending in ext.
func (d *downloads) add(data []byte, ext string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	name := hex.EncodeToString(b[:]) + ext
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for n, f := range d.m {
		if now.After(f.expires) {
			delete(d.m, n)
		}
	}
	if len(d.m) >= d.max {
		return "", arm.Errorf(arm.CodeTooManyRequests, "%d %s wait for download; try again within the hour", len(d.m), d.what)
	}
	d.m[name] = download{data: data, expires: now.Add(downloadLifetime)}
	return name, nil
}

func (d *downloads) get(name string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.m[name]
	if !ok || time.Now().After(f.expires) {
		return nil, false
	}
	return f.data, true
}
