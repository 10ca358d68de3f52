// Package dn parses, prints and compares LDAP distinguished names
// (RFC 4514). The core validates LDAP providers' base DNs with it; the
// LDAP front door parses bind names and search bases with it.
//
// Parsing is as lenient as common servers: spaces around separators and
// after '=' are skipped, ';' separates RDNs like ',', and attribute types
// are case-insensitive, with their long names and OIDs mapped to the
// short names (commonName and 2.5.4.3 are cn). Values compare
// case-insensitively with insignificant spaces ignored, which is what the
// matching rules of every attribute the gatehouse directory names with
// (cn, ou, dc, o, uid) say.
package dn

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLength bounds the text of a DN accepted by Parse.
const MaxLength = 4096

// AVA is one attribute type and value of an RDN.
type AVA struct {
	Type  string // lower-case short name (cn, uid, dc...) or numeric OID
	Value string // unescaped
}

// RDN is a relative distinguished name: one or more AVAs joined by '+'.
type RDN []AVA

// DN is a distinguished name, leaf first: cn=alice,ou=users,dc=example
// is [cn=alice] [ou=users] [dc=example]. The empty DN names the root.
type DN []RDN

// typeNames maps long names and OIDs of common attribute types (RFC 4519)
// to the short names DNs are compared and printed with.
var typeNames = map[string]string{
	"commonname": "cn", "2.5.4.3": "cn",
	"userid": "uid", "0.9.2342.19200300.100.1.1": "uid",
	"domaincomponent": "dc", "0.9.2342.19200300.100.1.25": "dc",
	"organizationalunitname": "ou", "2.5.4.11": "ou",
	"organizationname": "o", "2.5.4.10": "o",
	"countryname": "c", "2.5.4.6": "c",
	"localityname": "l", "2.5.4.7": "l",
	"stateorprovincename": "st", "2.5.4.8": "st",
	"streetaddress": "street", "2.5.4.9": "street",
	"surname": "sn", "2.5.4.4": "sn",
}

// NormalizeType returns the canonical name of an attribute type.
func NormalizeType(t string) string {
	t = strings.ToLower(t)
	if n, ok := typeNames[t]; ok {
		return n
	}
	return t
}

// Parse parses the text form of a DN.
func Parse(s string) (DN, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("a DN may be at most %d bytes", MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("a DN must be UTF-8")
	}
	p := parser{s: s}
	p.spaces()
	if p.done() {
		return DN{}, nil
	}
	var out DN
	rdn := RDN{}
	for {
		ava, err := p.ava()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, ava)
		p.spaces()
		if p.done() {
			out = append(out, rdn)
			return out, nil
		}
		switch c := p.s[p.i]; c {
		case '+':
			p.i++
		case ',', ';':
			p.i++
			out = append(out, rdn)
			rdn = RDN{}
		default:
			return nil, fmt.Errorf("unexpected %q at position %d", c, p.i)
		}
		p.spaces()
		if p.done() {
			return nil, errors.New("a DN must not end with a separator")
		}
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) spaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ava parses "type=value".
func (p *parser) ava() (AVA, error) {
	start := p.i
	for p.i < len(p.s) && (isAlpha(p.s[p.i]) || isDigit(p.s[p.i]) || p.s[p.i] == '-' || p.s[p.i] == '.') {
		p.i++
	}
	typ := p.s[start:p.i]
	if !validType(typ) {
		return AVA{}, fmt.Errorf("bad attribute type %q at position %d", truncate(typ), start)
	}
	p.spaces()
	if p.done() || p.s[p.i] != '=' {
		return AVA{}, fmt.Errorf("expected '=' after %q", truncate(typ))
	}
	p.i++
	p.spaces()
	v, err := p.value()
	if err != nil {
		return AVA{}, err
	}
	return AVA{Type: NormalizeType(typ), Value: v}, nil
}

// validType: a descr (letter, then letters, digits, '-') or a numeric OID.
func validType(t string) bool {
	if t == "" {
		return false
	}
	if isAlpha(t[0]) {
		for i := 1; i < len(t); i++ {
			if !isAlpha(t[i]) && !isDigit(t[i]) && t[i] != '-' {
				return false
			}
		}
		return true
	}
	for _, part := range strings.Split(t, ".") {
		if part == "" || (len(part) > 1 && part[0] == '0') {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isDigit(part[i]) {
				return false
			}
		}
	}
	return strings.Contains(t, ".")
}

// value parses an attribute value up to the next unescaped separator.
func (p *parser) value() (string, error) {
	if !p.done() && p.s[p.i] == '#' {
		return p.hexValue()
	}
	var b []byte
	lastSignificant := 0 // length of b up to the last escaped or non-space byte
	// Escapes may spell any byte: the value is checked whichever way it ends.
	end := func() (string, error) {
		v := string(b[:lastSignificant])
		if !utf8.ValidString(v) {
			return "", errors.New("an escaped DN value must be UTF-8")
		}
		return v, nil
	}
	for !p.done() {
		c := p.s[p.i]
		switch c {
		case ',', ';', '+':
			return end()
		case '"', '<', '>', 0:
			return "", fmt.Errorf("%q at position %d must be escaped with '\\'", c, p.i)
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("a DN must not end with '\\'")
			}
			n := p.s[p.i+1]
			if isHex(n) {
				if p.i+2 >= len(p.s) || !isHex(p.s[p.i+2]) {
					return "", fmt.Errorf("bad escape at position %d", p.i)
				}
				x, _ := hex.DecodeString(p.s[p.i+1 : p.i+3])
				b = append(b, x[0])
				p.i += 3
			} else if strings.IndexByte(`"+,;<>\= #`, n) >= 0 {
				b = append(b, n)
				p.i += 2
			} else {
				return "", fmt.Errorf("bad escape at position %d", p.i)
			}
			lastSignificant = len(b)
		default:
			b = append(b, c)
			p.i++
			if c != ' ' {
				lastSignificant = len(b)
			}
		}
	}
	return end()
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// hexValue parses "#" followed by the hex of a BER-encoded value; only
// string types (UTF8String, PrintableString, IA5String, TeletexString)
// of a short length are accepted, which covers what clients send.
func (p *parser) hexValue() (string, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) && isHex(p.s[p.i]) {
		p.i++
	}
	raw, err := hex.DecodeString(p.s[start+1 : p.i])
	if err != nil || len(raw) < 2 {
		return "", fmt.Errorf("bad hex value at position %d", start)
	}
	switch raw[0] {
	case 0x0c, 0x13, 0x14, 0x16:
	default:
		return "", fmt.Errorf("unsupported hex value at position %d: only strings", start)
	}
	if int(raw[1]) >= 0x80 || int(raw[1]) != len(raw)-2 || !utf8.Valid(raw[2:]) {
		return "", fmt.Errorf("bad hex value at position %d", start)
	}
	return string(raw[2:]), nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// EscapeValue escapes an attribute value for the text form of a DN
// (RFC 4514 section 2.4).
func EscapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`"+,;<>\`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// String prints the DN with lower-case types and escaped values, values
// as they were given.
func (d DN) String() string {
	return d.join(func(b *strings.Builder, rdn RDN) {
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(a.Type)
			b.WriteByte('=')
			b.WriteString(EscapeValue(a.Value))
		}
	})
}

// Key is the comparison form of the DN: two DNs name the same entry when
// their keys are equal.
func (d DN) Key() string {
	return d.join(func(b *strings.Builder, rdn RDN) { b.WriteString(rdnKey(rdn)) })
}

// join writes the RDNs, leaf first, separated by commas, each as write
// writes it.
func (d DN) join(write func(b *strings.Builder, rdn RDN)) string {
	var b strings.Builder
	for i, rdn := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		write(&b, rdn)
	}
	return b.String()
}

func rdnKey(rdn RDN) string {
	parts := make([]string, len(rdn))
	for i, a := range rdn {
		parts[i] = a.Type + "=" + EscapeValue(Fold(a.Value))
	}
	if len(parts) > 1 {
		slices.Sort(parts)
	}
	return strings.Join(parts, "+")
}

// Fold is the case-insensitive form of a value: lower case, leading and
// trailing spaces removed, inner runs of spaces made one (RFC 4518's
// insignificant space handling, simplified).
func Fold(s string) string {
	if isFolded(s) {
		return s
	}
	f := strings.Join(strings.Fields(s), " ")
	return strings.ToLower(f)
}

// isFolded is Fold's fast path: plain lower-case ASCII without extra spaces.
func isFolded(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 0x80, c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
			return false
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

// Equal reports whether d and o name the same entry.
func (d DN) Equal(o DN) bool {
	if len(d) != len(o) {
		return false
	}
	for i := range d {
		if rdnKey(d[i]) != rdnKey(o[i]) {
			return false
		}
	}
	return true
}

// Under reports whether d is base or below it.
func (d DN) Under(base DN) bool {
	return len(d) >= len(base) && d[len(d)-len(base):].Equal(base)
}

// Child returns the DN of the entry named typ=value below d.
func (d DN) Child(typ, value string) DN {
	out := make(DN, 0, len(d)+1)
	out = append(out, RDN{{Type: typ, Value: value}})
	return append(out, d...)
}

// Single returns the type and value of a one-AVA RDN.
func (r RDN) Single() (typ, value string, ok bool) {
	if len(r) != 1 {
		return "", "", false
	}
	return r[0].Type, r[0].Value, true
}
