package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
)

type sentinelsOptions struct {
	apiOptions
	Out io.Writer
}

func newSentinelsCmd(s ioStreams) *cobra.Command {
	o := &sentinelsOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "sentinels",
		Short: "The fleet: members and their liveness, config fingerprint, per-cluster state and lease holder",
		Long: `The fleet as the first sentinel that answers sees it: the fleet's name and
config fingerprint, each member with its gossip address and liveness (which
never changes who votes), id conflicts, and per cluster the agreement's
state, TILT, the epoch and the lease holder.

-o json prints the sentinel's GET /v1/fleet answer.`,
		Example: `  imctl sentinels`,
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.fromEnv(cmd, s)
			return runSentinels(cmd.Context(), o)
		},
	}
	addAPIFlags(cmd, &o.apiOptions)
	return cmd
}

func runSentinels(ctx context.Context, o *sentinelsOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	const path = "/v1/fleet"
	raw, base, err := o.getJSON(ctx, path, about{})
	if err != nil {
		return err
	}
	if o.Output == outputJSON {
		return writeRawJSON(o.Out, raw)
	}
	var f fleetAnswer
	if err := decode(raw, base, path, &f); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "fleet %s, config fingerprint %s, as seen by %s (%s)\n\n", f.Fleet, orDash(f.Fingerprint), f.Sentinel, base)
	tw := newTable(o.Out)
	fmt.Fprintln(tw, "SENTINEL\tADDRESS\tALIVE\tSELF\tVOTER SET")
	for _, m := range f.Members {
		self := ""
		if m.Self {
			self = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Address, yesNo(m.Alive), self, voterSet(m))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(f.Clusters) > 0 {
		fmt.Fprintln(o.Out)
		tw = newTable(o.Out)
		fmt.Fprintln(tw, "CLUSTER\tSTATE\tTILT\tEPOCH\tLEASE HOLDER")
		for _, c := range f.Clusters {
			holder := "-"
			if c.Holder != "" {
				holder = c.Holder + " (" + orDash(c.HolderReason) + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.Name, c.State, yesNo(c.Tilt), c.Epoch, holder)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, c := range f.Conflicts {
		fmt.Fprintf(o.Out, "CONFLICT: %s\n", c)
	}
	return nil
}

// voterSet says whether a member's voter set agrees with the answering
// sentinel's.
func voterSet(m fleetMember) string {
	switch {
	case m.Compatible == nil:
		return "not heard yet"
	case *m.Compatible && m.Fingerprint == "":
		return "agrees"
	case *m.Compatible:
		return "agrees (" + m.Fingerprint + ")"
	}
	return "DIFFERS: " + orDash(m.Why)
}
