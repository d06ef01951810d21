// Package transport moves the fleet's messages between sentinels
// (DESIGN.md §5): opinions, vote requests and grants, intents, commits and
// operator requests. It knows bytes and member ids, not their meaning.
//
// Two implementations: memberlist (production: UDP/TCP gossip with the
// fleet's label and encryption key, messages sent directly to each member
// with SendReliable, push/pull state exchange as the safety net) and memnet
// (an in-memory network for simulations, stepped by the test's virtual
// clock, with partitions, drops and delays).
//
// Delivery is best effort on both: a message may be lost, delayed or
// reordered. Safety never depends on delivery; the agreement layer retries
// and the push/pull state exchange repairs what was missed.
package transport

import (
	"context"
	"errors"

	"github.com/imsentinel/imsentinel/quorum"
)

// Errors of transports.
var (
	// ErrUnknownMember: the destination is not in the voter set.
	ErrUnknownMember = errors.New("unknown member")
	// ErrUnreachable: the destination is not reachable now (not joined,
	// partitioned, dead).
	ErrUnreachable = errors.New("member unreachable")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("transport closed")
)

// Message is one payload received from a member.
type Message struct {
	From    quorum.MemberID
	Payload []byte // owned by the receiver
}

// Transport sends payloads to members of one fleet and receives theirs.
// All methods are safe for concurrent use.
type Transport interface {
	// Send hands payload to the network for member to. It returns once the
	// payload is handed over (not delivered), or with an error when to is
	// unknown or unreachable, the transport is closed, or ctx ends first.
	// It never blocks longer than ctx allows.
	Send(ctx context.Context, to quorum.MemberID, payload []byte) error
	// Inbox delivers received payloads, in arrival order. It is closed by
	// Close. A slow reader loses messages (counted in Stats), never blocks
	// the network.
	Inbox() <-chan Message
	// SetState installs the function whose result this member offers in
	// push/pull state exchanges; remote states arrive in Inbox like other
	// messages. f must not block. Nil stops offering state.
	SetState(f func() []byte)
	// Alive lists the members this transport currently sees alive
	// (including itself). Informational: liveness never changes the voter
	// set (DESIGN.md §5.1).
	Alive() []quorum.MemberID
	// Stats reports counters for metrics and tests.
	Stats() Stats
	// Close stops the transport and its goroutines, then closes Inbox.
	Close() error
}

// Stats are a transport's counters since it started.
type Stats struct {
	Sent, Received, Dropped uint64
}
