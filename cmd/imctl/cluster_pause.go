package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
)

// maxPause is the longest pause the API takes (docs/api.md).
const maxPause = 7 * 24 * time.Hour

type pauseOptions struct {
	apiOptions
	Name   string
	Resume bool
	// For is how long to pause when ForSet; otherwise the sentinel's
	// default (1h).
	For    time.Duration
	ForSet bool
	Out    io.Writer
}

func newClusterPauseCmd(s ioStreams) *cobra.Command {
	o := &pauseOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "pause NAME",
		Short: "Stop automatic failovers of a cluster on every sentinel, for a while",
		Long: `Pause stops automatic failovers of the cluster on every sentinel: it is
committed to the fleet's config under an operator lease, so the whole fleet
honours it and it survives restarts. The cluster is still probed and
reported, and imctl failover still works. It ends by itself after --for
(the sentinel's default is 1h, at most 7 days), or with imctl cluster resume.

Needs IMCTL_TOKEN when the sentinels have an admin.token. -o json prints the
sentinel's answer.`,
		Example: `  imctl cluster pause sessions-01 --for 30m`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fromEnv(cmd, s)
			o.Name, o.ForSet = args[0], cmd.Flags().Changed("for")
			return runPause(cmd.Context(), o)
		},
	}
	addAPIFlagsTimeout(cmd, &o.apiOptions, operatorTimeout)
	cmd.Flags().DurationVar(&o.For, "for", 0, "how long to pause, a Go duration (30m, 2h), at most 168h (default the sentinel's 1h)")
	return cmd
}

func newClusterResumeCmd(s ioStreams) *cobra.Command {
	o := &pauseOptions{Out: s.Out, Resume: true}
	cmd := &cobra.Command{
		Use:   "resume NAME",
		Short: "Allow automatic failovers of a paused cluster again",
		Long: `Resume clears a pause on every sentinel (committed like the pause).

Needs IMCTL_TOKEN when the sentinels have an admin.token. -o json prints the
sentinel's answer.`,
		Example: `  imctl cluster resume sessions-01`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fromEnv(cmd, s)
			o.Name = args[0]
			return runPause(cmd.Context(), o)
		},
	}
	addAPIFlagsTimeout(cmd, &o.apiOptions, operatorTimeout)
	return cmd
}

func runPause(ctx context.Context, o *pauseOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.ForSet && (o.For <= 0 || o.For > maxPause) {
		return cli.UsageError{Err: fmt.Errorf("--for %v: want more than 0 and at most %v", o.For, maxPause)}
	}
	verb, body := "pause", any(pauseRequest{})
	if o.ForSet {
		body = pauseRequest{For: o.For.String()}
	}
	if o.Resume {
		verb, body = "resume", nil
	}
	path := "/v1/clusters/" + url.PathEscape(o.Name) + "/" + verb
	a, err := o.send(ctx, request{Method: http.MethodPost, Path: path, Body: body,
		About: about{Cluster: o.Name, Action: verb + " of " + o.Name}})
	if err != nil {
		return err
	}
	raw, err := a.readAll()
	if err != nil {
		return err
	}
	if o.Output == outputJSON {
		return writeRawJSON(o.Out, raw)
	}
	var ans pauseAnswer
	if err := decode(raw, a.Base, path, &ans); err != nil {
		return err
	}
	if o.Resume {
		_, err = fmt.Fprintf(o.Out, "%s resumed at epoch %d: automatic failovers are on again on every sentinel\n",
			o.Name, ans.Epoch)
		return err
	}
	_, err = fmt.Fprintf(o.Out, "%s paused until %s at epoch %d: no automatic failover on any sentinel until then; "+
		"`imctl cluster resume %s` ends it sooner\n", o.Name, showTime(ans.PausedUntil.Time), ans.Epoch, o.Name)
	return err
}
