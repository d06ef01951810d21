package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel"
)

// apiOptions are the flags of every command that talks to the daemons.
type apiOptions struct {
	Sentinels []string // admin API base URLs, tried in order
	Output    string   // table or json
	Timeout   time.Duration
}

func addAPIFlags(cmd *cobra.Command, o *apiOptions) {
	def := []string{"http://127.0.0.1:7070"}
	if env := os.Getenv("IMCTL_SENTINEL"); env != "" {
		def = strings.Split(env, ",")
	}
	cmd.Flags().StringSliceVar(&o.Sentinels, "sentinel", def,
		"admin API of a sentinel, host:port or URL; repeat or comma-separate, the first that answers is used (env IMCTL_SENTINEL)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table or json")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-sentinel request timeout")
}

func (o apiOptions) validate() error {
	if o.Output != "table" && o.Output != "json" {
		return cli.UsageError{Err: fmt.Errorf("--output %q: want table or json", o.Output)}
	}
	if len(o.Sentinels) == 0 {
		return cli.UsageError{Err: errors.New("--sentinel: give at least one admin API address")}
	}
	return nil
}

// get asks each sentinel in turn for path and decodes the first answer. It
// says which sentinels it tried when none answers.
func (o apiOptions) get(ctx context.Context, path string, into any) error {
	var tried []string
	for _, s := range o.Sentinels {
		base := strings.TrimRight(s, "/")
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		err := getJSON(ctx, base+path, o.Timeout, into)
		if err == nil {
			return nil
		}
		var apiErr *apiError
		if errors.As(err, &apiErr) {
			return err // the sentinel answered: its answer stands
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", base, err))
	}
	return fmt.Errorf("no sentinel reachable; tried %s. Check that imsentinel runs and --sentinel "+
		"(or IMCTL_SENTINEL) names its admin.listen address", strings.Join(tried, ", "))
}

// apiError is a 4xx/5xx answer from a sentinel.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("sentinel answered %d: %s", e.Status, e.Msg) }

func getJSON(ctx context.Context, url string, timeout time.Duration, into any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return &apiError{Status: resp.StatusCode, Msg: e.Error}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("decode answer of %s: %w", url, err)
	}
	return nil
}

type statusOptions struct {
	apiOptions
	Out io.Writer
}

func newStatusCmd(stdout io.Writer) *cobra.Command {
	o := &statusOptions{Out: stdout}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One line per cluster: kind, state, primary, replicas with their state, epoch",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	var resp sentinel.ClustersResponse
	if err := o.get(ctx, "/v1/clusters", &resp); err != nil {
		return err
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tKIND\tSTATE\tPRIMARY\tREPLICAS\tEPOCH")
	for _, c := range resp.Clusters {
		primary, replicas := "", []string{}
		for _, in := range c.Instances {
			if in.Address == c.Primary {
				primary = in.Address + " (" + instanceState(in) + ")"
				continue
			}
			replicas = append(replicas, in.Address+" ("+instanceState(in)+")")
		}
		if primary == "" {
			primary = c.Primary
		}
		if len(replicas) == 0 {
			replicas = append(replicas, "-")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", c.Name, c.Kind, c.State, primary,
			strings.Join(replicas, ", "), c.Epoch)
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

// instanceState is "primary", "replica", "SDOWN", "not answering" or
// "no answer yet" for a status line.
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
