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

// TestWriteSwanctl: the defaults fill in, an empty remote address leaves
// the peer open, and each secret names its identities.
func TestWriteSwanctl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "swanctl.conf")
	conns := []Conn{
		{Name: "to-a", Local: "10.0.0.2", Remote: "10.0.0.1", IKE: "aes256gcm16-prfsha256-ecp256", ESP: "aes256gcm16",
			LocalTS: "10.2.0.0/16", RemoteTS: "10.1.0.0/16", ChildExtra: "        rekey_time = 30s"},
		{Name: "any", Version: 1, Local: "10.0.0.2", LocalTS: "10.3.0.0/16", RemoteTS: "10.1.0.0/16", StartAction: "trap"},
	}
	if err := WriteSwanctl(path, conns, []Secret{{IDs: []string{"10.0.0.2", "10.0.0.1"}, PSK: "k1"}, {PSK: "k2"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	to, anyPeer, _ := strings.Cut(conf[strings.Index(conf, "to-a {"):], "  any {")
	for _, want := range []string{"version = 2", "remote_addrs = 10.0.0.1", "id = 10.0.0.2", "id = 10.0.0.1", "start_action = none", "rekey_time = 30s", "mode = tunnel"} {
		if !strings.Contains(to, want) {
			t.Errorf("connection to-a lacks %q:\n%s", want, conf)
		}
	}
	for _, want := range []string{"version = 1", "start_action = trap", "local_ts = 10.3.0.0/16"} {
		if !strings.Contains(anyPeer, want) {
			t.Errorf("connection any lacks %q:\n%s", want, conf)
		}
	}
	if remote := anyPeer[strings.Index(anyPeer, "remote {"):strings.Index(anyPeer, "children")]; strings.Contains(anyPeer, "remote_addrs") || strings.Contains(remote, "id =") {
		t.Errorf("connection any names a peer:\n%s", conf)
	}
	for _, want := range []string{"id-0 = 10.0.0.2", "id-1 = 10.0.0.1", `secret = "k1"`, `secret = "k2"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("secrets lack %q:\n%s", want, conf)
		}
	}
}

// TestWriteSwanctlMode: swanctl.conf holds the pre-shared keys, so only
// its owner may read it, also when it was there before with another mode.
func TestWriteSwanctlMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "swanctl.conf")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // written over one of mode 0644, then made anew
		if err := WriteSwanctl(path, nil, []Secret{{PSK: "k1"}}); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("swanctl.conf with its keys: %v, %v; want mode 0600", st.Mode(), err)
		}
		os.Remove(path)
	}
}

// A key that starts as a hex or base64 value would is written in hex, so
// that strongSwan reads the key itself.
func TestSecretValue(t *testing.T) {
	for key, want := range map[string]string{
		"SiteToSiteKey2026": `"SiteToSiteKey2026"`,
		"0sgA2zy9":          "0x30736741327a7939",
		"0XAB":              "0x30584142",
		"0abc":              `"0abc"`,
	} {
		if got := SecretValue(key); got != want {
			t.Errorf("SecretValue(%q) = %s, want %s", key, got, want)
		}
	}
}

// Names that differ only in characters a section name cannot hold stay
// apart (two connections "hub.a" and "hub_a" installed on one device
// would otherwise be one section, one overriding the other), and a name
// that needs nothing replaced is kept as it is.
func TestSectionName(t *testing.T) {
	for _, name := range []string{"rg-to_branch", "G-c1", "a"} {
		if got := SectionName(name); got != name {
			t.Errorf("SectionName(%q) = %q, want it unchanged", name, got)
		}
	}
	seen := map[string]string{}
	for _, name := range []string{"rg-hub_a", "rg-hub.a", "rg-hub(a", "rg(1)-hub.a", "rg_1_-hub.a", "rg-hub.a.", "rg-hübа"} {
		got := SectionName(name)
		if strings.ContainsFunc(got, func(r rune) bool {
			return r != '-' && r != '_' && !('a' <= r && r <= 'z') && !('A' <= r && r <= 'Z') && !('0' <= r && r <= '9')
		}) {
			t.Errorf("SectionName(%q) = %q, which a section name cannot be", name, got)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("SectionName(%q) = SectionName(%q) = %q", name, other, got)
		}
		seen[got] = name
	}
}
