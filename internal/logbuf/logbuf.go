// Package logbuf is a buffer that one goroutine reads while others write
// to it: what a server logged or a process printed so far, for the tests
// that look at it.
package logbuf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use; the zero value is
// empty and ready.
type Buffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Since returns what was written after the first *seen bytes, and moves
// *seen to the end: each call gives what came since the call before.
func (l *Buffer) Since(seen *int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()[*seen:]
	*seen = l.b.Len()
	return s
}

// JSONLines decodes each line of text, as log/slog's JSONHandler writes
// them; a line that is not a JSON object is an error that quotes it.
func JSONLines(text string) ([]map[string]any, error) {
	var out []map[string]any
	for l := range strings.Lines(text) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return nil, fmt.Errorf("line %q: %w", l, err)
		}
		out = append(out, m)
	}
	return out, nil
}
