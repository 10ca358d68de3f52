package ldap_test

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// BenchmarkBind: clients binding in a loop on the in-server door, one
// connection per goroutine (-cpu sets how many). It is for profiles
// (-cpuprofile); the figure held to a goal is cmd/gatehouse-bench's ldap
// suite, measured against slapd in the same run.
func BenchmarkBind(b *testing.B) {
	f := newFixture(b, storetest.NewSQLite(b), ldap.Options{})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := goldap.DialURL("ldap://" + f.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		for pb.Next() {
			if err := c.Bind(userDN("bot"), f.botKey); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
