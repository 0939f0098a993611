// Package sigtest helps tests that send a child process SIGHUP, as a
// terminal that goes away does.
package sigtest

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// HangupAtDefault makes the processes the tests start from now on begin
// with SIGHUP at its default, as from a terminal, also when the tests run
// with it ignored (under nohup), which the children would inherit: a
// program that keeps an ignored SIGHUP ignored, as vnetgw does, would then
// not end on a test's SIGHUP. A signal handled here is at its default in
// a child (execve keeps only ignored ones). It stays handled, and so
// ignored by the test process, until the process ends: stopped, it is
// ignored again while signal.Ignored says it is not, and a later test
// left its children ignoring it.
func HangupAtDefault() {
	hangupOnce.Do(func() {
		if signal.Ignored(syscall.SIGHUP) {
			signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
		}
	})
}

var hangupOnce sync.Once
