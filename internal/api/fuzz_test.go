package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// "go test"; "go test -run '^$' -fuzz '^FuzzX$' ./internal/api" explores
// further. FuzzAPIWrites, in fuzz_handler_test.go, drives the same bodies
// through the real handlers.

// FuzzParseBasic holds the API door's Basic parsing to net/http's
// Request.BasicAuth, which clients and the standard library agree on: the
// same answer for every header value, and an accepted pair is exactly the
// decoded credentials split at their first colon, so the username never
// holds a colon, and no byte (control characters included) that the
// client did not send.
func FuzzParseBasic(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		user, pass, ok := parseBasic(v)
		r := &http.Request{Header: http.Header{"Authorization": {v}}}
		wu, wp, wok := r.BasicAuth()
		if user != wu || pass != wp || ok != wok {
			t.Fatalf("parseBasic(%q) = %q, %q, %v; net/http says %q, %q, %v", v, user, pass, ok, wu, wp, wok)
		}
		if !ok {
			if user != "" || pass != "" {
				t.Fatalf("parseBasic(%q) refused it but returned %q, %q", v, user, pass)
			}
			return
		}
		if !strings.EqualFold(v[:6], "basic ") {
			t.Fatalf("parseBasic(%q) accepted another scheme", v)
		}
		sent, err := base64.StdEncoding.DecodeString(v[6:])
		if err != nil || string(sent) != user+":"+pass || strings.Contains(user, ":") {
			t.Fatalf("parseBasic(%q) = %q, %q; the client sent %q (%v)", v, user, pass, sent, err)
		}
	})
}

// inputNames lists inputTypes (every request body of the API, kept
// complete by TestOpenAPIRequestSchemasMatchInputs) in a fixed order, so
// that a corpus entry always means the same resource.
var inputNames = func() []string {
	var names []string
	for name := range inputTypes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}()

// FuzzDecodeJSON decodes a body into the request type of one resource,
// chosen by kind, through decodeJSON as handlers call it. A refusal is
// always a validation error (400, never 500) with a message per field.
// What is accepted is one JSON object whose keys, at every depth, are
// fields of the type; it re-encodes and decodes to the same value. With
// kind from 0xc0 up, the body is also padded with white space to exactly
// httpx.MaxBody (accepted or refused as before) and to one byte more (413).
func FuzzDecodeJSON(f *testing.F) {
	// Every kind is seeded with its zero value and its full value.
	for i, name := range inputNames {
		zero := reflect.New(reflect.TypeOf(inputTypes[name])).Interface()
		b, _ := json.Marshal(zero)
		f.Add(uint8(i), b)
		full, _ := json.Marshal(fill(reflect.ValueOf(zero).Elem()))
		f.Add(uint8(i), full)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		typ := reflect.TypeOf(inputTypes[inputNames[int(kind)%len(inputNames)]])
		v := reflect.New(typ).Interface()
		err := decode(t, body, v)
		if err != nil {
			var ve *core.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("%s %q: %v is not a validation error (the client would see 500)", typ, body, err)
			}
			for _, fe := range ve.Errors {
				if fe.Message == "" {
					t.Fatalf("%s %q: %+v", typ, body, ve.Errors)
				}
			}
		} else {
			if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
				t.Fatalf("%s: accepted %q, which is not one JSON object", typ, body)
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: %#v does not encode: %v", typ, v, err)
			}
			var sent, known any
			_ = json.Unmarshal(body, &sent)
			_ = json.Unmarshal(enc, &known)
			if path, ok := keysWithin(sent, known, typ.Name()); !ok {
				t.Fatalf("%s: accepted %q with the unknown field %s", typ, body, path)
			}
			again := reflect.New(typ).Interface()
			if err := httpx.DecodeStrict(enc, again); err != nil || !reflect.DeepEqual(v, again) {
				t.Fatalf("%s: %q decoded to %#v, re-encoded as %s, decoded to %#v (%v)", typ, body, v, enc, again, err)
			}
		}

		if kind < 0xc0 || len(body) > httpx.MaxBody {
			return
		}
		padded := append(append(make([]byte, 0, httpx.MaxBody+1), body...), bytes.Repeat([]byte(" "), httpx.MaxBody-len(body))...)
		v2 := reflect.New(typ).Interface()
		err2 := decode(t, padded, v2)
		// A truncated body may be refused for another reason once padded
		// ("null" cut short is EOF, "n " a bad literal): still refused.
		if (err == nil) != (err2 == nil) || (err == nil && !reflect.DeepEqual(v, v2)) {
			t.Fatalf("%s %q: padded to %d bytes the answer changes from %v to %v", typ, body, httpx.MaxBody, err, err2)
		}
		padded = append(padded, ' ')
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(padded))
		err = decodeJSON(w, r, reflect.New(typ).Interface())
		s.writeError(w, r, err)
		if w.Code != http.StatusRequestEntityTooLarge || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: a body of %d bytes answered %d %q (%v)", typ, len(padded), w.Code, w.Header().Get("Content-Type"), err)
		}
	})
}

// decode is decodeJSON as a handler calls it.
func decode(t *testing.T, body []byte, dst any) error {
	t.Helper()
	w := httptest.NewRecorder()
	err := decodeJSON(w, httptest.NewRequest("POST", "/", bytes.NewReader(body)), dst)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("decodeJSON wrote an answer itself: %d %q", w.Code, w.Body)
	}
	return err
}

// keysWithin reports whether every object key in sent, at every depth,
// is also in known (the accepted value re-encoded), where they line up:
// the same at the top, where gatehouse matches names exactly, and
// ignoring case below, where encoding/json matches them.
func keysWithin(sent, known any, path string) (string, bool) {
	switch s := sent.(type) {
	case map[string]any:
		k, ok := known.(map[string]any)
		if !ok {
			return path, false
		}
		for key, sv := range s {
			kv, ok := k[key]
			for name, v := range k {
				if !ok && strings.Contains(path, ".") && strings.EqualFold(name, key) {
					kv, ok = v, true
				}
			}
			if !ok {
				return path + "." + key, false
			}
			if p, ok := keysWithin(sv, kv, path+"."+key); !ok {
				return p, false
			}
		}
	case []any:
		k, ok := known.([]any)
		if !ok || len(k) != len(s) {
			return path, false
		}
		for i := range s {
			if p, ok := keysWithin(s[i], k[i], path+"[]"); !ok {
				return p, false
			}
		}
	}
	return path, true
}

// fill sets every field of a struct to a non-zero value, for seeds.
func fill(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
	if v.CanAddr() {
		return v.Addr().Interface()
	}
	return nil
}
