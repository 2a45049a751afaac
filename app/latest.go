package app

import (
	"context"

	"github.com/oncofed/oncofed/protocol"
)

// Latest returns the newest stored result of req from the library, rendered, without the
// network (code ENotFound when the request was never run). The desktop app uses it to put
// back, when a Kaplan–Meier result is reopened, the hazard ratio that was fitted with it.
func (s *Service) Latest(ctx context.Context, req Request) (*Result, error) {
	if err := s.prepare(ctx, &req); err != nil {
		return nil, err
	}
	return s.latest(ctx, req)
}

// prepare validates req and puts it in the form Run stores it in, so that its Key finds the
// stored results: a Cox request gets the categorical levels fixed from the catalog.
func (s *Service) prepare(ctx context.Context, req *Request) error {
	if err := validate(*req); err != nil {
		return err
	}
	if req.Kind == protocol.KindCox {
		return s.fillLevels(ctx, req)
	}
	if req.Kind == protocol.KindIPW {
		spec := *req.IPW
		if err := s.prepareIPWMerge(ctx, req.Study, &spec); err != nil {
			return err
		}
		levels, err := s.catalogLevels(ctx, req.Study, spec.Confounders, spec.Levels, nil, "a confounder")
		if err != nil {
			return err
		}
		spec.Levels = levels
		req.IPW = &spec
	}
	return nil
}

// latest returns the newest stored result of the prepared request req, rendered and marked
// Cached (code ENotFound when there is none).
func (s *Service) latest(ctx context.Context, req Request) (*Result, error) {
	return s.fromCache(s.cache.LatestResult(ctx, s.network.ID, req.Key()))
}

// fromCache renders r, just loaded from the cache (unless err), from its stored aggregates and
// marks it Cached.
func (s *Service) fromCache(r *Result, err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	if err := s.render(r); err != nil {
		return nil, err
	}
	r.Cached = true
	return r, nil
}
