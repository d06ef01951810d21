package quorum

import (
	"fmt"
	"time"
)

// Reason is why a candidate asks for a lease (DESIGN.md §5.5). The zero
// value is unknown and never granted.
type Reason string

const (
	// ReasonSteward: no live lease and a write is needed (settings,
	// repairs); the primary does not change.
	ReasonSteward Reason = "steward"
	// ReasonFailover: ODOWN and no vantage block; the primary changes.
	ReasonFailover Reason = "failover"
	// ReasonOperator: a forced failover or a switchover requested through
	// the admin API.
	ReasonOperator Reason = "operator"
)

// Valid says whether r is one of the three reasons.
func (r Reason) Valid() bool {
	return r == ReasonSteward || r == ReasonFailover || r == ReasonOperator
}

// MayChangePrimary says whether a lease for r may change the primary:
// only failover and operator leases may (DESIGN.md §5.5).
func (r Reason) MayChangePrimary() bool { return r == ReasonFailover || r == ReasonOperator }

// Binding is a voter's side of a grant: no vote for the cluster to anyone
// else until Until, on the voter's monotonic clock, or until the holder
// releases it (DESIGN.md §5.6). "The holder looks dead" never shortens it.
type Binding struct {
	Cluster string
	Epoch   uint64
	Holder  MemberID
	Reason  Reason
	// Until is the voter's receive time of the request (or of the last
	// renewal) plus the lease.
	Until time.Time
}

// Binds says whether the binding still holds at now.
func (b Binding) Binds(now time.Time) bool { return b.Holder != "" && now.Before(b.Until) }

// Lease is the holder's side: its authority over one cluster.
type Lease struct {
	Cluster string
	Epoch   uint64
	Reason  Reason
	// Sent is when the holder sent the request the majority granted (or
	// the last renewal a majority acknowledged), on the holder's monotonic
	// clock. Authority counts from the send, not the reply: every voter
	// received the request after it was sent, so its binding outlasts the
	// authority.
	Sent        time.Time
	Duration    time.Duration
	DriftMargin time.Duration
}

// Expiry is when the holder's authority ends: Sent + Duration − the drift
// margin that covers clock-rate differences between hosts.
func (l Lease) Expiry() time.Time { return l.Sent.Add(l.Duration - l.DriftMargin) }

// Remaining is the authority left at now (0 when none).
func (l Lease) Remaining(now time.Time) time.Duration {
	return max(0, l.Expiry().Sub(now))
}

// Valid says whether the holder still has authority at now.
func (l Lease) Valid(now time.Time) bool { return now.Before(l.Expiry()) }

// MayStart answers the executors' question "may I start step S with
// deadline D?": only when the remaining authority covers the whole step
// (DESIGN.md §5.6). The error says why not.
func (l Lease) MayStart(step string, deadline time.Duration, now time.Time) error {
	if rem := l.Remaining(now); rem < deadline {
		return fmt.Errorf("%w: step %s needs %v, lease for %s epoch %d has %v left",
			ErrLeaseShort, step, deadline, l.Cluster, l.Epoch, rem)
	}
	return nil
}

// Renewed is the lease after a majority acknowledged a renewal sent at
// sent. A renewal never moves authority backwards.
func (l Lease) Renewed(sent time.Time) Lease {
	if sent.After(l.Sent) {
		l.Sent = sent
	}
	return l
}
