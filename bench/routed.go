package bench

import "context"

// routed joins the networks with plain routes and no tunnel: the ceiling
// of what any tunnel could reach here.
type routed struct{}

var _ System = (*routed)(nil)

func (*routed) Name() string { return Ceiling }

func (*routed) Detail() string {
	return "routed (no tunnel): kernel IPv4 forwarding over veth, no encryption; the ceiling"
}

func (*routed) Setup(ctx context.Context, _ string, a, b Gateway) error {
	if _, err := a.NS.Run(ctx, "ip", "route", "add", b.LAN.Masked().String(), "via", b.WAN.Addr().String()); err != nil {
		return err
	}
	_, err := b.NS.Run(ctx, "ip", "route", "add", a.LAN.Masked().String(), "via", a.WAN.Addr().String())
	return err
}

// Pids is empty: forwarding runs in the kernel's softirq context, which no
// process is charged for.
func (*routed) Pids() []int { return nil }

func (*routed) Teardown() error { return nil }
