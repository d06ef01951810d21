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
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
)

type failoverOptions struct {
	apiOptions
	Name   string
	To     string // the replica to promote; "" lets the ranking choose
	DryRun bool
	Yes    bool
	In     io.Reader // the confirmation
	Out    io.Writer
	ErrOut io.Writer // the question
}

func newFailoverCmd(s ioStreams) *cobra.Command {
	o := &failoverOptions{In: s.In, Out: s.Out, ErrOut: s.ErrOut}
	cmd := &cobra.Command{
		Use:   "failover NAME",
		Short: "Force a failover of a cluster: plan, confirm, then follow its steps",
		Long: `Force a failover of the cluster (an operator failover, DESIGN.md §5.5): the
sentinel asked wins a lease from a fleet majority and promotes a replica,
whether or not the primary is down. It overrides what an automatic failover
waits for (ODOWN, the replicas' vantage, the cooldown, and with --to the
ranking), never the election or the fence.

Without --yes, imctl first asks for a dry run and prints the plan, the
ranking with a reason per replica, and what the failover would override as
WARNING lines; then it asks for "yes" on stdin and runs the failover on the
same sentinel (which ranks the replicas again as it starts: the outcome
names the one promoted). It prints each step as it happens and the outcome,
and exits 1 when the failover is refused (no
majority reachable, no replica reachable: the sentinel says which and why)
or does not finish.

--dry-run prints the plan and the ranking and exits: 0 when a replica can be
promoted, 1 when none can.

Ctrl-C stops waiting, not the failover: follow it with imctl events --follow.
Needs IMCTL_TOKEN when the sentinels have an admin.token. -o json prints the
sentinel's JSON: the dry run's answer, then each streamed line (NDJSON).`,
		Example: `  imctl failover sessions-01 --dry-run
  imctl failover sessions-01 --to 10.0.0.3:6379
  imctl failover sessions-01 --yes -o json`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fromEnv(cmd, s)
			o.Name = args[0]
			return runFailover(cmd.Context(), o)
		},
	}
	addAPIFlagsTimeout(cmd, &o.apiOptions, operatorTimeout)
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the replica to promote, as cluster show names it (default: the ranking's choice)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and the ranking; elect and change nothing")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation (and skip the dry run)")
	return cmd
}

func runFailover(ctx context.Context, o *failoverOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.DryRun && o.Yes {
		return cli.UsageError{Err: errors.New("--dry-run and --yes contradict each other: a dry run changes nothing")}
	}
	path := "/v1/clusters/" + url.PathEscape(o.Name) + "/failover"
	ab := about{Cluster: o.Name, Action: "failover of " + o.Name}
	req := failoverRequest{To: o.To}
	var bases []string
	if !o.Yes {
		a, err := o.send(ctx, request{Method: http.MethodPost, Path: path, About: ab,
			Body: failoverRequest{To: o.To, DryRun: true}})
		if err != nil {
			return err
		}
		raw, err := a.readAll()
		if err != nil {
			return err
		}
		var plan dryRunAnswer
		if err := decode(raw, a.Base, path, &plan); err != nil {
			return err
		}
		if o.Output == outputJSON {
			err = writeRawJSON(o.Out, raw)
		} else {
			err = printDryRun(o.Out, a.Base, plan)
		}
		if err != nil {
			return err
		}
		if plan.Plan.NewPrimary == "" {
			return fmt.Errorf("failover of %s: nothing can be promoted: %s", o.Name,
				cmpOrDash(plan.Plan.Why, plan.Ranking.Why))
		}
		if o.DryRun {
			return nil
		}
		if o.Output == outputTable {
			fmt.Fprintln(o.Out) // before the steps
		}
		if err := o.confirm(plan); err != nil {
			return err
		}
		// The same sentinel that planned runs it. The replica shown is not
		// sent as "to": that would relax the ranking if it has become
		// excluded since; the outcome names the replica promoted.
		bases = []string{a.Base}
	}
	a, err := o.send(ctx, request{Method: http.MethodPost, Path: path, About: ab, Body: req,
		Accept: mimeNDJSON, Stream: true, Bases: bases})
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := o.follow(a)
	switch {
	case out == nil && ctx.Err() != nil:
		return fmt.Errorf("stopped waiting for the failover of %s; it goes on at %s: follow it with "+
			"`imctl events --follow --cluster %s`", o.Name, a.Base, o.Name)
	case err != nil:
		return fmt.Errorf("failover of %s at %s: %w; see `imctl events --cluster %s`", o.Name, a.Base, err, o.Name)
	case out == nil:
		return fmt.Errorf("failover of %s: %s ended the answer before the outcome; see `imctl events --cluster %s`",
			o.Name, a.Base, o.Name)
	case !out.Committed || out.Why != "":
		return fmt.Errorf("failover of %s did not finish (epoch %d, committed %s, routed %s): %s",
			o.Name, out.Epoch, yesNo(out.Committed), yesNo(out.Routed), cmpOrDash(out.Why, ""))
	}
	return nil
}

// confirm asks the operator on ErrOut and reads the answer from In.
func (o *failoverOptions) confirm(plan dryRunAnswer) error {
	fmt.Fprintf(o.ErrOut, "Fail over %s: promote %s in place of %s", o.Name, plan.Plan.NewPrimary, plan.Plan.OldPrimary)
	if n := len(plan.Overrides) + len(plan.Plan.Warnings); n > 0 {
		fmt.Fprintf(o.ErrOut, ", despite the %d warnings above", n)
	}
	fmt.Fprint(o.ErrOut, `? Type "yes" to go on: `)
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if !isTerminal(o.In) {
		fmt.Fprintln(o.ErrOut, strings.TrimSpace(line)) // what a terminal would have echoed
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer == "yes" || answer == "y" {
		return nil
	}
	why := fmt.Sprintf("the answer was %q", answer)
	if answer == "" && err != nil {
		why = "no answer on stdin"
	}
	return fmt.Errorf("failover of %s not confirmed (%s): nothing was done; --yes skips the question", o.Name, why)
}

// follow prints a failover's answer: streamed steps as they come, or just
// the outcome from a sentinel that does not stream. It returns
// the outcome; nil when the answer ended without one.
func (o *failoverOptions) follow(a *answer) (*failoverOutcome, error) {
	mt, _, _ := mime.ParseMediaType(a.Resp.Header.Get("Content-Type"))
	if mt != mimeNDJSON {
		raw, err := io.ReadAll(io.LimitReader(a.Resp.Body, maxAnswer))
		if err != nil {
			return nil, fmt.Errorf("read the answer: %w", err)
		}
		var out failoverOutcome
		if err := decode(raw, a.Base, a.Resp.Request.URL.Path, &out); err != nil {
			return nil, err
		}
		if o.Output == outputJSON {
			return &out, writeRawJSON(o.Out, raw)
		}
		return &out, printOutcome(o.Out, out)
	}
	if o.Output == outputTable {
		fmt.Fprintf(o.Out, "Failover of %s at %s:\n%s\n", o.Name, a.Base, eventHeader)
	}
	var out *failoverOutcome
	err := readLines(a.Resp.Body, func(line []byte) error {
		var l failoverLine
		if err := decode(line, a.Base, a.Resp.Request.URL.Path, &l); err != nil {
			return err
		}
		if l.Outcome != nil {
			out = l.Outcome
		}
		if o.Output == outputJSON {
			if _, err := fmt.Fprintf(o.Out, "%s\n", line); err != nil {
				return err
			}
		}
		if l.Error != "" {
			return errors.New(l.Error)
		}
		if o.Output == outputJSON {
			return nil
		}
		switch {
		case l.Event != nil:
			_, err := fmt.Fprintln(o.Out, eventLine(*l.Event))
			return err
		case l.Outcome != nil:
			return printOutcome(o.Out, *l.Outcome)
		}
		return nil
	})
	return out, err
}

func printDryRun(w io.Writer, base string, ans dryRunAnswer) error {
	fmt.Fprintf(w, "Dry run at %s: nothing was elected or written.\n\n", base)
	fmt.Fprint(w, ans.Plan.String())
	fmt.Fprintln(w)
	fmt.Fprint(w, ans.Ranking.String())
	if len(ans.Overrides) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range ans.Overrides {
		fmt.Fprintf(w, "WARNING: a forced failover overrides: %s\n", s)
	}
	return nil
}

func printOutcome(w io.Writer, out failoverOutcome) error {
	var err error
	if out.Committed && out.Why == "" {
		_, err = fmt.Fprintf(w, "%s: failed over from %s to %s at epoch %d (committed, routed %s)\n",
			out.Cluster, out.OldPrimary, out.NewPrimary, out.Epoch, yesNo(out.Routed))
	} else {
		_, err = fmt.Fprintf(w, "%s: the failover did not finish at epoch %d (committed %s, routed %s): %s\n",
			out.Cluster, out.Epoch, yesNo(out.Committed), yesNo(out.Routed), cmpOrDash(out.Why, ""))
	}
	if l := out.Loss; err == nil && l != nil {
		_, err = fmt.Fprintf(w, "%s: %s\n", out.Cluster, l.Why)
	}
	return err
}

// isTerminal says whether r is an interactive terminal, which echoes what
// is typed.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cmpOrDash is the first non-empty of a and b, or "-".
func cmpOrDash(a, b string) string {
	if a != "" {
		return a
	}
	return orDash(b)
}
