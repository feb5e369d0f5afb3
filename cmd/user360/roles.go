package main

import (
	"context"
	"errors"

	"github.com/user360/user360/activation"
	"github.com/user360/user360/identity"
	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/ingest/propschema/ingestadapter"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// discardEmitter is the segmenter's emitter in processes that only read
// memberships (the profile API, exports) without running the segmenter role.
type discardEmitter struct{}

func (discardEmitter) Emit(context.Context, []schemas.SegmentChange) error {
	return errors.New("segmenter role is not running in this process")
}

// wireRoles builds the stages and routes of the chosen roles. The readers
// that one role needs from another (profiles for exports and backfills,
// memberships for the profile API) are built in every process that has
// Redis, so roles can run in separate processes.
func (s *stack) wireRoles() error {
	log := s.cfg.Log
	roles := s.cfg.Roles

	// The property schema: the gateway and the CSV import validate with it.
	schema, err := propschema.New(propschema.DefaultConfig(), propschema.Deps{
		Tenants: s.cfg.Tenants, Defs: s.defs, Log: log.With().Str("component", "propschema").Logger(), Metrics: s.reg,
	})
	if err != nil {
		return err
	}

	if has(roles, "ingest") {
		g, err := ingest.New(ingest.DefaultConfig(), ingest.Deps{
			Tenants:   s.cfg.Tenants,
			Publisher: s.publisher("gateway"),
			Log:       log.With().Str("role", "ingest").Logger(),
			Metrics:   s.reg,
			Traits:    ingestadapter.Traits{V: schema.Validator()},
		})
		if err != nil {
			return err
		}
		g.Routes(s.mux)
		schema.Routes(s.mux)
		s.stages = append(s.stages, component{"ingest", g.Run}, component{"propschema", schema.Run})
	}
	if s.cfg.Redis == nil {
		return nil
	}

	// A read-only view of the profiles for the segmenter's backfills and
	// activation's exports (the identity service has its own on the same keys).
	// Identity and segmenter keys live in the active generation's
	// namespace, with that generation's consumer groups (generation.go).
	idCfg := identity.DefaultConfig()
	idCfg.Namespace, idCfg.Group = s.generation(idCfg.Group)
	segCfg := segmenter.DefaultConfig()
	segCfg.Namespace, segCfg.Group = s.generation(segCfg.Group)
	profiles := identity.NewStore(s.cfg.Redis, idCfg.Namespace, identity.WithConfig(idCfg), identity.WithTenants(s.cfg.Tenants))
	segDeps := segmenter.Deps{
		Tenants: s.cfg.Tenants, Redis: s.cfg.Redis, Kafka: s.kcfg, Topics: s.topics,
		Log: log.With().Str("role", "segmenter").Logger(), Metrics: s.reg,
		Definitions: s.defs, Profiles: profiles,
	}
	if !has(roles, "segmenter") {
		segDeps.Emitter = discardEmitter{}
		segDeps.Metrics = nil
	}
	segSvc, err := segmenter.New(segCfg, segDeps)
	if err != nil {
		return err
	}
	idSvc, err := identity.New(idCfg, identity.Deps{
		Tenants: s.cfg.Tenants, Redis: s.cfg.Redis, Kafka: s.kcfg, Topics: s.topics,
		Log: log.With().Str("role", "identity").Logger(), Metrics: s.reg,
		Publisher: s.publisher("users-api"), Segments: segSvc,
		Traits: ingestadapter.Traits{V: schema.Validator()},
	})
	if err != nil {
		return err
	}

	if has(roles, "ingest") {
		imp, err := csvimport.New(csvimport.DefaultConfig(), csvimport.Deps{
			Tenants: s.cfg.Tenants, Redis: s.cfg.Redis, Publisher: s.publisher("import"),
			Schema: schema.Validator(), Log: log.With().Str("component", "import").Logger(), Metrics: s.reg,
		})
		if err != nil {
			return err
		}
		imp.Routes(s.mux)
		s.stages = append(s.stages, component{"import", imp.Run})
	}
	if has(roles, "identity") {
		idSvc.Routes(s.mux)
		s.stages = append(s.stages, component{"identity", idSvc.Run})
	}
	if has(roles, "segmenter") {
		segSvc.Routes(s.mux)
		s.stages = append(s.stages, component{"segmenter", segSvc.Run})
	}
	if has(roles, "activation") {
		act, err := activation.New(activation.DefaultConfig(), activation.Deps{
			Tenants: s.cfg.Tenants, Redis: s.cfg.Redis, Kafka: s.kcfg, Topics: s.topics,
			Log: log.With().Str("role", "activation").Logger(), Metrics: s.reg,
			Defs: s.defs, Members: segSvc, Profiles: profiles, SegmentNotFound: segmenter.ErrSegmentNotFound,
		})
		if err != nil {
			return err
		}
		act.Routes(s.mux)
		s.stages = append(s.stages, component{"activation", act.Run})
	}
	return nil
}
