package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration, named by its key path
// (clusters[1].quorum). Key is empty for the file as a whole.
type Problem struct {
	Key string
	Msg string
}

func (p Problem) Error() string {
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Problems is every problem found in a configuration. Load returns it as
// its error, so a person fixes them all in one go.
type Problems []Problem

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return "invalid config: " + ps[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid config: %d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// problems collects Problems while validating.
type problems struct{ list Problems }

func (ps *problems) add(key, format string, args ...any) {
	ps.list = append(ps.list, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}
