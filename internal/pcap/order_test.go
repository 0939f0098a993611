package pcap

import (
	"encoding/binary"
	"sync"
	"testing"
)

// TestRecordsInTimeOrder: packets recorded at once by several goroutines
// (the gateway's batches, its point-to-site server) are in the file in
// the order of their timestamps, as tcpdump and Wireshark expect; the
// time was read before the capture's lock was taken, so a record could be
// stamped earlier than the one before it.
func TestRecordsInTimeOrder(t *testing.T) {
	c := Start(Config{})
	pkt := udp4("10.1.0.4", "10.2.0.4", 1000, 2000, 20)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5000 {
				c.Packet(pkt)
			}
		})
	}
	wg.Wait()
	file, _, _ := c.Stop()
	var last uint64
	n := 0
	for rest := file[24:]; len(rest) > 0; n++ {
		ts := uint64(binary.LittleEndian.Uint32(rest))*1e6 + uint64(binary.LittleEndian.Uint32(rest[4:]))
		if ts < last {
			t.Fatalf("record %d is stamped %d µs, before the one ahead of it (%d µs)", n, ts, last)
		}
		last = ts
		rest = rest[16+int(binary.LittleEndian.Uint32(rest[8:])):]
	}
}
