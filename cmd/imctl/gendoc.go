package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
)

// gendocCommand regenerates docs/cli.md (make docs); hidden.
const gendocCommand = "go run ./cmd/imctl __gendoc docs/cli.md"

func newGendocCmd(s ioStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "__gendoc [FILE]",
		Short:  "Write the CLI reference (docs/cli.md) generated from these commands",
		Hidden: true,
		Args:   cli.Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b bytes.Buffer
			if err := writeCLIReference(&b, cmd.Root()); err != nil {
				return err
			}
			if len(args) == 0 {
				_, err := s.Out.Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(args[0], b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write the CLI reference: %w", err)
			}
			return nil
		},
	}
}

// writeCLIReference writes the Markdown reference of root's commands: the
// root's help, an index, and per command its help, usage, examples and
// flags. It depends on nothing but the command tree, so the output is the
// same wherever it runs.
func writeCLIReference(w io.Writer, root *cobra.Command) error {
	leaves := referenceCommands(root)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s reference\n\n", root.Name())
	fmt.Fprintf(&b, "<!-- Generated from the commands in cmd/imctl by `make docs` (%s).\n", gendocCommand)
	b.WriteString("     Do not edit: TestCLIReference fails when this file is stale. -->\n\n")
	fmt.Fprintf(&b, "%s.\n\n```text\n%s\n```\n\n", root.Short, root.Long)
	b.WriteString("## Commands\n\n| command | what it does |\n|---|---|\n")
	for _, c := range leaves {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", c.CommandPath(), anchor(c.CommandPath()), c.Short)
	}
	for _, c := range leaves {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n", c.CommandPath(), c.Short)
		fmt.Fprintf(&b, "```text\n%s\n```\n\n", c.UseLine())
		if c.Long != "" {
			fmt.Fprintf(&b, "%s\n\n", c.Long)
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "Examples:\n\n```sh\n%s\n```\n\n", c.Example)
		}
		if flags := flagUsages(c); flags != "" {
			fmt.Fprintf(&b, "Flags:\n\n```text\n%s```\n", flags)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// referenceCommands are the commands that do something, depth first in
// name order: not the groups, not hidden ones, not cobra's help and
// completion.
func referenceCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		if sub.HasSubCommands() {
			out = append(out, referenceCommands(sub)...)
			continue
		}
		out = append(out, sub)
	}
	return out
}

// flagUsages is a command's own flags, without --help, which cobra adds
// only to the command it runs.
func flagUsages(c *cobra.Command) string {
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			fs.AddFlag(f)
		}
	})
	return fs.FlagUsages()
}

// anchor is the heading anchor GitHub makes of a heading.
func anchor(heading string) string {
	return strings.ReplaceAll(strings.ToLower(heading), " ", "-")
}
