package memberlist

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/imsentinel/imsentinel/quorum"
)

// memberlist hands a delegate bare bytes: NotifyMsg and MergeRemoteState
// do not say which node sent them. Every payload therefore travels in an
// envelope naming its sender (and, for direct messages, its destination,
// so a message that reaches a reused address is not taken for ours):
//
//	version(1) kind(1) uvarint(len from) from uvarint(len to) to payload
//
// The sender's name is what it claims: the fleet's label and encryption
// key are what keep strangers out; the envelope only keeps members apart.

const envelopeVersion = 1

// kind says how an envelope travelled.
type kind byte

const (
	kindMessage kind = 1 // Send: SendReliable to one member
	kindState   kind = 2 // LocalState: push/pull exchange, to whoever asks
)

// maxIDLen bounds a member id in an envelope; config ids are far shorter.
const maxIDLen = 255

var errEnvelope = errors.New("malformed envelope")

type envelope struct {
	kind     kind
	from, to quorum.MemberID
	payload  []byte
}

// encode appends e to a fresh buffer.
func (e envelope) encode() []byte {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen16+len(e.from)+len(e.to)+len(e.payload))
	b = append(b, envelopeVersion, byte(e.kind))
	b = binary.AppendUvarint(b, uint64(len(e.from)))
	b = append(b, e.from...)
	b = binary.AppendUvarint(b, uint64(len(e.to)))
	b = append(b, e.to...)
	return append(b, e.payload...)
}

// decodeEnvelope parses b. The payload is copied: memberlist may reuse b
// once the delegate returns.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) < 2 {
		return envelope{}, fmt.Errorf("%w: %d bytes", errEnvelope, len(b))
	}
	if b[0] != envelopeVersion {
		return envelope{}, fmt.Errorf("%w: version %d, want %d", errEnvelope, b[0], envelopeVersion)
	}
	e := envelope{kind: kind(b[1])}
	if e.kind != kindMessage && e.kind != kindState {
		return envelope{}, fmt.Errorf("%w: kind %d", errEnvelope, e.kind)
	}
	rest := b[2:]
	var err error
	var from, to string
	if from, rest, err = readID(rest); err != nil {
		return envelope{}, fmt.Errorf("%w: sender: %w", errEnvelope, err)
	}
	if to, rest, err = readID(rest); err != nil {
		return envelope{}, fmt.Errorf("%w: destination: %w", errEnvelope, err)
	}
	e.from, e.to = quorum.MemberID(from), quorum.MemberID(to)
	e.payload = make([]byte, len(rest))
	copy(e.payload, rest)
	return e, nil
}

func readID(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return "", nil, errors.New("bad length")
	}
	if n > maxIDLen || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("length %d beyond %d bytes left", n, len(b)-k)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
