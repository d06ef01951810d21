package main

import (
	"time"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel"
)

// The admin API's answers as docs/api.md writes them. Where the daemon's
// package exports the type, it is used; the rest are written here from the
// contract.

// clustersAnswer is GET /v1/clusters.
type clustersAnswer struct {
	Sentinel string        `json:"sentinel"`
	Clusters []clusterView `json:"clusters"`
}

// clusterView is <cluster>, with the contract's fields that
// sentinel.ClusterView may not carry yet.
type clusterView struct {
	sentinel.ClusterView
	// PausedUntil: automatic failovers are off until then (pause).
	PausedUntil optTime `json:"paused_until"`
	// LastFailover, when the sentinel reports it; otherwise status looks
	// for it in the journal.
	LastFailover *lastFailover `json:"last_failover,omitempty"`
}

// lastFailover is the newest failover of a cluster.
type lastFailover struct {
	Epoch      uint64    `json:"epoch"`
	At         time.Time `json:"at"`
	OldPrimary string    `json:"old_primary,omitempty"`
	NewPrimary string    `json:"new_primary,omitempty"`
	Committed  bool      `json:"committed"`
	Why        string    `json:"why,omitempty"`
}

// paused says whether automatic failovers are paused at now.
func (c clusterView) paused(now time.Time) bool {
	return !c.PausedUntil.IsZero() && c.PausedUntil.After(now)
}

// fleetAnswer is GET /v1/fleet.
type fleetAnswer struct {
	Sentinel    string         `json:"sentinel"`
	Fleet       string         `json:"fleet"`
	Fingerprint string         `json:"fingerprint"`
	Members     []fleetMember  `json:"members"`
	Conflicts   []string       `json:"conflicts,omitempty"`
	Clusters    []fleetCluster `json:"clusters"`
}

type fleetMember struct {
	ID          string `json:"id"`
	Address     string `json:"address"`
	Self        bool   `json:"self"`
	Alive       bool   `json:"alive"`
	Fingerprint string `json:"fingerprint"`
	Compatible  *bool  `json:"compatible"`
	Why         string `json:"why"`
}

type fleetCluster struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	Tilt         bool   `json:"tilt"`
	Epoch        uint64 `json:"epoch"`
	Holder       string `json:"holder,omitempty"`
	HolderReason string `json:"holder_reason,omitempty"`
}

// eventsAnswer is GET /v1/events; each streamed line is one store.Entry.
type eventsAnswer struct {
	Events []store.Entry `json:"events"`
}

// failoverRequest is the body of POST /v1/clusters/{name}/failover.
type failoverRequest struct {
	To     string `json:"to,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// dryRunAnswer is the answer to a failover with dry_run.
type dryRunAnswer struct {
	Cluster string          `json:"cluster"`
	Plan    promote.Plan    `json:"plan"`
	Ranking promote.Ranking `json:"ranking"`
	// Overrides are what the forced failover would override (ODOWN not
	// reached, vantage block, cooldown, ranking): printed as warnings.
	Overrides []string `json:"overrides"`
}

// failoverOutcome is how a failover ended: the whole answer without
// streaming, the last streamed line's "outcome" with it.
type failoverOutcome struct {
	Cluster    string `json:"cluster"`
	Epoch      uint64 `json:"epoch"`
	OldPrimary string `json:"old_primary"`
	NewPrimary string `json:"new_primary"`
	Committed  bool   `json:"committed"`
	Routed     bool   `json:"routed"`
	Why        string `json:"why,omitempty"`
	// Loss is a MySQL failover's loss estimate (DESIGN.md §6.8).
	Loss *promote.LossEstimate `json:"loss,omitempty"`
}

// failoverLine is one line of a streamed failover: an event, or the last
// line: the outcome, or an error when the failover failed after the stream
// had started.
type failoverLine struct {
	Event   *store.Entry     `json:"event,omitempty"`
	Outcome *failoverOutcome `json:"outcome,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// pauseRequest is the body of POST /v1/clusters/{name}/pause.
type pauseRequest struct {
	For string `json:"for,omitempty"`
}

// pauseAnswer is the answer to pause and resume.
type pauseAnswer struct {
	Cluster     string  `json:"cluster"`
	Epoch       uint64  `json:"epoch"`
	PausedUntil optTime `json:"paused_until"`
}

// optTime is a time the API may send as a time, null, "" or not at all.
type optTime struct{ time.Time }

func (t *optTime) UnmarshalJSON(b []byte) error {
	if s := string(b); s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}
