package mysqlsql

import (
	"encoding/json"
	"log/slog"
	"strings"
)

// redacted stands for a secret in Stmt.String.
const redacted = "'<redacted>'"

// Stmt is one statement for one server, with what it is for. Values are
// literals inside the text (no placeholders; doc.go says why), so SQL is
// exactly what the server runs.
//
// A Stmt may hold a secret (the replication password of CHANGE MASTER TO):
// SQL returns it, for the connection only; String, LogValue and MarshalJSON
// show the statement with the secret replaced by '<redacted>', so a Stmt can
// be logged, printed in a dry run or sent to imctl as it is.
type Stmt struct {
	sql   string
	shown string
	// Why says what the statement is for, for a log line or a dry run.
	Why string
}

// stmt is a statement without secrets.
func stmt(sql, why string) Stmt { return Stmt{sql: sql, shown: sql, Why: why} }

// SQL is the text to send to the server. It may contain a password: never
// log it (log the Stmt itself).
func (s Stmt) SQL() string { return s.sql }

// String is the statement with any secret replaced by '<redacted>'.
func (s Stmt) String() string { return s.shown }

// Secret reports whether SQL holds a secret that String hides.
func (s Stmt) Secret() bool { return s.sql != s.shown }

// LogValue logs the redacted statement and why it is sent.
func (s Stmt) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sql", s.shown), slog.String("why", s.Why))
}

// MarshalJSON encodes {"sql": <redacted statement>, "why": ...}.
func (s Stmt) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		SQL string `json:"sql"`
		Why string `json:"why"`
	}{s.shown, s.Why})
}

// Script prints statements one per line, each ended by ";" and followed by
// its purpose as an SQL comment: how a dry run shows them. Secrets are
// redacted.
func Script(stmts []Stmt) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(s.shown)
		b.WriteString(";")
		if s.Why != "" {
			b.WriteString("  -- ")
			b.WriteString(s.Why)
		}
		b.WriteString("\n")
	}
	return b.String()
}
