package tunnel

import (
	"sync"
	"sync/atomic"
)

// minStep is the fewest packets a participant takes at once: about the
// cost of waking a worker.
const minStep = 8

// ranger is a batch that can be worked on in parts.
type ranger interface {
	do(lo, hi int)
}

// parallel is one batch at a time being worked on by its caller and by
// whichever of the pool's workers wake up in time. Each participant claims
// the next step items until none are left, so no one idles while work
// remains, and the caller never waits for a worker that has not claimed
// anything: on a busy machine waking a worker takes longer than the batch.
//
// state packs the batch's epoch, the next unclaimed item, its length and
// the step, so that a worker holding a token of a finished batch can tell
// and claims nothing. A batch owns its parallel and reuses it.
type parallel struct {
	r         ranger // set before state is published; read after a claim
	state     atomic.Uint64
	remaining atomic.Int64  // items not done yet
	wake      chan struct{} // the worker that finishes the batch tells the caller
}

// state fields, 16 bits each: epoch, next, n, step.
func pack(epoch, next, n, step int) uint64 {
	return uint64(epoch&0xffff)<<48 | uint64(next)<<32 | uint64(n)<<16 | uint64(step)
}

func unpack(s uint64) (epoch, next, n, step int) {
	return int(s >> 48), int(s >> 32 & 0xffff), int(s >> 16 & 0xffff), int(s & 0xffff)
}

// help claims and does steps of the batch of the given epoch until none
// are left. It reports whether it finished the batch.
func (p *parallel) help(epoch int) (last bool) {
	for {
		s := p.state.Load()
		e, next, n, step := unpack(s)
		if e != epoch || next >= n {
			return last
		}
		hi := min(next+step, n)
		if !p.state.CompareAndSwap(s, pack(e, hi, n, step)) {
			continue
		}
		p.r.do(next, hi)
		if p.remaining.Add(int64(next-hi)) == 0 {
			last = true
		}
	}
}

// token invites a worker to help with one batch.
type token struct {
	p     *parallel
	epoch int
}

// pool is the engine's workers: one per core, shared by both directions.
type pool struct {
	workers int
	work    chan token
	wg      sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, work: make(chan token, 4*workers)}
	p.wg.Add(workers)
	for range workers {
		go p.worker()
	}
	return p
}

func (p *pool) worker() {
	defer p.wg.Done()
	for t := range p.work {
		if t.p.help(t.epoch) {
			t.p.wake <- struct{}{}
		}
	}
}

// maxParallel is the largest batch run splits: its length must fit the
// 16 bits state keeps it in.
const maxParallel = 1<<16 - 1

// run does r.do over [0, n) on the calling goroutine and any workers that
// join, and returns when all of it is done.
func (p *pool) run(par *parallel, r ranger, n int) {
	if n <= minStep || p.workers == 0 || n > maxParallel {
		r.do(0, n)
		return
	}
	if par.wake == nil {
		par.wake = make(chan struct{}, 1)
	}
	epoch, _, _, _ := unpack(par.state.Load())
	epoch = (epoch + 1) & 0xffff
	step := max(minStep, (n+2*(p.workers+1)-1)/(2*(p.workers+1)))
	par.r = r
	par.remaining.Store(int64(n))
	par.state.Store(pack(epoch, 0, n, step))
	for range min(p.workers, (n+step-1)/step-1) {
		select {
		case p.work <- token{par, epoch}:
		default: // the workers are behind: do not wait for them
		}
	}
	if !par.help(epoch) {
		// A worker is finishing the last step it claimed.
		<-par.wake
	}
}

// close stops the workers once no run is in progress.
func (p *pool) close() {
	close(p.work)
	p.wg.Wait()
}
