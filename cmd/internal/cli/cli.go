// Package cli holds what both binaries' command lines share: telling
// usage errors (bad flags, arguments or config: exit 2) from failures
// (exit 1). It decides nothing else.
package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/sentinel/config"
)

// UsageError marks an error caused by the command line or the config.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Args makes a positional-argument check's failure a usage error.
func Args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return UsageError{Err: err}
		}
		return nil
	}
}

// FlagError makes a flag-parsing failure a usage error (for
// cobra.Command.SetFlagErrorFunc).
func FlagError(_ *cobra.Command, err error) error { return UsageError{Err: err} }

// IsUsage says whether err is a usage error or an invalid config.
func IsUsage(err error) bool {
	var ps config.Problems
	var ue UsageError
	return errors.As(err, &ps) || errors.As(err, &ue)
}
