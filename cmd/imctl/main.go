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

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// helpOnly runs a command that only groups others: it prints the help.
// (Unknown subcommands are refused by its cli.Args(cobra.NoArgs) first.)
func helpOnly(cmd *cobra.Command, _ []string) error { return cmd.Help() }

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
	if cli.IsUsage(err) {
		return exitUsage
	}
	return exitFailed
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "imctl",
		Short:         "Operate an imsentinel fleet",
		Version:       buildinfo.Version(),
		Args:          cli.Args(cobra.NoArgs),
		RunE:          helpOnly,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(buildinfo.String("imctl") + "\n")
	root.SetFlagErrorFunc(cli.FlagError)

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(stdout, buildinfo.String("imctl"))
			return err
		},
	})

	root.AddCommand(newStatusCmd(stdout))

	cfg := &cobra.Command{Use: "config", Short: "Work with daemon config files",
		Args: cli.Args(cobra.NoArgs), RunE: helpOnly}
	cfg.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a daemon config file offline; exit 0 when valid, 2 with every problem listed",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.UsageError{Err: fmt.Errorf("config check takes one FILE, got %d arguments", len(args))}
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
				return cli.UsageError{Err: err}
			}
			_, err = fmt.Fprintf(stdout, "%s: valid (%d clusters, fleet %s of %d members)\n",
				args[0], len(c.Clusters), c.Fleet.Name, len(c.Fleet.Members))
			return err
		},
	})
	root.AddCommand(cfg)
	return root
}
