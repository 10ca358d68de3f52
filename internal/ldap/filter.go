package ldap

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// Search filters (RFC 4511 section 4.5.1.7): decoded from BER with their
// nesting and size bounded, and evaluated with LDAP's three-valued logic
// over the directory's entries.

// Filter limits: a filter nested deeper or holding more items than this
// is refused (protocolError), before any evaluation.
const (
	MaxFilterDepth = 64
	MaxFilterItems = 4096
)

type filterKind uint8

const (
	filterAnd filterKind = iota
	filterOr
	filterNot
	filterEqual
	filterSubstrings
	filterGreaterOrEqual
	filterLessOrEqual
	filterPresent
	filterApprox
	filterExtensible
)

// Filter is a decoded search filter.
type Filter struct {
	kind     filterKind
	children []*Filter // and, or; not has one
	attr     string    // canonical attribute description
	rawAttr  string    // as the client wrote it, for String
	value    string    // equality, ordering, approx; extensible match value
	initial  string    // substrings
	any      []string
	final    string
	hasInit  bool
	hasFinal bool
}

// tri is a filter's outcome: TRUE, FALSE or Undefined.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// ParseFilter decodes a filter element.
func ParseFilter(e element) (*Filter, error) {
	items := 0
	return parseFilter(e, 1, &items)
}

// ParseFilterBER decodes a filter from its own encoding.
func ParseFilterBER(b []byte) (*Filter, error) {
	r := berReader{b}
	e, err := r.next()
	if err != nil {
		return nil, err
	}
	if !r.empty() {
		return nil, fmt.Errorf("%w: data after the filter", errMalformed)
	}
	return ParseFilter(e)
}

var assertionKinds = map[byte]filterKind{3: filterEqual, 5: filterGreaterOrEqual, 6: filterLessOrEqual, 8: filterApprox}

var errFilterTooDeep = fmt.Errorf("%w: filter nested deeper than %d", errMalformed, MaxFilterDepth)

func parseFilter(e element, depth int, items *int) (*Filter, error) {
	if depth > MaxFilterDepth {
		return nil, errFilterTooDeep
	}
	*items++
	if *items > MaxFilterItems {
		return nil, fmt.Errorf("%w: filter with more than %d items", errMalformed, MaxFilterItems)
	}
	switch e.id {
	case classContext | constructed | 0, classContext | constructed | 1:
		f := &Filter{kind: filterAnd}
		if e.id&0x1f == 1 {
			f.kind = filterOr
		}
		r := berReader{e.body}
		for !r.empty() {
			c, err := r.next()
			if err != nil {
				return nil, err
			}
			cf, err := parseFilter(c, depth+1, items)
			if err != nil {
				return nil, err
			}
			f.children = append(f.children, cf)
		}
		return f, nil
	case classContext | constructed | 2:
		r := berReader{e.body}
		c, err := r.next()
		if err != nil {
			return nil, err
		}
		if !r.empty() {
			return nil, fmt.Errorf("%w: not holds one filter", errMalformed)
		}
		cf, err := parseFilter(c, depth+1, items)
		if err != nil {
			return nil, err
		}
		return &Filter{kind: filterNot, children: []*Filter{cf}}, nil
	case classContext | constructed | 3, classContext | constructed | 5, classContext | constructed | 6, classContext | constructed | 8:
		r := berReader{e.body}
		a, v, err := r.expectPair(idOctetString, idOctetString)
		if err != nil {
			return nil, err
		}
		if !r.empty() {
			return nil, fmt.Errorf("%w: bad attribute value assertion", errMalformed)
		}
		return &Filter{kind: assertionKinds[e.id&0x1f], attr: canonicalAttr(string(a.body)), rawAttr: string(a.body), value: string(v.body)}, nil
	case classContext | constructed | 4:
		r := berReader{e.body}
		a, subs, err := r.expectPair(idOctetString, idSequence)
		if err != nil {
			return nil, err
		}
		if !r.empty() {
			return nil, fmt.Errorf("%w: bad substrings filter", errMalformed)
		}
		f := &Filter{kind: filterSubstrings, attr: canonicalAttr(string(a.body)), rawAttr: string(a.body)}
		sr := berReader{subs.body}
		n := 0
		for !sr.empty() {
			s, err := sr.next()
			if err != nil {
				return nil, err
			}
			if f.hasFinal {
				return nil, fmt.Errorf("%w: final must be the last substring", errMalformed)
			}
			switch s.id {
			case classContext | 0:
				if n > 0 {
					return nil, fmt.Errorf("%w: initial must be the first substring", errMalformed)
				}
				f.initial, f.hasInit = string(s.body), true
			case classContext | 1:
				f.any = append(f.any, string(s.body))
			case classContext | 2:
				f.final, f.hasFinal = string(s.body), true
			default:
				return nil, fmt.Errorf("%w: bad substring", errMalformed)
			}
			n++
			*items++
			if *items > MaxFilterItems {
				return nil, fmt.Errorf("%w: filter with more than %d items", errMalformed, MaxFilterItems)
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: substrings filter without substrings", errMalformed)
		}
		return f, nil
	case classContext | 7:
		return &Filter{kind: filterPresent, attr: canonicalAttr(string(e.body)), rawAttr: string(e.body)}, nil
	case classContext | constructed | 9:
		// Extensible matching is not supported: it evaluates to Undefined.
		f := &Filter{kind: filterExtensible}
		r := berReader{e.body}
		for !r.empty() {
			c, err := r.next()
			if err != nil {
				return nil, err
			}
			switch c.id {
			case classContext | 1:
			case classContext | 2:
				f.attr, f.rawAttr = canonicalAttr(string(c.body)), string(c.body)
			case classContext | 3:
				f.value = string(c.body)
			case classContext | 4:
			default:
				return nil, fmt.Errorf("%w: bad extensible match", errMalformed)
			}
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w: unknown filter choice 0x%02x", errMalformed, e.id)
}

// String is the filter in RFC 4515 text form (for logs and tests).
func (f *Filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *Filter) write(b *strings.Builder) {
	b.WriteByte('(')
	switch f.kind {
	case filterAnd, filterOr, filterNot:
		b.WriteByte("&|!"[f.kind])
		for _, c := range f.children {
			c.write(b)
		}
	case filterEqual, filterGreaterOrEqual, filterLessOrEqual, filterApprox:
		b.WriteString(f.rawAttr)
		b.WriteString(map[filterKind]string{filterEqual: "=", filterGreaterOrEqual: ">=", filterLessOrEqual: "<=", filterApprox: "~="}[f.kind])
		b.WriteString(escapeFilterValue(f.value))
	case filterPresent:
		b.WriteString(f.rawAttr)
		b.WriteString("=*")
	case filterSubstrings:
		b.WriteString(f.rawAttr)
		b.WriteByte('=')
		b.WriteString(escapeFilterValue(f.initial))
		b.WriteByte('*')
		for _, a := range f.any {
			b.WriteString(escapeFilterValue(a))
			b.WriteByte('*')
		}
		b.WriteString(escapeFilterValue(f.final))
	case filterExtensible:
		b.WriteString(f.rawAttr)
		b.WriteString(":=")
		b.WriteString(escapeFilterValue(f.value))
	}
	b.WriteByte(')')
}

func escapeFilterValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, `\%02x`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// target is what a filter is evaluated against: an entry.
type target interface {
	// values returns an attribute's values and whether the directory
	// knows the attribute type at all (an unknown type makes an
	// assertion Undefined; a known one absent from the entry, FALSE).
	values(attr string) ([]string, bool)
}

// Attributes whose values are DNs (compared as DNs) and times (ordered).
var (
	dnAttributes   = map[string]bool{"member": true, "memberof": true, "entrydn": true, "namingcontexts": true}
	timeAttributes = map[string]bool{"createtimestamp": true}
)

// evalChildren evaluates an AND (decisive false, otherwise true) or an OR
// (decisive true, otherwise false): a child that is decisive decides; else
// a child that is undefined makes the whole undefined (RFC 4511 4.5.1.7).
func (f *Filter) evalChildren(t target, decisive, otherwise tri) tri {
	out := otherwise
	for _, c := range f.children {
		switch c.eval(t) {
		case decisive:
			return decisive
		case triUndefined:
			out = triUndefined
		}
	}
	return out
}

// eval evaluates f against t.
func (f *Filter) eval(t target) tri {
	switch f.kind {
	case filterAnd:
		return f.evalChildren(t, triFalse, triTrue)
	case filterOr:
		return f.evalChildren(t, triTrue, triFalse)
	case filterNot:
		switch f.children[0].eval(t) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case filterPresent:
		vals, _ := t.values(f.attr)
		return boolTri(len(vals) > 0)
	case filterEqual, filterApprox:
		vals, known := t.values(f.attr)
		if !known {
			return triUndefined
		}
		return matchEqual(f.attr, vals, f.value)
	case filterSubstrings:
		vals, known := t.values(f.attr)
		if !known {
			return triUndefined
		}
		for _, v := range vals {
			if f.matchSubstrings(dn.Fold(v)) {
				return triTrue
			}
		}
		return triFalse
	case filterGreaterOrEqual, filterLessOrEqual:
		vals, known := t.values(f.attr)
		if !known || !timeAttributes[f.attr] {
			return triUndefined // only times have an ordering here
		}
		want, err := parseGeneralizedTime(f.value)
		if err != nil {
			return triUndefined
		}
		for _, v := range vals {
			got, err := parseGeneralizedTime(v)
			if err != nil {
				continue
			}
			if (f.kind == filterGreaterOrEqual && !got.Before(want)) || (f.kind == filterLessOrEqual && !got.After(want)) {
				return triTrue
			}
		}
		return triFalse
	}
	return triUndefined
}

func boolTri(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// matchEqual compares an assertion with an attribute's values by the
// attribute's equality rule: DNs as DNs, everything else ignoring case
// and insignificant spaces.
func matchEqual(attr string, vals []string, assertion string) tri {
	if dnAttributes[attr] {
		want, err := dn.Parse(assertion)
		if err != nil {
			return triUndefined
		}
		key := want.Key()
		for _, v := range vals {
			if got, err := dn.Parse(v); err == nil && got.Key() == key {
				return triTrue
			}
		}
		return triFalse
	}
	want := dn.Fold(assertion)
	for _, v := range vals {
		if dn.Fold(v) == want {
			return triTrue
		}
	}
	return triFalse
}

func (f *Filter) matchSubstrings(v string) bool {
	if f.hasInit {
		p := dn.Fold(f.initial)
		if !strings.HasPrefix(v, p) {
			return false
		}
		v = v[len(p):]
	}
	var suffix string
	if f.hasFinal {
		suffix = dn.Fold(f.final)
		if len(suffix) > len(v) {
			return false
		}
	}
	rest := v
	if f.hasFinal {
		rest = v[:len(v)-len(suffix)]
	}
	for _, a := range f.any {
		a = dn.Fold(a)
		i := strings.Index(rest, a)
		if i < 0 {
			return false
		}
		rest = rest[i+len(a):]
	}
	return !f.hasFinal || strings.HasSuffix(v, suffix)
}

// Generalized time as the directory writes it: YYYYMMDDHHMMSSZ.
const generalizedTime = "20060102150405Z"

func formatGeneralizedTime(t time.Time) string { return t.UTC().Format(generalizedTime) }

func parseGeneralizedTime(s string) (time.Time, error) {
	for _, layout := range []string{generalizedTime, "20060102150405.999999999Z", "200601021504Z", "2006010215Z",
		"20060102150405-0700", "20060102150405.999999999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a generalized time: %q", s)
}
