package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// envBench runs TestQuickRouted as part of a whole test run.
const envBench = "VNETGW_BENCH"

// TestQuickRouted checks the harness end to end in quick mode (1 run of
// 3 s, 1 stream) on the routed system: namespaces, iperf3, the JSON parser,
// the report and the chart, and that nothing is left behind. It takes
// about 15 s, so it runs only when VNETGW_BENCH=1 or when -run names it.
func TestQuickRouted(t *testing.T) {
	if os.Getenv(envBench) != "1" && !strings.Contains(flag.Lookup("test.run").Value.String(), "TestQuickRouted") {
		t.Skipf("runs iperf3 in namespaces for about 15 s: set %s=1 or -run TestQuickRouted", envBench)
	}
	netnstest.Require(t, "ip", "iperf3", "ping", "ss")
	res, err := Run(context.Background(), []System{&routed{}}, Options{Runs: 1, Seconds: 3, Streams: []int{1}, Work: t.TempDir()})
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
