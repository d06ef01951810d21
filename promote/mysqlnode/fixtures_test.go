package mysqlnode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// readFixture reads a fixture's rows (testdata/README.md); a JSON null (SQL
// NULL) leaves the column out, as readRows on a server does.
func readFixture(t *testing.T, name string) []row {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Rows []map[string]*string `json:"rows"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var rows []row
	for _, in := range f.Rows {
		r := make(row)
		for k, v := range in {
			if v != nil {
				r[k] = *v
			}
		}
		rows = append(rows, r)
	}
	return rows
}
