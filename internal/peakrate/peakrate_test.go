package peakrate

import (
	"testing"
	"time"
)

// A burst that falls between ticks counts whole in the window that
// spans it, wherever it starts; a client's peak stays when it goes
// idle; late ticks give the average over the longer window, never more
// than was counted.
func TestPeak(t *testing.T) {
	var tr Tracker[string]
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * Tick) }
	tr.Sample(at(0), map[string]Counters{"a": {}, "idle": {}})
	// 300 packets of 100 bytes: 100 before tick 1, 100 before tick 2,
	// 100 before tick 3 (a burst of under 750 ms across three ticks).
	for i := 1; i <= 3; i++ {
		tr.Sample(at(i), map[string]Counters{"a": {Bytes: uint64(i) * 10000, Packets: uint64(i) * 100}, "idle": {}})
	}
	for i := 4; i <= 12; i++ {
		tr.Sample(at(i), map[string]Counters{"a": {Bytes: 30000, Packets: 300}, "idle": {}})
	}
	if p := tr.Peak("a"); p != (Peak{BytesPerSecond: 30000, PacketsPerSecond: 300}) {
		t.Errorf("a burst of 300 packets, 30000 bytes within 750 ms: peak %+v", p)
	}
	if p := tr.Peak("idle"); p != (Peak{}) {
		t.Errorf("an idle client's peak: %+v", p)
	}
	// The ticker stalls for 3 s while 600 more packets come: 200 per
	// second on average, not 600.
	tr.Sample(at(12).Add(3*time.Second), map[string]Counters{"a": {Bytes: 90000, Packets: 900}})
	if p := tr.Peak("a"); p.PacketsPerSecond != 300 {
		t.Errorf("after a stalled ticker: peak %+v; want still 300 packets per second", p)
	}
	if p := tr.Peak("idle"); p != (Peak{}) {
		t.Errorf("a client gone is not forgotten: %+v", p)
	}
}

// A client's first sample counts what it sent since it connected, up to
// a Tick before: a burst right after it connected is not lost.
func TestPeakFirstSample(t *testing.T) {
	var tr Tracker[int]
	tr.Sample(time.Unix(1000, 0), map[int]Counters{1: {Bytes: 5000, Packets: 50}})
	if p := tr.Peak(1); p != (Peak{BytesPerSecond: 5000, PacketsPerSecond: 50}) {
		t.Errorf("peak %+v; want 5000 bytes and 50 packets per second", p)
	}
}

// A key whose counters go down is another connection under it (an IKEv2
// client connection's tunnel made again for the next client that
// authenticates on it, counting from zero): its peak starts again, and
// what it sent since it began counts in its first window. The peak of the
// connection before was kept, shown for the new one: more than it ever
// sent.
func TestPeakCountersStartAgain(t *testing.T) {
	var tr Tracker[string]
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * Tick) }
	tr.Sample(at(0), map[string]Counters{"p2s-ikev2/1": {}})
	tr.Sample(at(1), map[string]Counters{"p2s-ikev2/1": {Bytes: 1_000_000, Packets: 1000}})
	if p := tr.Peak("p2s-ikev2/1"); p != (Peak{BytesPerSecond: 1_000_000, PacketsPerSecond: 1000}) {
		t.Fatalf("the first connection's peak %+v", p)
	}
	// The next connection under the key, within a tick: 10 packets.
	for i := 2; i <= 8; i++ {
		tr.Sample(at(i), map[string]Counters{"p2s-ikev2/1": {Bytes: 1000, Packets: 10}})
	}
	if p := tr.Peak("p2s-ikev2/1"); p != (Peak{BytesPerSecond: 1000, PacketsPerSecond: 10}) {
		t.Errorf("the next connection's peak %+v; want 1000 bytes and 10 packets per second, what it sent", p)
	}
}
