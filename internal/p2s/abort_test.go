package p2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// controlsUntilClosed reads SSTP packets from r until the connection
// closes, and returns the types of the control messages among them; an
// error when it stays open.
func controlsUntilClosed(c net.Conn, r *bufio.Reader) ([]uint16, error) {
	var buf [sstp.MaxPacket]byte
	var types []uint16
	for {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		isControl, body, err := sstp.ReadPacket(r, &buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return types, errors.New("the connection stayed open")
		}
		if err != nil {
			return types, nil
		}
		if m, err := sstp.ParseControl(body); isControl && err == nil {
			types = append(types, m.Type)
		}
	}
}

// TestCallAbortAnsweredMSSSTP3_3_5_2_4: a peer's CALL_ABORT is answered
// with a CALL_ABORT before the connection closes ([MS-SSTP] §3.3.5.2.4
// and §3.2.5.3.4, Call_Abort_In_Progress_2), so that the peer, which
// waits for it (TIMER_VAL_ABORT_STATE_TIMER_1), is done at once: the
// gateway's answer to a client's abort, and vnetgw's client's to the
// gateway's.
func TestCallAbortAnsweredMSSSTP3_3_5_2_4(t *testing.T) {
	t.Run("gateway", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		x.openLCP()
		x.c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort}))
		if got, err := controlsUntilClosed(x.c, x.r); err != nil || !slices.Contains(got, sstp.MsgCallAbort) {
			t.Errorf("the gateway's SSTP messages after the client's CALL_ABORT: %v (%v); want a CALL_ABORT (%d), then the connection closed", got, err, sstp.MsgCallAbort)
		}
	})
	t.Run("client", func(t *testing.T) {
		pki := newPKI(t)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		type answer struct {
			types []uint16
			err   error
		}
		got := make(chan answer, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- answer{err: err}
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					got <- answer{err: err}
					return
				}
				if strings.TrimSpace(line) == "" {
					break
				}
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"))
			var buf [sstp.MaxPacket]byte
			if _, _, err := sstp.ReadPacket(br, &buf); err != nil { // CALL_CONNECT_REQUEST
				got <- answer{err: err}
				return
			}
			c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort}))
			types, err := controlsUntilClosed(c, br)
			got <- answer{types, err}
		}()
		roots := x509.NewCertPool()
		roots.AddCert(pki.root.Certificate)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err = Dial(ctx, ClientConfig{Server: netip.MustParseAddrPort(ln.Addr().String()), ServerName: "gateway", RootCAs: roots, Cert: pki.client, Logger: testLogger(t)})
		if err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Errorf("Dial: %v; want the gateway aborted the call", err)
		}
		if a := <-got; a.err != nil || !slices.Contains(a.types, sstp.MsgCallAbort) {
			t.Errorf("the client's SSTP messages after the gateway's CALL_ABORT: %v (%v); want a CALL_ABORT (%d), then the connection closed", a.types, a.err, sstp.MsgCallAbort)
		}
	})
}
