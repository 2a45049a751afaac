package app

// The library of stored results: open, list, rename, pin, delete and re-run.

import "context"

// Open loads a stored result and renders it from its stored aggregates, with no network.
func (s *Service) Open(ctx context.Context, id int64) (*Result, error) {
	return s.fromCache(s.cache.Result(ctx, id))
}

// render checks r, loaded from the cache, against its content hash (verify) and renders it.
func (s *Service) render(r *Result) error {
	if err := verify(r); err != nil {
		return err
	}
	return Render(r)
}

// Results lists this network's stored results (f.Network is set to the service's network).
func (s *Service) Results(ctx context.Context, f ResultFilter) ([]ResultSummary, error) {
	f.Network = s.network.ID
	return s.cache.Results(ctx, f)
}

// Library lists the stored results of every network the cache knows (or f.Network's), so
// that a different or unreachable hub does not hide last week's results, and names each
// network by its name as last connected (its ID when it has none).
func (s *Service) Library(ctx context.Context, f ResultFilter) ([]ResultSummary, map[string]string, error) {
	list, err := s.cache.Results(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{s.network.ID: s.network.Name}
	nets, err := s.cache.Networks(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nets {
		if n.Name != "" && n.ID != s.network.ID {
			names[n.ID] = n.Name
		}
	}
	return list, names, nil
}

// Rename renames a stored result.
func (s *Service) Rename(ctx context.Context, id int64, name string) error {
	return s.cache.RenameResult(ctx, id, name)
}

// StudyOf is the study of a stored result as its network's catalog last described it (its
// title, labels, units and causes name the result's figures), or nil when none is cached.
func (s *Service) StudyOf(ctx context.Context, r *Result) *Study {
	cat, err := s.cache.Catalog(ctx, r.Network)
	if err != nil {
		return nil
	}
	return cat.Study(r.Request.Study)
}

// Pin pins (or unpins) a stored result: pinned results list first and make the slides of
// presentation mode, drawn as shown (nil keeps what is stored: pinning from the library).
func (s *Service) Pin(ctx context.Context, id int64, pinned bool, shown *Display) error {
	return s.cache.PinResult(ctx, id, pinned, shown)
}

// Delete deletes a stored result and its aggregates.
func (s *Service) Delete(ctx context.Context, id int64) error { return s.cache.DeleteResult(ctx, id) }

// Rerun runs a stored result's request again on today's network, stores the new result under
// the same name and says what changed since (Compare). Offline it fails with EUnavailable: a
// re-run never silently returns the old result.
func (s *Service) Rerun(ctx context.Context, id int64) (*Result, *Changes, error) {
	old, err := s.Open(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if isScreen(old.Request) {
		return s.rerunScreen(ctx, old, nil) // a screen re-runs through Screen (screenrerun.go)
	}
	r, err := s.Run(ctx, old.Request)
	if err != nil {
		return nil, nil, err
	}
	if r.Cached {
		return nil, nil, Errorf(EUnavailable, "offline: the analysis cannot be re-run until the network is back")
	}
	if r.Name != old.Name {
		if err := s.cache.RenameResult(ctx, r.ID, old.Name); err != nil {
			return nil, nil, err
		}
		r.Name = old.Name
	}
	return r, Compare(old, r), nil
}
