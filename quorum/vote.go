package quorum

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the agreement rules.
var (
	// ErrLeaseShort: the holder's remaining authority does not cover a
	// step's deadline.
	ErrLeaseShort = errors.New("lease too short for the step")
)

// VoteRequest asks a voter for a lease over one cluster at one epoch
// (DESIGN.md §5.5).
type VoteRequest struct {
	Cluster   string   `json:"cluster"`
	Epoch     uint64   `json:"epoch"`
	Candidate MemberID `json:"candidate"`
	Reason    Reason   `json:"reason"`
	// The candidate's config for the cluster.
	ConfigEpoch uint64 `json:"config_epoch"`
	Primary     string `json:"primary"`
	// Forced marks an operator's forced failover: it relaxes the voter's
	// own health check (ODOWN, vantage, cooldown), never the election.
	Forced bool `json:"forced,omitempty"`
}

// VoterState is what one voter knows of one cluster when it decides.
type VoterState struct {
	// HighestEpoch is the highest election epoch seen for the cluster.
	HighestEpoch uint64
	// Binding is the current grant, if any.
	Binding Binding
	// The voter's committed config for the cluster.
	ConfigEpoch uint64
	Primary     string
	// Learner: a fresh or lost data_dir that has not caught up from a
	// majority yet (DESIGN.md §5.2).
	Learner bool
	// AbstainUntil: a restarted sentinel abstains for one lease, since it
	// may have granted a binding it no longer remembers on its monotonic
	// clock (DESIGN.md §5.6).
	AbstainUntil time.Time
	// Tilt: this sentinel's clock or process stalled (DESIGN.md §5.11).
	Tilt bool
	// PrimaryHealthy: this voter itself sees the candidate's primary
	// answering (not SDOWN). A failover vote is refused then.
	PrimaryHealthy bool
}

// Decision is a voter's answer with its reason, for the reply and the log.
type Decision struct {
	Grant bool
	Why   string
}

// DecideVote applies the grant rules of DESIGN.md §5.5–5.6. On a grant the
// caller must persist the returned state (fsync) before replying. Pure.
func DecideVote(s VoterState, req VoteRequest, lease time.Duration, now time.Time) (Decision, VoterState) {
	refuse := func(format string, args ...any) (Decision, VoterState) {
		// Seeing a higher epoch is remembered even when refused, so a later
		// request for a lower one is refused too.
		if req.Epoch > s.HighestEpoch && req.Reason.Valid() {
			s.HighestEpoch = req.Epoch
		}
		return Decision{Why: fmt.Sprintf(format, args...)}, s
	}
	switch {
	case !req.Reason.Valid():
		return Decision{Why: fmt.Sprintf("unknown reason %q", req.Reason)}, s
	case req.Candidate == "":
		return Decision{Why: "no candidate"}, s
	case s.Learner:
		return refuse("learning: this sentinel has not caught up from a majority yet")
	case s.Tilt:
		return refuse("in TILT: this sentinel's clock or process stalled; it observes only")
	case now.Before(s.AbstainUntil):
		return refuse("restarted: abstaining for one lease, until %s", s.AbstainUntil.Format(time.RFC3339Nano))
	case req.Epoch <= s.HighestEpoch:
		return refuse("epoch %d is not above %d, the highest seen", req.Epoch, s.HighestEpoch)
	case req.ConfigEpoch < s.ConfigEpoch:
		return refuse("candidate's config epoch %d is older than ours (%d, primary %s)",
			req.ConfigEpoch, s.ConfigEpoch, s.Primary)
	case req.ConfigEpoch == s.ConfigEpoch && req.Primary != s.Primary:
		return refuse("candidate believes in primary %s at config epoch %d, we in %s",
			req.Primary, req.ConfigEpoch, s.Primary)
	case s.Binding.Binds(now) && s.Binding.Holder != req.Candidate:
		return refuse("bound to %s (epoch %d, %s) for %v more",
			s.Binding.Holder, s.Binding.Epoch, s.Binding.Reason, s.Binding.Until.Sub(now).Round(time.Millisecond))
	case req.Reason == ReasonFailover && s.PrimaryHealthy:
		return refuse("this sentinel sees the primary %s healthy", req.Primary)
	}
	s.HighestEpoch = req.Epoch
	s.Binding = Binding{Cluster: req.Cluster, Epoch: req.Epoch, Holder: req.Candidate, Reason: req.Reason,
		Until: now.Add(lease)}
	return Decision{Grant: true, Why: fmt.Sprintf("granted to %s for epoch %d (%s)", req.Candidate, req.Epoch, req.Reason)}, s
}

// DecideRenew extends the holder's binding while its task lasts: granted
// only when this voter's binding is still the holder's at that epoch, so
// no one else can hold this voter. A newer epoch merely seen (a rival's
// refused request) does not stop it: refusing would cost the holder its
// majority mid-task for no safety gain. Pure; persist before replying.
func DecideRenew(s VoterState, holder MemberID, epoch uint64, lease time.Duration, now time.Time) (Decision, VoterState) {
	switch {
	case s.Binding.Holder != holder || s.Binding.Epoch != epoch:
		return Decision{Why: fmt.Sprintf("no binding of %s at epoch %d (bound to %q at %d)",
			holder, epoch, s.Binding.Holder, s.Binding.Epoch)}, s
	case s.Tilt:
		return Decision{Why: "in TILT"}, s
	}
	s.Binding.Until = now.Add(lease)
	return Decision{Grant: true, Why: fmt.Sprintf("renewed for %s epoch %d", holder, epoch)}, s
}

// Release ends the holder's binding early, when the holder says its task
// is done. Anyone else's release is ignored.
func Release(s VoterState, holder MemberID, epoch uint64) VoterState {
	if s.Binding.Holder == holder && s.Binding.Epoch == epoch {
		s.Binding = Binding{}
	}
	return s
}
