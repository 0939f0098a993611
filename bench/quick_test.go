package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// envBench runs TestQuickRouted as part of a whole test run.
const envBench = "VNETGW_BENCH"

// quick reports whether a slow end-to-end test of the harness runs: with
// VNETGW_BENCH=1 or when -run names it.
func quick(t *testing.T) {
	t.Helper()
	if os.Getenv(envBench) != "1" && !strings.Contains(flag.Lookup("test.run").Value.String(), t.Name()) {
		t.Skipf("runs processes in namespaces for a while: set %s=1 or -run %s", envBench, t.Name())
	}
}

// TestQuickRouted checks the harness end to end in quick mode (1 run of
// 3 s, 1 stream) on the routed system: namespaces, iperf3, the JSON parser,
// the report and the chart, and that nothing is left behind. It takes
// about 15 s, so it runs only when VNETGW_BENCH=1 or when -run names it.
func TestQuickRouted(t *testing.T) {
	quick(t)
	netnstest.Require(t, "ip", "iperf3", "ping", "ss")
	res, err := Run(context.Background(), []System{&routed{}}, Options{Runs: 1, Seconds: 3, Streams: []int{1}, Work: t.TempDir(), Parts: []string{PartThroughput}})
	if err != nil {
		t.Fatal(err)
	}
	sr := res.Systems[0]
	if sr.Status != Measured || len(sr.Failures) > 0 {
		t.Fatalf("routed: %s %s %v", sr.Status, sr.Reason, sr.Failures)
	}
	for _, tt := range res.Tests {
		s := sr.Samples[tt.Name]
		if len(s) != 1 || s[0].Mbps <= 0 || (tt.UDP && s[0].PPS <= 0) {
			t.Errorf("%s: samples %+v, want one with a rate", tt.Name, s)
		}
	}
	if err := WriteMarkdown(&bytes.Buffer{}, res, Describe(context.Background(), ""), "test", ""); err != nil {
		t.Fatal(err)
	}
	if err := WriteChart(&bytes.Buffer{}, res, Machine{}); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(fmt.Sprintf("/run/netns/%s%d-*", namePrefix, os.Getpid()))
	if len(left) > 0 {
		t.Fatalf("namespaces left behind: %v", left)
	}
}

// TestQuickParts runs the IKE, scale and control-plane parts end to end
// with a vnetgw built from this tree, at the smallest sizes (about 30 s):
// namespaces, the gateway, the load generator, strongSwan, iperf3 over
// the load generator's tunnels, vnetgw serve, the report and the chart,
// and that nothing is left behind. It runs only when VNETGW_BENCH=1 or
// when -run names it.
func TestQuickParts(t *testing.T) {
	quick(t)
	netnstest.RequireStrongSwan(t, "iperf3", "ss")
	bin := filepath.Join(t.TempDir(), "vnetgw")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vnetgw/vnetgw/cmd/vnetgw").CombinedOutput(); err != nil {
		t.Fatalf("build vnetgw: %v\n%s", err, out)
	}
	o := Options{Runs: 1, Seconds: 2, Work: t.TempDir(), VNetGW: bin, Parts: []string{PartIKE, PartScale, PartControl},
		IKE:     IKEOptions{Groups: []string{"ecp256"}, Tunnels: 50, Window: 8, SwanConns: 10},
		Scale:   ScaleOptions{Tunnels: []int{20}, Window: 8, Flows: []int{2}},
		Control: ControlOptions{PUTs: 3, Connects: 1},
	}
	res, err := Run(context.Background(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	var fails []string
	fails = append(fails, res.IKE.Failures...)
	fails = append(fails, res.Scale.Failures...)
	fails = append(fails, res.Control.Failures...)
	if len(fails) > 0 {
		t.Fatalf("failures: %q", fails)
	}
	if s := res.IKE.Groups[0].Samples; len(s) != 1 || s[0].Rate <= 0 || s[0].GatewayCPU <= 0 {
		t.Errorf("IKE samples %+v", s)
	}
	if s := res.IKE.Swan; len(s) != 1 || s[0].Conns != 10 || s[0].Rate <= 0 {
		t.Errorf("strongSwan samples %+v", s)
	}
	if s := res.Scale.Sizes[0].Samples; len(s) != 1 || s[0].RSSAfter <= s[0].RSSBefore {
		t.Errorf("scale samples %+v", s)
	}
	if s := res.Scale.Spread[0].Samples; len(s) != 1 || s[0].MinFlow <= 0 {
		t.Errorf("traffic samples %+v", s)
	}
	if c := res.Control; len(c.GatewayPUT) != 3 || len(c.ConnectionPUT) != 3 || len(c.Connects[0].Samples) != 1 || len(c.Connects[1].Samples) != 1 {
		t.Errorf("control result %+v", c)
	}
	if err := WriteMarkdown(&bytes.Buffer{}, res, Machine{}, "test", ""); err != nil {
		t.Fatal(err)
	}
	if err := WriteChart(&bytes.Buffer{}, res, Machine{}); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(fmt.Sprintf("/run/netns/%s%d-*", namePrefix, os.Getpid()))
	if len(left) > 0 {
		t.Fatalf("namespaces left behind: %v", left)
	}
}
