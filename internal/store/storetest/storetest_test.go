package storetest_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestConformance runs the suite on every backend.
func TestConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Name == "postgres" {
				testenv.Postgres(t) // skip (or fail) once here rather than in every subtest
			}
			storetest.Run(t, func(t *testing.T) store.Store { return b.New(t) })
		})
	}
}
