package p2s

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestAbortTimersMSSSTP3_1_2_1: after its CALL_ABORT a link goes on
// reading, ignoring all but the peer's CALL_ABORT, and takes the peer's
// answer before it closes ([MS-SSTP] §3.1.2.1: TIMER_VAL_ABORT_STATE_TIMER_1,
// then TIMER_2), rather than closing under it (a TCP reset, which can
// take the CALL_ABORT, and what came before it, with it). The gateway
// and vnetgw's client alike.
func TestAbortTimersMSSSTP3_1_2_1(t *testing.T) {
	for _, server := range []bool{true, false} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			l := newLink(server, a, bufio.NewReader(a), testLogger(t))
			l.srv = &Server{}
			ended := make(chan error, 1)
			go func() {
				err := l.run(func(sstp.Control, []byte) error { return nil })
				l.afterEnd()
				a.Close() // as Dial and the server close the connection
				ended <- err
			}()
			// A message of a type SSTP 1.0 does not have: the link
			// aborts the call.
			go b.Write(sstp.AppendControl(nil, sstp.Control{Type: 0x42}))
			r := bufio.NewReader(b)
			var buf [sstp.MaxPacket]byte
			for {
				isControl, body, err := sstp.ReadPacket(r, &buf)
				if err != nil {
					t.Fatalf("no CALL_ABORT from the link: %v", err)
				}
				if c, err := sstp.ParseControl(bytes.Clone(body)); isControl && err == nil && c.Type == sstp.MsgCallAbort {
					break
				}
			}
			// The peer's data and its CALL_ABORT, which the link reads
			// (net.Pipe: a write waits for its read).
			if _, err := b.Write(sstp.AppendData(nil, []byte{0xff, 0x03, 0x00, 0x21, 0x45})); err != nil {
				t.Fatalf("the link closed the connection after its CALL_ABORT, before the peer's answer: %v", err)
			}
			if _, err := b.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort})); err != nil {
				t.Fatalf("the link closed the connection after its CALL_ABORT, before the peer's: %v", err)
			}
			if err := <-ended; err == nil {
				t.Error("the link ended without an error after its CALL_ABORT")
			}
		})
	}
}
