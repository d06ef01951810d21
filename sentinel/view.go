package sentinel

import (
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum"
)

// Cluster states reported at /v1/clusters: the agreement's state
// (quorum.State): learning, tilt, leading, electing, following,
// vantage-blocked, odown, sdown, ok.
const (
	StateOK    = string(quorum.StateOK)    // the primary answers
	StateSDOWN = string(quorum.StateSDOWN) // this sentinel's detector says the primary is down
)

// Where an instance came from.
const (
	SourceConfig     = "config"     // named in the config file
	SourceDiscovered = "discovered" // reported by another instance
	SourceCommitted  = "committed"  // named by the committed config
)

// Severities of conditions, as runbooks and imctl audit use them.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// ClusterView is one cluster as this sentinel sees it: immutable once
// published.
type ClusterView struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Mode string `json:"mode"`
	// Primary is the primary this sentinel believes in: the seed from the
	// config until a committed config says otherwise.
	Primary string `json:"primary"`
	// Epoch is the highest election epoch this sentinel has seen for the
	// cluster.
	Epoch uint64 `json:"epoch"`
	// State is the agreement's state (see the State constants).
	State string `json:"state"`
	// Agreement explains the state: the lease holder, the ODOWN tally,
	// replica vantage and a running election.
	Agreement  Agreement      `json:"agreement"`
	Instances  []InstanceView `json:"instances"`
	Conditions []Condition    `json:"conditions"`
	// ConfigEpoch is the committed config's epoch (0: nothing committed,
	// the primary is the seed); Replicas its replicas.
	ConfigEpoch uint64   `json:"config_epoch"`
	Replicas    []string `json:"replicas,omitempty"`
	// PausedUntil is set while an operator pause of automatic failovers
	// lasts (POST /v1/clusters/{name}/pause).
	PausedUntil *time.Time `json:"paused_until,omitempty"`
	// PreviousPrimary is the primary before the last failover, when the
	// committed config names one.
	PreviousPrimary string `json:"previous_primary,omitempty"`
	// LastFailover is the last failover the committed config records.
	LastFailover *LastFailover `json:"last_failover,omitempty"`
	// PendingFailover is the fleet's last intent when it is a failover's
	// step (stop-io, promote, demote, repoint) away from the primary this
	// sentinel believes in: a failover began and is not committed (the
	// next holder rolls forward, or the steward undoes a detach).
	PendingFailover *quorum.Intent `json:"pending_failover,omitempty"`
	// ZeroLoss says whether "zero acknowledged writes lost" is claimed for
	// the cluster now, and why or why not (DESIGN.md §6.8): MySQL with
	// semi-sync as §6.2 wants, from the primary's last answer; never Redis.
	ZeroLoss  promote.Claim `json:"zero_loss"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// InstanceView is one instance: its last observation and the detector's
// judgement.
type InstanceView struct {
	// Address names the instance: where this sentinel reaches it, after
	// the cluster's address map (DESIGN.md §2).
	Address string `json:"address"`
	// ReportedAs is the address a server reported it under, when the
	// address map translated it.
	ReportedAs     string `json:"reported_as,omitempty"`
	Source         string `json:"source"`
	DiscoveredFrom string `json:"discovered_from,omitempty"`
	// SDOWN is this sentinel's verdict: subjectively down.
	SDOWN      bool       `json:"sdown"`
	SDOWNSince *time.Time `json:"sdown_since,omitempty"`
	Detector   Detector   `json:"detector"`
	// Observation is the latest probe result; nil before the first round.
	Observation *probe.Observation `json:"observation,omitempty"`
}

// Agreement is the fleet's agreement about a cluster as this sentinel
// knows it (DESIGN.md §5).
type Agreement struct {
	// Lease names the holder this sentinel knows of; nil when none.
	Lease *LeaseView `json:"lease,omitempty"`
	// Tally explains ODOWN: who counted and who did not.
	Tally string `json:"tally"`
	// Vantage explains replica vantage.
	Vantage string `json:"vantage"`
	// Election describes this sentinel's running election, if any.
	Election string `json:"election,omitempty"`
	// AbstainingUntil: this sentinel grants no vote until then, after a
	// restart or on a fresh data_dir (DESIGN.md §5.6).
	AbstainingUntil *time.Time `json:"abstaining_until,omitempty"`
}

// LeaseView is a lease holder.
type LeaseView struct {
	Holder string `json:"holder"`
	Epoch  uint64 `json:"epoch"`
	Reason string `json:"reason"`
	// RemainingMS is the authority left, when this sentinel holds it.
	RemainingMS float64 `json:"remaining_ms,omitempty"`
}

func agreementView(s quorum.Status) Agreement {
	a := Agreement{Tally: s.Tally, Vantage: s.Vantage, Election: s.Election}
	if !s.AbstainUntil.IsZero() {
		t := s.AbstainUntil
		a.AbstainingUntil = &t
	}
	if s.Holder != "" {
		a.Lease = &LeaseView{Holder: string(s.Holder), Epoch: s.HolderEpoch, Reason: string(s.HolderReason),
			RemainingMS: ms(s.Remaining)}
	}
	return a
}

// Detector is the failure detector's state for one instance
// (docs/detector.md). Durations are in milliseconds.
type Detector struct {
	WindowMS          float64    `json:"window_ms"`
	SilenceMS         float64    `json:"silence_ms"`
	Suspicion         float64    `json:"suspicion"`
	Misses            int        `json:"misses"`
	LastOK            *time.Time `json:"last_ok,omitempty"`
	SmoothedRTTMS     float64    `json:"smoothed_rtt_ms"`
	RTTVarMS          float64    `json:"rtt_var_ms"`
	InterArrivalMS    float64    `json:"inter_arrival_ms"`
	InterArrivalDevMS float64    `json:"inter_arrival_dev_ms"`
	Reason            string     `json:"reason"`
}

// Condition is something about a cluster a person may need to act on.
type Condition struct {
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	Instance string    `json:"instance,omitempty"`
	Detail   string    `json:"detail"`
	Since    time.Time `json:"since"`
}

func detectorView(a probe.Assessment) Detector {
	d := Detector{
		WindowMS:          ms(a.Window),
		SilenceMS:         ms(a.Silence),
		Suspicion:         a.Suspicion,
		Misses:            a.Misses,
		SmoothedRTTMS:     ms(a.SmoothedRTT),
		RTTVarMS:          ms(a.RTTVar),
		InterArrivalMS:    ms(a.MeanInterArrival),
		InterArrivalDevMS: ms(a.InterArrivalDev),
		Reason:            a.Reason,
	}
	if !a.LastOK.IsZero() {
		t := a.LastOK
		d.LastOK = &t
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// LastFailover is the failover that made the committed config's primary.
type LastFailover struct {
	Epoch      uint64    `json:"epoch"`
	At         time.Time `json:"at"`
	OldPrimary string    `json:"old_primary"`
	NewPrimary string    `json:"new_primary"`
	// Committed is always true: only a committed failover is recorded.
	Committed bool `json:"committed"`
}
