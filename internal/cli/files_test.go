package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// looseFile makes a file others may read, as one an earlier run, or
// another program, may have left.
func looseFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "old")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

// assertPrivate fails unless the file at p was rewritten (it is not what
// looseFile wrote) and only its owner may read it.
func assertPrivate(t *testing.T, what, p string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) == "old" {
		t.Errorf("%s did not write %s", what, p)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s left %s with mode %v, want 0600", what, p, st.Mode().Perm())
	}
}

// --output-file over a file others may read leaves the VPN client package
// (it may hold the gateway's OpenVPN key) and a packet capture (the
// hosts' traffic, decrypted) to their owner alone: os.WriteFile kept the
// old file's mode.
func TestOutputFileOverLooseFile(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	pkg := looseFile(t)
	must(t, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--output-file", pkg)
	assertPrivate(t, "vpn-client generate --output-file", pkg)
	pcap := looseFile(t)
	must(t, "vnet-gateway", "packet-capture", "start", "-g", "rg", "-n", "gw")
	must(t, "vnet-gateway", "packet-capture", "stop", "-g", "rg", "-n", "gw", "--output-file", pcap)
	assertPrivate(t, "packet-capture stop --output-file", pcap)
}

// packet-capture stop prints where the capture is as a JSON string with
// -o json (the default), and bare with -o table and -o tsv: it printed
// it bare with either.
func TestPacketCaptureStopOutput(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, o := range []string{"json", "table", "tsv"} {
		must(t, "vnet-gateway", "packet-capture", "start", "-g", "rg", "-n", "gw")
		out := must(t, "vnet-gateway", "packet-capture", "stop", "-g", "rg", "-n", "gw", "-o", o)
		u := strings.TrimSpace(out)
		if o == "json" {
			if err := json.Unmarshal([]byte(out), &u); err != nil {
				t.Errorf("-o json: %v\n%s", err, out)
			}
		}
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("-o %s: %q, want the capture's URL", o, out)
		}
	}
}
