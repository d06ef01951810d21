package mysqlnode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// readFixture reads one of the prober's captured fixtures
// (probe/mysqlprobe/testdata/README.md says how each was made); a JSON null
// (SQL NULL) leaves the column out, as mysqlprobe.ReadRows on a server does.
func readFixture(t *testing.T, name string) []row {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "probe", "mysqlprobe", "testdata", name))
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
