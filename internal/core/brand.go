package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Brand is how the instance presents itself: the web interface's title
// and the application service accounts and other non-interface users are
// sent to when they reach the interface.
type Brand = client.BrandSettings

const brandKey = "brand"

// DefaultBrand is the brand before anyone changes it.
var DefaultBrand = Brand{Title: "gatehouse"}

// GetBrand reads the brand settings. Any authenticated principal may read
// them; the web interface shows the title to everyone.
func (s *Applications) GetBrand(ctx context.Context, a Actor) (Brand, error) {
	if err := authenticated(a); err != nil {
		return Brand{}, err
	}
	return s.Applications.Brand(ctx)
}

// Brand reads the brand settings without authorization, for rendering.
func (s *Applications) Brand(ctx context.Context) (Brand, error) {
	return loadBrand(ctx, s.store)
}

func loadBrand(ctx context.Context, q store.Queries) (Brand, error) {
	v, err := q.GetSetting(ctx, brandKey)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultBrand, nil
	}
	if err != nil {
		return Brand{}, err
	}
	b := DefaultBrand
	if err := json.Unmarshal([]byte(v), &b); err != nil {
		return Brand{}, fmt.Errorf("decode brand settings: %w", err)
	}
	return b, nil
}

// BrandInput is PATCH /brand.
type BrandInput = client.BrandUpdate

// brandChecks are extra validations of a brand change inside its
// transaction (for example: the default application must exist).
var brandChecks []func(ctx context.Context, q store.Queries, b Brand, f *fields) error

// UpdateBrand changes the brand settings (brand.write).
func (s *Applications) UpdateBrand(ctx context.Context, a Actor, in BrandInput) (Brand, error) {
	target := audit.Target{Kind: audit.KindSetting, Name: brandKey}
	if err := s.authorize(ctx, a, authz.BrandWrite, target); err != nil {
		return Brand{}, err
	}
	var f fields
	if in.Title != nil {
		if *in.Title == "" {
			f.add("title", "is required")
		}
		f.maxLen("title", *in.Title, 128)
	}
	if in.DefaultApplication != nil && *in.DefaultApplication != "" && !NameRule.MatchString(*in.DefaultApplication) {
		f.add("default_application", "must be an application slug: "+nameRuleText)
	}
	if err := f.err(); err != nil {
		return Brand{}, err
	}
	var out Brand
	err := s.write(ctx, func(q store.Queries, rec func(store.Event)) error {
		b, err := loadBrand(ctx, q)
		if err != nil {
			return err
		}
		if in.Title != nil {
			b.Title = *in.Title
		}
		if in.DefaultApplication != nil {
			b.DefaultApplication = *in.DefaultApplication
		}
		var f fields
		for _, check := range brandChecks {
			if err := check(ctx, q, b, &f); err != nil {
				return err
			}
		}
		if err := f.err(); err != nil {
			return err
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		if err := q.PutSetting(ctx, brandKey, string(raw)); err != nil {
			return err
		}
		rec(s.event(a, audit.ActionModelUpdated, audit.Success, target, map[string]any{"title": b.Title, "default_application": b.DefaultApplication}))
		out = b
		return nil
	})
	return out, err
}
