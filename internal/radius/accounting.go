package radius

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// Accounting attributes (RFC 2866 §5, RFC 2869 §5.3).
const (
	AttrAcctStatusType      = 40
	AttrAcctDelayTime       = 41
	AttrAcctInputOctets     = 42
	AttrAcctOutputOctets    = 43
	AttrAcctSessionID       = 44
	AttrAcctAuthentic       = 45
	AttrAcctSessionTime     = 46
	AttrAcctInputPackets    = 47
	AttrAcctOutputPackets   = 48
	AttrAcctTerminateCause  = 49
	AttrAcctInputGigawords  = 52
	AttrAcctOutputGigawords = 53
	AttrEventTimestamp      = 55
	AttrAcctInterimInterval = 85
)

// Acct-Status-Type values (RFC 2866 §5.1).
const (
	acctStart   = 1
	acctStop    = 2
	acctInterim = 3 // Interim-Update (RFC 2869 §2.1)
)

// MinInterim is the shortest interval between a session's Interim-Updates
// the gateway takes from an Access-Accept's Acct-Interim-Interval (RFC
// 2869 §5.16: it SHOULD NOT be less than 60 s; a shorter one is taken as
// this).
var MinInterim = time.Minute

// How long an accounting record is tried (RFC 2866 §2: the client
// SHOULD go on sending it until it is answered, with a backoff): each
// round asks the servers as an Access-Request does (Wait in all), and a
// record no server answered is sent again AcctRetry later, twice as long
// after each round up to AcctMaxRetry, until AcctGiveUp after it was
// made. At most maxPending records wait so at once: one more is given up
// at once.
var (
	AcctRetry    = 10 * time.Second
	AcctMaxRetry = 5 * time.Minute
	AcctGiveUp   = 30 * time.Minute
)

const maxPending = 1 << 14

// Cause is why a session ended: an Acct-Terminate-Cause (RFC 2866 §5.10).
type Cause uint32

// The causes the gateway reports.
const (
	CauseUserRequest    Cause = 1  // the client ended it, or left
	CauseIdleTimeout    Cause = 4  // its Idle-Timeout
	CauseSessionTimeout Cause = 5  // its Session-Timeout
	CauseAdminReset     Cause = 6  // disconnected through the API
	CauseNASRequest     Cause = 10 // the gateway ended it otherwise (a newer connection of the client replaced it)
	CauseNASReboot      Cause = 11 // the gateway stopped
)

// Usage is what a session carried: from the client (in) and to it (out).
type Usage struct {
	BytesIn, BytesOut, PacketsIn, PacketsOut uint64
}

// Accounting reports a gateway's sessions that its RADIUS servers
// authenticated to the same servers' accounting ports (RFC 2866; the
// port after the authentication port, 1813 for 1812): a Start when a
// session begins, a Stop with its usage and cause when it ends. Each
// goes in the background, to the servers in order until one answers,
// as an Access-Request does, and again later while none does
// (AcctRetry); one given up is logged. Its lines about servers that do
// not answer come once a minute at most. Its servers' failover is its
// own.
type Accounting struct {
	log      *slog.Logger
	failover Failover
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex    // guards the rest
	failed  sparselog.Log // rounds no server answered
	lost    sparselog.Log // records given up
	pending int           // records that wait to be sent again
}

// NewAccounting returns a gateway's accounting, which logs to log.
func NewAccounting(log *slog.Logger) *Accounting {
	ctx, cancel := context.WithCancel(context.Background())
	return &Accounting{log: log, ctx: ctx, cancel: cancel}
}

// Session is one session as Accounting reports it.
type Session struct {
	id      string // Acct-Session-Id
	servers []Server
	req     Request
	addr    netip.Addr
	start   time.Time
	mu      sync.Mutex // guards class
	class   [][]byte
	// started is closed once its Start was answered or given up: its
	// Stop goes after.
	started chan struct{}
}

// Start reports that the session of the client r names (User, where it
// connects from, the NAS), given address addr under grant, began, to
// servers' accounting ports, and returns it for Stop.
func (a *Accounting) Start(servers []Server, r Request, addr netip.Addr, grant Grant) *Session {
	var id [8]byte
	rand.Read(id[:])
	s := &Session{id: hex.EncodeToString(id[:]), req: r, addr: addr, class: grant.Class, start: time.Now(), started: make(chan struct{})}
	for _, srv := range servers {
		port := srv.Addr.Port()
		if port == 0 {
			port = 1812
		}
		s.servers = append(s.servers, Server{Addr: netip.AddrPortFrom(srv.Addr.Addr(), port+1), Secret: srv.Secret})
	}
	s.req.Failover = &a.failover
	a.send(s, "Start", s.attrs(acctStart, s.start), nil, s.started)
	return s
}

// Interim reports that session s, under way, has carried u so far (an
// Interim-Update, as its Access-Accept's Acct-Interim-Interval asks).
func (a *Accounting) Interim(s *Session, u Usage) {
	a.send(s, "Interim-Update", s.usage(acctInterim, u), s.started, nil)
}

// Stop reports that session s ended for cause, having carried u.
func (a *Accounting) Stop(s *Session, u Usage, cause Cause) {
	attrs := append(s.usage(acctStop, u), uint32Attr(AttrAcctTerminateCause, uint32(cause)))
	a.send(s, "Stop", attrs, s.started, nil)
}

// Renew takes grant, that of a new Access-Accept for the session's
// client, which authenticated again while the session goes on: the
// requests about s made from now carry its Class attributes (RFC 2865
// §5.25: those of the Access-Accept, unchanged).
func (s *Session) Renew(grant Grant) {
	s.mu.Lock()
	s.class = grant.Class
	s.mu.Unlock()
}

// usage are the attributes of a request about s, of status, that says
// what it carried (u) and how long it has lasted.
func (s *Session) usage(status uint32, u Usage) []Attr {
	now := time.Now()
	return append(s.attrs(status, now),
		uint32Attr(AttrAcctSessionTime, uint32(now.Sub(s.start)/time.Second)),
		uint32Attr(AttrAcctInputOctets, uint32(u.BytesIn)),
		uint32Attr(AttrAcctOutputOctets, uint32(u.BytesOut)),
		uint32Attr(AttrAcctInputGigawords, uint32(u.BytesIn>>32)), // RFC 2869 §5.1
		uint32Attr(AttrAcctOutputGigawords, uint32(u.BytesOut>>32)),
		uint32Attr(AttrAcctInputPackets, uint32(u.PacketsIn)),
		uint32Attr(AttrAcctOutputPackets, uint32(u.PacketsOut)))
}

// attrs are the attributes of every request about s: the request's
// (its user, and who asks for whom), its status, session, address and
// Class, and when it happened.
func (s *Session) attrs(status uint32, at time.Time) []Attr {
	out := append(s.req.attrs(),
		uint32Attr(AttrAcctStatusType, status),
		Attr{AttrAcctSessionID, []byte(s.id)},
		uint32Attr(AttrAcctAuthentic, 1), // RADIUS
		uint32Attr(AttrEventTimestamp, uint32(at.Unix())))
	if s.addr.Is4() {
		ip := s.addr.As4()
		out = append(out, Attr{AttrFramedIPAddress, ip[:]})
	}
	s.mu.Lock()
	for _, c := range s.class {
		out = append(out, Attr{AttrClass, c}) // RFC 2865 §5.25: as the Access-Accept had it
	}
	s.mu.Unlock()
	return out
}

// send sends an Accounting-Request of attrs about s (what: its status)
// in the background, once after is closed (when not nil), until it is
// answered or given up (AcctRetry), and closes done (when not nil) then:
// Acct-Delay-Time is how long it has been waiting, each time it is made
// anew (RFC 2866 §5.2).
func (a *Accounting) send(s *Session, what string, attrs []Attr, after, done chan struct{}) {
	made := time.Now()
	a.wg.Go(func() {
		if done != nil {
			defer close(done)
		}
		if after != nil {
			select {
			case <-after:
			case <-a.ctx.Done():
			}
		}
		q := query{code: CodeAccountingRequest, failover: s.req.Failover,
			attrs: func([authenticator]byte, []byte) ([]Attr, error) {
				return append(slices.Clip(attrs), uint32Attr(AttrAcctDelayTime, uint32(time.Since(made)/time.Second))), nil
			}}
		retry, waiting := AcctRetry, false
		defer func() {
			if waiting {
				a.mu.Lock()
				a.pending--
				a.mu.Unlock()
			}
		}()
		for {
			_, srv, err := ask(a.ctx, s.servers, s.req.Dial, q)
			if err == nil {
				a.log.Debug("RADIUS accounting", "status", what, "session", s.id, "user", s.req.User, "server", srv, "delay", time.Since(made).Round(time.Second))
				return
			}
			a.mu.Lock()
			giveUp := a.ctx.Err() != nil || time.Since(made)+retry >= AcctGiveUp || !waiting && a.pending >= maxPending
			if !giveUp && !waiting {
				a.pending++
				waiting = true
			}
			if giveUp {
				a.lost.Count(1)
				n, log := a.lost.Due()
				a.mu.Unlock()
				if log {
					a.log.Warn("RADIUS accounting: no server answered; record given up", "status", what, "session", s.id, "user", s.req.User, "waited", time.Since(made).Round(time.Second), "err", err, "given_up", n)
				}
				return
			}
			a.failed.Count(1)
			n, log := a.failed.Due()
			a.mu.Unlock()
			if log {
				a.log.Warn("RADIUS accounting: no server answered; sent again later", "status", what, "session", s.id, "user", s.req.User, "in", retry, "err", err, "failed", n)
			}
			select {
			case <-time.After(retry):
			case <-a.ctx.Done():
			}
			retry = min(2*retry, AcctMaxRetry)
		}
	})
}

// Close gives the records still under way grace to be answered, then
// gives them up, and logs how many it gave up since its last line
// about that.
func (a *Accounting) Close(grace time.Duration) {
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		a.cancel()
		<-done
	}
	a.cancel()
	a.mu.Lock()
	n := a.lost.Rest()
	a.mu.Unlock()
	if n > 0 {
		a.log.Warn("RADIUS accounting: records given up, no server answered", "given_up", n)
	}
}

func uint32Attr(t byte, v uint32) Attr { return Attr{t, binary.BigEndian.AppendUint32(nil, v)} }
