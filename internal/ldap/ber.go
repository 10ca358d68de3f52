package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// The subset of BER (X.690) that LDAP uses (RFC 4511 section 5.1):
// definite lengths only, one-byte identifiers (every LDAP tag is below
// 31). The decoder works on a message already read whole, so a length can
// never make it read past what arrived, and it never recurses on its own:
// nesting is followed by the message and filter parsers, which bound it.

// Identifier bits.
const (
	classApplication = 0x40
	classContext     = 0x80
	constructed      = 0x20
)

// Universal identifiers.
const (
	idBoolean     = 0x01
	idInteger     = 0x02
	idOctetString = 0x04
	idEnumerated  = 0x0a
	idSequence    = 0x30
	idSet         = 0x31
)

var (
	errMalformed = errors.New("malformed BER")
	errTooLarge  = errors.New("message larger than the limit")
)

// element is one decoded TLV: its identifier byte and its contents.
type element struct {
	id   byte
	body []byte
}

// berReader walks the TLVs of a contents octet string in order.
type berReader struct{ b []byte }

func (r *berReader) empty() bool { return len(r.b) == 0 }

// next decodes the next TLV.
func (r *berReader) next() (element, error) {
	if len(r.b) < 2 {
		return element{}, errMalformed
	}
	id := r.b[0]
	if id&0x1f == 0x1f {
		return element{}, fmt.Errorf("%w: multi-byte tag", errMalformed)
	}
	n, hdr, err := decodeLength(r.b[1:])
	if err != nil {
		return element{}, err
	}
	start := 1 + hdr
	if n > len(r.b)-start {
		return element{}, fmt.Errorf("%w: length past the end", errMalformed)
	}
	e := element{id: id, body: r.b[start : start+n]}
	r.b = r.b[start+n:]
	return e, nil
}

// expect decodes the next TLV and checks its identifier.
func (r *berReader) expect(id byte) (element, error) {
	e, err := r.next()
	if err != nil {
		return e, err
	}
	if e.id != id {
		return e, fmt.Errorf("%w: identifier 0x%02x where 0x%02x belongs", errMalformed, e.id, id)
	}
	return e, nil
}

// expectPair decodes the next two TLVs, checking their identifiers (an
// attribute and its value, an entry and its assertion).
func (r *berReader) expectPair(first, second byte) (element, element, error) {
	a, err := r.expect(first)
	if err != nil {
		return a, element{}, err
	}
	b, err := r.expect(second)
	return a, b, err
}

// decodeLength decodes a definite length; it returns the length and how
// many bytes encoded it.
func decodeLength(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, errMalformed
	}
	l := b[0]
	if l < 0x80 {
		return int(l), 1, nil
	}
	k := int(l & 0x7f)
	if k == 0 {
		return 0, 0, fmt.Errorf("%w: indefinite length", errMalformed)
	}
	if k > 4 || len(b) < 1+k {
		return 0, 0, fmt.Errorf("%w: bad length", errMalformed)
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0 || n > 1<<30 {
		return 0, 0, fmt.Errorf("%w: bad length", errMalformed)
	}
	return n, 1 + k, nil
}

// parseInt decodes an INTEGER or ENUMERATED (two's complement, at most 8 bytes).
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("%w: bad integer", errMalformed)
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

func parseBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, fmt.Errorf("%w: bad boolean", errMalformed)
	}
	return b[0] != 0, nil
}

// readMessage reads one LDAPMessage (a SEQUENCE) from r into buf and
// returns its contents. A message whose length exceeds max is refused
// before any of its body is read.
func readMessage(r *bufio.Reader, max int, buf []byte) ([]byte, []byte, error) {
	id, err := r.ReadByte()
	if err != nil {
		return nil, buf, err
	}
	if id != idSequence {
		return nil, buf, fmt.Errorf("%w: a message must be a SEQUENCE, got 0x%02x", errMalformed, id)
	}
	first, err := r.ReadByte()
	if err != nil {
		return nil, buf, unexpectedEOF(err)
	}
	n := int(first)
	if first >= 0x80 {
		k := int(first & 0x7f)
		if k == 0 || k > 4 {
			return nil, buf, fmt.Errorf("%w: bad length", errMalformed)
		}
		n = 0
		for i := 0; i < k; i++ {
			c, err := r.ReadByte()
			if err != nil {
				return nil, buf, unexpectedEOF(err)
			}
			n = n<<8 | int(c)
		}
	}
	if n > max || n < 0 {
		return nil, buf, errTooLarge
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, buf, unexpectedEOF(err)
	}
	return buf, buf, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// berWriter builds BER. begin and end bracket a constructed element: the
// length is filled in (and the contents moved if it takes more than one
// byte) when the element ends.
type berWriter struct {
	b     []byte
	stack []int
}

func (w *berWriter) begin(id byte) {
	w.b = append(w.b, id, 0)
	w.stack = append(w.stack, len(w.b))
}

func (w *berWriter) end() {
	start := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	n := len(w.b) - start
	if n < 0x80 {
		w.b[start-1] = byte(n)
		return
	}
	k := 1
	for x := n >> 8; x > 0; x >>= 8 {
		k++
	}
	w.b = append(w.b, make([]byte, k)...)
	copy(w.b[start+k:], w.b[start:start+n])
	w.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		w.b[start+i] = byte(n)
		n >>= 8
	}
}

func (w *berWriter) header(id byte, n int) {
	w.b = append(w.b, id)
	switch {
	case n < 0x80:
		w.b = append(w.b, byte(n))
	case n < 0x100:
		w.b = append(w.b, 0x81, byte(n))
	case n < 0x10000:
		w.b = append(w.b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		w.b = append(w.b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		w.b = append(w.b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (w *berWriter) octets(id byte, s string) {
	w.header(id, len(s))
	w.b = append(w.b, s...)
}

func (w *berWriter) integer(id byte, v int64) {
	var tmp [8]byte
	n := 8
	for i := 7; i >= 0; i-- {
		tmp[i] = byte(v)
		v >>= 8
	}
	// Drop leading bytes that only repeat the sign.
	i := 0
	for i < n-1 && ((tmp[i] == 0 && tmp[i+1]&0x80 == 0) || (tmp[i] == 0xff && tmp[i+1]&0x80 != 0)) {
		i++
	}
	w.header(id, n-i)
	w.b = append(w.b, tmp[i:]...)
}

func (w *berWriter) boolean(id byte, v bool) {
	if v {
		w.b = append(w.b, id, 1, 0xff)
	} else {
		w.b = append(w.b, id, 1, 0)
	}
}
