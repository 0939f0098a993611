package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// capturePath is where stopped packet captures are downloaded, by an
// unguessable name that expires after an hour.
const capturePath = "/packetcapture/"

// maxCaptures bounds the captures kept for download at once, and those
// being uploaded to a sasUrl (each up to pcap.MaxMaxBytes).
const maxCaptures = 4

// uploadClient sends a capture to the sasUrl and nowhere else: a redirect
// is the storage's answer, not followed (Blob storage answers a Put Blob
// with none), so that a URL the user did not name never gets the capture
// (a 307 or 308 would have it sent again there) nor a 302 has a GET taken
// for the upload.
var uploadClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// startCapture serves .../virtualNetworkGateways/{n}/startPacketCapture
// and .../connections/{n}/startPacketCapture: the inner packets, both ways,
// between the gateway's tunnels and its VNet or through the connection's
// tunnel, filtered by filterData, are recorded until stopPacketCapture.
func (h *Handler) startCapture(w http.ResponseWriter, r *http.Request, rt route) {
	in, err := decodeOptional[arm.VPNPacketCaptureStartParameters](r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cfg, err := pcap.ParseFilterData(in.FilterData)
	if err != nil {
		h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "filterData", Message: err.Error()})
		return
	}
	switch err := h.dp.StartPacketCapture(rt.id.String(), cfg); {
	case err == nil:
		h.answered.start(rt.id, in.FilterData)
	case isCode(err, arm.CodePacketCaptureRunning) && h.answered.runs(rt.id, in.FilterData):
		// The capture a start of the same filter started runs: this
		// start, sent again, is answered as it was.
	default:
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "packet capture started")
}

// isCode tells whether err is the ARM error of code.
func isCode(err error, code string) bool {
	var ae *arm.Error
	return errors.As(err, &ae) && ae.Code == code
}

// captureAnswers are what this node answered the latest start and stop
// of each gateway's or connection's packet capture, so that the same
// request sent again (the Azure SDKs send a request again, a POST too,
// when its answer was lost or a 5xx, such as a forward's 502) is answered
// as the first was: a start as started while the capture it started
// runs, where the data plane refuses another; a stop with the capture it
// stopped, where the data plane has none to stop, for as long as a
// download's URL works.
type captureAnswers struct {
	mu sync.Mutex // guards started
	// started is the filterData of the latest capture started here, by
	// lower-cased id: the one that runs, if one does (none starts while
	// one runs).
	started map[string]string
	stopped expiring[*stoppedCapture] // by lower-cased id
}

// stoppedCapture is what a stop answered: the capture kept for download
// as slot, or uploaded to blob, or, with a sasUrl, what the upload
// answers once uploaded is closed: blob, or err (the capture kept for
// download instead). The stop sent again while its upload goes on (the
// client gave up waiting for it) waits for that.
type stoppedCapture struct {
	// sasURL is a digest of the stop's sasUrl (it holds a token).
	sasURL     [sha256.Size]byte
	slot, blob string
	uploaded   chan struct{} // nil: no upload
	err        error
}

func (c *captureAnswers) start(id arm.ID, filterData string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started == nil {
		c.started = map[string]string{}
	}
	c.started[id.Key()] = filterData
	c.stopped.delete(id.Key())
}

// runs tells whether the capture of id that runs was started with
// filterData.
func (c *captureAnswers) runs(id arm.ID, filterData string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd, ok := c.started[id.Key()]
	return ok && fd == filterData
}

// stop keeps the answer to a stop of id with sasURL.
func (c *captureAnswers) stop(id arm.ID, sasURL string, s *stoppedCapture) {
	s.sasURL = sha256.Sum256([]byte(sasURL))
	c.stopped.put(id.Key(), s)
}

// lastStop returns what the latest stop of id with sasURL answered, while
// that works.
func (c *captureAnswers) lastStop(id arm.ID, sasURL string) (*stoppedCapture, bool) {
	s, ok := c.stopped.get(id.Key())
	if !ok || s.sasURL != sha256.Sum256([]byte(sasURL)) {
		return nil, false
	}
	return s, true
}

// stopCapture serves .../stopPacketCapture: with a sasUrl (a storage
// container's URL with its SAS token, as Azure takes) the capture is
// uploaded there as a blob named GATEWAY-TIME.pcap, and the answer is the
// blob's URL without the token; without one, the answer is a URL that
// serves the capture for an hour.
func (h *Handler) stopCapture(w http.ResponseWriter, r *http.Request, rt route) {
	in, err := decodeOptional[arm.VPNPacketCaptureStopParameters](r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var dest *url.URL
	if in.SASURL != "" {
		u, err := url.Parse(in.SASURL)
		// No user:password in it: Go's errors would show it half hidden,
		// and a storage SAS URL has none. A host name is needed: Go's
		// client dials one with a port alone ("http://:80/c") on the node.
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil {
			h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "sasUrl", Message: "sasUrl is not an http(s) URL of a storage container"})
			return
		}
		dest = u
	}
	// Without a sasUrl the capture is kept for download: its place is
	// held before the capture stops, so that a full store refuses the
	// stop (the capture goes on) rather than loses the capture.
	// With one, the upload's place is held likewise: an upload keeps its
	// file in memory for up to pcap.UploadTimeout, and a capture can be
	// started again at once, so that a slow storage would have the node
	// hold as many files as were stopped.
	var slot string
	if dest != nil {
		select {
		case h.uploads <- struct{}{}:
			defer func() { <-h.uploads }()
		default:
			if s, ok := h.answered.lastStop(rt.id, in.SASURL); ok {
				// A stop whose upload holds a place, sent
				// again: answered as it was, once uploaded.
				h.answerStopAgain(w, r, s)
				return
			}
			h.fail(w, r, arm.Errorf(arm.CodeTooManyRequests, "%d packet captures are being uploaded to a sasUrl; try again once one is done (within %v)", maxCaptures, pcap.UploadTimeout))
			return
		}
	} else {
		if slot, err = h.captures.reserve(); err != nil {
			if s, ok := h.answered.lastStop(rt.id, in.SASURL); ok {
				// The stop that took the last place, sent again
				// (no capture started since): answered as it was.
				h.answerStopAgain(w, r, s)
				return
			}
			h.fail(w, r, err)
			return
		}
	}
	file, captured, missed, err := h.dp.StopPacketCapture(rt.id.String())
	if err != nil {
		if slot != "" {
			h.captures.release(slot)
		}
		if s, ok := h.answered.lastStop(rt.id, in.SASURL); ok && isCode(err, arm.CodeNoPacketCapture) {
			// The capture a stop of the same sasUrl stopped: this
			// stop, sent again, is answered as it was.
			h.answerStopAgain(w, r, s)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.log.Info("packet capture stopped", "gateway", rt.id.String(), "packets", captured, "missed", missed, "bytes", len(file))
	if dest == nil {
		h.captures.fill(slot, file, "")
		h.answered.stop(rt.id, "", &stoppedCapture{slot: slot})
		writeJSON(w, http.StatusOK, h.captures.url(h.base(r), slot))
		return
	}
	// The upload goes on when the client stops waiting, to its own
	// deadline (pcap.UploadTimeout), which the CLI waits out.
	answer := &stoppedCapture{uploaded: make(chan struct{})}
	h.answered.stop(rt.id, in.SASURL, answer)
	defer close(answer.uploaded)
	blob, err := upload(context.WithoutCancel(r.Context()), dest, fmt.Sprintf("%s-%s.pcap", rt.id.Name(), time.Now().UTC().Format("20060102T150405.000000000Z")), file)
	if err != nil {
		// A failed upload (an expired SAS, a wrong container) loses
		// nothing: the capture is kept for download if there is room.
		if name, rerr := h.captures.reserve(); rerr == nil {
			h.captures.fill(name, file, "")
			err = fmt.Errorf("%v; the capture is kept for download for an hour at %s", err, h.captures.url(h.base(r), name))
		} else {
			err = fmt.Errorf("%v; and it cannot be kept for download: %v", err, rerr)
		}
		answer.err = arm.Errorf(arm.CodePacketCaptureUpload, "%v", err)
		h.fail(w, r, answer.err)
		return
	}
	answer.blob = blob
	writeJSON(w, http.StatusOK, blob)
}

// answerStopAgain answers a stop sent again as s, the first, was
// answered, once its upload is done.
func (h *Handler) answerStopAgain(w http.ResponseWriter, r *http.Request, s *stoppedCapture) {
	if s.uploaded != nil {
		select {
		case <-s.uploaded:
		case <-r.Context().Done():
			return
		}
		if s.err != nil {
			h.fail(w, r, s.err)
			return
		}
	}
	blob := s.blob
	if s.slot != "" {
		blob = h.captures.url(h.base(r), s.slot)
	}
	writeJSON(w, http.StatusOK, blob)
}

// upload puts file as blob name into the container at u (Azure Blob
// storage's Put Blob) and returns the blob's URL without the query (the
// SAS token), which no error or log shows either.
func upload(ctx context.Context, u *url.URL, name string, file []byte) (string, error) {
	blob := *u
	blob.Path = strings.TrimSuffix(u.Path, "/") + "/" + name
	blob.RawPath = ""
	shown := blob
	shown.RawQuery, shown.User = "", nil
	ctx, cancel := context.WithTimeout(ctx, pcap.UploadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, blob.String(), bytes.NewReader(file))
	if err != nil {
		return "", fmt.Errorf("upload to %s: %v", shown.String(), err)
	}
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("Content-Type", "application/vnd.tcpdump.pcap")
	res, err := uploadClient.Do(req)
	if err != nil {
		// Not the *url.Error's text: it quotes the URL, SAS token and
		// all, escaped so that no replacing finds it.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("upload to %s failed: %v", shown.String(), strings.ReplaceAll(err.Error(), blob.String(), shown.String()))
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("upload to %s: the storage answered %s", shown.String(), res.Status)
	}
	return shown.String(), nil
}

// captureURLRE finds the download URL of a capture kept on another node
// in its answer to a forwarded stopPacketCapture, and the capture's name.
var captureURLRE = regexp.MustCompile(`https?://[^/\s"\\]+` + regexp.QuoteMeta(capturePath) + `([0-9a-f]+\.pcap)`)

// relayCaptures makes the download URLs in another node's answer to a
// forwarded stopPacketCapture (the capture kept there: no sasUrl, or its
// upload failed) URLs on this node, the one the client called (behind a
// load balancer, the only one it may reach), which forwards their
// downloads to that node.
func (h *Handler) relayCaptures(res *http.Response, f forward) error {
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	body = captureURLRE.ReplaceAllFunc(body, func(u []byte) []byte {
		name := string(captureURLRE.FindSubmatch(u)[1])
		h.capturesAt.put(name, f.to)
		return []byte(f.base + capturePath + name)
	})
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// expiring is a map whose entries go downloadLifetime after they were
// put, as long as a capture's download works: what is known of a capture
// lasts as long as the capture.
type expiring[V any] struct {
	mu sync.Mutex
	m  map[string]expiringEntry[V]
}

type expiringEntry[V any] struct {
	v       V
	expires time.Time
}

// put sets key to v, and drops the entries expired.
func (e *expiring[V]) put(key string, v V) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for k, x := range e.m {
		if now.After(x.expires) {
			delete(e.m, k)
		}
	}
	if e.m == nil {
		e.m = map[string]expiringEntry[V]{}
	}
	e.m[key] = expiringEntry[V]{v: v, expires: now.Add(downloadLifetime)}
}

// get returns the value of key, unless it expired.
func (e *expiring[V]) get(key string) (V, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && time.Now().Before(x.expires) {
		return x.v, true
	}
	var zero V
	return zero, false
}

func (e *expiring[V]) delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
