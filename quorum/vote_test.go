package quorum

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

const testLease = 10 * time.Second

func req(epoch uint64, candidate MemberID, reason Reason) VoteRequest {
	return VoteRequest{Cluster: "c", Epoch: epoch, Candidate: candidate, Reason: reason, ConfigEpoch: 3, Primary: "p:1"}
}

func voter() VoterState { return VoterState{HighestEpoch: 5, ConfigEpoch: 3, Primary: "p:1"} }

// The grant rules of DESIGN.md §5.5–5.6, one case each.
func TestDecideVote(t *testing.T) {
	bound := voter()
	bound.Binding = Binding{Cluster: "c", Epoch: 5, Holder: "s2", Reason: ReasonSteward, Until: t0.Add(4 * time.Second)}
	tests := []struct {
		name  string
		s     VoterState
		req   VoteRequest
		now   time.Time
		grant bool
		why   string
	}{
		{"grants an epoch above every one seen", voter(), req(6, "s1", ReasonFailover), t0, true, "granted to s1 for epoch 6"},
		{"refuses an epoch equal to the highest (one vote per epoch)", voter(), req(5, "s1", ReasonFailover), t0, false, "epoch 5 is not above 5"},
		{"refuses a lower epoch", voter(), req(4, "s1", ReasonSteward), t0, false, "not above 5"},
		{"refuses an older config epoch", voter(), func() VoteRequest { r := req(6, "s1", ReasonSteward); r.ConfigEpoch = 2; return r }(), t0, false, "config epoch 2 is older than ours (3"},
		{"refuses another primary at the same config epoch", voter(), func() VoteRequest { r := req(6, "s1", ReasonSteward); r.Primary = "q:1"; return r }(), t0, false, "believes in primary q:1"},
		{"grants a newer config epoch", voter(), func() VoteRequest { r := req(6, "s1", ReasonSteward); r.ConfigEpoch, r.Primary = 4, "q:1"; return r }(), t0, true, "granted"},
		{"bound to another holder", bound, req(6, "s1", ReasonFailover), t0, false, "bound to s2 (epoch 5, steward) for 4s more"},
		{"bound to the same candidate", bound, req(6, "s2", ReasonFailover), t0, true, "granted to s2"},
		{"binding expired", bound, req(6, "s1", ReasonFailover), t0.Add(4 * time.Second), true, "granted to s1"},
		{"learner never votes (§5.2)", func() VoterState { s := voter(); s.Learner = true; return s }(), req(6, "s1", ReasonSteward), t0, false, "learning"},
		{"TILT never votes (§5.11)", func() VoterState { s := voter(); s.Tilt = true; return s }(), req(6, "s1", ReasonSteward), t0, false, "in TILT"},
		{"abstains after restart (§5.6)", func() VoterState { s := voter(); s.AbstainUntil = t0.Add(time.Second); return s }(), req(6, "s1", ReasonSteward), t0, false, "abstaining for one lease"},
		{"failover refused when the voter sees the primary healthy", func() VoterState { s := voter(); s.PrimaryHealthy = true; return s }(), req(6, "s1", ReasonFailover), t0, false, "sees the primary p:1 healthy"},
		{"steward granted though the primary is healthy", func() VoterState { s := voter(); s.PrimaryHealthy = true; return s }(), req(6, "s1", ReasonSteward), t0, true, "granted"},
		{"operator granted though the primary is healthy", func() VoterState { s := voter(); s.PrimaryHealthy = true; return s }(), req(6, "s1", ReasonOperator), t0, true, "granted"},
		{"unknown reason", voter(), req(6, "s1", "because"), t0, false, `unknown reason "because"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, s := DecideVote(tt.s, tt.req, testLease, tt.now)
			if d.Grant != tt.grant || !strings.Contains(d.Why, tt.why) {
				t.Fatalf("DecideVote(%+v, %+v) = %+v, want grant=%v with %q", tt.s, tt.req, d, tt.grant, tt.why)
			}
			if d.Grant {
				if s.HighestEpoch != tt.req.Epoch || s.Binding.Holder != tt.req.Candidate || !s.Binding.Until.Equal(tt.now.Add(testLease)) {
					t.Errorf("state after grant = %+v, want epoch %d bound to %s until now+lease", s, tt.req.Epoch, tt.req.Candidate)
				}
			} else if s.Binding != tt.s.Binding {
				t.Errorf("a refusal changed the binding: %+v → %+v", tt.s.Binding, s.Binding)
			}
		})
	}
}

// DESIGN.md §5.5: one vote per epoch, whatever the order of requests.
func TestOneVotePerEpoch(t *testing.T) {
	s := voter()
	d, s := DecideVote(s, req(6, "s1", ReasonFailover), testLease, t0)
	if !d.Grant {
		t.Fatal(d.Why)
	}
	s = Release(s, "s1", 6)
	for _, c := range []MemberID{"s2", "s3", "s1"} {
		if d, _ := DecideVote(s, req(6, c, ReasonFailover), testLease, t0.Add(time.Hour)); d.Grant {
			t.Errorf("second grant at epoch 6 to %s: %s", c, d.Why)
		}
	}
	// A refused request's epoch is remembered: a lower one is refused later.
	_, s = DecideVote(s, req(9, "s2", "bogus"), testLease, t0)
	if s.HighestEpoch != 6 {
		t.Errorf("an invalid request moved the highest epoch to %d", s.HighestEpoch)
	}
	bound := s
	bound.Binding = Binding{Epoch: 6, Holder: "s1", Until: t0.Add(time.Hour)}
	_, bound = DecideVote(bound, req(8, "s2", ReasonFailover), testLease, t0)
	if d, _ := DecideVote(bound, req(7, "s3", ReasonFailover), testLease, t0.Add(2*time.Hour)); d.Grant {
		t.Errorf("granted epoch 7 after seeing 8")
	}
}

func TestRenewAndRelease(t *testing.T) {
	_, s := DecideVote(voter(), req(6, "s1", ReasonFailover), testLease, t0)
	// A rival's refused request for epoch 7 does not stop the holder's
	// renewal: the binding is still the holder's.
	_, s = DecideVote(s, req(7, "s2", ReasonFailover), testLease, t0.Add(time.Second))
	d, s := DecideRenew(s, "s1", 6, testLease, t0.Add(5*time.Second))
	if !d.Grant || !s.Binding.Until.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("renew = %+v, until %v; want granted until t0+15s", d, s.Binding.Until)
	}
	if d, _ := DecideRenew(s, "s2", 6, testLease, t0); d.Grant {
		t.Errorf("renewed for a non-holder")
	}
	if d, _ := DecideRenew(s, "s1", 5, testLease, t0); d.Grant {
		t.Errorf("renewed another epoch")
	}
	if got := Release(s, "s2", 6); got.Binding.Holder != "s1" {
		t.Errorf("a non-holder released the binding")
	}
	s = Release(s, "s1", 6)
	if s.Binding.Binds(t0) {
		t.Errorf("binding holds after release")
	}
	if d, _ := DecideRenew(s, "s1", 6, testLease, t0); d.Grant {
		t.Errorf("renewed a released binding")
	}
	if d, _ := DecideVote(s, req(8, "s2", ReasonFailover), testLease, t0.Add(6*time.Second)); !d.Grant {
		t.Errorf("after release, a higher epoch is refused: %s", d.Why)
	}
}

// DESIGN.md §5.6: the holder's authority ends before any voter's binding
// when clock rates differ by less than the drift margin over the lease.
func TestLeaseArithmetic(t *testing.T) {
	l := Lease{Cluster: "c", Epoch: 6, Reason: ReasonFailover, Sent: t0, Duration: 10 * time.Second, DriftMargin: 500 * time.Millisecond}
	if got := l.Expiry(); !got.Equal(t0.Add(9500 * time.Millisecond)) {
		t.Errorf("Expiry = %v, want sent + lease − margin", got)
	}
	cases := []struct {
		now      time.Duration
		deadline time.Duration
		ok       bool
	}{
		{0, 9500 * time.Millisecond, true},
		{0, 9501 * time.Millisecond, false},
		{6 * time.Second, 3 * time.Second, true},
		{7 * time.Second, 3 * time.Second, false},
		{10 * time.Second, time.Nanosecond, false},
	}
	for _, c := range cases {
		err := l.MayStart("promote", c.deadline, t0.Add(c.now))
		if (err == nil) != c.ok {
			t.Errorf("MayStart(promote %v) at t0+%v = %v, want ok=%v", c.deadline, c.now, err, c.ok)
		}
	}
	if l.Remaining(t0.Add(time.Hour)) != 0 || l.Valid(t0.Add(9500*time.Millisecond)) {
		t.Errorf("authority outlives its expiry")
	}
	if r := l.Renewed(t0.Add(-time.Second)); !r.Sent.Equal(t0) {
		t.Errorf("a renewal moved authority backwards")
	}
	if r := l.Renewed(t0.Add(4 * time.Second)); !r.Expiry().Equal(t0.Add(13500 * time.Millisecond)) {
		t.Errorf("renewed expiry = %v", r.Expiry())
	}
	// Voters received the request after it was sent: with a voter clock
	// running up to 5% fast (margin 500ms over 10s), its binding still
	// ends after the holder's authority in real time.
	voterReceives := 30 * time.Millisecond
	fast := 1.05
	bindingEndsReal := voterReceives + time.Duration(float64(10*time.Second)/fast)
	if authorityEndsReal := l.Expiry().Sub(t0); authorityEndsReal > bindingEndsReal {
		t.Errorf("authority ends at %v real, a 5%%-fast voter's binding at %v", authorityEndsReal, bindingEndsReal)
	}
}
