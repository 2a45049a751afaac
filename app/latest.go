package app

import (
	"context"

	"github.com/oncofed/oncofed/protocol"
)

// Latest returns the newest stored result of req from the library, rendered, without the
// network (code ENotFound when the request was never run). The desktop app uses it to put
// back, when a Kaplan–Meier result is reopened, the hazard ratio that was fitted with it.
func (s *Service) Latest(ctx context.Context, req Request) (*Result, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	if req.Kind == protocol.KindCox {
		// Stored Cox requests carry the categorical levels Run fixed from the catalog.
		if err := s.fillLevels(ctx, &req); err != nil {
			return nil, err
		}
	}
	r, err := s.cache.LatestResult(ctx, s.network.ID, req.Key())
	if err != nil {
		return nil, err
	}
	if err := s.render(r); err != nil {
		return nil, err
	}
	r.Cached = true
	return r, nil
}
