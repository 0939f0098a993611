package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"
	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/tun"
)

// newP2S is vnetgw's own point-to-site client (R10).
func newP2S(g *globals) *cobra.Command {
	p := &cobra.Command{Use: "p2s", Short: "Point-to-site: vnetgw's own SSTP client"}
	var gateway, name, caFile, certFile, keyFile, netns, user, proxy string
	var routes []string
	var reconnect, eap bool
	connect := &cobra.Command{
		Use:   "connect --gateway ADDR[:PORT] (--cert FILE --key FILE | --user NAME) --netns NS --route PREFIX",
		Short: "Connect to a gateway's point-to-site server over SSTP and carry a network namespace's traffic (root)",
		Long: `Connect to a gateway's point-to-site server (SSTP over HTTPS, port 443 unless
serve's --sstp-port says otherwise), authenticate with a client certificate
that chains to a root uploaded to the gateway (vpnClientRootCertificates,
R12), or with a user name and password that the gateway's RADIUS server
checks (--user; MS-CHAPv2; the password from $` + envPassword + `, else
read as one line from standard input: on a terminal asked for, and not
shown as it is typed), and put a TUN device with the address the gateway gives into the
network namespace --netns, with --route prefixes (the VNet's ranges) routed
into it. It runs until interrupted, until the gateway ends the
connection, or until the device or the namespace is deleted (the call
ends, exit 1, within 5 s); it does not reconnect by itself (R14) unless
--reconnect. The
gateway's certificate
is checked against --ca (default: the data directory's ca.pem).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Each was taken and ignored with the other way in.
			if eap && user == "" {
				return usagef("--eap: only with --user (EAP-MSCHAPv2 carries a password)")
			}
			if keyFile != "" && user != "" {
				return usagef("--key: only with --cert, not with --user")
			}
			server, err := parseGateway(gateway)
			if err != nil {
				return err
			}
			if netns == "" {
				return usagef("--netns is required: the namespace whose traffic goes through the gateway")
			}
			var prefixes []netip.Prefix
			for _, r := range routes {
				pr, err := netip.ParsePrefix(r)
				if err != nil {
					return usagef("--route %q: %w", r, err)
				}
				prefixes = append(prefixes, pr.Masked())
			}
			if len(prefixes) == 0 {
				return usagef("--route is required: the ranges to reach through the gateway (the VNet's)")
			}
			if caFile == "" {
				caFile = os.Getenv(client.EnvCA)
			}
			if caFile == "" {
				caFile = filepath.Join(g.dataDir, datadir.CA)
			}
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("--ca: %w", err)
			}
			trust := x509.NewCertPool()
			if !trust.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--ca %s holds no PEM certificate", caFile)
			}
			if name == "" {
				name = server.Addr().String()
			}
			cfg := p2s.ClientConfig{Server: server, ServerName: name, RootCAs: trust}
			if cfg.Proxy, err = proxyFor(proxy, server); err != nil {
				return err
			}
			switch {
			case user != "" && certFile != "":
				return usagef("--user or --cert, not both")
			case user != "":
				pw, err := readPassword(cmd, user)
				if err != nil {
					return err
				}
				cfg.User, cfg.Password, cfg.EAP = user, pw, eap
			default:
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					return fmt.Errorf("--cert/--key (or --user): %w", err)
				}
				cfg.Cert = cert
			}
			cfg.Logger = slog.New(slog.NewTextHandler(g.stderr, nil))
			// A terminal that goes away (SIGHUP) ends the call as Ctrl-C
			// does, with CALL_DISCONNECT, unless the user asked the
			// client to outlive it (nohup): then it stays ignored.
			sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
			if !signal.Ignored(syscall.SIGHUP) {
				sigs = append(sigs, syscall.SIGHUP)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), sigs...)
			defer stop()
			for {
				err := connectOnce(ctx, g, cfg, netns, prefixes)
				switch {
				case ctx.Err() != nil:
					return nil
				case !reconnect || errors.Is(err, p2s.ErrRefused):
					// Refused credentials stay refused: trying them again
					// would only lock the account at the RADIUS server,
					// or the proxy's (407).
					return err
				}
				fmt.Fprintf(g.stderr, "%v; connecting again in %s (--reconnect)\n", err, reconnectDelay)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(reconnectDelay):
				}
			}
		},
	}
	f := connect.Flags()
	f.StringVar(&gateway, "gateway", "", "the gateway's public address, with :PORT when not 443; an IPv6 address in brackets ([2001:db8::7]:8443)")
	f.StringVar(&name, "server-name", "", "the name in the gateway's certificate (default: its address)")
	f.StringVar(&caFile, "ca", "", "PEM file of the CA that issued the gateway's certificate (default: the data directory's ca.pem)")
	f.StringVar(&certFile, "cert", "", "PEM client certificate (it chains to an uploaded root, R12)")
	f.StringVar(&keyFile, "key", "", "PEM private key of --cert")
	f.BoolVar(&eap, "eap", false, "with --user: the password in EAP-MSCHAPv2, which the gateway relays to RADIUS, instead of MS-CHAPv2")
	f.StringVar(&user, "user", "", "user name the gateway's RADIUS server checks, instead of a certificate (the password from $"+envPassword+" or standard input)")
	f.StringVar(&netns, "netns", "", "network namespace that gets the TUN device")
	f.StringArrayVar(&routes, "route", nil, "prefix routed through the gateway (repeatable)")
	f.StringVar(&proxy, "proxy", "", "HTTP proxy to reach the gateway through, http://[USER:PASSWORD@]HOST:PORT (default: $HTTPS_PROXY, as $NO_PROXY allows; \"none\": no proxy)")
	f.BoolVar(&reconnect, "reconnect", false, "connect again when the connection ends (by default the client ends with it, R14)")
	p.AddCommand(usesGlobals(connect, "data-dir")) // its ca.pem
	return usesGlobals(p, "data-dir")
}

// parseGateway reads --gateway: ADDR:PORT, [IPV6]:PORT, or an address
// alone for port 443, an IPv6 address in brackets ([IPV6]): unbracketed,
// 2001:db8::7:443 would be another address, not 2001:db8::7 port 443.
func parseGateway(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if v6, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(v6); err == nil && a.Is6() {
				return netip.AddrPortFrom(a, 443), nil
			}
		}
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.AddrPort{}, usagef("--gateway %q: an address or address:port ([IPv6]:port)", s)
	case a.Is6():
		return netip.AddrPort{}, usagef("--gateway %q: write an IPv6 address in brackets, [%s] or [%s]:PORT, so that its last group is not taken for a port", s, a, a)
	}
	return netip.AddrPortFrom(a, 443), nil
}

// envPassword holds the password of p2s connect --user: a flag would
// show it to every user of the machine (ps).
const envPassword = "VNETGW_PASSWORD"

// readPassword returns the password of --user: $VNETGW_PASSWORD, else the
// first line of standard input; from a terminal, asked for and not shown
// as it is typed.
func readPassword(cmd *cobra.Command, user string) (string, error) {
	if pw, ok := os.LookupEnv(envPassword); ok {
		os.Unsetenv(envPassword) // not for the programs this one starts
		return pw, nil
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok {
		if restore, ok := noEcho(f); ok {
			defer restore()
			fmt.Fprintf(cmd.ErrOrStderr(), "Password of %s: ", user)
			defer fmt.Fprintln(cmd.ErrOrStderr()) // the Enter typed was not shown
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", usagef("--user needs a password: set $%s or give it as a line on standard input", envPassword)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// noEcho turns the echo of terminal f off, if it is one, until restore;
// SIGINT, SIGTERM or SIGHUP meanwhile turn it on again before they end
// the process, as they would have: the shell's terminal is not left
// showing nothing that is typed.
func noEcho(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false // not a terminal
	}
	t := *old
	t.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, false
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case s := <-sigs:
			unix.IoctlSetTermios(fd, unix.TCSETS, old)
			signal.Stop(sigs)
			syscall.Kill(os.Getpid(), s.(syscall.Signal)) // its default action now
		case <-done:
		}
	})
	return func() {
		close(done)
		wg.Wait()
		signal.Stop(sigs)
		unix.IoctlSetTermios(fd, unix.TCSETS, old)
	}, true
}

// reconnectDelay is the wait before --reconnect connects again.
const reconnectDelay = 2 * time.Second

// connectOnce connects, carries the namespace's traffic until the
// connection ends, or the TUN device goes (deleted, or its namespace),
// and says why it ended.
func connectOnce(ctx context.Context, g *globals, cfg p2s.ClientConfig, netns string, prefixes []netip.Prefix) error {
	var host atomic.Pointer[fabric.TUNHost]
	cfg.OnIP = func(pkt []byte) {
		if h := host.Load(); h != nil {
			h.Deliver(pkt)
		}
	}
	c, err := p2s.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	// RFC 1661 §6.1: the device sends no packet longer than the gateway's
	// MRU (a third-party gateway may ask for less than 1400); the least a
	// TUN device takes is 576, and the client cuts, or answers with ICMP,
	// what is longer still (Client.Forward).
	h, err := fabric.NewTUNHostMTU(netns, c.Addr(), max(tunMinMTU, min(tun.DefaultMTU, c.MTU())), c, cfg.Logger, prefixes...)
	if err != nil {
		return err
	}
	defer h.Close()
	host.Store(h)
	fmt.Fprintf(g.stdout, "connected to %s: address %s on %s in %s, routes %v, DNS servers %v\n", cfg.Server, c.Addr(), h.Name(), netns, prefixes, c.DNS())
	tick := time.NewTicker(dropLogEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-c.Done():
			return fmt.Errorf("the gateway ended the connection: %w", err)
		case now := <-tick.C:
			h.LogDrops(now) // what the namespace's device did not take
			// Its device deleted, or its namespace, the call would carry
			// nothing: it ends, and --reconnect makes a new device.
			if err := h.InPlace(); err != nil {
				return fmt.Errorf("the TUN device is gone, the call ends: %w", err)
			}
		}
	}
}

// tunMinMTU is the least MTU tun.Create takes.
const tunMinMTU = 576

// dropLogEvery is how often a connection logs what its TUN device did
// not take: once a minute at most (sparselog.Every), within a few seconds
// of the first.
const dropLogEvery = 5 * time.Second

// proxyFor returns the HTTP proxy to reach the gateway at server through:
// flag ("none": none), else $HTTPS_PROXY unless $NO_PROXY names it.
func proxyFor(flag string, server netip.AddrPort) (*url.URL, error) {
	switch flag {
	case "none":
		return nil, nil
	case "":
		return httpproxy.FromEnvironment().ProxyFunc()(&url.URL{Scheme: "https", Host: server.String()})
	}
	u, err := url.Parse(flag)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, usagef("--proxy: give http://[USER:PASSWORD@]HOST:PORT")
	}
	return u, nil
}
