package cli

import (
	"path/filepath"
	"strings"
	"testing"
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
		if code != 1 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(args, " "), code, tc.want, out, errOut)
		}
	}
}
