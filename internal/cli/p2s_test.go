package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// p2s connect --gateway takes an IPv6 address in brackets, as the VPN
// client package's connect.sh writes it, and refuses one without: in
// 2001:db8::7:443 the port reads as the address's last group, and the
// client dialled 2001:db8::7:443 port 443 (another host).
func TestP2SConnectGatewayIPv6(t *testing.T) {
	// A CA file that is not there ends the command right after --gateway
	// was read, before anything is dialled.
	noCA := filepath.Join(t.TempDir(), "none.pem")
	for _, tc := range []struct {
		gateway string
		want    string // in the error
	}{
		{"198.51.100.7", "--ca"},
		{"198.51.100.7:8443", "--ca"},
		{"[2001:db8::7]:8443", "--ca"},
		{"[2001:db8::7]", "--ca"},
		{"2001:db8::7:443", "write an IPv6 address in brackets, [2001:db8::7:443] or [2001:db8::7:443]:PORT"},
		{"2001:db8::7", "in brackets"},
		{"gw.example", "an address or address:port"},
	} {
		code, out, errOut := vnetgw(t, "p2s", "connect", "--gateway", tc.gateway, "--netns", "ns", "--route", "10.1.0.0/16", "--ca", noCA)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("--gateway %s: exit %d, want an error with %q:\n%s%s", tc.gateway, code, tc.want, out, errOut)
		}
	}
}

// p2s connect refuses --eap without --user and --key with --user, before
// anything is read or dialled: it took them and ignored them, so that
// --cert with --eap connected with the certificate (EAP-TLS), not with
// EAP-MSCHAPv2 as asked.
func TestP2SConnectFlagsOfTheOtherWayIn(t *testing.T) {
	noCA := filepath.Join(t.TempDir(), "none.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert", "c.pem", "--key", "k.pem", "--eap"}, "error: --eap: only with --user (EAP-MSCHAPv2 carries a password)"},
		{[]string{"--user", "alice", "--key", "k.pem"}, "error: --key: only with --cert, not with --user"},
	} {
		args := append([]string{"p2s", "connect", "--gateway", "198.51.100.7", "--netns", "ns", "--route", "10.1.0.0/16", "--ca", noCA}, tc.args...)
		code, out, errOut := vnetgw(t, args...)
		if code != 2 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(args, " "), code, tc.want, out, errOut)
		}
	}
}

// p2s connect --user asks for the password on a terminal and does not
// show it as it is typed: "Password of alice: ", the terminal's echo off
// while the line is read and on again after it. The password was read
// with the echo on, without a word: it stood on the screen (and in the
// terminal's scrollback) of whoever typed it. The gateway, at a port of
// the loopback where nothing listens, refuses the connection then.
func TestP2SPasswordNotShownOnATerminal(t *testing.T) {
	master, tty := openPTY(t)
	stdin := os.Stdin
	os.Stdin = tty
	t.Cleanup(func() { os.Stdin = stdin })
	ca, _ := pkitest.Issue(t, "gateway ca", true, nil).WritePEM(t, t.TempDir(), "ca")
	done := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		done <- Execute(context.Background(), []string{"p2s", "connect", "--user", "alice", "--gateway", "127.146.0.1:1", "--proxy", "none",
			"--ca", ca, "--netns", "ns", "--route", "10.1.0.0/16"}, &out, tty)
	}()
	// The deadline is for the old code, which asked nothing.
	master.SetReadDeadline(time.Now().Add(time.Minute))
	shown := readUntil(t, master, "Password of alice: ")
	if _, err := master.Write([]byte("hunter2\n")); err != nil {
		t.Fatal(err)
	}
	shown += readUntil(t, master, "error: ")
	if code := <-done; code != 1 {
		t.Errorf("exit %d; want 1, the gateway not there", code)
	}
	// Typed now, a line is shown again.
	if _, err := master.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	shown += readUntil(t, master, "after")
	if strings.Contains(shown, "hunter2") {
		t.Errorf("the terminal showed the password: %q", shown)
	}
}

// openPTY returns a new pseudo-terminal's master and its terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioErr error
	rc.Control(func(fd uintptr) {
		if n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); ioErr == nil {
			ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0)
		}
	})
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// readUntil reads what the terminal shows from its master until want.
func readUntil(t *testing.T, master *os.File, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(got), want) {
		n, err := master.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("the terminal showed %q, then %v; want %q", got, err, want)
		}
	}
	return string(got)
}

// p2s connect --reconnect ends when the HTTP proxy refuses its
// credentials (407), as when the gateway refuses the client's, saying
// so: it asked the proxy again every 2 s with the same wrong password,
// for ever, which locks the account behind a proxy that counts failures.
func TestP2SReconnectStopsAtProxyRefusal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var asked atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				asked.Add(1)
				io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
			}
			c.Close()
		}
	}()
	ca, _ := pkitest.Issue(t, "gateway ca", true, nil).WritePEM(t, t.TempDir(), "ca")
	t.Setenv("VNETGW_PASSWORD", "hunter2")
	// The deadline is for the old code, which tried again until it.
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Execute(ctx, []string{"p2s", "connect", "--user", "alice", "--gateway", "127.146.0.1:443", "--proxy", "http://bob:wrong@" + ln.Addr().String(),
		"--ca", ca, "--netns", "ns", "--route", "10.1.0.0/16", "--reconnect"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "407 Proxy Authentication Required") || strings.Contains(errb.String(), "wrong") {
		t.Errorf("exit %d; want 1, the proxy's 407 said without the password:\n%s%s", code, out.String(), errb.String())
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the proxy was asked %d times, want once", n)
	}
}
