package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemo runs `vnetgw demo` as a user would: it needs no root, brings up
// real tunnels between gateways on loopback, proves reachability and prints
// the connections, all Connected, with traffic counted.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--ike-port", "25500", "--natt-port", "25501", "--public-ip-pool", "127.21.0.0/24")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vnetgw demo: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{`HTTP "hello from app`, `HTTP "hello from web`, `HTTP "hello from pc`, "removing everything"} {
		if !strings.Contains(s, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, s)
		}
	}
	table := s[strings.Index(s, "CONNECTION"):]
	if n := strings.Count(table, "Connected"); n != 4 {
		t.Fatalf("%d connections Connected, want 4:\n%s", n, s)
	}
	for _, line := range strings.Split(table, "\n")[1:5] {
		f := strings.Fields(line)
		if len(f) < 5 || f[3] == "0" || f[4] == "0" {
			t.Fatalf("no traffic counted on %q", line)
		}
	}
}
