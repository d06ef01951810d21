package redisnode

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// clientList is CLIENT LIST TYPE normal from redis-server 7.0.15 with three
// admin names set (other lines as the server printed them).
const clientList = `id=3 addr=127.0.0.1:53206 laddr=127.0.0.1:17001 fd=8 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 events=r cmd=client|list user=default redir=-1 resp=2
id=7 addr=127.0.0.1:53234 laddr=127.0.0.1:17001 fd=9 name=imsentinel-admin:prod:s1 age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 events=r cmd=client|list user=default redir=-1 resp=2
id=8 addr=127.0.0.1:53240 laddr=127.0.0.1:17001 fd=10 name=imsentinel-admin:prod:s2 age=4 idle=4 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=role user=default redir=-1 resp=2
id=9 addr=[::1]:53241 laddr=[::1]:17001 fd=11 name=imsentinel-admin:prod-eu:s2 age=4 idle=4 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=role user=default redir=-1 resp=2
`

func TestParseClientList(t *testing.T) {
	got, err := parseClientList(clientList)
	if err != nil {
		t.Fatalf("parseClientList: %v", err)
	}
	want := []client{
		{ID: 3, Addr: "127.0.0.1:53206"},
		{ID: 7, Name: "imsentinel-admin:prod:s1", Addr: "127.0.0.1:53234"},
		{ID: 8, Name: "imsentinel-admin:prod:s2", Addr: "127.0.0.1:53240"},
		{ID: 9, Name: "imsentinel-admin:prod-eu:s2", Addr: "[::1]:53241"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseClientList (-want +got):\n%s", diff)
	}

	for _, s := range []string{"", "\n", "\r\n\r\n"} {
		if got, err := parseClientList(s); err != nil || len(got) != 0 {
			t.Errorf("parseClientList(%q) = %v, %v; want nothing, no error", s, got, err)
		}
	}
	// CRLF line ends (redis-cli prints them as they come) parse the same.
	crlf, err := parseClientList(strings.ReplaceAll(clientList, "\n", "\r\n"))
	if err != nil || !cmp.Equal(want, crlf) {
		t.Errorf("parseClientList with CRLF = %v, %v; want %v", crlf, err, want)
	}
}

func TestParseClientListRejects(t *testing.T) {
	for _, in := range []string{
		"addr=127.0.0.1:1 name=x\n",      // no id
		"id=x addr=127.0.0.1:1 name=x\n", // id not a number
		"id= name=x\n",
	} {
		if got, err := parseClientList(in); err == nil {
			t.Errorf("parseClientList(%q) = %v, want an error", in, got)
		}
	}
}

// DESIGN.md §5.6: a new holder kills the other sentinels' admin sessions,
// never its own, and never anything that is not an admin session of its
// fleet.
func TestOtherAdmins(t *testing.T) {
	clients := []client{
		{ID: 1, Name: ""},                                    // unnamed application client
		{ID: 2, Name: "imsentinel-admin:prod:s1"},            // ours (another connection of ours)
		{ID: 3, Name: "imsentinel-admin:prod:s2"},            // another sentinel of prod
		{ID: 4, Name: "imsentinel-admin:prod-eu:s2"},         // another fleet
		{ID: 5, Name: "imsentinel-admin:prod_x:s3"},          // fleet "prod:x", sanitized
		{ID: 6, Name: "imsentinel-probe:prod:s2"},            // not an admin connection
		{ID: 7, Name: "imsentinel-admin:prod:s3"},            // our own id, whatever its name
		{ID: 8, Name: "imsentinel-admin:prod:s1-old"},        // another sentinel id with ours as prefix
		{ID: 9, Name: "xx-imsentinel-admin:prod:s2"},         // prefix not at the start
		{ID: 10, Name: "imsentinel-admin:prod:"},             // empty sentinel id: another sentinel
		{ID: 11, Name: "imsentinel-admin:prodx:s2"},          // fleet with ours as prefix
		{ID: 12, Name: "IMSENTINEL-ADMIN:prod:s2"},           // names are case-sensitive
		{ID: 13, Name: "imsentinel-admin:prod:s2:with:more"}, // sentinel id with colons
	}
	var got []int64
	for _, cl := range otherAdmins(clients, 7, "prod", "s1") {
		got = append(got, cl.ID)
	}
	want := []int64{3, 8, 10, 13}
	if !cmp.Equal(want, got) {
		t.Errorf("otherAdmins(self 7, prod, s1) killed ids %v, want %v", got, want)
	}
	// Fleet "prod:x" is its own fleet: it does not reach prod's sessions.
	got = got[:0]
	for _, cl := range otherAdmins(clients, 0, "prod:x", "s1") {
		got = append(got, cl.ID)
	}
	if want := []int64{5}; !cmp.Equal(want, got) {
		t.Errorf("otherAdmins(prod:x, s1) killed ids %v, want %v", got, want)
	}
}

func TestAdminName(t *testing.T) {
	tests := []struct{ fleet, sentinel, want string }{
		{"prod", "s1", "imsentinel-admin:prod:s1"},
		{"prod eu", "s 1", "imsentinel-admin:prod_eu:s_1"},
		{"prod\neu", "s1\r\n", "imsentinel-admin:prod_eu:s1__"},
		{"a:b", "s1", "imsentinel-admin:a_b:s1"},    // a fleet never spans the prefix of another
		{"a", "b:s1", "imsentinel-admin:a:b:s1"},    // the sentinel id keeps its colons
		{"prød", "s1", "imsentinel-admin:pr__d:s1"}, // non-ASCII bytes are refused by Redis
		{"", "", "imsentinel-admin::"},
		{"tab\there", "del\x7f", "imsentinel-admin:tab_here:del_"},
		{`q"'!~`, "s", `imsentinel-admin:q"'!~:s`}, // printable ASCII is kept
	}
	for _, tt := range tests {
		if got := AdminName(tt.fleet, tt.sentinel); got != tt.want {
			t.Errorf("AdminName(%q, %q) = %q, want %q", tt.fleet, tt.sentinel, got, tt.want)
		}
	}
}
