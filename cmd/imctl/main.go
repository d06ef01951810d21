// Command imctl is the operator CLI of imsentinel. It reads and drives the
// fleet through the daemons' admin API (docs/api.md) and never touches a
// data node; the one exception is `route get`, which reads the routing
// Redis the way a gateway does.
//
//	imctl status                          one line per cluster
//	imctl cluster show NAME               one cluster in detail
//	imctl cluster pause NAME [--for D]    stop automatic failovers fleet-wide
//	imctl cluster resume NAME             allow them again
//	imctl sentinels                       the fleet: members, liveness, leases
//	imctl failover NAME [--to INSTANCE] [--dry-run] [--yes]
//	imctl instance rejoin|fence|unfence CLUSTER INSTANCE [--yes]
//	imctl events [--follow] [--cluster NAME] [--since SEQ] [--limit N]
//	imctl route get NAME                  the routing entry, from the routing Redis
//	imctl config check FILE               validate a daemon config offline
//	imctl version                         version and commit
//
// Every command takes -o json (the API's own JSON where there is one) and
// prints tables otherwise; never colour. The reference, generated from these
// commands, is docs/cli.md (make docs).
//
// Environment: IMCTL_SENTINEL (admin API addresses, comma-separated, when
// --sentinel is not given), IMCTL_TOKEN (bearer token for mutating calls),
// IMCTL_ROUTING, IMCTL_ROUTING_PREFIX, IMCTL_ROUTING_USERNAME,
// IMCTL_ROUTING_PASSWORD (route get).
//
// Exit codes:
//
//	0  success
//	1  failed: the sentinel answered with an error, refused (409), the
//	   failover did not finish, or the operator did not confirm
//	2  bad input: usage, an invalid config file, or a request the
//	   sentinel rejected as bad (400)
//	3  unreachable: no sentinel answered (each address is listed with its
//	   error), or for route get the routing Redis did not
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
)

// Exit codes (the package comment and docs/cli.md explain them).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
)

// ioStreams is what commands read and write, and their environment:
// injected, so tests run commands without a terminal, a real environment
// or the wall clock.
type ioStreams struct {
	In     io.Reader // confirmation answers
	Out    io.Writer // results
	ErrOut io.Writer // prompts and errors
	Getenv func(string) string
	Now    func() time.Time
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// go-redis logs pool errors on its own; route get reports them itself.
	redis.SetLogger(&logging.VoidLogger{})
	code := run(ctx, os.Args[1:], ioStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		Getenv: os.Getenv, Now: time.Now})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, s ioStreams) int {
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(s.ErrOut, "imctl:", err)
	return exitCode(err)
}

// exitCode classifies an error for the process exit status.
func exitCode(err error) int {
	var unreachable *unreachableError
	var routing *routingUnreachableError
	var api *apiError
	switch {
	case errors.As(err, &unreachable), errors.As(err, &routing):
		return exitUnreachable
	case errors.As(err, &api) && api.Status == 400:
		return exitUsage
	case cli.IsUsage(err):
		return exitUsage
	}
	return exitFailed
}

// helpOnly runs a command that only groups others: it prints the help.
// (Unknown subcommands are refused by its cli.Args(cobra.NoArgs) first.)
func helpOnly(cmd *cobra.Command, _ []string) error { return cmd.Help() }

const rootLong = `imctl reads and drives an imsentinel fleet through the daemons' admin API
(docs/api.md). It never touches a data node; only "route get" reads the
routing Redis, as a gateway does.

Every command takes -o json for scripts (the API's own JSON where there is
one) and prints plain tables otherwise, never in colour.

Environment:
  IMCTL_SENTINEL          admin API addresses, comma-separated, used when --sentinel is not given
  IMCTL_TOKEN             bearer token sent with mutating calls (the daemons' admin.token)
  IMCTL_ROUTING           routing Redis host:port for route get, when --routing is not given
  IMCTL_ROUTING_PREFIX    key prefix for route get, when --routing-prefix is not given
  IMCTL_ROUTING_USERNAME  routing Redis ACL user for route get
  IMCTL_ROUTING_PASSWORD  routing Redis password for route get

Exit codes:
  0  success
  1  failed: the sentinel answered with an error or refused (409), the
     failover did not finish, or the operator did not confirm
  2  bad input: usage, an invalid config file, or a request the sentinel
     rejected as bad (400)
  3  unreachable: no sentinel answered (each address is listed with its
     error), or for route get the routing Redis did not`

func newRootCmd(s ioStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "imctl",
		Short:         "Operate an imsentinel fleet",
		Long:          rootLong,
		Version:       buildinfo.Version(),
		Args:          cli.Args(cobra.NoArgs),
		RunE:          helpOnly,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetVersionTemplate(buildinfo.String("imctl") + "\n")
	root.SetFlagErrorFunc(cli.FlagError)

	cluster := &cobra.Command{Use: "cluster", Short: "Show, pause or resume one cluster",
		Args: cli.Args(cobra.NoArgs), RunE: helpOnly}
	cluster.AddCommand(newClusterShowCmd(s), newClusterPauseCmd(s), newClusterResumeCmd(s))

	route := &cobra.Command{Use: "route", Short: "Read routing entries from the routing Redis",
		Args: cli.Args(cobra.NoArgs), RunE: helpOnly}
	route.AddCommand(newRouteGetCmd(s))

	config := &cobra.Command{Use: "config", Short: "Work with daemon config files",
		Args: cli.Args(cobra.NoArgs), RunE: helpOnly}
	config.AddCommand(newConfigCheckCmd(s))

	root.AddCommand(
		newStatusCmd(s),
		cluster,
		newSentinelsCmd(s),
		newFailoverCmd(s),
		newInstanceCmd(s),
		newEventsCmd(s),
		route,
		config,
		newVersionCmd(s),
		newGendocCmd(s),
	)
	return root
}
