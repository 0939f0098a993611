package insights

import (
	"testing"
	"time"
)

// TestSeriesBackAfterAGap: a connection deleted and made again under the
// same id (or whose VNet went to another node and came back) is missing
// from the samples between; when it is back, what its counters grew since
// the sample before it came back is that minute's traffic, not spread
// over the gap, and the peak rate is over that minute too.
func TestSeriesBackAfterAGap(t *testing.T) {
	h := New(time.Minute, 6*time.Hour)
	// Sampled at 20:00 and 20:01 (a tunnel that never came up), gone from
	// 20:02 to 20:30, back with 6,000 bytes and 60 packets at 20:31.
	h.Record(t0, map[string]Counters{"a": {}})
	h.Record(t0.Add(time.Minute), map[string]Counters{"a": {}})
	for m := 2; m <= 30; m++ {
		h.Record(t0.Add(time.Duration(m)*time.Minute), map[string]Counters{"other": {}})
	}
	h.Record(t0.Add(31*time.Minute), map[string]Counters{"a": {Ingress: 6000, IngressPackets: 60}, "other": {}})
	bs := h.Buckets("a", t0, t0.Add(32*time.Minute), time.Minute)
	for i, b := range bs {
		want := uint64(0)
		if i == 30 {
			want = 6000
		}
		if b.Ingress != want {
			t.Errorf("bucket %s: %d bytes, want %d", b.Start.Format("15:04"), b.Ingress, want)
		}
	}
	if p := bs[30].PeakPPS; p != 1 {
		t.Errorf("peak rate of 20:30: %v, want 1 (60 packets in its minute)", p)
	}
}
