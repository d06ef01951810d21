// Command imctl is the operator CLI of imsentinel. It reaches the daemons
// through their admin API only and never touches data nodes.
//
// This stage has:
//
//	imctl status              one line per cluster, from the admin API
//	imctl version             version and commit
//	imctl config check FILE   validate a daemon config offline
//
// Exit codes: 0 success, 1 failure, 2 bad input (usage, invalid config).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// helpOnly runs a command that only groups others: it prints the help.
// (Unknown subcommands are refused by its usageArgs(cobra.NoArgs) first.)
func helpOnly(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// usageArgs makes a positional-argument check's failure a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "imctl:", err)
	var ps config.Problems
	var ue usageError
	if errors.As(err, &ps) || errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "imctl",
		Short:         "Operate an imsentinel fleet",
		Version:       buildinfo.Version(),
		Args:          usageArgs(cobra.NoArgs),
		RunE:          helpOnly,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(buildinfo.String("imctl") + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(stdout, buildinfo.String("imctl"))
			return err
		},
	})

	root.AddCommand(newStatusCmd(stdout))

	cfg := &cobra.Command{Use: "config", Short: "Work with daemon config files",
		Args: usageArgs(cobra.NoArgs), RunE: helpOnly}
	cfg.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a daemon config file offline; exit 0 when valid, 2 with every problem listed",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("config check takes one FILE, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := config.Load(config.Source{Path: args[0]})
			if err != nil {
				var ps config.Problems
				if errors.As(err, &ps) {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return usageError{err}
			}
			_, err = fmt.Fprintf(stdout, "%s: valid (%d clusters, fleet %s of %d members)\n",
				args[0], len(c.Clusters), c.Fleet.Name, len(c.Fleet.Members))
			return err
		},
	})
	root.AddCommand(cfg)
	return root
}
