package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestHTTPAnswerLineBounded: a gateway whose answer to the HTTP request
// that opens SSTP has a line without end (4 MiB and no newline) is
// refused once the line outgrows the client's buffer, not read to its
// end into memory.
func TestHTTPAnswerLineBounded(t *testing.T) {
	for _, tc := range []struct{ name, start string }{
		{"status line", "HTTP/1.1 200 "},
		{"header", "HTTP/1.1 200 OK\r\nServer: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := newPKI(t)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || strings.TrimSpace(line) == "" {
						break
					}
				}
				c.Write([]byte(tc.start))
				chunk := bytes.Repeat([]byte("a"), 64<<10)
				for range 64 { // 4 MiB, then the connection closes
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
			roots := x509.NewCertPool()
			roots.AddCert(pki.root.Certificate)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = Dial(ctx, ClientConfig{Server: netip.MustParseAddrPort(ln.Addr().String()), ServerName: "gateway", RootCAs: roots, Cert: pki.client, Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), "an HTTP line longer than") {
				t.Fatalf("Dial = %v; want the gateway's over-long HTTP line refused", err)
			}
		})
	}
}
