package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
)

// versionAnswer is version's -o json.
type versionAnswer struct {
	Program string `json:"program"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

func newVersionCmd(s ioStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version and commit",
		Example: `  imctl version -o json`,
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return runVersion(s.Out, output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func runVersion(w io.Writer, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	if output == outputJSON {
		return writeJSON(w, versionAnswer{Program: "imctl", Version: buildinfo.Version(),
			Commit: buildinfo.Commit(), Go: runtime.Version()})
	}
	_, err := fmt.Fprintln(w, buildinfo.String("imctl"))
	return err
}
