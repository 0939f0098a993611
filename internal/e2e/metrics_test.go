package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/insights"
)

// TestMetricsHistorySurvivesRestart: Azure Monitor's metrics of a
// VNet-to-VNet connection within one serve (its IKE SAs, sampled every
// second) are still there after serve stops cleanly and starts again on
// the same data directory; a history file that is damaged is set aside
// and serve starts anyway.
func TestMetricsHistorySurvivesRestart(t *testing.T) {
	const subID = "dddddddd-0000-0000-0000-00000000000d"
	dir := t.TempDir()
	args := []string{"--public-ip-pool", "127.43.0.0/24", "--ike-port", "15700", "--natt-port", "15701", "--sstp-port", "15743", "--metrics-interval", "1s"}
	s := startServe(t, dir, args...)
	c := s.client()
	ctx := context.Background()
	gw1 := buildRegion(t, c, subID, "rg1", "westeurope", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	gw2 := buildRegion(t, c, subID, "rg2", "westeurope", "10.2.0.0/16", "10.2.255.0/27", arm.RouteBased)
	c12 := arm.NetworkID(subID, "rg1", "connections", "one-to-two")
	for _, p := range []struct {
		id       arm.ID
		from, to arm.ID
	}{{c12, gw1, gw2}, {arm.NetworkID(subID, "rg2", "connections", "two-to-one"), gw2, gw1}} {
		if _, err := c.Put(ctx, p.id, vnet2vnet("westeurope", p.from, p.to), nil); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var conn arm.Connection
		if err := c.Get(ctx, c12, &conn); err == nil && conn.Properties.ConnectionStatus == "Connected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connection is not Connected after 20 s:\n%s", s.log())
		}
	}
	// mmsaSince returns the seconds with an IKE SA of gw1's connection
	// from start to end, mmsa those in the minute before end.
	mmsaSince := func(start, end time.Time) (seconds int) {
		t.Helper()
		out, err := cli(t, dir, "monitor", "metrics", "list", "--resource", gw1.String(), "--metric", "MmsaCount", "--interval", "PT1S",
			"--filter", "ConnectionName eq '*'", "--start-time", start.UTC().Format(time.RFC3339),
			"--end-time", end.UTC().Format(time.RFC3339), "-o", "json")
		if err != nil {
			t.Fatalf("monitor metrics list: %v\n%s", err, out)
		}
		var r insights.Response
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Value) != 1 || len(r.Value[0].Timeseries) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		for _, p := range r.Value[0].Timeseries[0].Data {
			if p.Total != nil && *p.Total >= 1 {
				seconds++
			}
		}
		return seconds
	}
	mmsa := func(end time.Time) int { return mmsaSince(end.Add(-time.Minute), end) }
	// Samples of the IKE SA, a second apart.
	var end time.Time
	var before int
	for deadline := time.Now().Add(15 * time.Second); before < 2; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d seconds with an IKE SA 15 s after the connection was Connected", before)
		}
		end = time.Now().Add(-time.Second).Truncate(time.Second) // samples before it are all recorded
		before = mmsa(end)
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(dir, datadir.MetricsHistory)); err != nil {
		t.Fatalf("serve stopped without saving its metrics history: %v", err)
	}
	s = startServe(t, dir, args...)
	if after := mmsa(end); after != before {
		t.Errorf("%d seconds with an IKE SA before the restart; after it, %d", before, after)
	}

	// A crash (kill -9) loses at most --metrics-save of the samples: the
	// file written while serve ran has them.
	s.stop()
	s = startServe(t, dir, append(args, "--metrics-save", "1s")...)
	restarted := time.Now().Truncate(time.Second).Add(time.Second)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no IKE SA in the 20 s after a restart:\n%s", s.log())
		}
		end = time.Now().Add(-time.Second).Truncate(time.Second)
		if !end.After(restarted) {
			continue
		}
		if before = mmsaSince(restarted, end); before >= 2 {
			break
		}
	}
	time.Sleep(2500 * time.Millisecond) // a save after end
	s.kill()
	s = startServe(t, dir, args...)
	if after := mmsaSince(restarted, end); after != before {
		t.Errorf("%d seconds with an IKE SA before the kill -9; after it, %d", before, after)
	}

	// A damaged file: serve starts, says so, and keeps the file aside.
	s.stop()
	os.WriteFile(filepath.Join(dir, datadir.MetricsHistory), []byte("vnetgw metrics history 1\n\xff"), 0o600)
	s = startServe(t, dir, args...)
	if _, err := os.Stat(filepath.Join(dir, datadir.MetricsHistory+".bad")); err != nil {
		t.Errorf("a damaged metrics history was not set aside: %v\n%s", err, s.log())
	}
}
