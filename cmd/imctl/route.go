package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Routing Redis defaults: the daemon's (routing.* in DefaultConfig).
const (
	defaultRouting        = "127.0.0.1:6379"
	defaultRoutingTimeout = 2 * time.Second
)

type routeOptions struct {
	Name         string
	Addr         string // routing Redis host:port
	Prefix       string
	DB           int
	Username     string
	Password     string
	PasswordFile string
	ConfigFile   string // a daemon config whose routing section is used
	Fleet        string // from ConfigFile; informational
	Timeout      time.Duration
	Output       string
	Out          io.Writer
}

func newRouteGetCmd(s ioStreams) *cobra.Command {
	o := &routeOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Read a cluster's routing entry from the routing Redis, as a gateway does",
		Long: `Read the cluster's routing entry directly from the routing Redis (the hash
imsentinel:route:NAME with the default prefix): the primary gateways send
writes to, its epoch, the replicas, which fleet and sentinel wrote it and
when (docs/gateway.md).

Where the routing Redis is, in order: --routing and the other --routing-*
flags; the routing section of a daemon config given with --config; the
environment (IMCTL_ROUTING, IMCTL_ROUTING_PREFIX, IMCTL_ROUTING_USERNAME,
IMCTL_ROUTING_PASSWORD); the daemon's defaults (127.0.0.1:6379, prefix
"imsentinel:").

-o json prints the entry with the hash's field names plus cluster.`,
		Example: `  imctl route get sessions-01 --routing 10.0.0.9:6379
  imctl route get sessions-01 --config /etc/imsentinel/imsentinel.yaml -o json`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.resolve(cmd.Flags().Changed, s.Getenv); err != nil {
				return err
			}
			return runRouteGet(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "routing", defaultRouting, "routing Redis host:port (env IMCTL_ROUTING)")
	f.StringVar(&o.Prefix, "routing-prefix", route.DefaultPrefix, "key prefix (env IMCTL_ROUTING_PREFIX)")
	f.IntVar(&o.DB, "routing-db", 0, "Redis database number")
	f.StringVar(&o.PasswordFile, "routing-password-file", "", "file holding the routing Redis password (or env IMCTL_ROUTING_PASSWORD)")
	f.StringVar(&o.ConfigFile, "config", "", "a daemon config file: use its routing section")
	f.DurationVar(&o.Timeout, "timeout", defaultRoutingTimeout, "bound on dialing and each call to the routing Redis")
	addOutputFlag(cmd, &o.Output)
	return cmd
}

// resolve settles where the routing Redis is: flags given, then the
// --config file's routing section, then the environment, then defaults.
func (o *routeOptions) resolve(changed func(flag string) bool, getenv func(string) string) error {
	set := func(flag string, dst *string, val string) {
		if !changed(flag) && val != "" {
			*dst = val
		}
	}
	set("routing", &o.Addr, getenv("IMCTL_ROUTING"))
	set("routing-prefix", &o.Prefix, getenv("IMCTL_ROUTING_PREFIX"))
	o.Username = getenv("IMCTL_ROUTING_USERNAME")
	if !changed("routing-password-file") {
		o.Password = getenv("IMCTL_ROUTING_PASSWORD")
	}
	if o.ConfigFile != "" {
		c, err := config.Load(config.Source{Path: o.ConfigFile})
		if err != nil {
			var ps config.Problems
			if errors.As(err, &ps) {
				return fmt.Errorf("--config %s: %w", o.ConfigFile, err)
			}
			return cli.UsageError{Err: fmt.Errorf("--config: %w", err)}
		}
		r := c.Routing
		set("routing", &o.Addr, r.Address)
		set("routing-prefix", &o.Prefix, r.Prefix)
		if !changed("routing-db") {
			o.DB = r.DB
		}
		o.Username = cmp.Or(r.Username, o.Username)
		if !changed("routing-password-file") && r.Password.IsSet() {
			o.Password = r.Password.Reveal()
		}
		if !changed("timeout") && r.Timeout > 0 {
			o.Timeout = r.Timeout
		}
		o.Fleet = c.Fleet.Name
	}
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return cli.UsageError{Err: fmt.Errorf("--routing-password-file: %w", err)}
		}
		o.Password = strings.TrimRight(string(b), "\r\n")
	}
	return nil
}

func runRouteGet(ctx context.Context, o *routeOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return cli.UsageError{Err: fmt.Errorf("--routing %q: want host:port", o.Addr)}
	}
	if o.Timeout <= 0 {
		return cli.UsageError{Err: fmt.Errorf("--timeout %v: must be positive", o.Timeout)}
	}
	// The Writer is only read with: fleet and sentinel name who would write.
	w, err := route.New(route.Options{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB,
		Prefix: o.Prefix, Timeout: o.Timeout, Fleet: cmp.Or(o.Fleet, "imctl"), Sentinel: "imctl"})
	if err != nil {
		return cli.UsageError{Err: err}
	}
	defer w.Close()
	e, found, err := w.Read(ctx, o.Name)
	switch {
	case err != nil && !found:
		var op *net.OpError
		if errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) {
			return &routingUnreachableError{Addr: o.Addr, Err: err}
		}
		return err
	case !found:
		return fmt.Errorf("no route for %s in routing redis %s (key %s): the fleet writes it once a config is committed; "+
			"check the cluster name (`imctl status`) and the prefix (--routing-prefix, routing.prefix)", o.Name, o.Addr, w.Key(o.Name))
	}
	if o.Output == outputJSON {
		if werr := writeJSON(o.Out, e); werr != nil {
			return werr
		}
		return err // a malformed field, after what parsed
	}
	tw := newTable(o.Out)
	fmt.Fprintf(tw, "cluster\t%s\n", e.Cluster)
	fmt.Fprintf(tw, "primary\t%s\n", orDash(e.Primary))
	fmt.Fprintf(tw, "epoch\t%d\n", e.Epoch)
	fmt.Fprintf(tw, "kind\t%s\n", orDash(e.Kind))
	fmt.Fprintf(tw, "replicas\t%s\n", list(e.Replicas))
	fmt.Fprintf(tw, "fleet\t%s\n", orDash(e.Fleet))
	fmt.Fprintf(tw, "updated_at\t%s\n", showTime(e.UpdatedAt))
	fmt.Fprintf(tw, "updated_by\t%s\n", orDash(e.UpdatedBy))
	fmt.Fprintf(tw, "key\t%s on %s\n", w.Key(o.Name), o.Addr)
	if ferr := tw.Flush(); ferr != nil {
		return ferr
	}
	return err
}

// routingUnreachableError: the routing Redis did not answer (exit 3).
type routingUnreachableError struct {
	Addr string
	Err  error
}

func (e *routingUnreachableError) Error() string {
	return fmt.Sprintf("routing redis %s not reachable: %v; check --routing, IMCTL_ROUTING or the config's routing.address", e.Addr, e.Err)
}

func (e *routingUnreachableError) Unwrap() error { return e.Err }
