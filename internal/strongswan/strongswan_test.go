package strongswan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	d := Daemon{Dir: t.TempDir(), LogLevelIKE: 4, Extra: "  fragment_size = 300"}
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(d.Dir, "strongswan.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{"kernel-libipsec kernel-netlink", " kdf ", "unix://" + d.Dir + "/run/charon.vici", "ike = 4", "fragment_size = 300", "flush_line = yes"} {
		if !strings.Contains(conf, want) {
			t.Errorf("strongswan.conf lacks %q:\n%s", want, conf)
		}
	}
	if st, err := os.Stat(filepath.Join(d.Dir, "run")); err != nil || !st.IsDir() {
		t.Fatalf("run/ not made: %v", err)
	}
	if cmd := d.Command(); cmd[len(cmd)-1] != CharonPath || !strings.HasPrefix(cmd[1], "STRONGSWAN_CONF=") {
		t.Fatalf("command %q", cmd)
	}
}
