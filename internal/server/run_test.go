package server

import (
	"context"
	"testing"

	"github.com/vnetgw/vnetgw/internal/client"
)

// run runs s, as serve does, until stop, which waits for Run to end and
// fails t on its error; stop runs when t ends too, if not before.
func run(t *testing.T, s *Server) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// dirClient is a client of the API of the serve whose data directory is
// dir, as the CLI finds it there.
func dirClient(t *testing.T, dir string) *client.Client {
	t.Helper()
	cfg, err := client.DiscoverDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}
