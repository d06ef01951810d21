package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/quorum/store"
)

// maxEventsLimit is the most events one GET /v1/events returns.
const maxEventsLimit = 1000

type eventsOptions struct {
	apiOptions
	Follow  bool
	Cluster string
	Since   uint64
	Limit   int // 0: the sentinel's default (100)
	Out     io.Writer
}

func newEventsCmd(s ioStreams) *cobra.Command {
	o := &eventsOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "The journal of one sentinel: state changes and failover steps; --follow streams new ones",
		Long: `The journal of the first sentinel that answers, oldest first: SDOWN and its
clearing, discoveries, conditions, the agreement (odown, electing, elected,
committed, ...), failover plans, steps and outcomes, repairs and operator
actions. Each sentinel keeps its own journal.

--follow prints the selected events, then each new one as it is recorded,
until Ctrl-C. If the sentinel ends the stream, imctl says so, names the last
sequence number for --since, and exits 1.

-o json prints the sentinel's answer; with --follow, one JSON event per line
(NDJSON) as the sentinel streams them.`,
		Example: `  imctl events --cluster sessions-01 --limit 20
  imctl events --follow --cluster sessions-01
  imctl events --since 41 -o json`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.fromEnv(cmd, s)
			return runEvents(cmd.Context(), o)
		},
	}
	addAPIFlags(cmd, &o.apiOptions)
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new events as they are recorded, until Ctrl-C")
	f.StringVar(&o.Cluster, "cluster", "", "only this cluster's events")
	f.Uint64Var(&o.Since, "since", 0, "only events after this sequence number")
	f.IntVar(&o.Limit, "limit", 0, "at most this many, the newest (default the sentinel's 100, at most 1000)")
	return cmd
}

func (o *eventsOptions) path() string {
	q := url.Values{}
	if o.Cluster != "" {
		q.Set("cluster", o.Cluster)
	}
	if o.Since > 0 {
		q.Set("since", strconv.FormatUint(o.Since, 10))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	if len(q) == 0 {
		return "/v1/events"
	}
	return "/v1/events?" + q.Encode()
}

func runEvents(ctx context.Context, o *eventsOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Limit < 0 || o.Limit > maxEventsLimit {
		return cli.UsageError{Err: fmt.Errorf("--limit %d: want 1 to %d", o.Limit, maxEventsLimit)}
	}
	ab := about{Cluster: o.Cluster}
	if !o.Follow {
		raw, base, err := o.getJSON(ctx, o.path(), ab)
		if err != nil {
			return err
		}
		if o.Output == outputJSON {
			return writeRawJSON(o.Out, raw)
		}
		var ans eventsAnswer
		if err := decode(raw, base, "/v1/events", &ans); err != nil {
			return err
		}
		fmt.Fprintln(o.Out, eventHeader)
		for _, e := range ans.Events {
			fmt.Fprintln(o.Out, eventLine(e))
		}
		return nil
	}
	a, err := o.send(ctx, request{Method: http.MethodGet, Path: o.path(), Accept: mimeNDJSON, Stream: true, About: ab})
	if err != nil {
		return err
	}
	defer a.Close()
	if mt, _, _ := mime.ParseMediaType(a.Resp.Header.Get("Content-Type")); mt != mimeNDJSON {
		return fmt.Errorf("%s answered GET /v1/events?follow=1 with %q, not a stream of %s: is the daemon older than imctl?",
			a.Base, mt, mimeNDJSON)
	}
	if o.Output == outputTable {
		fmt.Fprintln(o.Out, eventHeader)
	}
	var last uint64
	err = readLines(a.Resp.Body, func(line []byte) error {
		var e store.Entry
		if err := decode(line, a.Base, "/v1/events", &e); err != nil {
			return err
		}
		last = max(last, e.Seq)
		if o.Output == outputJSON {
			_, err := fmt.Fprintf(o.Out, "%s\n", line)
			return err
		}
		_, err := fmt.Fprintln(o.Out, eventLine(e))
		return err
	})
	switch {
	case ctx.Err() != nil:
		return nil // Ctrl-C: the way to stop following
	case err != nil:
		return fmt.Errorf("following the events of %s: %w", a.Base, err)
	}
	return fmt.Errorf("%s ended the event stream (did the sentinel stop?); continue with `imctl events --follow --since %d`",
		a.Base, max(last, o.Since))
}

// readLines calls f with each non-empty line of a stream until it ends.
func readLines(r io.Reader, f func(line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxAnswer)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if err := f(line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
