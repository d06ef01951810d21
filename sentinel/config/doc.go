// Package config loads and validates imsentinel's configuration.
//
// One YAML file (DESIGN.md §7), overridden by IMSENTINEL_* environment
// variables and then by command-line flags: flag > env > file > default.
// DefaultConfig is complete: every key has its default here, with its unit.
// Load refuses a bad configuration with every problem listed by key path
// (Problems); it never clamps or guesses silently. Secrets are of type Secret,
// which prints as "<redacted>" everywhere (logs, JSON, YAML, --print-config)
// and is read only through Reveal.
//
// It is shared by the daemon (cmd/imsentinel) and the CLI (imctl config
// check). It does no network I/O; it reads the config file and the *_file
// secrets, nothing else. The daemon never rewrites the config file.
package config
