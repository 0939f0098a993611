package ikev2

import (
	"fmt"
	"net/netip"
	"time"
)

// Silence tells of a peer that answers none of the requests that open a
// connection (IKE_SA_INIT; IKEv1's Main Mode message 1): it has no
// connection for us, say. The requests are counted over the tries, from
// the first unanswered one, so that the status says so while they go
// unanswered, not only when they are given up; the peer's first answer
// takes that back.
type Silence struct {
	sent  int       // requests sent, and sent again, since the peer last answered
	since time.Time // when the first of them was sent
	note  string    // the reason Sent gave
}

// Sent counts a request (what) sent, or sent again, to remote at now.
// From the second one, when tell, it sets *reason to say that remote
// has not answered.
func (s *Silence) Sent(now time.Time, remote netip.AddrPort, what string, tell bool, reason *string) {
	if s.sent == 0 {
		s.since = now
	}
	s.sent++
	if s.sent < 2 || !tell {
		return
	}
	*reason = fmt.Sprintf("no answer from %v to %s yet (sent %d times since %s UTC)", remote, what, s.sent, s.since.UTC().Format(time.TimeOnly))
	s.note = *reason
}

// authUnanswered says that remote, which answered IKE_SA_INIT, answers
// none of the sent IKE_AUTH requests, given in datagrams, with their
// size: a path that drops large or fragmented datagrams is a common
// cause.
func authUnanswered(remote netip.AddrPort, sent int, datagrams [][]byte) string {
	most := 0
	for _, d := range datagrams {
		most = max(most, len(d))
	}
	if len(datagrams) == 1 {
		return fmt.Sprintf("no answer from %v to IKE_AUTH yet (sent %d times, each in 1 datagram of %d bytes)", remote, sent, most)
	}
	return fmt.Sprintf("no answer from %v to IKE_AUTH yet (sent %d times, each in %d datagrams of up to %d bytes)", remote, sent, len(datagrams), most)
}

// Answered ends the silence: the peer answered, or an SA with it came
// up. The reason Sent gave goes, unless another has taken its place.
func (s *Silence) Answered(reason *string) {
	s.sent = 0
	if s.note != "" && *reason == s.note {
		*reason = ""
	}
	s.note = ""
}
