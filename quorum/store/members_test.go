package store

import (
	"slices"
	"testing"
)

func TestMembersRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SentinelID: "s1", FleetName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Members(); err != nil || found {
		t.Fatalf("Members on a fresh store: found=%v err=%v", found, err)
	}
	if err := s.SaveMembers([]string{"s3", "s1", "s2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMembers([]string{"a,b"}); err == nil {
		t.Errorf("an id with a comma was saved")
	}
	s.Close()
	s, err = Open(dir, Options{SentinelID: "s1", FleetName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, found, err := s.Members()
	if err != nil || !found || !slices.Equal(ids, []string{"s1", "s2", "s3"}) {
		t.Errorf("Members after reopen = %v %v %v, want [s1 s2 s3]", ids, found, err)
	}
}
