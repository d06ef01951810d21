package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/quorum"
)

// FuzzDecode: Decode never panics, refuses with one of its errors, and what
// it accepts re-encodes to a payload that decodes to the same value.
func FuzzDecode(f *testing.F) {
	valid := func(mod func(*Envelope)) []byte {
		e := validEnvelope()
		mod(&e)
		b, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	seeds := [][]byte{
		valid(func(*Envelope) {}),
		valid(func(e *Envelope) { e.ID, e.ReplyTo, e.Err, e.Body = 0, 9, "incompatible voter sets: fleet \"x\"", nil }),
		valid(func(e *Envelope) {
			e.ID, e.Kind, e.Body = 0, "state", json.RawMessage(`{"epochs":{"a":1,"b":[true,null,1e3]}}`)
		}),
		valid(func(e *Envelope) {
			e.Members = []quorum.MemberID{"z", "ä"}
			e.Fingerprint, e.From = "", "ä"
		}),
		nil,
		[]byte("IMS"),
		[]byte("IMS\x01"),
		[]byte("IMS\x02{}"),
		[]byte("IMS\x01{}"),
		[]byte("IMS\x01null"),
		[]byte(`IMS` + "\x01" + `{"fleet":"f","members":["b","a"],"fp":"","from":"a","kind":"k"}`),
		[]byte(`IMS` + "\x01" + `{"fleet":"f","members":["a"],"fp":"x","from":"a","kind":"k","id":1,"re":2,"err":"e","body":  {  } }`),
		[]byte(`IMS` + "\x01" + `{"fleet":"f\xff","members":["a"],"from":"a","kind":"k","body":"\u2028<"}`),
		[]byte(`{"fleet":"f"}`),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			for _, known := range []error{ErrTooLarge, ErrMagic, ErrVersion, ErrMalformed, ErrFingerprint} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Decode(%q) = %v, which wraps none of the package's errors", b, err)
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("Decode(%q) accepted %+v, which Encode refuses: %v", b, e, err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %v (payload %q)", e, err, again)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip changed the envelope:\nfirst  %#v\nsecond %#v", e, e2)
		}
	})
}

// FuzzEncode reaches the accepting path FuzzDecode rarely finds (it cannot
// forge a fingerprint): whatever Encode accepts decodes to the same value,
// normalized (version set, fingerprint filled in, body compact).
func FuzzEncode(f *testing.F) {
	f.Add("im-prod", "s1,s2,s3", "s2", "vote.request", uint64(42), uint64(0), "", []byte(`{"epoch":7}`))
	f.Add("im-prod", "s1,s2,s3", "s1", "vote.request", uint64(0), uint64(42), "busy", []byte(nil))
	f.Add("f\u2028<>", "a,b\x00,ä", "ä", "state", uint64(0), uint64(0), "", []byte(` [ "\u2028", 1e9 ] `))
	f.Add("f", "b,a", "a", "Kind", uint64(1), uint64(0), "x", []byte(`{`))
	f.Fuzz(func(t *testing.T, fleet, members, from, kind string, id, re uint64, reason string, body []byte) {
		var ids []quorum.MemberID
		for _, m := range strings.Split(members, ",") {
			ids = append(ids, quorum.MemberID(m))
		}
		in := Envelope{Fleet: fleet, Members: ids, From: quorum.MemberID(from), Kind: kind,
			ID: id, ReplyTo: re, Err: reason, Body: body}
		b, err := Encode(in)
		if err != nil {
			return
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Encode(%#v) = %q, which Decode refuses: %v", in, b, err)
		}
		want := in
		want.Version = Version
		want.Fingerprint = quorum.FingerprintOf(fleet, ids)
		want.Body, _ = normalizeBody(body)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("round trip changed the envelope:\nwant %#v\ngot  %#v", want, got)
		}
	})
}
