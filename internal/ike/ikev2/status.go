package ikev2

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// PeerStatus is a snapshot of one peer.
type PeerStatus struct {
	Name string
	Mode ConnectionMode
	// State is "established" when an IKE SA is up, "connecting" while one
	// is being negotiated, "down" otherwise.
	State string
	// IKESAs are the peer's IKE SAs, the newest first.
	IKESAs []IKESAStatus
	// LastError describes the last failure (a notification from the peer,
	// a failed authentication, a dead peer); it is cleared when an IKE SA
	// is established.
	LastError string
	// Idle tells that the SAs were removed for idleness (Manager.Idle)
	// and come back when traffic needs them.
	Idle bool
	// Pairs counts the child SAs (prefix pairs) the connection wants, and
	// Down names those of them that have none installed, each as "LOCAL
	// <-> REMOTE", while an IKE SA is established: a policy-based
	// connection is up with some of its pairs refused by the peer.
	Pairs int
	Down  []string
}

// IKESAStatus is a snapshot of one IKE SA.
type IKESAStatus struct {
	SPIi, SPIr uint64
	// Initiator tells whether this side initiated the IKE SA (or, for a
	// rekeyed one, the rekey).
	Initiator bool
	// State is one of "init-sent", "auth-sent", "half-open",
	// "established", "rekeyed", "deleting".
	State string
	// Proposal is the negotiated suite in strongSwan's syntax.
	Proposal string
	// Local and Remote are the current IKE endpoints (after a float to
	// port 4500).
	Local, Remote netip.AddrPort
	// NATLocal and NATRemote tell whether a NAT was detected (or, for
	// NATLocal, pretended) in front of this side or the peer (RFC 7296
	// §2.23): ESP then travels in UDP.
	NATLocal, NATRemote bool
	// BehindNAT tells that a real NAT is in front of this side (NATLocal
	// is also set when ForceEncap only pretends one): this side sends
	// NAT-keepalives on the IKE SA's path (RFC 3948 §4).
	BehindNAT bool
	// Established is when IKE_AUTH (or the rekey that made this SA)
	// completed; LastRekey is when the SA it replaced was created by a
	// rekey of this peer, zero if it was made from scratch.
	Established, LastRekey time.Time
	Children               []ChildStatus
}

// ChildStatus is a snapshot of one child SA pair.
type ChildStatus struct {
	InSPI, OutSPI     uint32
	Proposal          string
	LocalTS, RemoteTS []netip.Prefix
	// Encap tells whether ESP is carried in UDP (RFC 3948).
	Encap bool
	// Installed is when the pair went to the data path; Rekeyed tells
	// whether it replaced an older pair.
	Installed time.Time
	Rekeyed   bool
}

// Stats are the Manager's counters since New.
type Stats struct {
	Received, Sent, SendErrors uint64
	// Keepalives counts NAT-keepalives received and ignored.
	Keepalives uint64
	// Malformed counts datagrams dropped because they do not parse or
	// are not well formed (an IKE_SA_INIT request with a responder's
	// SPI, say).
	Malformed uint64
	// UnknownSPI counts datagrams for no IKE SA of ours; NoPeer counts
	// IKE_SA_INIT requests from an address no responding peer has.
	UnknownSPI, NoPeer uint64
	// Integrity counts messages whose ICV did not verify.
	Integrity uint64
	// Unexpected counts messages dropped for their message ID or because
	// they did not fit the state of the IKE SA.
	Unexpected uint64
	// QueueFull counts datagrams and events dropped because a peer's loop
	// was busy.
	QueueFull uint64
	// Retransmits counts requests sent again; RetransmitsAnswered counts
	// responses resent for retransmitted requests.
	Retransmits, RetransmitsAnswered uint64
	// CookiesSent counts COOKIE challenges (RFC 7296 §2.6).
	CookiesSent uint64
	// LivenessChecks counts the dead peer detection checks begun: each
	// time a peer sent neither an IKE message nor ESP for DPDInterval and
	// was asked whether it is alive (IKEv2: an empty INFORMATIONAL
	// request; IKEv1: R-U-THERE). What was sent again of one counts once.
	LivenessChecks uint64
	// ClientsFull counts IKE_SA_INIT requests of new point-to-site
	// clients dropped because the gateway had as many between IKE_SA_INIT
	// and admission as it takes (from their sender, or in all).
	ClientsFull uint64
}

// counters are the atomic cells behind Stats.
type counters struct {
	received, sent, sendErrors, keepalives, malformed, unknownSPI, noPeer,
	integrity, unexpected, queueFull, retransmits, retransmitsAnswered,
	cookiesSent, clientsFull, livenessChecks atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received: c.received.Load(), Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(),
		Keepalives: c.keepalives.Load(), Malformed: c.malformed.Load(),
		UnknownSPI: c.unknownSPI.Load(), NoPeer: c.noPeer.Load(), Integrity: c.integrity.Load(),
		Unexpected: c.unexpected.Load(), QueueFull: c.queueFull.Load(),
		Retransmits: c.retransmits.Load(), RetransmitsAnswered: c.retransmitsAnswered.Load(),
		CookiesSent: c.cookiesSent.Load(), ClientsFull: c.clientsFull.Load(),
		LivenessChecks: c.livenessChecks.Load(),
	}
}
