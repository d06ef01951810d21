package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/imsentinel/imsentinel/quorum"
)

// Version is the wire version this sentinel speaks. A decoder refuses every
// other version (ErrVersion): a fleet upgrades its wire version only with a
// release that speaks both.
const Version = 1

// MaxSize is the largest encoded envelope, in bytes. Larger payloads are
// refused (ErrTooLarge) before parsing.
const MaxSize = 64 << 10

// magic starts every encoded envelope; the version byte follows it.
const magic = "IMS"

// maxKind is the longest message kind, in bytes.
const maxKind = 32

// Errors of the codec. Each is wrapped with what exactly was wrong.
var (
	// ErrTooLarge: the payload is larger than MaxSize.
	ErrTooLarge = errors.New("message too large")
	// ErrMagic: the payload does not start with the envelope magic; it is
	// not an imsentinel message.
	ErrMagic = errors.New("not an imsentinel message")
	// ErrVersion: the payload is of a wire version this sentinel does not
	// speak.
	ErrVersion = errors.New("unsupported wire version")
	// ErrMalformed: the payload is not a well-formed envelope (bad JSON, a
	// missing fleet, member list, sender or kind, a bad kind, unsorted
	// members).
	ErrMalformed = errors.New("malformed message")
	// ErrFingerprint: the fingerprint does not match the fleet name and
	// member ids the envelope carries.
	ErrFingerprint = errors.New("voter set fingerprint mismatch")
)

// Envelope is one fleet message.
type Envelope struct {
	// Version is the wire version; Encode sets it, Decode reports it.
	Version uint8
	// Fleet is fleet.name of the sender.
	Fleet string
	// Members are the sender's voter ids, sorted, each once.
	Members []quorum.MemberID
	// Fingerprint is quorum.FingerprintOf(Fleet, Members). Encode fills it
	// in when empty; Decode checks it.
	Fingerprint quorum.Fingerprint
	// From is the sender.
	From quorum.MemberID
	// Kind is the message kind, ^[a-z][a-z0-9.-]{0,31}$, defined by the
	// agreement layer.
	Kind string
	// ID is the request id; 0 for one-way messages.
	ID uint64
	// ReplyTo is the ID of the request this answers; 0 when not a reply.
	ReplyTo uint64
	// Err is a refusal's reason, on replies only.
	Err string
	// Body is kind-specific JSON, possibly empty. Decode returns it compact
	// (no insignificant white space), nil when empty or null.
	Body json.RawMessage
}

// IsRequest says whether e asks for a reply.
func (e Envelope) IsRequest() bool { return e.ID != 0 && e.ReplyTo == 0 }

// IsReply says whether e answers a request.
func (e Envelope) IsReply() bool { return e.ReplyTo != 0 }

// IsOneWay says whether e is neither a request nor a reply.
func (e Envelope) IsOneWay() bool { return e.ID == 0 && e.ReplyTo == 0 }

// onWire is the JSON form of an Envelope. The version travels in the prefix.
type onWire struct {
	Fleet       string             `json:"fleet"`
	Members     []quorum.MemberID  `json:"members"`
	Fingerprint quorum.Fingerprint `json:"fp"`
	From        quorum.MemberID    `json:"from"`
	Kind        string             `json:"kind"`
	ID          uint64             `json:"id,omitempty"`
	ReplyTo     uint64             `json:"re,omitempty"`
	Err         string             `json:"err,omitempty"`
	Body        json.RawMessage    `json:"body,omitempty"`
}

// Encode checks e and encodes it: the magic, the version byte, then JSON.
// It fills in Fingerprint when empty and refuses what Decode would refuse.
func Encode(e Envelope) ([]byte, error) {
	if e.Fingerprint == "" {
		e.Fingerprint = quorum.FingerprintOf(e.Fleet, e.Members)
	}
	body, err := normalizeBody(e.Body)
	if err != nil {
		return nil, fmt.Errorf("encode %s from %s: %w", e.Kind, e.From, err)
	}
	e.Body = body
	if err := check(e); err != nil {
		return nil, fmt.Errorf("encode %s from %s: %w", e.Kind, e.From, err)
	}
	var buf bytes.Buffer
	buf.WriteString(magic)
	buf.WriteByte(Version)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(onWire{
		Fleet: e.Fleet, Members: e.Members, Fingerprint: e.Fingerprint, From: e.From,
		Kind: e.Kind, ID: e.ID, ReplyTo: e.ReplyTo, Err: e.Err, Body: e.Body,
	}); err != nil {
		return nil, fmt.Errorf("encode %s from %s: %w: %v", e.Kind, e.From, ErrMalformed, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxSize {
		return nil, fmt.Errorf("encode %s from %s: %w: %d bytes, the limit is %d",
			e.Kind, e.From, ErrTooLarge, len(b), MaxSize)
	}
	return b, nil
}

// Decode parses and checks one encoded envelope. Its errors wrap
// ErrTooLarge, ErrMagic, ErrVersion, ErrMalformed or ErrFingerprint. It
// never panics.
func Decode(b []byte) (Envelope, error) {
	if len(b) > MaxSize {
		return Envelope{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(b), MaxSize)
	}
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return Envelope{}, fmt.Errorf("%w: starts with %q", ErrMagic, b[:min(len(b), len(magic)+1)])
	}
	if v := b[len(magic)]; v != Version {
		return Envelope{}, fmt.Errorf("%w %d: this sentinel speaks %d", ErrVersion, v, Version)
	}
	var w onWire
	if err := json.Unmarshal(b[len(magic)+1:], &w); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body, err := normalizeBody(w.Body)
	if err != nil {
		return Envelope{}, err
	}
	e := Envelope{
		Version: Version, Fleet: w.Fleet, Members: w.Members, Fingerprint: w.Fingerprint, From: w.From,
		Kind: w.Kind, ID: w.ID, ReplyTo: w.ReplyTo, Err: w.Err, Body: body,
	}
	if err := check(e); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// check refuses what is not a well-formed envelope, then a fingerprint
// that does not match.
func check(e Envelope) error {
	if e.Fleet == "" {
		return fmt.Errorf("%w: no fleet name", ErrMalformed)
	}
	if len(e.Members) == 0 {
		return fmt.Errorf("%w: fleet %q: no members", ErrMalformed, e.Fleet)
	}
	for i, id := range e.Members {
		if id == "" {
			return fmt.Errorf("%w: fleet %q: member %d has no id", ErrMalformed, e.Fleet, i)
		}
		if i > 0 && e.Members[i-1] >= id {
			return fmt.Errorf("%w: fleet %q: members not sorted and unique at %q, %q",
				ErrMalformed, e.Fleet, e.Members[i-1], id)
		}
	}
	if e.From == "" {
		return fmt.Errorf("%w: fleet %q: no sender", ErrMalformed, e.Fleet)
	}
	if err := CheckKind(e.Kind); err != nil {
		return fmt.Errorf("%w: from %s: %v", ErrMalformed, e.From, err)
	}
	if e.Err != "" && e.ReplyTo == 0 {
		return fmt.Errorf("%w: %s from %s: a refusal reason on a message that is not a reply",
			ErrMalformed, e.Kind, e.From)
	}
	for _, s := range append([]string{e.Fleet, string(e.From), e.Err, string(e.Fingerprint)}, idStrings(e.Members)...) {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: %s from %s: a string is not valid UTF-8", ErrMalformed, e.Kind, e.From)
		}
	}
	if want := quorum.FingerprintOf(e.Fleet, e.Members); e.Fingerprint != want {
		return fmt.Errorf("%w: %s from %s carries %q, fleet %q with members %v is %q",
			ErrFingerprint, e.Kind, e.From, e.Fingerprint, e.Fleet, e.Members, want)
	}
	return nil
}

func idStrings(ids []quorum.MemberID) []string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return s
}

// CheckKind says whether kind is a valid message kind:
// ^[a-z][a-z0-9.-]{0,31}$.
func CheckKind(kind string) error {
	if kind == "" {
		return errors.New("no message kind")
	}
	if len(kind) > maxKind {
		return fmt.Errorf("message kind %.40q is longer than %d bytes", kind, maxKind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("message kind %q: want ^[a-z][a-z0-9.-]{0,31}$", kind)
		}
	}
	return nil
}

// normalizeBody returns body compact, nil when empty or JSON null, and
// refuses a body that is not JSON.
func normalizeBody(body json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return nil, fmt.Errorf("%w: body is not JSON: %v", ErrMalformed, err)
	}
	if buf.String() == "null" {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// String is a short form for logs: kind, sender and ids.
func (e Envelope) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s from %s", e.Kind, e.From)
	if e.ID != 0 {
		fmt.Fprintf(&sb, " id %d", e.ID)
	}
	if e.ReplyTo != 0 {
		fmt.Fprintf(&sb, " re %d", e.ReplyTo)
	}
	if e.Err != "" {
		fmt.Fprintf(&sb, " refused: %s", e.Err)
	}
	return sb.String()
}
