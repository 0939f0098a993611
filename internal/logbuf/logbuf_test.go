package logbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites: writers and a reader at once lose nothing (run
// with -race).
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 400) {
		t.Fatalf("%d bytes, want 400", len(got))
	}
}

// Since gives what came after the call before; JSONLines decodes slog's
// JSON lines and names the line that is not one.
func TestSinceAndJSONLines(t *testing.T) {
	var b Buffer
	seen := 0
	b.Write([]byte(`{"msg":"a"}` + "\n"))
	if got := b.Since(&seen); got != `{"msg":"a"}`+"\n" {
		t.Fatalf("first: %q", got)
	}
	b.Write([]byte(`{"msg":"b","n":2}` + "\n"))
	ms, err := JSONLines(b.Since(&seen))
	if err != nil || len(ms) != 1 || ms[0]["msg"] != "b" || ms[0]["n"] != 2.0 {
		t.Fatalf("second: %v, %v", ms, err)
	}
	if got := b.Since(&seen); got != "" {
		t.Fatalf("nothing new: %q", got)
	}
	if _, err := JSONLines("{\"msg\":\"c\"}\nnot json\n"); err == nil || !strings.Contains(err.Error(), "not json") {
		t.Fatalf("a line that is not JSON: %v", err)
	}
}
