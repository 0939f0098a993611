package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
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
	of      string // what it was made of, for latest; "" for none
}

// downloads are files served by an unguessable name (the URL is the
// credential, as a SAS URL is) until they expire: VPN client packages and
// packet captures.
type downloads struct {
	what     string // for errors: "VPN client packages"
	path     string // where they are served: path + name
	ext      string // of their names: ".zip"
	max      int    // files kept at once
	typ      string // Content-Type
	filename string // offered to save as
	mu       sync.Mutex
	m        map[string]download
}

func newDownloads(what, path, ext string, max int, typ, filename string) *downloads {
	return &downloads{what: what, path: path, ext: ext, max: max, typ: typ, filename: filename, m: map[string]download{}}
}

// offer keeps data, made of what of says (latest finds it by that), for
// download and answers the request with its URL, a JSON string, on the
// host the request came to (Handler.base).
func (d *downloads) offer(h *Handler, w http.ResponseWriter, r *http.Request, data []byte, of string) {
	name, err := d.reserve()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.fill(name, data, of)
	writeJSON(w, http.StatusOK, d.url(h.base(r), name))
}

// latest returns the name of the newest file offered as made of of that
// has at least half its lifetime left, so that its URL, handed out again,
// still works for a while.
func (d *downloads) latest(of string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name, last := "", time.Now().Add(downloadLifetime/2)
	for n, f := range d.m {
		if f.of == of && f.data != nil && f.expires.After(last) {
			name, last = n, f.expires
		}
	}
	return name, name != ""
}

// url is where the file named name is served, under base (Handler.base):
// the URL is the file's credential, so it goes to no host but the API's.
func (d *downloads) url(base, name string) string {
	return base + d.path + name
}

// serve answers a GET of the file named name.
func (d *downloads) serve(h *Handler, w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet {
		h.fail(w, r, methodNotAllowed(r, http.MethodGet))
		return
	}
	data, ok := d.get(name)
	if !ok {
		h.fail(w, r, arm.Errorf(arm.CodeResourceNotFound, "none of the %s at this URL: it expired (after an hour) or never was", d.what))
		return
	}
	w.Header().Set("Content-Type", d.typ)
	w.Header().Set("Content-Disposition", `attachment; filename="`+d.filename+`"`)
	w.Write(data)
}

// reserve holds a place for one more file, before what makes the file
// runs (a file made and then refused would be lost), and returns its
// name; fill puts the file there, release gives the place up.
func (d *downloads) reserve() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	name := hex.EncodeToString(b[:]) + d.ext
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(time.Now())
	if len(d.m) >= d.max {
		return "", arm.Errorf(arm.CodeTooManyRequests, "%d %s wait for download; try again within the hour", len(d.m), d.what)
	}
	d.m[name] = download{expires: time.Now().Add(downloadLifetime)}
	return name, nil
}

// fill puts data, made of of (for latest; "" for none), in the place
// reserved as name, for downloadLifetime; then it is let go, downloaded
// or not.
func (d *downloads) fill(name string, data []byte, of string) {
	d.mu.Lock()
	d.m[name] = download{data: data, expires: time.Now().Add(downloadLifetime), of: of}
	d.mu.Unlock()
	time.AfterFunc(downloadLifetime+time.Second, func() {
		d.mu.Lock()
		d.sweep(time.Now())
		d.mu.Unlock()
	})
}

func (d *downloads) release(name string) {
	d.mu.Lock()
	delete(d.m, name)
	d.mu.Unlock()
}

// sweep lets the expired files go; d.mu is held.
func (d *downloads) sweep(now time.Time) {
	for n, f := range d.m {
		if now.After(f.expires) {
			delete(d.m, n)
		}
	}
}

func (d *downloads) get(name string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.m[name]
	if !ok || f.data == nil || time.Now().After(f.expires) {
		return nil, false
	}
	return f.data, true
}
