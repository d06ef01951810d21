package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imsentinel/imsentinel/quorum"
)

func validEnvelope() Envelope {
	members := []quorum.MemberID{"s1", "s2", "s3"}
	return Envelope{
		Fleet:       "im-prod",
		Members:     members,
		Fingerprint: quorum.FingerprintOf("im-prod", members),
		From:        "s2",
		Kind:        "vote.request",
		ID:          42,
		Body:        json.RawMessage(`{"cluster":"msg-shard-01","epoch":7}`),
	}
}

func TestRoundTrip(t *testing.T) {
	reply := validEnvelope()
	reply.ID, reply.ReplyTo, reply.Err, reply.Body = 0, 42, "incompatible voter set", nil
	oneWay := validEnvelope()
	oneWay.ID, oneWay.Kind, oneWay.Body = 0, "opinion", json.RawMessage(`[1, 2,  "<&>"]`)
	noFP := validEnvelope()
	noFP.Fingerprint = ""
	for name, in := range map[string]Envelope{"request": validEnvelope(), "reply": reply, "one-way": oneWay, "no fingerprint": noFP} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(in)
			if err != nil {
				t.Fatalf("Encode(%+v): %v", in, err)
			}
			if !bytes.HasPrefix(b, []byte{'I', 'M', 'S', Version}) {
				t.Errorf("Encode(%+v) = %q, want the prefix IMS\\x01", in, b)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%q): %v", b, err)
			}
			want := in
			want.Version = Version
			want.Fingerprint = quorum.FingerprintOf(in.Fleet, in.Members)
			if len(in.Body) > 0 {
				var buf bytes.Buffer
				_ = json.Compact(&buf, in.Body)
				want.Body = buf.Bytes()
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Decode(Encode(%+v)) differs (-want +got):\n%s", in, diff)
			}
		})
	}
}

func TestEncodeKeepsBodyReadable(t *testing.T) {
	e := validEnvelope()
	e.Body = json.RawMessage(` { "reason" : "a < b & c" } `)
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"body":{"reason":"a < b & c"}`)) {
		t.Errorf("Encode = %s, want the body compact and not HTML-escaped", b)
	}
	for _, null := range []string{"", "  ", "null"} {
		e.Body = json.RawMessage(null)
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode with body %q: %v", null, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Body != nil {
			t.Errorf("body %q decodes to %q, want nil", null, got.Body)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	enc := func(mod func(*onWire)) []byte {
		e := validEnvelope()
		w := onWire{Fleet: e.Fleet, Members: e.Members, Fingerprint: e.Fingerprint, From: e.From,
			Kind: e.Kind, ID: e.ID, ReplyTo: e.ReplyTo, Err: e.Err, Body: e.Body}
		mod(&w)
		j, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{'I', 'M', 'S', Version}, j...)
	}
	valid := enc(func(*onWire) {})
	for _, c := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"too large", append(bytes.Clone(valid), bytes.Repeat([]byte(" "), MaxSize)...), ErrTooLarge, "bytes, the limit is 65536"},
		{"empty", nil, ErrMagic, `starts with ""`},
		{"short", []byte("IM"), ErrMagic, `starts with "IM"`},
		{"other magic", append([]byte("XYZ\x01"), valid[4:]...), ErrMagic, `starts with "XYZ\x01"`},
		{"plain JSON", valid[4:], ErrMagic, "not an imsentinel message"},
		{"other version", append([]byte("IMS\x07"), valid[4:]...), ErrVersion, "unsupported wire version 7: this sentinel speaks 1"},
		{"version 0", append([]byte("IMS\x00"), valid[4:]...), ErrVersion, "wire version 0"},
		{"no JSON", []byte("IMS\x01"), ErrMalformed, "unexpected end of JSON input"},
		{"bad JSON", append(bytes.Clone(valid[:len(valid)-1]), ','), ErrMalformed, "malformed message"},
		{"trailing data", append(bytes.Clone(valid), []byte("{}")...), ErrMalformed, "malformed message"},
		{"JSON array", []byte("IMS\x01[]"), ErrMalformed, "cannot unmarshal array"},
		{"valid, empty object body", enc(func(w *onWire) { w.Body = json.RawMessage(`{}`) }), nil, ""},
		{"no fleet", enc(func(w *onWire) { w.Fleet = "" }), ErrMalformed, "no fleet name"},
		{"no members", enc(func(w *onWire) { w.Members = nil }), ErrMalformed, "no members"},
		{"empty member", enc(func(w *onWire) { w.Members = []quorum.MemberID{"", "s1"} }), ErrMalformed, "member 0 has no id"},
		{"unsorted members", enc(func(w *onWire) { w.Members = []quorum.MemberID{"s2", "s1"} }), ErrMalformed, `members not sorted and unique at "s2", "s1"`},
		{"duplicate member", enc(func(w *onWire) { w.Members = []quorum.MemberID{"s1", "s1"} }), ErrMalformed, "not sorted and unique"},
		{"no sender", enc(func(w *onWire) { w.From = "" }), ErrMalformed, "no sender"},
		{"no kind", enc(func(w *onWire) { w.Kind = "" }), ErrMalformed, "no message kind"},
		{"upper-case kind", enc(func(w *onWire) { w.Kind = "Vote" }), ErrMalformed, `message kind "Vote"`},
		{"kind starts with a digit", enc(func(w *onWire) { w.Kind = "1vote" }), ErrMalformed, `message kind "1vote"`},
		{"kind with a space", enc(func(w *onWire) { w.Kind = "vote request" }), ErrMalformed, "want ^[a-z]"},
		{"long kind", enc(func(w *onWire) { w.Kind = strings.Repeat("k", 33) }), ErrMalformed, "longer than 32 bytes"},
		{"refusal on a request", enc(func(w *onWire) { w.Err = "no" }), ErrMalformed, "not a reply"},
		{"fingerprint of another set", enc(func(w *onWire) { w.Fingerprint = quorum.FingerprintOf("im-prod", []quorum.MemberID{"s1", "s2"}) }), ErrFingerprint, "fleet \"im-prod\" with members [s1 s2 s3] is"},
		{"fingerprint of another fleet", enc(func(w *onWire) { w.Fleet = "im-test" }), ErrFingerprint, "voter set fingerprint mismatch"},
		{"no fingerprint", enc(func(w *onWire) { w.Fingerprint = "" }), ErrFingerprint, `carries ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if c.want == nil {
				if err != nil {
					t.Errorf("Decode(%.80q): %v, want no error", c.in, err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Decode(%.80q) = %+v, %v; want an error wrapping %q containing %q", c.in, got, err, c.want, c.msg)
			}
		})
	}
}

func TestDecodeRefusesBadIDs(t *testing.T) {
	for _, s := range []string{`"id":-1`, `"id":1.5`, `"id":"1"`, `"re":18446744073709551616`} {
		j := `{"fleet":"f","members":["a"],"fp":"` + string(quorum.FingerprintOf("f", []quorum.MemberID{"a"})) +
			`","from":"a","kind":"k",` + s + `}`
		if _, err := Decode(append([]byte("IMS\x01"), j...)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%s) = %v, want ErrMalformed", j, err)
		}
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	// Fields may be added within a wire version; older sentinels skip them.
	j := `{"fleet":"f","members":["a"],"fp":"` + string(quorum.FingerprintOf("f", []quorum.MemberID{"a"})) +
		`","from":"a","kind":"k","added.later":{"x":1}}`
	if _, err := Decode(append([]byte("IMS\x01"), j...)); err != nil {
		t.Errorf("Decode(%s): %v, want unknown fields ignored", j, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	big := validEnvelope()
	big.Body = json.RawMessage(`"` + strings.Repeat("x", MaxSize) + `"`)
	for _, c := range []struct {
		name string
		mod  func(*Envelope)
		want error
		msg  string
	}{
		{"too large", func(e *Envelope) { *e = big }, ErrTooLarge, "the limit is 65536"},
		{"no fleet", func(e *Envelope) { e.Fleet = "" }, ErrMalformed, "no fleet name"},
		{"unsorted members", func(e *Envelope) {
			e.Members = []quorum.MemberID{"s3", "s1", "s2"}
			e.Fingerprint = ""
		}, ErrMalformed, "not sorted"},
		{"no sender", func(e *Envelope) { e.From = "" }, ErrMalformed, "no sender"},
		{"bad kind", func(e *Envelope) { e.Kind = "Vote!" }, ErrMalformed, `message kind "Vote!"`},
		{"body not JSON", func(e *Envelope) { e.Body = json.RawMessage(`{cluster`) }, ErrMalformed, "body is not JSON"},
		{"refusal on a request", func(e *Envelope) { e.Err = "no" }, ErrMalformed, "not a reply"},
		{"invalid UTF-8", func(e *Envelope) {
			e.From = "s\xff"
		}, ErrMalformed, "not valid UTF-8"},
		{"wrong fingerprint", func(e *Envelope) { e.Fingerprint = "0123456789abcdef" }, ErrFingerprint, `carries "0123456789abcdef"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := validEnvelope()
			c.mod(&e)
			b, err := Encode(e)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Encode(%.200v) = %.40q, %v; want an error wrapping %q containing %q", e, b, err, c.want, c.msg)
			}
		})
	}
}

func TestCheckKind(t *testing.T) {
	for kind, ok := range map[string]bool{
		"a": true, "vote.request": true, "lease-renew.v2": true, strings.Repeat("k", 32): true,
		"": false, "A": false, ".vote": false, "-vote": false, "9": false, "vote_request": false,
		"vote/request": false, strings.Repeat("k", 33): false, "vöte": false,
	} {
		if err := CheckKind(kind); (err == nil) != ok {
			t.Errorf("CheckKind(%q) = %v, want ok=%v", kind, err, ok)
		}
	}
}
