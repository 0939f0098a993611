// Package server assembles one `vnetgw serve` process: the data directory
// (state, TLS material, admin token), the store, the region and the API
// server. All wiring happens here.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/api"
	"github.com/vnetgw/vnetgw/internal/atomicfile"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/devicecfg"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/federation"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
)

// Config is the configuration of a serve process, from its flags.
type Config struct {
	DataDir      string
	Listen       string // host:port of the API
	PublicIPPool string
	TLSCert      string
	TLSKey       string
	// Peers are the data directories of other regions' serve processes.
	Peers []string
	// IKEPort and NATTPort are the UDP ports of every gateway (0: 500 and
	// 4500); PublicInterface gets the gateways' addresses (root).
	IKEPort, NATTPort uint16
	PublicInterface   string
	// PolicyIdleTimeout removes idle policy-based tunnels (R8); 0: 5 min.
	PolicyIdleTimeout time.Duration
	// RawESP carries ESP as IP protocol 50 where no NAT is in between.
	RawESP bool
	// InternetEgress lets the VNets' hosts reach the Internet from this
	// node (R43); otherwise what they send there is dropped.
	InternetEgress bool
	// NoRadiusAccounting: the sessions of point-to-site clients that
	// RADIUS servers authenticated are not reported to their accounting.
	NoRadiusAccounting bool
	// DNSServer (host:port), when set, answers the lookups of on-premises
	// devices' names instead of the system's resolver; FQDNRefresh is how
	// often they are looked up again (0: dataplane.DefaultResolveInterval).
	DNSServer   string
	FQDNRefresh time.Duration
	// MetricsInterval is how often the tunnels' counters are sampled for
	// Azure Monitor's metrics API, and MetricsRetention how long samples
	// are kept (in memory, and in the data directory across restarts); 0:
	// 1 min and 6 h.
	MetricsInterval, MetricsRetention time.Duration
	// MetricsSave is how often the samples are written to the data
	// directory while serve runs (and when it stops), so that a crash
	// loses at most that much of them; 0: 15 min.
	MetricsSave time.Duration
	// SSTPPort is the TCP port of the gateways' point-to-site server (0:
	// 443).
	SSTPPort uint16
	// Etcd, when set, keeps the state in etcd at these endpoints instead
	// of the data directory's bbolt file, so that several nodes share the
	// region; each VNet then runs on one node (internal/cluster).
	Etcd []string
	// EtcdPrefix is where this region's keys are in etcd.
	EtcdPrefix string
	// EtcdCA, EtcdCert and EtcdKey are PEM files for etcd over TLS: the CA
	// of etcd's certificate, and this node's client certificate and key.
	EtcdCA, EtcdCert, EtcdKey string
	// NodeName names this node among the region's; NodeTTL is how long
	// the others wait after its death before they run its VNets;
	// NodeSettle how long after it joins its VNets go to nodes that join
	// (cluster.Options.Settle).
	NodeName   string
	NodeTTL    time.Duration
	NodeSettle time.Duration
	// AdvertiseURL is where the other nodes reach this node's API (default:
	// the URL of Listen; needed when Listen's host is 0.0.0.0 or ::).
	AdvertiseURL string
	Logger       *slog.Logger
}

// Server is a running vnetgw serve process.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	etcd     *clientv3.Client // nil on bbolt
	node     *cluster.Node    // nil on bbolt
	region   *region.Region
	engine   *dataplane.Engine
	insights *insights.History
	http     *http.Server
	listener net.Listener
	// userCert says the API's certificate came from --tls-cert.
	userCert bool
	// URL is where the API is served.
	URL string
	// lock holds the data directory for this serve alone.
	lock *os.File
}

// New prepares the data directory, opens the state and binds the API's
// listener; Run serves.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Defaults before the Server keeps its copy of cfg.
	if cfg.MetricsInterval <= 0 {
		cfg.MetricsInterval = time.Minute
	}
	if cfg.MetricsRetention <= 0 {
		cfg.MetricsRetention = 6 * time.Hour
	}
	if cfg.MetricsSave <= 0 {
		cfg.MetricsSave = 15 * time.Minute
	}
	// Every flag is checked before anything is made: a bad one left a
	// data directory, a lock, or a CA and a token behind.
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pool, _ := region.ParsePool(cfg.PublicIPPool) // checked
	// Bound before the data directory is touched: an address that is
	// not this host's, or taken, left a CA, a token and a state behind.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", cfg.Listen, err)
	}
	ok := false
	defer func() {
		if !ok {
			ln.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir %q: %w", cfg.DataDir, err)
	}
	if err := guardDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	// One serve per data directory, with bbolt or etcd alike: before
	// anything in it is written (certificates, the endpoint file).
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if err := guardSecrets(cfg.DataDir, cfg.Logger); err != nil {
		return nil, err
	}
	removeLeftovers(cfg.DataDir, cfg.Logger)
	host, _, _ := net.SplitHostPort(cfg.Listen) // checked
	hosts := []string{host}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		hosts = nil // every address: the certificate names the loopback ones
	}
	if cfg.AdvertiseURL != "" {
		u, _ := url.Parse(cfg.AdvertiseURL) // checked
		hosts = append(hosts, u.Hostname())
		cfg.AdvertiseURL = "https://" + u.Host
	}
	// The data directory's CA, loaded (or made) once: the API's
	// certificate, the gateways' and their OpenVPN keys come from it,
	// also with --tls-cert.
	ca, err := openCA(cfg.DataDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	certs, userCert, err := ensureTLS(ca, cfg.TLSCert, cfg.TLSKey, hosts, cfg.Logger)
	if err != nil {
		return nil, err
	}
	token, err := ensureToken(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, userCert: userCert}
	st, err := s.openStore(ctx)
	if err != nil {
		return nil, err
	}
	s.store = st
	rc := region.Config{Store: st, PublicIPPool: pool, Logger: cfg.Logger.With("component", "region")}
	if s.etcd != nil {
		rc.MaxTxnOps, rc.MaxTxnBytes = 100, 1400<<10 // within etcd's 128 ops and 1.5 MiB
	}
	if len(cfg.Peers) > 0 {
		rc.Remotes = federation.New(cfg.Peers)
	}
	reg, err := region.Open(ctx, rc)
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("%s: %w", s.storeName(), err)
	}
	s.URL = "https://" + localAddr(host, ln.Addr().(*net.TCPAddr))
	if s.etcd != nil {
		info := s.URL
		if cfg.AdvertiseURL != "" {
			info = cfg.AdvertiseURL
		}
		s.node, err = cluster.Join(ctx, s.etcd, cluster.Options{Prefix: cfg.EtcdPrefix + "cluster/", Name: cfg.NodeName, TTL: cfg.NodeTTL,
			Settle: cfg.NodeSettle, Info: info, Alike: alike(cfg), Logger: cfg.Logger.With("component", "cluster")})
		if err != nil {
			reg.Close()
			s.closeStore()
			return nil, err
		}
	}
	s.region, s.listener = reg, ln
	s.engine = dataplane.New(dataplane.Options{Logger: cfg.Logger.With("component", "dataplane"),
		IKEPort: cfg.IKEPort, NATTPort: cfg.NATTPort, PublicInterface: cfg.PublicInterface, InPool: pool.Contains, PolicyIdleTimeout: cfg.PolicyIdleTimeout, RawESP: cfg.RawESP,
		SSTPPort: cfg.SSTPPort, GatewayCert: gatewayCerts(ca), OpenVPNKey: openVPNKeys(ca), Resolver: resolver(cfg.DNSServer), ResolveInterval: cfg.FQDNRefresh,
		Internet: internet(cfg, pool.Contains), NoRadiusAccounting: cfg.NoRadiusAccounting})
	s.insights = insights.New(cfg.MetricsInterval, cfg.MetricsRetention)
	s.loadHistory()
	ac := api.Config{Region: reg, Token: token, Logger: cfg.Logger.With("component", "api"), Insights: s.insights,
		Ports: devicecfg.Ports{IKE: cfg.IKEPort, NATT: cfg.NATTPort}, DataPlane: reconcile.Live{Engine: s.engine}, SSTPPort: cfg.SSTPPort,
		OpenVPNKey: openVPNKeys(ca), InternetEgress: cfg.InternetEgress}
	// The gateways' SSTP certificates come from the data directory's CA.
	gwCA, _, err := ca.get()
	if err != nil {
		s.close()
		return nil, err
	}
	if left := time.Until(gwCA.NotAfter); left < caWarnBefore {
		cfg.Logger.Warn("the data directory's CA ends within a year: after its end no client trusts the API's or the gateways' certificates, and a new CA is made on this node alone; replace it before (see the README's Not there yet)",
			"ca", filepath.Join(cfg.DataDir, datadir.CA), "until", gwCA.NotAfter.Format(time.RFC3339), "days_left", int(left.Hours()/24))
	}
	ac.GatewayCA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gwCA.Raw})
	if s.node != nil {
		if ac.Transport, err = s.nodeTransport(); err != nil {
			s.close()
			return nil, err
		}
		ac.Cluster = s.node
		ac.Elsewhere = func(vnet string) *url.URL {
			u, err := url.Parse(s.node.Elsewhere(vnet))
			if err != nil || u.Host == "" {
				return nil
			}
			return u
		}
	}
	ac.OwnHost = certs.names
	// Links the API gives a client that came by another name go where the
	// endpoint file points, or where the other nodes reach this one.
	ac.Endpoint = s.URL
	if cfg.AdvertiseURL != "" {
		ac.Endpoint = cfg.AdvertiseURL
	}
	s.http = &http.Server{
		Handler:           api.New(ac),
		TLSConfig:         &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	ep := client.Endpoint{URL: s.URL, UserCert: userCert}
	if err := atomicfile.Write(filepath.Join(cfg.DataDir, datadir.Endpoint), ep.Marshal(), 0o644); err != nil {
		s.close()
		return nil, fmt.Errorf("write endpoint file: %w", err)
	}
	s.lock, ok = lock, true
	return s, nil
}

// alike is what every node of a cluster must be given the same: the
// gateways' ports, which their peers and point-to-site clients (told by
// the device scripts and VPN client packages of any node) reach them
// on, on whichever node runs them; whether the VNets' hosts reach the
// Internet (R43), which would otherwise change as a VNet moves; and the
// pool the public addresses come from, which every node may give out.
func alike(cfg Config) string {
	or := func(p, def uint16) uint16 {
		if p == 0 {
			return def
		}
		return p
	}
	pool, _ := region.ParsePool(cfg.PublicIPPool) // checked; FIRST-LAST, so that a prefix and its range are alike
	return fmt.Sprintf("--ike-port %d --natt-port %d --sstp-port %d --internet-egress=%t --public-ip-pool %s", or(cfg.IKEPort, 500), or(cfg.NATTPort, 4500), or(cfg.SSTPPort, 443), cfg.InternetEgress, pool)
}

// check refuses a Config that New could not serve, naming the flag and
// its value, before anything is written or bound.
func (cfg Config) check() error {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return fmt.Errorf("--listen %q: give HOST:PORT (%w)", cfg.Listen, err)
	}
	if _, err := region.ParsePool(cfg.PublicIPPool); err != nil {
		return fmt.Errorf("--public-ip-pool: %w", err)
	}
	if fi, err := os.Stat(cfg.DataDir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--data-dir %q: not a directory", cfg.DataDir)
	}
	switch {
	case cfg.TLSCert != "" && cfg.TLSKey == "":
		return fmt.Errorf("--tls-cert %q without --tls-key: give both, or neither", cfg.TLSCert)
	case cfg.TLSCert == "" && cfg.TLSKey != "":
		return fmt.Errorf("--tls-key %q without --tls-cert: give both, or neither", cfg.TLSKey)
	case cfg.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert %q, --tls-key %q: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
	}
	if cfg.AdvertiseURL != "" {
		u, err := url.Parse(cfg.AdvertiseURL)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return fmt.Errorf("--advertise-url %q: give https://HOST:PORT, where the other nodes reach this node's --listen", cfg.AdvertiseURL)
		}
	} else if ip := net.ParseIP(host); len(cfg.Etcd) > 0 && (host == "" || ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("--listen %q with --etcd: the other nodes cannot reach a node at %q; give --advertise-url https://HOST:PORT", cfg.Listen, host)
	}
	if len(cfg.Etcd) > 0 && !strings.HasSuffix(cfg.EtcdPrefix, "/") {
		return fmt.Errorf("--etcd-prefix %q: must end in '/'", cfg.EtcdPrefix)
	}
	if cfg.DNSServer != "" {
		if _, _, err := net.SplitHostPort(cfg.DNSServer); err != nil {
			return fmt.Errorf("--dns-server %q: give HOST:PORT (%w)", cfg.DNSServer, err)
		}
	}
	return nil
}

// lockDataDir takes the data directory's lock file, which another serve
// holds while it runs (the lock goes with its process, also after kill -9).
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, datadir.Lock)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another vnetgw serve (it holds %s); give each serve its own --data-dir", dir, path)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return f, nil
}

// writtenFiles are the data directory's files serve writes through a
// temporary file.
var writtenFiles = []string{datadir.CA, datadir.CAKey, datadir.Cert, datadir.Key, datadir.Token, datadir.Endpoint, datadir.MetricsHistory}

// removeLeftovers removes the temporary files of the data directory's
// files that a serve killed while writing one left (a key's, the
// metrics history's), once they are a minute old: none of this serve's,
// which holds the lock, and nothing still being written.
func removeLeftovers(dir string, log *slog.Logger) {
	removed, err := atomicfile.RemoveLeftovers(dir, writtenFiles, time.Now().Add(-time.Minute))
	for _, p := range removed {
		log.Info("removed a temporary file a stopped serve left in the data directory", "file", p)
	}
	if err != nil {
		log.Warn("temporary files a stopped serve left in the data directory not removed", "err", err)
	}
}

// localAddr is where (host:port) a client on this machine reaches a
// listener bound for host: host itself when it is a name, which the API's
// certificate names (not the address it resolved to, which the
// certificate need not name: Debian's own host name is 127.0.1.1); else
// its address, or loopback for one on every address.
func localAddr(host string, a *net.TCPAddr) string {
	ap := a.AddrPort()
	if _, err := netip.ParseAddr(host); err != nil && host != "" {
		return net.JoinHostPort(host, strconv.Itoa(int(ap.Port())))
	}
	switch {
	case !ap.Addr().IsUnspecified():
		return ap.String()
	case host == "::":
		return netip.AddrPortFrom(netip.IPv6Loopback(), ap.Port()).String()
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
}

// Run serves the API and keeps the data plane in step with the desired
// state until ctx ends, then shuts down: requests in flight finish (for up
// to ten seconds), the data plane stops, the region and the store close,
// each step a line of log.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.listener, "", "") }()
	rctx, stopReconcile := context.WithCancel(context.Background())
	reconciled := make(chan struct{})
	go func() {
		var place reconcile.Placement
		if s.node != nil {
			place = s.node
		}
		reconcile.Run(rctx, s.region, s.engine, place, s.log.With("component", "reconcile"))
		close(reconciled)
	}()
	sampled := make(chan struct{})
	go func() {
		s.sample(rctx)
		close(sampled)
	}()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.http.Shutdown(sctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			// What still runs ends now, before the data plane and the
			// store close under it: a stop, not a failure of serve.
			s.log.Warn("API stopped: requests still running 10 s after the stop began are cut off")
			s.http.Close()
			err = nil
		} else {
			s.log.Info("API stopped: it took no new requests, and answered those in flight")
		}
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	stopReconcile()
	<-reconciled
	<-sampled
	s.saveHistory()
	if cerr := s.stop(s.log); err == nil {
		err = cerr
	}
	return err
}

// sample records the tunnels' counters in the metrics history on the
// boundaries of MetricsInterval (every minute on the minute) until ctx
// ends, so that a minute's traffic is in its minute's bucket, and once
// more then: what the tunnels carried since the last boundary is in the
// history that serve saves as it stops (the next start counts from zero).
func (s *Server) sample(ctx context.Context) {
	saved := time.Now()
	t := time.NewTimer(time.Until(s.insights.Next(saved)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.record(time.Now())
			return
		case now := <-t.C:
			t.Reset(time.Until(s.insights.Next(now)))
			if now.Sub(saved) >= s.cfg.MetricsSave {
				s.saveHistory() // what was sampled before this tick
				saved = now
			}
			s.record(now)
		}
	}
}

// record adds the data plane's counters at now to the metrics history.
func (s *Server) record(now time.Time) {
	byConn := map[string]insights.Counters{}
	st := s.engine.Status()
	for id, c := range st.Connections {
		byConn[id] = insights.Counters{Ingress: c.Ingress, Egress: c.Egress, IngressPackets: c.IngressPackets, EgressPackets: c.EgressPackets,
			Drops: c.Drops, Gauges: [3]uint32{insights.GaugeIKESAs: uint32(c.IKESAs), insights.GaugeChildSAs: uint32(c.ChildSAs), insights.GaugeNATFlows: uint32(c.NATFlows)},
			Gateway: c.Gateway, Name: c.Name}
	}
	for id, byProto := range st.P2S {
		for proto, p := range byProto {
			byConn[insights.P2SSeries(id, proto)] = insights.Counters{Ingress: p.Ingress, Egress: p.Egress, Gauges: [3]uint32{insights.GaugeClients: uint32(p.Clients)}}
		}
	}
	for id, sessions := range s.engine.BGPSessions() {
		for _, b := range sessions {
			up := uint32(0)
			if b.Established {
				up = 1
			}
			byConn[insights.BGPSeries(id, b.Instance, b.Peer)] = insights.Counters{Gauges: [3]uint32{insights.GaugePeerUp: up,
				insights.GaugeRoutesLearned: uint32(b.Learned), insights.GaugeRoutesAdvertised: uint32(b.Advertised)}}
		}
	}
	s.insights.Record(now, byConn)
}

// loadHistory reads the metrics history the last run saved, if any. A
// file that cannot be read is logged and set aside (renamed *.bad); what
// it held before the damage is kept, and written again at once, so that a
// crash before the first save does not lose it.
func (s *Server) loadHistory() {
	path := filepath.Join(s.cfg.DataDir, datadir.MetricsHistory)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = s.insights.Load(f, time.Now())
		f.Close()
	}
	if err != nil {
		s.log.Warn("metrics history damaged: the series before the damage are kept, the file set aside", "file", path+".bad", "err", err)
		if os.Rename(path, path+".bad") == nil {
			s.saveHistory()
		}
		return
	}
	s.log.Info("metrics history read", "file", path)
}

// saveHistory writes the metrics history for the next run.
func (s *Server) saveHistory() {
	path := filepath.Join(s.cfg.DataDir, datadir.MetricsHistory)
	if err := atomicfile.WriteFunc(path, 0o600, s.insights.Save); err != nil {
		s.log.Warn("metrics history not saved", "file", path, "err", err)
	}
}

// nodeTransport reaches the other nodes' APIs, whose certificates the
// data directory's CA issued (the nodes share it), or, with --tls-cert,
// that the system roots verify.
func (s *Server) nodeTransport() (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if s.userCert {
		return t, nil
	}
	pem, err := os.ReadFile(filepath.Join(s.cfg.DataDir, datadir.CA))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", datadir.CA)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// openStore opens the state: the data directory's bbolt file, or etcd.
func (s *Server) openStore(ctx context.Context) (store.Store, error) {
	if len(s.cfg.Etcd) == 0 {
		return bolt.Open(filepath.Join(s.cfg.DataDir, datadir.State), bolt.Options{})
	}
	tc, err := etcd.TLSConfig(s.cfg.EtcdCA, s.cfg.EtcdCert, s.cfg.EtcdKey)
	if err != nil {
		return nil, err
	}
	cli, err := etcd.Dial(s.cfg.Etcd, tc, 5*time.Second)
	if err != nil {
		return nil, err
	}
	s.etcd = cli
	return etcd.New(cli, s.cfg.EtcdPrefix+"state/", etcd.Options{}), nil
}

// storeName names the state store in errors: its file, or etcd's
// endpoints and the key prefix.
func (s *Server) storeName() string {
	if len(s.cfg.Etcd) == 0 {
		return filepath.Join(s.cfg.DataDir, datadir.State)
	}
	return fmt.Sprintf("etcd %s, prefix %q", strings.Join(s.cfg.Etcd, ","), s.cfg.EtcdPrefix+"state/")
}

func (s *Server) closeStore() error {
	err := s.store.Close()
	if s.etcd != nil {
		s.etcd.Close()
	}
	return err
}

// close closes what New made, quietly: New failed, or a test is done.
func (s *Server) close() error { return s.stop(slog.New(slog.DiscardHandler)) }

// stop stops the data plane before leaving the cluster, so that the node
// that takes a VNet over finds its public address free, and closes the
// store last; each step done is a line of log.
func (s *Server) stop(log *slog.Logger) error {
	s.listener.Close()
	s.engine.Close()
	log.Info("data plane stopped: the gateways told their IKE and BGP peers")
	if s.node != nil {
		s.node.Close()
		log.Info("left the cluster: the other nodes take this node's VNets over")
	}
	s.region.Close()
	err := s.closeStore()
	if err != nil {
		log.Warn("store closed", "err", err)
	} else {
		log.Info("store closed")
	}
	s.lock.Close()
	return err
}

// Engine returns the region's data plane (the demo reaches its hosts).
func (s *Server) Engine() *dataplane.Engine { return s.engine }

// TokenFile is where the admin token is.
func (s *Server) TokenFile() string { return filepath.Join(s.cfg.DataDir, datadir.Token) }

// CAFile is the certificate a client trusts: the data directory's CA, or
// "" when --tls-cert brought the API's certificate (whose issuer vnetgw
// does not know).
func (s *Server) CAFile() string {
	if s.userCert {
		return ""
	}
	return filepath.Join(s.cfg.DataDir, datadir.CA)
}

// resolver returns a resolver that asks the DNS server at addr (host:port),
// or nil (the system's) without one.
func resolver(addr string) dataplane.Resolver {
	if addr == "" {
		return nil
	}
	var d net.Dialer
	return dnsServer{addr: addr, r: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// dnsServer asks the DNS server at addr (--dns-server).
type dnsServer struct {
	addr string
	r    *net.Resolver
}

// LookupNetIP looks host up at the server. Its error names that server:
// Go's resolver names the one of the system's configuration it would
// have asked (the Dial above goes to addr instead), and a status reason
// that named it sent the user to the wrong server.
func (s dnsServer) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := s.r.LookupNetIP(ctx, network, host)
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		de.Server = s.addr
	}
	return addrs, err
}

// internet is the data plane's way to the Internet with --internet-egress:
// not to the gateways' public addresses.
func internet(cfg Config, inPool func(netip.Addr) bool) *fabric.EgressOptions {
	if !cfg.InternetEgress {
		return nil
	}
	return &fabric.EgressOptions{Blocked: inPool, Logger: cfg.Logger.With("component", "egress")}
}
