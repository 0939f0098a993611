package insights

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// The history's file: the magic line, then each series as its id (a
// uint16 length and the bytes), its connection's gateway and name (each
// as the id), its number of samples (uint32, at least one), a flag byte
// (flagDrops: drops follow the samples; flagRestarted: the last sample is
// a restart's, not recorded), the samples and the drops, little-endian,
// fixed size. Version 2, still read, has no gateway and name.
const (
	fileMagic   = "vnetgw metrics history 3\n"
	fileMagic2  = "vnetgw metrics history 2\n"
	sampleBytes = 48
	dropsBytes  = 40
	maxIDBytes  = 4096

	flagDrops, flagRestarted = 1, 2
)

// Save writes the history, for Load to read it back after a restart.
func (h *History) Save(w io.Writer) error {
	h.mu.Lock()
	snap := make(map[string]series, len(h.series))
	for id, s := range h.series {
		snap[id] = *s // Record replaces, never changes, what the slices hold
	}
	h.mu.Unlock()
	bw := bufio.NewWriter(w)
	bw.WriteString(fileMagic)
	var b [sampleBytes]byte
	for _, id := range slices.Sorted(maps.Keys(snap)) {
		s := snap[id]
		if len(id) > maxIDBytes || len(s.gateway) > maxIDBytes || len(s.name) > maxIDBytes {
			continue
		}
		for _, v := range []string{id, s.gateway, s.name} {
			bw.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(v))))
			bw.WriteString(v)
		}
		bw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s.samples))))
		var flags byte
		if s.drops != nil {
			flags |= flagDrops
		}
		if s.restarted {
			flags |= flagRestarted
		}
		bw.WriteByte(flags)
		for _, x := range s.samples {
			bw.Write(x.put(b[:0]))
		}
		for _, d := range s.drops {
			bw.Write(d.put(b[:0]))
		}
	}
	return bw.Flush()
}

func (x sample) put(b []byte) []byte {
	for _, v := range []uint64{x.ingress, x.egress, x.ingressPackets, x.egressPackets} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	for _, v := range append([]uint32{x.t}, x.gauges[:]...) {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func getSample(b []byte) sample {
	u := binary.LittleEndian.Uint64
	v := binary.LittleEndian.Uint32
	return sample{ingress: u(b), egress: u(b[8:]), ingressPackets: u(b[16:]), egressPackets: u(b[24:]), t: v(b[32:]),
		gauges: [3]uint32{v(b[36:]), v(b[40:]), v(b[44:])}}
}

func (d Drops) put(b []byte) []byte {
	for _, v := range []uint64{d.Ingress, d.Egress, d.IngressTS, d.EgressTS, d.NAT} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func getDrops(b []byte) Drops {
	u := binary.LittleEndian.Uint64
	return Drops{u(b), u(b[8:]), u(b[16:]), u(b[24:]), u(b[32:])}
}

// Load adds what Save wrote to a history that has recorded nothing yet,
// keeping each series' newest samples up to the retention. The counters
// start again from zero at now (the data plane starts anew): each series
// gets a sample of zeros then. A series whose last recorded sample is
// older than the retention is let go (its connection is gone; a
// restart's sample of zeros does not keep it). A file that ends early
// or holds nonsense is an error; the series read before it stay.
func (h *History) Load(r io.Reader, now time.Time) error {
	br := bufio.NewReader(r)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != fileMagic && string(magic) != fileMagic2 {
		return errors.New("not a vnetgw metrics history")
	}
	owned := string(magic) == fileMagic
	h.mu.Lock()
	defer h.mu.Unlock()
	var b [sampleBytes]byte
	for {
		if _, err := io.ReadFull(br, b[:2]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("metrics history: %w", err)
		}
		idLen := int(binary.LittleEndian.Uint16(b[:2]))
		if idLen == 0 || idLen > maxIDBytes {
			return fmt.Errorf("metrics history: a series id of %d bytes", idLen)
		}
		id := make([]byte, idLen)
		if _, err := io.ReadFull(br, id); err != nil {
			return fmt.Errorf("metrics history: %w", io.ErrUnexpectedEOF)
		}
		var owner [2][]byte // the connection's gateway and name
		for i := 0; owned && i < len(owner); i++ {
			if _, err := io.ReadFull(br, b[:2]); err != nil {
				return fmt.Errorf("metrics history: %w", io.ErrUnexpectedEOF)
			}
			n := int(binary.LittleEndian.Uint16(b[:2]))
			if n > maxIDBytes {
				return fmt.Errorf("metrics history: series %q: a gateway or name of %d bytes", id, n)
			}
			owner[i] = make([]byte, n)
			if _, err := io.ReadFull(br, owner[i]); err != nil {
				return fmt.Errorf("metrics history: %w", io.ErrUnexpectedEOF)
			}
		}
		if _, err := io.ReadFull(br, b[:5]); err != nil {
			return fmt.Errorf("metrics history: %w", io.ErrUnexpectedEOF)
		}
		n, flags := int(binary.LittleEndian.Uint32(b[:4])), b[4]
		if n == 0 || flags&^(flagDrops|flagRestarted) != 0 {
			return fmt.Errorf("metrics history: series %q: %d samples, flags %d", id, n, flags)
		}
		hasDrops, restarted := flags&flagDrops != 0, flags&flagRestarted != 0
		// Only the newest fit the retention (with the zero sample).
		skip, keep := max(n-(h.max-1), 0), min(n, h.max-1)
		s := &series{samples: make([]sample, 0, keep+1), gateway: string(owner[0]), name: string(owner[1])}
		for i := range n {
			if _, err := io.ReadFull(br, b[:sampleBytes]); err != nil {
				return fmt.Errorf("metrics history: series %q: %w", id, io.ErrUnexpectedEOF)
			}
			if i >= skip {
				s.samples = append(s.samples, getSample(b[:]))
			}
		}
		if hasDrops {
			s.drops = make([]Drops, 0, keep+1)
			for i := range n {
				if _, err := io.ReadFull(br, b[:dropsBytes]); err != nil {
					return fmt.Errorf("metrics history: series %q: %w", id, io.ErrUnexpectedEOF)
				}
				if i >= skip {
					s.drops = append(s.drops, getDrops(b[:]))
				}
			}
			s.drops = append(s.drops, Drops{})
		}
		if restarted && len(s.samples) > 1 {
			// The last restart's sample of zeros: this one's replaces it.
			s.samples = s.samples[:len(s.samples)-1]
			if s.drops != nil {
				s.drops = s.drops[:len(s.drops)-2]
				s.drops = append(s.drops, Drops{})
			}
		}
		if h.stale(s, now) {
			continue
		}
		s.samples = append(s.samples, sample{t: max(uint32(now.Unix()), s.samples[len(s.samples)-1].t)})
		s.restarted = true
		h.series[string(id)] = s
	}
}
