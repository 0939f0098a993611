package seat

import "testing"

// TestCountShared: two servers that share a Count admit limit clients
// between them (R32), and a seat given back is taken again; spare admits
// past the limit as many as are on their way out.
func TestCountShared(t *testing.T) {
	var c Count
	ikev2, openvpn := &c, &c
	if _, ok := ikev2.Take(2, 0); !ok {
		t.Fatal("the first seat refused")
	}
	if _, ok := openvpn.Take(2, 0); !ok {
		t.Fatal("the second seat refused")
	}
	if n, ok := openvpn.Take(2, 0); ok || n != 2 {
		t.Fatalf("a third client of a limit of 2: taken %v with %d counted", ok, n)
	}
	if _, ok := ikev2.Take(2, 1); !ok {
		t.Fatal("a client replacing one on its way out refused")
	}
	ikev2.Give()
	ikev2.Give()
	if _, ok := openvpn.Take(2, 0); !ok || c.Taken() != 2 {
		t.Fatalf("a seat given back not taken again: %d counted", c.Taken())
	}
}
