package ui_test

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/core"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// BenchmarkResolveSession is the cost every page pays before its own work:
// the session read by its hash, the (cached) principal, the password
// stamp. Baseline, same run: one indexed read of a user by name. Budget:
// at most 3× the baseline (one query plus in-memory checks).
func BenchmarkResolveSession(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := servertest.Start(b, be.New(b))
			ctx := context.Background()
			p, err := e.App.Core.Authenticator().PrincipalByName(ctx, "admin")
			if err != nil {
				b.Fatal(err)
			}
			ses, err := e.App.Core.Sessions.StartSession(ctx, p, "127.0.0.1", "bench", core.SignedIn)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("baseline-GetUser", func(b *testing.B) {
				for b.Loop() {
					if _, err := e.App.Store.GetUser(ctx, "admin"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("ResolveSession", func(b *testing.B) {
				for b.Loop() {
					if _, err := e.App.Core.Sessions.ResolveSession(ctx, ses.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
