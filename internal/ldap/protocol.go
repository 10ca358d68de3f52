package ldap

import (
	"fmt"
	"strings"
)

// LDAP result codes (RFC 4511 appendix A) this door answers with.
const (
	ResultSuccess                      = 0
	ResultOperationsError              = 1
	ResultProtocolError                = 2
	ResultSizeLimitExceeded            = 4
	ResultCompareFalse                 = 5
	ResultCompareTrue                  = 6
	ResultAuthMethodNotSupported       = 7
	ResultStrongerAuthRequired         = 8
	ResultUnavailableCriticalExtension = 12
	ResultNoSuchAttribute              = 16
	ResultUndefinedAttributeType       = 17
	ResultNoSuchObject                 = 32
	ResultInvalidDNSyntax              = 34
	ResultInappropriateAuthentication  = 48
	ResultInvalidCredentials           = 49
	ResultInsufficientAccessRights     = 50
	ResultBusy                         = 51
	ResultUnavailable                  = 52
	ResultUnwillingToPerform           = 53
	ResultOther                        = 80
)

// Protocol operation identifiers ([APPLICATION n], constructed unless noted).
const (
	opBindRequest      = 0x60
	opBindResponse     = 0x61
	opUnbindRequest    = 0x42 // primitive NULL
	opSearchRequest    = 0x63
	opSearchEntry      = 0x64
	opSearchDone       = 0x65
	opModifyRequest    = 0x66
	opModifyResponse   = 0x67
	opAddRequest       = 0x68
	opAddResponse      = 0x69
	opDelRequest       = 0x4a // primitive LDAPDN
	opDelResponse      = 0x6b
	opModDNRequest     = 0x6c
	opModDNResponse    = 0x6d
	opCompareRequest   = 0x6e
	opCompareResponse  = 0x6f
	opAbandonRequest   = 0x50 // primitive MessageID
	opExtendedRequest  = 0x77
	opExtendedResponse = 0x78
)

// OIDs of the extended operations and controls this door knows.
const (
	oidStartTLS       = "1.3.6.1.4.1.1466.20037"
	oidWhoAmI         = "1.3.6.1.4.1.4203.1.11.3"
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidNoticeOfDisc   = "1.3.6.1.4.1.1466.20036"
	oidPagedResults   = "1.2.840.113556.1.4.319"
)

// control is one control of a request.
type control struct {
	oid      string
	critical bool
	value    []byte
	hasValue bool
}

// message is a decoded LDAPMessage envelope.
type message struct {
	id       int64
	op       element
	controls []control
}

const maxMessageID = 1<<31 - 1

// parseMessage decodes the contents of an LDAPMessage SEQUENCE.
func parseMessage(body []byte) (message, error) {
	r := berReader{body}
	idEl, err := r.expect(idInteger)
	if err != nil {
		return message{}, err
	}
	id, err := parseInt(idEl.body)
	if err != nil || id < 0 || id > maxMessageID {
		return message{}, fmt.Errorf("%w: bad message ID", errMalformed)
	}
	m := message{id: id}
	if m.op, err = r.next(); err != nil {
		return m, err
	}
	if r.empty() {
		return m, nil
	}
	ctl, err := r.expect(classContext | constructed | 0)
	if err != nil {
		return m, err
	}
	if !r.empty() {
		return m, fmt.Errorf("%w: data after the controls", errMalformed)
	}
	cr := berReader{ctl.body}
	for !cr.empty() {
		c, err := cr.expect(idSequence)
		if err != nil {
			return m, err
		}
		m.controls = append(m.controls, control{})
		if err := parseControl(c.body, &m.controls[len(m.controls)-1]); err != nil {
			return m, err
		}
		if len(m.controls) > 32 {
			return m, fmt.Errorf("%w: too many controls", errMalformed)
		}
	}
	return m, nil
}

func parseControl(body []byte, c *control) error {
	r := berReader{body}
	oid, err := r.expect(idOctetString)
	if err != nil {
		return err
	}
	c.oid = string(oid.body)
	for !r.empty() {
		e, err := r.next()
		if err != nil {
			return err
		}
		switch {
		case e.id == idBoolean && !c.hasValue:
			if c.critical, err = parseBool(e.body); err != nil {
				return err
			}
		case e.id == idOctetString && !c.hasValue:
			c.value, c.hasValue = e.body, true
		default:
			return fmt.Errorf("%w: bad control", errMalformed)
		}
	}
	return nil
}

// bindRequest is a decoded BindRequest.
type bindRequest struct {
	version  int64
	name     string
	simple   bool // false: SASL
	password string
}

func parseBind(body []byte) (bindRequest, error) {
	r := berReader{body}
	v, err := r.expect(idInteger)
	if err != nil {
		return bindRequest{}, err
	}
	var b bindRequest
	if b.version, err = parseInt(v.body); err != nil {
		return b, err
	}
	name, err := r.expect(idOctetString)
	if err != nil {
		return b, err
	}
	b.name = string(name.body)
	auth, err := r.next()
	if err != nil {
		return b, err
	}
	switch auth.id {
	case classContext | 0: // simple [0] OCTET STRING
		b.simple, b.password = true, string(auth.body)
	case classContext | constructed | 3: // sasl [3]
	default:
		return b, fmt.Errorf("%w: unknown authentication choice", errMalformed)
	}
	if !r.empty() {
		return b, fmt.Errorf("%w: data after the bind request", errMalformed)
	}
	return b, nil
}

// Search scopes.
const (
	ScopeBase        = 0
	ScopeOne         = 1
	ScopeSub         = 2
	ScopeSubordinate = 3 // children and below (draft-sermersheim-ldap-subordinate-scope)
)

// SearchRequest is a decoded SearchRequest.
type SearchRequest struct {
	Base       string
	Scope      int
	SizeLimit  int64
	TypesOnly  bool
	Filter     *Filter
	FilterBER  []byte // the filter's own encoding (forwarded by outposts that search directly)
	Attributes []string
}

func parseSearch(body []byte) (*SearchRequest, error) {
	r := berReader{body}
	base, err := r.expect(idOctetString)
	if err != nil {
		return nil, err
	}
	s := &SearchRequest{Base: string(base.body)}
	scope, err := r.expect(idEnumerated)
	if err != nil {
		return nil, err
	}
	sc, err := parseInt(scope.body)
	if err != nil || sc < 0 || sc > 3 {
		return nil, fmt.Errorf("%w: bad scope", errMalformed)
	}
	s.Scope = int(sc)
	if _, err := r.expect(idEnumerated); err != nil { // derefAliases: there are no aliases
		return nil, err
	}
	size, err := r.expect(idInteger)
	if err != nil {
		return nil, err
	}
	if s.SizeLimit, err = parseInt(size.body); err != nil || s.SizeLimit < 0 {
		return nil, fmt.Errorf("%w: bad size limit", errMalformed)
	}
	if _, err := r.expect(idInteger); err != nil { // timeLimit: searches are in memory
		return nil, err
	}
	typesOnly, err := r.expect(idBoolean)
	if err != nil {
		return nil, err
	}
	if s.TypesOnly, err = parseBool(typesOnly.body); err != nil {
		return nil, err
	}
	before := r.b
	f, err := r.next()
	if err != nil {
		return nil, err
	}
	s.FilterBER = before[:len(before)-len(r.b)]
	if s.Filter, err = ParseFilter(f); err != nil {
		return nil, err
	}
	attrs, err := r.expect(idSequence)
	if err != nil {
		return nil, err
	}
	ar := berReader{attrs.body}
	for !ar.empty() {
		a, err := ar.expect(idOctetString)
		if err != nil {
			return nil, err
		}
		if len(s.Attributes) >= 256 {
			return nil, fmt.Errorf("%w: too many attributes", errMalformed)
		}
		s.Attributes = append(s.Attributes, string(a.body))
	}
	if !r.empty() {
		return nil, fmt.Errorf("%w: data after the search request", errMalformed)
	}
	return s, nil
}

// compareRequest is a decoded CompareRequest.
type compareRequest struct {
	entry, attr, value string
}

func parseCompare(body []byte) (compareRequest, error) {
	r := berReader{body}
	e, ava, err := r.expectPair(idOctetString, idSequence)
	if err != nil {
		return compareRequest{}, err
	}
	ar := berReader{ava.body}
	a, v, err := ar.expectPair(idOctetString, idOctetString)
	if err != nil {
		return compareRequest{}, err
	}
	if !ar.empty() || !r.empty() {
		return compareRequest{}, fmt.Errorf("%w: bad compare request", errMalformed)
	}
	return compareRequest{entry: string(e.body), attr: string(a.body), value: string(v.body)}, nil
}

// extendedRequest is a decoded ExtendedRequest.
type extendedRequest struct {
	name  string
	value []byte
}

func parseExtended(body []byte) (extendedRequest, error) {
	r := berReader{body}
	n, err := r.expect(classContext | 0)
	if err != nil {
		return extendedRequest{}, err
	}
	x := extendedRequest{name: string(n.body)}
	if !r.empty() {
		v, err := r.expect(classContext | 1)
		if err != nil {
			return x, err
		}
		x.value = v.body
	}
	if !r.empty() {
		return x, fmt.Errorf("%w: data after the extended request", errMalformed)
	}
	return x, nil
}

// pagingControl is the value of a paged results control (RFC 2696).
type pagingControl struct {
	size   int64
	cookie string
}

func parsePaging(v []byte) (pagingControl, error) {
	r := berReader{v}
	seq, err := r.expect(idSequence)
	if err != nil || !r.empty() {
		return pagingControl{}, fmt.Errorf("%w: bad paged results control", errMalformed)
	}
	sr := berReader{seq.body}
	size, err := sr.expect(idInteger)
	if err != nil {
		return pagingControl{}, err
	}
	p := pagingControl{}
	if p.size, err = parseInt(size.body); err != nil || p.size < 0 {
		return p, fmt.Errorf("%w: bad page size", errMalformed)
	}
	cookie, err := sr.expect(idOctetString)
	if err != nil || !sr.empty() {
		return p, fmt.Errorf("%w: bad paged results control", errMalformed)
	}
	p.cookie = string(cookie.body)
	return p, nil
}

// --- encoding -----------------------------------------------------------------

// result is what every response carries.
type result struct {
	code      int
	matchedDN string
	message   string
}

// responseWriter encodes responses into one buffer, flushed per request.
type responseWriter struct {
	w berWriter
}

func (rw *responseWriter) reset() { rw.w.b, rw.w.stack = rw.w.b[:0], rw.w.stack[:0] }

func (rw *responseWriter) beginMessage(id int64) {
	rw.w.begin(idSequence)
	rw.w.integer(idInteger, id)
}

func (rw *responseWriter) ldapResult(r result) {
	rw.w.integer(idEnumerated, int64(r.code))
	rw.w.octets(idOctetString, r.matchedDN)
	rw.w.octets(idOctetString, r.message)
}

// simple writes a response that is an LDAPResult alone.
func (rw *responseWriter) simple(id int64, op byte, r result) {
	rw.beginMessage(id)
	rw.w.begin(op)
	rw.ldapResult(r)
	rw.w.end()
	rw.w.end()
}

// extended writes an ExtendedResponse.
func (rw *responseWriter) extended(id int64, r result, name string, value *string) {
	rw.beginMessage(id)
	rw.w.begin(opExtendedResponse)
	rw.ldapResult(r)
	if name != "" {
		rw.w.octets(classContext|10, name)
	}
	if value != nil {
		rw.w.octets(classContext|11, *value)
	}
	rw.w.end()
	rw.w.end()
}

// Attribute is one attribute of an entry.
type Attribute struct {
	Name        string   `json:"name"`
	Values      []string `json:"values"`
	Operational bool     `json:"operational,omitempty"`
}

// entry writes a SearchResultEntry.
func (rw *responseWriter) entry(id int64, dn string, attrs []Attribute, typesOnly bool) {
	rw.beginMessage(id)
	rw.w.begin(opSearchEntry)
	rw.w.octets(idOctetString, dn)
	rw.w.begin(idSequence)
	for _, a := range attrs {
		rw.w.begin(idSequence)
		rw.w.octets(idOctetString, a.Name)
		rw.w.begin(idSet)
		if !typesOnly {
			for _, v := range a.Values {
				rw.w.octets(idOctetString, v)
			}
		}
		rw.w.end()
		rw.w.end()
	}
	rw.w.end()
	rw.w.end()
	rw.w.end()
}

// searchDone writes a SearchResultDone, with a paged results control
// when cookie is not nil.
func (rw *responseWriter) searchDone(id int64, r result, cookie *string) {
	rw.beginMessage(id)
	rw.w.begin(opSearchDone)
	rw.ldapResult(r)
	rw.w.end()
	if cookie != nil {
		rw.w.begin(classContext | constructed | 0)
		rw.w.begin(idSequence)
		rw.w.octets(idOctetString, oidPagedResults)
		rw.w.begin(idOctetString)
		rw.w.begin(idSequence)
		rw.w.integer(idInteger, 0) // size estimate: unknown
		rw.w.octets(idOctetString, *cookie)
		rw.w.end()
		rw.w.end()
		rw.w.end()
		rw.w.end()
	}
	rw.w.end()
}

// noticeOfDisconnection writes the unsolicited notification that the
// server is closing the connection (RFC 4511 section 4.4.1).
func (rw *responseWriter) noticeOfDisconnection(code int, msg string) {
	rw.extended(0, result{code: code, message: msg}, oidNoticeOfDisc, nil)
}

// responseOp is the response identifier of a request, for refusals.
func responseOp(req byte) (byte, bool) {
	switch req {
	case opBindRequest:
		return opBindResponse, true
	case opSearchRequest:
		return opSearchDone, true
	case opModifyRequest:
		return opModifyResponse, true
	case opAddRequest:
		return opAddResponse, true
	case opDelRequest:
		return opDelResponse, true
	case opModDNRequest:
		return opModDNResponse, true
	case opCompareRequest:
		return opCompareResponse, true
	case opExtendedRequest:
		return opExtendedResponse, true
	}
	return 0, false
}

// opName names a request for logs and metrics.
func opName(id byte) string {
	switch id {
	case opBindRequest:
		return "bind"
	case opUnbindRequest:
		return "unbind"
	case opSearchRequest:
		return "search"
	case opModifyRequest:
		return "modify"
	case opAddRequest:
		return "add"
	case opDelRequest:
		return "delete"
	case opModDNRequest:
		return "modrdn"
	case opCompareRequest:
		return "compare"
	case opAbandonRequest:
		return "abandon"
	case opExtendedRequest:
		return "extended"
	}
	return "unknown"
}

// canonicalAttr returns an attribute description as compared: lower
// case, the long names of the few aliased types made short.
func canonicalAttr(a string) string {
	a = strings.ToLower(a)
	switch a {
	case "commonname", "2.5.4.3":
		return "cn"
	case "userid", "0.9.2342.19200300.100.1.1":
		return "uid"
	case "rfc822mailbox", "0.9.2342.19200300.100.1.3":
		return "mail"
	case "surname", "2.5.4.4":
		return "sn"
	case "2.5.4.0":
		return "objectclass"
	case "domaincomponent", "0.9.2342.19200300.100.1.25":
		return "dc"
	case "organizationalunitname", "2.5.4.11":
		return "ou"
	case "organizationname", "2.5.4.10":
		return "o"
	}
	return a
}
