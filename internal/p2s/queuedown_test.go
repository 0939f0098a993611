package p2s

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestQueuedIPv4DroppedWhenDownRFC1661Section5_7: IPv4 packets queued for
// the peer before it Protocol-Rejected IPv4 are not sent after the reject
// (RFC 1661 §5.7: MUST stop sending it) but dropped and counted.
func TestQueuedIPv4DroppedWhenDownRFC1661Section5_7(t *testing.T) {
	x := openIPCP(t, true)
	x.l.lcpOurs, x.l.lcpPeers = true, true
	for range 10 {
		if err := x.l.SendIP(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	rej := ppp.Packet{Code: ppp.ProtoRej, ID: 3, Data: binary.BigEndian.AppendUint16(nil, ppp.ProtoIPv4)}
	if err := x.l.handleLCP(rej.Append(nil)); err != nil || x.l.up.Load() {
		t.Fatalf("the Protocol-Reject of IPv4: %v, up %v; want down", err, x.l.up.Load())
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() { x.l.writer(quit); close(done) }()
	for len(x.l.sendq) > 0 {
		runtime.Gosched() // until the writer took every queued packet
	}
	close(quit)
	<-done // and handled it
	x.conn.mu.Lock()
	out := bytes.NewReader(x.conn.out)
	x.conn.mu.Unlock()
	var buf [sstp.MaxPacket]byte
	sent := 0
	for out.Len() > 0 {
		if _, body, err := sstp.ReadPacket(out, &buf); err != nil {
			t.Fatal(err)
		} else if proto, _, err := ppp.ParseFrame(body); err == nil && proto == ppp.ProtoIPv4 {
			sent++
		}
	}
	if sent != 0 {
		t.Errorf("%d IPv4 packets sent after the peer rejected IPv4", sent)
	}
	if n := x.l.dropped.Load(); n != 10 {
		t.Errorf("%d packets counted dropped, want 10", n)
	}
}
