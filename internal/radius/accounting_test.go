package radius

import (
	"crypto/md5"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
)

// TestAccountingAnswerChecked: an Accounting-Request goes to the port
// after the server's authentication port, its Request Authenticator the
// MD5 of the packet with zeros in its place and the secret (RFC 2866 §3);
// an answer that is not the server's Accounting-Response to it (another
// secret's, an Access-Accept) is dropped and counted, and the request
// waits on for the server's own, which ends it: it is not sent again.
func TestAccountingAnswerChecked(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	var got []Packet
	acct := serveMany(t, "127.0.0.1", func(req Packet) [][]byte {
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		b, _ := req.Append(nil)
		clear(b[4:HeaderLen])
		if md5.Sum(append(b, secret...)) != req.Authenticator {
			return nil // as a server drops it
		}
		return [][]byte{
			answer(CodeAccountingResponse, req.ID, req.Authenticator, []byte("guess"), false),
			answer(CodeAccessAccept, req.ID, req.Authenticator, secret, false),
			answer(CodeAccountingResponse, req.ID, req.Authenticator, secret, false),
		}
	})
	var logs logbuf.Buffer
	a := NewAccounting(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	_, bad0 := Drops()
	s := a.Start([]Server{{Addr: netip.AddrPortFrom(acct.Addr(), acct.Port()-1), Secret: secret}},
		Request{User: "alice", NASIdentifier: "hub-gw"}, netip.MustParseAddr("172.16.201.2"), Grant{Class: [][]byte{[]byte("dept-42")}})
	a.Stop(s, Usage{BytesIn: 5 << 32, BytesOut: 7}, CauseIdleTimeout)
	a.Close(5 * time.Second)

	if _, bad := Drops(); bad-bad0 < 4 {
		t.Errorf("%d answers dropped, want the 2 not the server's to each request", bad-bad0)
	}
	if out := logs.String(); strings.Count(out, `msg="RADIUS accounting"`) != 2 || strings.Contains(out, "no server answered") {
		t.Errorf("want the Start and the Stop answered; log:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("the server got %d requests, want a Start and a Stop, each once", len(got))
	}
	u32 := func(p Packet, typ byte) uint32 {
		v, ok := p.Find(typ)
		if !ok || len(v) != 4 {
			t.Errorf("request without attribute %d", typ)
			return 0
		}
		return binary.BigEndian.Uint32(v)
	}
	for i, p := range got {
		class, _ := p.Find(AttrClass)
		id, _ := p.Find(AttrAcctSessionID)
		if p.Code != CodeAccountingRequest || u32(p, AttrAcctStatusType) != uint32(i+1) || string(class) != "dept-42" || len(id) == 0 {
			t.Errorf("request %d: code %d, Acct-Status-Type %d, Class %q, Acct-Session-Id %q", i, p.Code, u32(p, AttrAcctStatusType), class, id)
		}
		if _, ok := p.Find(AttrMessageAuthenticator); ok {
			t.Errorf("request %d has a Message-Authenticator; its Request Authenticator signs it", i)
		}
	}
	// Octets past 2^32 in Gigawords (RFC 2869 §5.1).
	if in, gw, cause := u32(got[1], AttrAcctInputOctets), u32(got[1], AttrAcctInputGigawords), u32(got[1], AttrAcctTerminateCause); in != 0 || gw != 5 || cause != uint32(CauseIdleTimeout) {
		t.Errorf("Stop: Acct-Input-Octets %d, Acct-Input-Gigawords %d, Acct-Terminate-Cause %d; want 0, 5, %d", in, gw, cause, CauseIdleTimeout)
	}
}

// TestAccountingRetriesUntilAnswered: a record no server answers is sent
// again later, with its Acct-Delay-Time grown (RFC 2866 §2, §5.2), until
// the server answers after its outage; the Stop goes after the Start was
// answered. A record still unanswered when its time is out is given up,
// and logged so.
func TestAccountingRetriesUntilAnswered(t *testing.T) {
	old := []time.Duration{Timeout, Wait, AcctRetry, AcctMaxRetry, AcctGiveUp}
	t.Cleanup(func() { Timeout, Wait, AcctRetry, AcctMaxRetry, AcctGiveUp = old[0], old[1], old[2], old[3], old[4] })
	Timeout, Wait, AcctRetry, AcctMaxRetry = 100*time.Millisecond, 400*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond
	secret := []byte("s3cret")
	start := func(t *testing.T, answering func() bool) (*Accounting, *logbuf.Buffer, func() []Packet) {
		var mu sync.Mutex
		var answered []Packet
		acct := serveMany(t, "127.0.0.1", func(req Packet) [][]byte {
			if !answering() {
				return nil // down
			}
			mu.Lock()
			answered = append(answered, req)
			mu.Unlock()
			return [][]byte{answer(CodeAccountingResponse, req.ID, req.Authenticator, secret, false)}
		})
		var logs logbuf.Buffer
		a := NewAccounting(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		s := a.Start([]Server{{Addr: netip.AddrPortFrom(acct.Addr(), acct.Port()-1), Secret: secret}},
			Request{User: "alice", NASIdentifier: "hub-gw"}, netip.MustParseAddr("172.16.201.2"), Grant{})
		a.Stop(s, Usage{}, CauseUserRequest)
		return a, &logs, func() []Packet {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(answered)
		}
	}
	t.Run("answered after an outage", func(t *testing.T) {
		AcctGiveUp = time.Minute
		up := time.Now().Add(1500 * time.Millisecond)
		a, logs, answered := start(t, func() bool { return time.Now().After(up) })
		for deadline := time.Now().Add(10 * time.Second); len(answered()) < 2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d records answered 10 s after the server came back, want the Start and the Stop; log:\n%s", len(answered()), logs)
			}
		}
		a.Close(time.Second)
		got := answered()
		for i, status := range []uint32{acctStart, acctStop} {
			v, _ := got[i].Find(AttrAcctStatusType)
			delay, _ := got[i].Find(AttrAcctDelayTime)
			if len(v) != 4 || binary.BigEndian.Uint32(v) != status || len(delay) != 4 || binary.BigEndian.Uint32(delay) < 1 {
				t.Errorf("answered record %d: Acct-Status-Type %x, Acct-Delay-Time %x; want %d, at least 1 s (the outage)", i, v, delay, status)
			}
		}
		if out := logs.String(); !strings.Contains(out, "sent again later") || strings.Contains(out, "given up") {
			t.Errorf("want the retries logged, nothing given up; log:\n%s", out)
		}
	})
	t.Run("given up", func(t *testing.T) {
		AcctGiveUp = 2 * time.Second
		a, logs, _ := start(t, func() bool { return false })
		begin := time.Now()
		a.Close(10 * time.Second)
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("records given up after %v, AcctGiveUp 2 s", took)
		}
		if out := logs.String(); !strings.Contains(out, "record given up") {
			t.Errorf("want the records given up logged; log:\n%s", out)
		}
	})
}
