// Package tuntest is an in-memory stand-in for a TUN device, the inner
// side of the tunnel engine in unit tests: a test hands it IP packets as
// if the host sent them, and takes out the packets the engine wrote.
package tuntest

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Device is an in-memory TUN device. Its methods are safe for concurrent
// use.
type Device struct {
	in     chan []byte
	out    chan []byte // nil: written packets are only counted
	closed chan struct{}
	once   sync.Once
	batch  int

	written, writtenBytes, lost atomic.Uint64
}

// queueLen is how many packets each direction holds.
const queueLen = 4096

// NewRecorder returns a Device that keeps what is written to it for Next,
// up to 4096 packets (more are counted as lost). Read returns up to batch
// packets at once.
func NewRecorder(batch int) *Device {
	d := NewSink(batch)
	d.out = make(chan []byte, queueLen)
	return d
}

// NewSink returns a Device that only counts what is written to it.
func NewSink(batch int) *Device {
	return &Device{in: make(chan []byte, queueLen), closed: make(chan struct{}), batch: batch}
}

// Send queues an IP packet for Read, as if the host had sent it. The Device
// keeps pkt.
func (d *Device) Send(pkt []byte) { d.in <- pkt }

// Next returns the next packet written to a recorder, or false after
// timeout.
func (d *Device) Next(timeout time.Duration) ([]byte, bool) {
	select {
	case p := <-d.out:
		return p, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Written returns how many packets and bytes were written, and how many a
// full recorder lost.
func (d *Device) Written() (packets, bytes, lost uint64) {
	return d.written.Load(), d.writtenBytes.Load(), d.lost.Load()
}

// Read blocks until a packet was sent, then returns it and any others
// queued, up to len(bufs) and the batch size, each at bufs[i][offset:].
// After Close it returns os.ErrClosed.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := 0
	select {
	case p := <-d.in:
		sizes[0] = copy(bufs[0][offset:], p)
		n = 1
	case <-d.closed:
		return 0, os.ErrClosed
	}
	for n < len(bufs) && n < d.batch {
		select {
		case p := <-d.in:
			sizes[n] = copy(bufs[n][offset:], p)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// Write takes the packets at bufs[i][offset:].
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	default:
	}
	total := 0
	for _, b := range bufs {
		p := b[offset:]
		total += len(p)
		d.written.Add(1)
		d.writtenBytes.Add(uint64(len(p)))
		if d.out == nil {
			continue
		}
		select {
		case d.out <- bytes.Clone(p):
		default:
			d.lost.Add(1)
		}
	}
	return total, nil
}

// BatchSize returns the batch size given to the constructor.
func (d *Device) BatchSize() int { return d.batch }

// Close makes Read and Write return os.ErrClosed.
func (d *Device) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}
