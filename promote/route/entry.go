package route

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hash field names of a routing entry (docs/gateway.md "Routing entry").
const (
	FieldPrimary   = "primary"
	FieldEpoch     = "epoch"
	FieldKind      = "kind"
	FieldReplicas  = "replicas"
	FieldFleet     = "fleet"
	FieldUpdatedAt = "updated_at"
	FieldUpdatedBy = "updated_by"
)

// DefaultPrefix starts every key and channel when Options.Prefix is empty.
const DefaultPrefix = "imsentinel:"

// TimeLayout is how updated_at is stored: RFC 3339 in UTC with
// milliseconds, e.g. 2026-11-26T09:00:00.123Z.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Entry is one cluster's route: where its primary is, as of which config
// epoch. In the routing Redis it is the hash <prefix>route:<cluster>; its
// JSON form (imctl route get -o json) uses the same field names plus cluster.
type Entry struct {
	// Cluster names the cluster (the key suffix; not a hash field).
	Cluster string `json:"cluster"`
	// Primary is the primary's host:port as clients reach it.
	Primary string `json:"primary"`
	// Kind is the cluster kind ("redis", "mysql").
	Kind string `json:"kind"`
	// Epoch is the committed config's epoch; it never goes backwards.
	Epoch uint64 `json:"epoch"`
	// Replicas are host:port of the replicas, in the committed config's
	// order. Stored comma-separated ("" for none).
	Replicas []string `json:"replicas"`
	// Fleet is the name of the fleet that owns the key.
	Fleet string `json:"fleet"`
	// UpdatedAt is when the entry was written (RFC 3339, UTC, ms).
	UpdatedAt time.Time `json:"updated_at"`
	// UpdatedBy names the sentinel that wrote it.
	UpdatedBy string `json:"updated_by"`
}

// Change announces a written entry on <prefix>routes, as JSON.
type Change struct {
	Cluster string `json:"cluster"`
	Primary string `json:"primary"`
	// OldPrimary is the primary stored before this write; "" when the
	// entry was absent; equal to Primary for a replica-list update.
	OldPrimary string `json:"old_primary"`
	Epoch      uint64 `json:"epoch"`
	// Reason says why the route was written (e.g. "failover", "reconcile:
	// route absent").
	Reason string `json:"reason"`
	// At is the entry's updated_at.
	At time.Time `json:"at"`
}

// String shows an entry for errors and test failures.
func (e Entry) String() string {
	return fmt.Sprintf("%s: primary=%s epoch=%d kind=%s replicas=[%s] fleet=%s updated_at=%s updated_by=%s",
		e.Cluster, e.Primary, e.Epoch, e.Kind, join(e.Replicas), e.Fleet,
		e.UpdatedAt.UTC().Format(TimeLayout), e.UpdatedBy)
}

// sameReplicas says whether two replica lists are equal (order counts; nil
// equals empty).
func sameReplicas(a, b []string) bool { return slices.Equal(a, b) }

// join is how replicas are stored and shown: comma-separated.
func join(replicas []string) string { return strings.Join(replicas, ",") }

// validate checks what Write needs of an entry: every problem at once.
func (e Entry) validate() error {
	var errs []error
	if e.Cluster == "" {
		errs = append(errs, errors.New("cluster: empty"))
	}
	if e.Epoch == 0 {
		errs = append(errs, errors.New("epoch: 0 (committed epochs start at 1)"))
	}
	if e.Kind == "" {
		errs = append(errs, errors.New("kind: empty"))
	}
	if err := checkHostPort(e.Primary); err != nil {
		errs = append(errs, fmt.Errorf("primary: %w", err))
	}
	for i, r := range e.Replicas {
		if err := checkHostPort(r); err != nil {
			errs = append(errs, fmt.Errorf("replicas[%d]: %w", i, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidEntry, errors.Join(errs...))
	}
	return nil
}

// checkHostPort accepts host:port with a non-empty host and no comma (the
// replica separator) or whitespace.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port", s)
	}
	if host == "" || port == "" {
		return fmt.Errorf("%q: want host:port", s)
	}
	if strings.ContainsAny(s, ", \t\r\n") {
		return fmt.Errorf("%q: contains a comma or whitespace", s)
	}
	return nil
}

// fields returns the hash fields of e as Write stores them.
func (e Entry) fields() map[string]string {
	return map[string]string{
		FieldPrimary:   e.Primary,
		FieldEpoch:     strconv.FormatUint(e.Epoch, 10),
		FieldKind:      e.Kind,
		FieldReplicas:  join(e.Replicas),
		FieldFleet:     e.Fleet,
		FieldUpdatedAt: e.UpdatedAt.UTC().Format(TimeLayout),
		FieldUpdatedBy: e.UpdatedBy,
	}
}

// parseEntry reads a stored hash. It returns what it could parse and an
// error naming every malformed field; a missing field is left zero.
func parseEntry(cluster string, h map[string]string) (Entry, error) {
	e := Entry{Cluster: cluster, Primary: h[FieldPrimary], Kind: h[FieldKind],
		Fleet: h[FieldFleet], UpdatedBy: h[FieldUpdatedBy]}
	var errs []error
	if s, ok := h[FieldEpoch]; !ok {
		errs = append(errs, errors.New("no epoch field"))
	} else if n, err := strconv.ParseUint(s, 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("epoch %q is not a number", s))
	} else {
		e.Epoch = n
	}
	if s := h[FieldReplicas]; s != "" {
		e.Replicas = strings.Split(s, ",")
	}
	if s, ok := h[FieldUpdatedAt]; ok && s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("updated_at %q is not RFC 3339", s))
		} else {
			e.UpdatedAt = t
		}
	}
	return e, errors.Join(errs...)
}
