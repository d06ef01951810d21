package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel"
)

type clusterShowOptions struct {
	apiOptions
	Name string
	Out  io.Writer
	Now  func() time.Time
}

func newClusterShowCmd(s ioStreams) *cobra.Command {
	o := &clusterShowOptions{Out: s.Out, Now: s.Now}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "One cluster in detail: agreement, lease, instances with their detector, conditions",
		Long: `One cluster as the first sentinel that answers sees it: the primary, the
agreement's state and why (lease holder, ODOWN tally, replica vantage,
running election), whether automatic failovers are paused, every instance
with its latest probe and failure detector, and the conditions raised
(docs/runbooks/).

-o json prints the sentinel's GET /v1/clusters/NAME answer.`,
		Example: `  imctl cluster show sessions-01`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fromEnv(cmd, s)
			o.Name = args[0]
			return runClusterShow(cmd.Context(), o)
		},
	}
	addAPIFlags(cmd, &o.apiOptions)
	return cmd
}

func runClusterShow(ctx context.Context, o *clusterShowOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	path := "/v1/clusters/" + url.PathEscape(o.Name)
	raw, base, err := o.getJSON(ctx, path, about{Cluster: o.Name})
	if err != nil {
		return err
	}
	if o.Output == outputJSON {
		return writeRawJSON(o.Out, raw)
	}
	var c clusterView
	if err := decode(raw, base, path, &c); err != nil {
		return err
	}
	tw := newTable(o.Out)
	fmt.Fprintf(tw, "cluster\t%s (%s, mode %s)\n", c.Name, c.Kind, c.Mode)
	fmt.Fprintf(tw, "primary\t%s\n", orDash(c.Primary))
	fmt.Fprintf(tw, "state\t%s\n", c.State)
	fmt.Fprintf(tw, "epoch\t%d\n", c.Epoch)
	if c.paused(o.Now()) {
		fmt.Fprintf(tw, "paused\tuntil %s: no automatic failover (imctl cluster resume %s)\n", showTime(c.PausedUntil.Time), c.Name)
	}
	fmt.Fprintf(tw, "lease\t%s\n", showLease(c.Agreement.Lease))
	fmt.Fprintf(tw, "tally\t%s\n", orDash(c.Agreement.Tally))
	fmt.Fprintf(tw, "vantage\t%s\n", orDash(c.Agreement.Vantage))
	if c.Agreement.Election != "" {
		fmt.Fprintf(tw, "election\t%s\n", c.Agreement.Election)
	}
	if t := c.Agreement.AbstainingUntil; t != nil {
		fmt.Fprintf(tw, "abstaining\tuntil %s (no votes after a restart)\n", showTime(*t))
	}
	if l := c.LastFailover; l != nil {
		fmt.Fprintf(tw, "last failover\t%s\n", showLastFailover(l))
	}
	if z := c.ZeroLoss; z.Why != "" {
		verdict := "NOT claimed"
		if z.Claimed {
			verdict = "claimed"
		}
		fmt.Fprintf(tw, "zero loss\t%s: %s\n", verdict, z.Why)
	}
	fmt.Fprintf(tw, "updated\t%s by %s\n", showTime(c.UpdatedAt), base)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(o.Out)
	tw = newTable(o.Out)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tLAG\tSOURCE\tRTT\tSUSPICION\tLAST OK\tDETAIL")
	p := primaryOf(c.ClusterView)
	for _, in := range c.Instances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fms\t%.2f\t%s\t%s\n", instanceName(in), instanceState(in),
			orDash(lag(in, p)), instanceSource(in), in.Detector.SmoothedRTTMS, in.Detector.Suspicion,
			showOptTime(in.Detector.LastOK), instanceDetail(in))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(c.Conditions) == 0 {
		return nil
	}
	fmt.Fprintln(o.Out)
	tw = newTable(o.Out)
	fmt.Fprintln(tw, "CONDITION\tSEVERITY\tINSTANCE\tSINCE\tDETAIL")
	for _, cond := range c.Conditions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cond.Name, strings.ToUpper(cond.Severity), orDash(cond.Instance),
			showTime(cond.Since), cond.Detail)
	}
	return tw.Flush()
}

func showLease(l *sentinel.LeaseView) string {
	if l == nil {
		return "none known"
	}
	s := fmt.Sprintf("%s at epoch %d (%s)", l.Holder, l.Epoch, l.Reason)
	if l.RemainingMS > 0 {
		s += fmt.Sprintf(", %.0fms left", l.RemainingMS)
	}
	return s
}

func instanceName(in sentinel.InstanceView) string {
	if in.ReportedAs != "" && in.ReportedAs != in.Address {
		return in.Address + " (reported as " + in.ReportedAs + ")"
	}
	return in.Address
}

func instanceSource(in sentinel.InstanceView) string {
	if in.DiscoveredFrom != "" {
		return in.Source + " from " + in.DiscoveredFrom
	}
	return orDash(in.Source)
}

// instanceDetail is the probe's error when there is one, else the
// detector's reason.
func instanceDetail(in sentinel.InstanceView) string {
	if o := in.Observation; o != nil && o.Error != "" {
		return o.Error
	}
	return orDash(in.Detector.Reason)
}

func showOptTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return showTime(*t)
}

// exactArgs wants n positional arguments, named for the error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return cli.UsageError{Err: fmt.Errorf("%s takes %s, got %d arguments; see imctl %s --help",
				cmd.CommandPath(), names, len(args), strings.TrimPrefix(cmd.CommandPath(), "imctl "))}
		}
		return nil
	}
}
