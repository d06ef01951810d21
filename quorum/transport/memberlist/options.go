package memberlist

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	hml "github.com/hashicorp/memberlist"

	"github.com/imsentinel/imsentinel/quorum"
)

// Profiles name a set of memberlist timings.
const (
	// ProfileLAN is memberlist's DefaultLANConfig, for production on one
	// network:
	//
	//	ProbeInterval       1 s     a random member is probed every second
	//	ProbeTimeout        500 ms  ack wait before indirect probes
	//	IndirectChecks      3       members asked to probe indirectly
	//	SuspicionMult       4       a suspect is declared dead after
	//	                            4 × max(1, log10 n) × ProbeInterval = 4 s
	//	                            (up to 10 members), stretched up to
	//	                            SuspicionMaxTimeoutMult 6 × that (24 s)
	//	                            while other members' confirmations are
	//	                            missing (none are expected at n = 3)
	//	GossipInterval      200 ms  to GossipNodes 3 random members
	//	RetransmitMult      4       a broadcast goes out 4 × ⌈log10(n+1)⌉ times
	//	PushPullInterval    30 s    full state exchange (with the SetState
	//	                            payload) with one random member; scaled
	//	                            up above 32 members
	//	TCPTimeout          10 s    dial and stream deadline: push/pull, Send,
	//	                            each join attempt
	//	GossipToTheDeadTime 30 s    dead members still receive gossip this long
	//
	// One change to both profiles: DeadNodeReclaimTime = GossipToTheDeadTime
	// (memberlist's default 0 means never), so a member that crashed and
	// came back at another address is accepted once it has been dead that
	// long; before, it is an id collision.
	//
	// A crashed member is seen dead after a probe round plus the suspicion
	// time: 6.0 s measured on loopback with 3 members. One that calls Close
	// announces its leave and is seen gone in about 0.1 s. The background
	// joiner retries missing members from 500 ms, doubling up to 30 s.
	ProfileLAN = "lan"
	// ProfileLocal is memberlist's DefaultLocalConfig, for loopback tests:
	// ProbeInterval 1 s, ProbeTimeout 200 ms, IndirectChecks 1,
	// SuspicionMult 3 (3 s, up to 18 s while confirmations are missing),
	// GossipInterval 100 ms (GossipNodes 3), RetransmitMult 2,
	// PushPullInterval 15 s, TCPTimeout 1 s, GossipToTheDeadTime 15 s.
	// A crashed member is seen dead after 5.0–6.1 s measured with 3
	// members. The joiner retries from 100 ms, doubling up to 2 s.
	ProfileLocal = "local"
)

// DefaultInboxSize is the Inbox capacity when Options.InboxSize is 0.
const DefaultInboxSize = 1024

// leaveTimeout bounds how long Close waits for the leave announcement to
// go out before shutting down.
const leaveTimeout = time.Second

// ErrOptions: Options are invalid; the message names each bad field and
// the value found.
var ErrOptions = errors.New("invalid memberlist transport options")

// Options configure a Transport.
type Options struct {
	// Self is this sentinel's id: its memberlist node name. It must be a
	// member of Voters.
	Self quorum.MemberID
	// Voters is the configured voter set. Its members' addresses are the
	// join targets; nodes whose name is not a voter are refused as peers
	// and their messages dropped.
	Voters quorum.Voters
	// Bind is the UDP and TCP address to listen on, IP:port. Port 0 picks a
	// free port (tests; see LocalAddr). An empty host means 0.0.0.0.
	Bind string
	// Advertise is the IP:port other members reach this one at. "" derives
	// it from Bind (for 0.0.0.0, memberlist picks a private address of
	// this host).
	Advertise string
	// Label is prepended to every packet and stream, so two fleets on one
	// network ignore each other; at most 255 bytes. "" uses the fleet name
	// (Voters.Name()).
	Label string
	// SecretKey is the AES key (16, 24 or 32 bytes) encrypting every packet
	// and stream; nil sends in the clear. All members need the same key.
	SecretKey []byte
	// Profile selects the timings: ProfileLAN ("lan", the default when "")
	// or ProfileLocal ("local", loopback tests).
	Profile string
	// Logger receives this transport's events (members joining and leaving,
	// id collisions, refused nodes) and memberlist's own log lines, which
	// are bridged at Debug. Nil discards.
	Logger *slog.Logger
	// InboxSize is the capacity of Inbox, in messages. 0 means
	// DefaultInboxSize (1024). When it is full, new messages are dropped
	// and counted.
	InboxSize int
}

// profile is what a Profile name selects.
type profile struct {
	config func() *hml.Config
	// joinMin and joinMax bound the joiner's backoff between rounds.
	joinMin, joinMax time.Duration
}

func profileNamed(name string) (profile, bool) {
	switch name {
	case "", ProfileLAN:
		return profile{config: hml.DefaultLANConfig, joinMin: 500 * time.Millisecond, joinMax: 30 * time.Second}, true
	case ProfileLocal:
		return profile{config: hml.DefaultLocalConfig, joinMin: 100 * time.Millisecond, joinMax: 2 * time.Second}, true
	}
	return profile{}, false
}

// validate reports every problem of o at once.
func (o Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrOptions}, args...)...))
	}
	if o.Voters.Len() == 0 {
		bad("voters: empty")
	}
	if o.Self == "" {
		bad("self: empty")
	} else if o.Voters.Len() > 0 && !o.Voters.Has(o.Self) {
		bad("self: %q is not among the voters %v", o.Self, o.Voters.IDs())
	}
	if _, _, err := splitIPPort(o.Bind, true); err != nil {
		bad("bind: %q: %v", o.Bind, err)
	}
	if o.Advertise != "" {
		if _, _, err := splitIPPort(o.Advertise, false); err != nil {
			bad("advertise: %q: %v", o.Advertise, err)
		}
	}
	label := o.Label
	if label == "" {
		label = o.Voters.Name()
	}
	if len(label) > hml.LabelMaxSize {
		bad("label: %q is %d bytes, at most %d", label, len(label), hml.LabelMaxSize)
	}
	switch len(o.SecretKey) {
	case 0, 16, 24, 32:
	default:
		bad("secret key: %d bytes, want 16, 24 or 32", len(o.SecretKey))
	}
	if _, ok := profileNamed(o.Profile); !ok {
		bad("profile: %q, want %q or %q", o.Profile, ProfileLAN, ProfileLocal)
	}
	if o.InboxSize < 0 {
		bad("inbox size: %d, want ≥ 0", o.InboxSize)
	}
	return errors.Join(errs...)
}

// splitIPPort parses IP:port. With emptyHost, "" as host means 0.0.0.0.
func splitIPPort(addr string, emptyHost bool) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" && emptyHost {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0..65535", portStr)
	}
	return host, port, nil
}
