package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/bench"
)

func TestSelectParts(t *testing.T) {
	tests := []struct {
		name, parts, skip string
		want              []string
		wantErr           bool
	}{
		{name: "all", want: []string{"throughput", "ike", "scale", "control"}},
		{name: "some", parts: "control,ike", want: []string{"control", "ike"}},
		{name: "skip", skip: "throughput,scale", want: []string{"ike", "control"}},
		{name: "some less skipped", parts: "ike,scale", skip: "scale", want: []string{"ike"}},
		{name: "unknown", parts: "ike,dns", wantErr: true},
		{name: "unknown skipped", skip: "dns", wantErr: true},
		{name: "nothing left", parts: "ike", skip: "ike", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectParts(tt.parts, tt.skip)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("selectParts(%q, %q) = %v, %v; want %v, error %v", tt.parts, tt.skip, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestInts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "100,1000, 10000", want: []int{100, 1000, 10000}},
		{in: "1", want: []int{1}},
		{in: "", wantErr: true},
		{in: "10,0", wantErr: true},
		{in: "10,x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ints(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ints(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestQuickDefaults: -quick shortens what the command line leaves alone
// and keeps the flags given with it, -runs and -seconds too.
func TestQuickDefaults(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	for _, name := range []string{"runs", "seconds", "ike-tunnels", "swan-conns", "scale-tunnels", "scale-flows", "api-puts", "connects"} {
		fs.String(name, "default", "")
	}
	if err := fs.Parse([]string{"-runs", "2", "-seconds", "5", "-connects", "4"}); err != nil {
		t.Fatal(err)
	}
	quickDefaults(fs)
	want := map[string]string{"runs": "2", "seconds": "5", "connects": "4", "ike-tunnels": "300", "swan-conns": "50",
		"scale-tunnels": "100", "scale-flows": "1,10", "api-puts": "20"}
	for name, v := range want {
		if got := fs.Lookup(name).Value.String(); got != v {
			t.Errorf("-%s = %s, want %s", name, got, v)
		}
	}
}

// TestWriteKeepsLatestOfAFullRun: a run of some parts or systems writes
// its dated file and leaves latest.md and latest.png, which the READMEs
// quote, as the last full run wrote them.
func TestWriteKeepsLatestOfAFullRun(t *testing.T) {
	dir := t.TempDir()
	full := &bench.Result{Start: time.Date(2026, 11, 29, 11, 43, 0, 0, time.UTC)}
	if _, err := write(dir, full, bench.Machine{}, "bench/run.sh", true); err != nil {
		t.Fatal(err)
	}
	latest, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	if err != nil {
		t.Fatal(err)
	}
	partial := &bench.Result{Start: full.Start.Add(72 * time.Hour)}
	paths, err := write(dir, partial, bench.Machine{}, "bench/run.sh -parts throughput", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "2026-12-02T1143Z.md")}; !slices.Equal(paths, want) {
		t.Errorf("a partial run wrote %v, want %v", paths, want)
	}
	if after, err := os.ReadFile(filepath.Join(dir, "latest.md")); err != nil || string(after) != string(latest) {
		t.Errorf("a partial run changed latest.md (err %v)", err)
	}
	for _, name := range []string{"2026-11-29T1143Z.md", "2026-12-02T1143Z.md", "latest.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
