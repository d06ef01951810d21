package probe

import "testing"

func TestMapAddress(t *testing.T) {
	m := map[string]string{
		"10.0.0.7:6379": "db7.example:16379",
		"10.0.0.8":      "db8.example",
		"10.0.0.9":      "proxy.example:7000",
		"fd00::1":       "fd00::101",
	}
	cases := []struct {
		m        map[string]string
		reported string
		want     string
	}{
		{m, "10.0.0.7:6379", "db7.example:16379"},
		{m, "10.0.0.7:6380", "10.0.0.7:6380"}, // only that port is mapped
		{m, "10.0.0.8:3306", "db8.example:3306"},
		{m, "10.0.0.9:3306", "proxy.example:7000"},
		{m, "[fd00::1]:6379", "[fd00::101]:6379"},
		{m, "10.0.0.1:6379", "10.0.0.1:6379"},
		{m, "not an address", "not an address"},
		{nil, "10.0.0.7:6379", "10.0.0.7:6379"},
		{m, "", ""},
	}
	for _, c := range cases {
		if got := MapAddress(c.m, c.reported); got != c.want {
			t.Errorf("MapAddress(%v, %q) = %q, want %q", c.m, c.reported, got, c.want)
		}
	}
}
