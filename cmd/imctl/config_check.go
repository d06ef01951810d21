package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

type configCheckOptions struct {
	File   string
	Output string
	Out    io.Writer
}

// configCheckAnswer is config check's -o json.
type configCheckAnswer struct {
	File     string    `json:"file"`
	Valid    bool      `json:"valid"`
	Fleet    string    `json:"fleet,omitempty"`
	Members  int       `json:"members,omitempty"`
	Clusters int       `json:"clusters,omitempty"`
	Problems []problem `json:"problems,omitempty"`
}

// problem is one config problem: its key path and what is wrong.
type problem struct {
	Key string `json:"key"`
	Msg string `json:"msg"`
}

func newConfigCheckCmd(s ioStreams) *cobra.Command {
	o := &configCheckOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a daemon config file offline; exit 0 when valid, 2 with every problem listed",
		Long: `Validate a daemon config file offline with the daemon's own loader (the
IMSENTINEL_* environment applies, as for the daemon): exit 0 when it is
valid, 2 with every problem listed by key path.

-o json prints {"file", "valid", "fleet", "members", "clusters"} or
{"file", "valid": false, "problems": [{"key", "msg"}]}.`,
		Example: `  imctl config check /etc/imsentinel/imsentinel.yaml`,
		Args:    exactArgs(1, "FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			o.File = args[0]
			return runConfigCheck(o)
		},
	}
	addOutputFlag(cmd, &o.Output)
	return cmd
}

func runConfigCheck(o *configCheckOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := config.Load(config.Source{Path: o.File})
	var ps config.Problems
	switch {
	case err != nil && !errors.As(err, &ps):
		return cli.UsageError{Err: err} // unreadable, not YAML
	case err != nil:
		if o.Output == outputJSON {
			ans := configCheckAnswer{File: o.File}
			for _, p := range ps {
				ans.Problems = append(ans.Problems, problem{Key: p.Key, Msg: p.Msg})
			}
			if werr := writeJSON(o.Out, ans); werr != nil {
				return werr
			}
		}
		return fmt.Errorf("%s: %w", o.File, err)
	case o.Output == outputJSON:
		return writeJSON(o.Out, configCheckAnswer{File: o.File, Valid: true, Fleet: c.Fleet.Name,
			Members: len(c.Fleet.Members), Clusters: len(c.Clusters)})
	}
	_, err = fmt.Fprintf(o.Out, "%s: valid (%d clusters, fleet %s of %d members)\n",
		o.File, len(c.Clusters), c.Fleet.Name, len(c.Fleet.Members))
	return err
}
