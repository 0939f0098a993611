package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// envHosts names, in the test binary run again by TestListenByName, the
// hosts file it puts over /etc/hosts in a mount namespace of its own.
const envHosts = "VNETGW_TEST_HOSTS"

// TestListenByName: with --listen given a host name, the endpoint file
// names that host, which the API's certificate names, and the CLI
// (client.Discover) reaches the API through it. It named the address the
// name resolved to, which the certificate does not name unless it is
// 127.0.0.1 or ::1 (Debian's own host name is 127.0.1.1): every command
// failed to verify the certificate. The test runs again in a mount
// namespace of its own, where a hosts file of its own names
// gw.vnetgw.test 127.161.0.1.
func TestListenByName(t *testing.T) {
	hosts := netnstest.OwnMountNamespace(t, envHosts, func() string {
		hosts := filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(hosts, []byte("127.161.0.1 gw.vnetgw.test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return hosts
	})
	if hosts != "" {
		listenByName(t, hosts)
	}
}

func listenByName(t *testing.T, hosts string) {
	if err := unix.Mount(hosts, "/etc/hosts", "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := New(context.Background(), Config{DataDir: dir, Listen: "gw.vnetgw.test:0", PublicIPPool: "127.161.3.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	defer run(t, s)()
	endpoint, err := os.ReadFile(filepath.Join(dir, datadir.Endpoint))
	if err != nil || !strings.HasPrefix(string(endpoint), "https://gw.vnetgw.test:") {
		t.Errorf("endpoint file %q, %v; want the URL of gw.vnetgw.test", endpoint, err)
	}
	c := dirClient(t, dir)
	if _, err := c.Do(context.Background(), http.MethodGet, "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", nil, nil); err != nil {
		t.Errorf("the API at the endpoint file's URL: %v", err)
	}
}
