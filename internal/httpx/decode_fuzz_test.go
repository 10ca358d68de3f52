package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/internal/core"
)

// The API's own fuzz target, FuzzDecodeJSON in internal/api, drives
// DecodeJSON with every request type of the API; this one holds
// DecodeStrict to its promise on a type with every shape it follows
// (embedded, nested, pointers, lists, maps), without the API.

type fuzzInner struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type FuzzEmbedded struct {
	Tag string `json:"tag"`
}

type fuzzBody struct {
	FuzzEmbedded
	Title    string            `json:"title"`
	Enabled  *bool             `json:"enabled"`
	Limit    int64             `json:"limit"`
	Groups   []string          `json:"groups"`
	Inner    *fuzzInner        `json:"inner"`
	Sessions []fuzzInner       `json:"sessions"`
	Labels   map[string]string `json:"labels"`
	Skipped  string            `json:"-"`
	hidden   string
}

// FuzzDecodeStrict: a refusal is a validation error with a message for
// every field; an accepted body is one JSON object whose keys are the
// type's fields, and the value it decodes to survives encoding and
// decoding again.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"tag":"x","title":"t","enabled":true,"limit":3,"groups":["a"],"inner":{"name":"n","count":1},` +
			`"sessions":[{"name":"s"}],"labels":{"k":"v"}}`,
		`{"title":1,"nope":2}`, `{"inner":{"other":1}}`, `[]`, `{} {}`, `{"title":"a"}]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzBody
		err := DecodeStrict(body, &v)
		if err != nil {
			var ve *core.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("%q: %v is not a validation error", body, err)
			}
			// The field may be "": a body may use the empty key.
			for _, fe := range ve.Errors {
				if fe.Message == "" {
					t.Fatalf("%q: %+v", body, ve.Errors)
				}
			}
			return
		}
		if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		var sent map[string]json.RawMessage
		_ = json.Unmarshal(body, &sent)
		fields := JSONFields(reflect.TypeOf(v))
		for k := range sent {
			if _, ok := fields[k]; !ok {
				t.Fatalf("accepted %q with the unknown field %q", body, k)
			}
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%#v does not encode: %v", v, err)
		}
		var again fuzzBody
		if err := DecodeStrict(enc, &again); err != nil || !reflect.DeepEqual(v, again) {
			t.Fatalf("%q decoded to %#v, re-encoded as %s, decoded to %#v (%v)", body, v, enc, again, err)
		}
	})
}
