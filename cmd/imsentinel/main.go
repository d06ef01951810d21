// Command imsentinel is the failover supervisor daemon. Run one on each host
// of the fleet:
//
//	imsentinel --config /etc/imsentinel/imsentinel.yaml
//	imsentinel check-config --config FILE   # validate offline, exit 0 or 2
//	imsentinel --print-config               # effective config, secrets redacted
//
// Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 failed while running or
// could not start (state locked, port busy), 2 bad config or usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

func main() {
	// Signals are caught before anything else, so a SIGTERM that arrives
	// while the config loads still ends the process cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "imsentinel:", err)
	if cli.IsUsage(err) {
		return exitConfig
	}
	return exitFailed
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	var configPath string
	var printConfig bool
	root := &cobra.Command{
		Use:           "imsentinel",
		Short:         "Failover supervisor for Redis and MySQL/MariaDB clusters",
		Version:       buildinfo.Version(),
		Args:          cli.Args(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd, configPath)
			if err != nil {
				return err
			}
			if printConfig {
				return printYAML(stdout, cfg)
			}
			return serve(cmd.Context(), cfg, stderr)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(buildinfo.String("imsentinel") + "\n")
	root.SetFlagErrorFunc(cli.FlagError)
	root.PersistentFlags().StringVar(&configPath, "config", defaultConfigPath(),
		"config file (env IMSENTINEL_CONFIG)")
	root.Flags().BoolVar(&printConfig, "print-config", false,
		"print the effective config (secrets redacted) and exit")
	config.BindFlags(root.Flags())

	check := &cobra.Command{
		Use:   "check-config",
		Short: "Validate the config offline; exit 0 when valid, 2 with every problem listed",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd, configPath)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: valid (%d clusters, fleet %s of %d members)\n",
				configPath, len(cfg.Clusters), cfg.Fleet.Name, len(cfg.Fleet.Members))
			return nil
		},
	}
	config.BindFlags(check.Flags())
	root.AddCommand(check)
	return root
}

func defaultConfigPath() string {
	if p := os.Getenv("IMSENTINEL_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

func load(cmd *cobra.Command, path string) (config.Config, error) {
	cfg, err := config.Load(config.Source{Path: path, Flags: cmd.Flags()})
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		return cfg, cli.UsageError{Err: err}
	}
	return cfg, nil
}

func printYAML(w io.Writer, cfg config.Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil { // Secret fields print as <redacted>
		return fmt.Errorf("print config: %w", err)
	}
	return enc.Close()
}

func serve(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	logger := newLogger(cfg.Log, stderr)
	// The drivers log on their own: probe failures are reported through
	// observations, so go-redis is silenced and go-sql-driver goes to debug.
	redis.SetLogger(&logging.VoidLogger{})
	_ = mysql.SetLogger(slog.NewLogLogger(logger.Handler(), slog.LevelDebug))

	d, err := sentinel.New(cfg, sentinel.Options{Logger: logger})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
