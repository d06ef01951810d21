package sentinel

import (
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// Cluster states reported at /v1/clusters. Later stages add odown,
// electing, leading, following, tilt and vantage-blocked.
const (
	StateOK    = "ok"    // the primary answers
	StateSDOWN = "sdown" // this sentinel's detector says the primary is down
)

// Where an instance came from.
const (
	SourceConfig     = "config"     // named in the config file
	SourceDiscovered = "discovered" // reported by another instance
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
	// Epoch is the config epoch of Primary; 0 for the seed.
	Epoch      uint64         `json:"epoch"`
	State      string         `json:"state"`
	Instances  []InstanceView `json:"instances"`
	Conditions []Condition    `json:"conditions"`
	UpdatedAt  time.Time      `json:"updated_at"`
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
