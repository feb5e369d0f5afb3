package main

import (
	"github.com/user360/user360/ingest"
)

// wireRoles builds the stages and routes of the chosen roles.
func (s *stack) wireRoles() error {
	log := s.cfg.Log
	if has(s.cfg.Roles, "ingest") {
		g, err := ingest.New(ingest.DefaultConfig(), ingest.Deps{
			Tenants:   s.cfg.Tenants,
			Publisher: s.publisher("gateway"),
			Log:       log.With().Str("role", "ingest").Logger(),
			Metrics:   s.reg,
		})
		if err != nil {
			return err
		}
		g.Routes(s.mux)
		s.stages = append(s.stages, component{"ingest", g.Run})
	}
	return nil
}
