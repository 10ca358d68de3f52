package api

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/core"
)

// GET /me is what automation calls in a loop, so its answer is written
// without reflection: byte for byte what writeJSON (encoding/json) writes
// for the same value, which TestMeJSONMatchesEncodingJSON holds it to.

// Header values shared by every answer (what Set would make anew each
// time), cut to their length so that an append elsewhere copies them.
var (
	jsonContentType = []string{"application/json"}[:1:1]
	noStore         = []string{"no-store"}[:1:1]
)

var meBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeMe answers m with status 200, as writeJSON would.
func writeMe(w http.ResponseWriter, m core.Me) {
	bp := meBuffers.Get().(*[]byte)
	b, ok := appendMe((*bp)[:0], m)
	if !ok { // a time encoding/json refuses: let it decide what to write
		meBuffers.Put(bp)
		writeJSON(w, http.StatusOK, m)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		meBuffers.Put(bp)
	}
}

// appendMe appends m as encoding/json encodes it, with the encoder's
// newline; false if a time is out of the range JSON times may hold.
func appendMe(b []byte, m core.Me) ([]byte, bool) {
	b = append(b, `{"uid":`...)
	b = appendJSONString(b, m.UID)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, m.Username)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, m.Type)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, m.Name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, m.Email)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, m.Description)
	b = append(b, `,"is_active":`...)
	b = appendBool(b, m.IsActive)
	b = append(b, `,"managed":`...)
	b = appendBool(b, m.Managed)
	b = append(b, `,"has_password":`...)
	b = appendBool(b, m.HasPassword)
	b = append(b, `,"groups":`...)
	b = appendStrings(b, m.Groups)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, m.Roles)
	b = append(b, `,"created_at":`...)
	b, ok := appendTime(b, m.CreatedAt)
	if !ok {
		return b, false
	}
	b = append(b, `,"last_login_at":`...)
	if m.LastLoginAt == nil {
		b = append(b, "null"...)
	} else if b, ok = appendTime(b, *m.LastLoginAt); !ok {
		return b, false
	}
	b = append(b, `,"permissions":`...)
	b = appendStrings(b, m.Permissions)
	return append(b, "}\n"...), true
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendTime is time.Time's MarshalJSON, appended.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, false
	}
	return append(b, '"'), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes it: HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
