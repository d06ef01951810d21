package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/sentinel"
)

type statusOptions struct {
	apiOptions
	Out io.Writer
	Now func() time.Time
}

func newStatusCmd(s ioStreams) *cobra.Command {
	o := &statusOptions{Out: s.Out, Now: s.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One line per cluster: kind, state, primary, replicas with lag, epoch, last failover",
		Long: `One line per cluster, as the first sentinel that answers sees it: kind, the
agreement's state (", paused" while automatic failovers are paused), the
primary and each replica with its state and lag (bytes behind the primary
for Redis, seconds for MySQL), the epoch, and the last failover this
sentinel knows of. Conditions follow, one line each.

-o json prints the sentinel's GET /v1/clusters answer.`,
		Example: `  imctl status
  imctl status --sentinel 10.0.0.1:7070,10.0.0.2:7070 -o json`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.fromEnv(cmd, s)
			return runStatus(cmd.Context(), o)
		},
	}
	addAPIFlags(cmd, &o.apiOptions)
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	raw, base, err := o.getJSON(ctx, "/v1/clusters", about{})
	if err != nil {
		return err
	}
	if o.Output == outputJSON {
		return writeRawJSON(o.Out, raw)
	}
	var resp clustersAnswer
	if err := decode(raw, base, "/v1/clusters", &resp); err != nil {
		return err
	}
	last := lastFailovers(ctx, &o.apiOptions, base, resp.Clusters)
	now := o.Now()
	tw := newTable(o.Out)
	fmt.Fprintln(tw, "CLUSTER\tKIND\tSTATE\tPRIMARY\tREPLICAS\tEPOCH\tLAST FAILOVER")
	for _, c := range resp.Clusters {
		primary, replicas := statusInstances(c.ClusterView)
		state := c.State
		if c.paused(now) {
			state += ", paused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Kind, state, primary,
			strings.Join(replicas, ", "), c.Epoch, showLastFailover(last[c.Name]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range resp.Clusters {
		for _, cond := range c.Conditions {
			fmt.Fprintf(o.Out, "%s: %s %s: %s\n", c.Name, strings.ToUpper(cond.Severity), cond.Name, cond.Detail)
		}
	}
	return nil
}

// statusInstances is the primary and the replicas of a status line: each
// "address (state)", replicas with their lag.
func statusInstances(c sentinel.ClusterView) (primary string, replicas []string) {
	p := primaryOf(c)
	for _, in := range c.Instances {
		if in.Address == c.Primary {
			primary = in.Address + " (" + instanceState(in) + ")"
			continue
		}
		r := in.Address + " (" + instanceState(in) + ")"
		if l := lag(in, p); l != "" {
			r += " lag " + l
		}
		replicas = append(replicas, r)
	}
	if primary == "" {
		primary = c.Primary
	}
	if len(replicas) == 0 {
		replicas = append(replicas, "-")
	}
	return primary, replicas
}

// instanceState is "primary", "replica", "SDOWN", "not answering" or
// "no answer yet".
func instanceState(in sentinel.InstanceView) string {
	switch {
	case in.SDOWN:
		return "SDOWN"
	case in.Observation == nil:
		return "no answer yet"
	case !in.Observation.Reachable:
		return "not answering"
	}
	return in.Observation.Role.String()
}

// primaryOf is the instance the cluster's primary names; nil when it is
// not among them.
func primaryOf(c sentinel.ClusterView) *sentinel.InstanceView {
	for i := range c.Instances {
		if c.Instances[i].Address == c.Primary {
			return &c.Instances[i]
		}
	}
	return nil
}

// lag is how far a reachable replica is behind: for Redis the bytes
// between the primary's offset and the replica's, "link down" when its
// link is; for MySQL the worst seconds behind. "" when not a replica,
// "?" when it cannot be told.
func lag(in sentinel.InstanceView, primary *sentinel.InstanceView) string {
	o := in.Observation
	if o == nil || !o.Reachable || o.Role != probe.RoleReplica {
		return ""
	}
	switch {
	case o.Redis != nil:
		if !o.Redis.LinkUp {
			return "? (link down)"
		}
		if primary == nil || primary.Observation == nil || primary.Observation.Redis == nil ||
			!primary.Observation.Reachable || o.Redis.ReplicaOffset < 0 {
			return "?"
		}
		return showBytes(max(primary.Observation.Redis.Offset-o.Redis.ReplicaOffset, 0))
	case o.MySQL != nil:
		if o.MySQL.LagSeconds < 0 {
			return "? (replication stopped)"
		}
		return fmt.Sprintf("%ds", o.MySQL.LagSeconds)
	}
	return "?"
}

// lastFailovers is each cluster's last failover: as the sentinel reports
// it, else the newest failover-done entry in its journal. Best effort: the
// status line shows "-" when neither is known.
func lastFailovers(ctx context.Context, o *apiOptions, base string, clusters []clusterView) map[string]*lastFailover {
	out := map[string]*lastFailover{}
	missing := false
	for _, c := range clusters {
		if c.LastFailover != nil {
			out[c.Name] = c.LastFailover
		} else {
			missing = true
		}
	}
	if !missing {
		return out
	}
	const path = "/v1/events?limit=1000"
	a, err := o.send(ctx, request{Method: http.MethodGet, Path: path, Bases: []string{base}})
	if err != nil {
		return out
	}
	raw, err := a.readAll()
	var ev eventsAnswer
	if err != nil || json.Unmarshal(raw, &ev) != nil {
		return out
	}
	for _, e := range ev.Events {
		if e.Type != sentinel.EventFailoverDone {
			continue
		}
		if prev := out[e.Cluster]; prev != nil && prev.At.After(e.At) {
			continue
		}
		var d struct {
			Epoch     uint64 `json:"epoch"`
			Committed bool   `json:"committed"`
			Why       string `json:"why"`
		}
		_ = json.Unmarshal(e.Detail, &d)
		out[e.Cluster] = &lastFailover{Epoch: d.Epoch, At: e.At, Committed: d.Committed, Why: d.Why}
	}
	return out
}

func showLastFailover(l *lastFailover) string {
	if l == nil {
		return "-"
	}
	s := fmt.Sprintf("epoch %d at %s", l.Epoch, l.At.UTC().Format(time.RFC3339))
	if l.NewPrimary != "" {
		s += " to " + l.NewPrimary
	}
	if !l.Committed {
		s += " (did not finish)"
	}
	return s
}
