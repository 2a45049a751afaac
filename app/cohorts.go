package app

// Saved cohorts of the network.

import "context"

// SaveCohort stores a named cohort of this network (insert when c.ID is 0).
func (s *Service) SaveCohort(ctx context.Context, c *Cohort) error {
	c.Network = s.network.ID
	now := s.now()
	if c.ID == 0 {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	return s.cache.SaveCohort(ctx, c)
}

// Cohorts lists the saved cohorts of a study ("" = all studies).
func (s *Service) Cohorts(ctx context.Context, study string) ([]Cohort, error) {
	return s.cache.Cohorts(ctx, s.network.ID, study)
}

// DeleteCohort deletes a saved cohort.
func (s *Service) DeleteCohort(ctx context.Context, id int64) error {
	return s.cache.DeleteCohort(ctx, id)
}

// validate checks a request before anything is sent.
