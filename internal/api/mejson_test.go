package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/core"
)

// TestMeJSONMatchesEncodingJSON holds the hand-written /me encoder to
// encoding/json's output, byte for byte, on awkward values and on many
// random ones.
func TestMeJSONMatchesEncodingJSON(t *testing.T) {
	login := time.Date(2026, 12, 4, 19, 0, 0, 123456789, time.FixedZone("x", 5400))
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // encoding/json refuses it
	awkward := []string{"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff utf-8 \xe2\x82", "\u00a0\ufeff"}
	cases := []core.Me{
		{},
		{UserView: core.UserView{Groups: []string{}, Roles: []string{}}, Permissions: []string{}},
		{UserView: core.UserView{UID: "u", Username: "ci", Type: "service_account", IsActive: true, Managed: true, HasPassword: true,
			Groups: []string{"a", "b"}, Roles: []string{"r"}, CreatedAt: login.UTC(), LastLoginAt: &login}, Permissions: []string{"users.read"}},
		{UserView: core.UserView{CreatedAt: far}},
		{UserView: core.UserView{LastLoginAt: &far}},
	}
	for _, s := range awkward {
		cases = append(cases, core.Me{UserView: core.UserView{UID: s, Username: s, Type: s, Name: s, Email: s, Description: s,
			Groups: []string{s, s}, Roles: []string{s}}, Permissions: []string{s}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	strs := func() []string {
		if rng.IntN(4) == 0 {
			return nil
		}
		s := make([]string, rng.IntN(4))
		for i := range s {
			s[i] = str()
		}
		return s
	}
	for range 2000 {
		m := core.Me{UserView: core.UserView{UID: str(), Username: str(), Type: str(), Name: str(), Email: str(), Description: str(),
			IsActive: rng.IntN(2) == 0, Managed: rng.IntN(2) == 0, HasPassword: rng.IntN(2) == 0, Groups: strs(), Roles: strs(),
			CreatedAt: time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).In(time.FixedZone("", 60*(rng.IntN(1441)-720)))},
			Permissions: strs()}
		if rng.IntN(2) == 0 {
			t := time.Unix(rng.Int64N(1<<34), 0).UTC()
			m.LastLoginAt = &t
		}
		cases = append(cases, m)
	}
	for i, m := range cases {
		want := httptest.NewRecorder()
		writeJSON(want, 200, m)
		got := httptest.NewRecorder()
		writeMe(got, m)
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || got.Code != want.Code ||
			got.Header().Get("Content-Type") != want.Header().Get("Content-Type") ||
			got.Header().Get("Cache-Control") != want.Header().Get("Cache-Control") {
			t.Fatalf("case %d: writeMe wrote %d %q, writeJSON %d %q", i, got.Code, got.Body, want.Code, want.Body)
		}
		if i < 3 && !json.Valid(got.Body.Bytes()) {
			t.Fatalf("case %d: not JSON: %s", i, got.Body)
		}
	}
}
