package app

// The network's catalog and sites: loading, refreshing and what changed.

import (
	"context"
	"slices"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// CatalogUpdate is the outcome of a catalog refresh: the new catalog and, when a catalog was
// cached before, what changed (CatalogChanges).
type CatalogUpdate struct {
	Catalog *Catalog
	Changes []string
	// First is true when nothing was cached before this refresh.
	First bool
	Err   error
}

// LoadCatalog returns the cached catalog at once (nil when none is cached yet) and refreshes
// it from the network in the background; the refresh's outcome arrives on the returned
// channel, which then closes. Without a network the channel closes without a value.
func (s *Service) LoadCatalog(ctx context.Context) (*Catalog, <-chan CatalogUpdate, error) {
	cached, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return nil, nil, err
	}
	ch := make(chan CatalogUpdate, 1)
	if s.net == nil {
		close(ch)
		return cached, ch, nil
	}
	go func() {
		defer close(ch)
		u, err := s.RefreshCatalog(ctx)
		if err != nil {
			ch <- CatalogUpdate{Err: err}
			return
		}
		ch <- *u
	}()
	return cached, ch, nil
}

// RefreshCatalog asks every site for its catalog, stores the merged catalog and the site list,
// and reports what changed since the cached one.
func (s *Service) RefreshCatalog(ctx context.Context) (*CatalogUpdate, error) {
	g, err := s.query(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: s.newID(), Analyst: s.analyst})
	if err != nil {
		return nil, err
	}
	var cats []protocol.Catalog
	for _, r := range g.Replies {
		if r.Catalog != nil {
			c := *r.Catalog
			if c.Site == "" {
				c.Site = r.Site
			}
			cats = append(cats, c)
		}
	}
	if len(cats) == 0 {
		// Never replace a cached catalog with an empty one.
		if err := noAnswer(g); err != nil {
			return nil, err
		}
		return nil, Errorf(EUnavailable, "no site sent its catalog")
	}
	var missing []string
	missing = append(missing, g.Missing...)
	for _, p := range append(slices.Clone(g.Refused), g.Invalid...) {
		missing = append(missing, p.Site)
	}
	old, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return nil, err
	}
	// A site that did not answer this time keeps its last known catalog (listed in Missing),
	// so one slow site does not make its studies vanish from the app.
	if old != nil {
		gone := map[string]bool{}
		for _, m := range missing {
			gone[m] = true
		}
		for _, c := range old.Sites {
			if gone[c.Site] {
				cats = append(cats, c)
			}
		}
	}
	now := s.now()
	cur := MergeCatalogs(now, cats, missing)
	n := s.network
	n.LastConnected = now
	if err := s.cache.SaveNetwork(ctx, n); err != nil {
		return nil, err
	}
	if err := s.cache.SaveCatalog(ctx, s.network.ID, cur); err != nil {
		return nil, err
	}
	if err := s.cache.SaveSites(ctx, s.network.ID, s.siteRecords(cur, nil, now)); err != nil {
		return nil, err
	}
	return &CatalogUpdate{Catalog: cur, Changes: CatalogChanges(old, cur), First: old == nil}, nil
}

// siteRecords combines the network's site status with what the catalog published.
func (s *Service) siteRecords(cat *Catalog, status []SiteStatus, now time.Time) []SiteRecord {
	bySite := map[string]*SiteRecord{}
	get := func(site string) *SiteRecord {
		r := bySite[site]
		if r == nil {
			r = &SiteRecord{Site: site, DataCuts: map[string]string{}}
			bySite[site] = r
		}
		return r
	}
	if cat != nil {
		for _, c := range cat.Sites {
			r := get(c.Site)
			// A catalog answer means the site was up when the catalog was fetched; a status
			// list, when given, says whether it is up now.
			r.Online, r.LastSeen = status == nil && !slices.Contains(cat.Missing, c.Site), cat.FetchedAt
			p := c.Policy
			r.Policy = &p
			r.Studies = nil
			for _, st := range c.Studies {
				r.Studies = append(r.Studies, st.Name)
				r.DataCuts[st.Name] = st.DataCut
			}
		}
		for _, m := range cat.Missing {
			get(m)
		}
	}
	for _, st := range status {
		r := get(st.Site)
		r.Online, r.Latency, r.LastSeen = st.Online, st.Latency, st.LastSeen
		if len(st.Studies) > 0 {
			r.Studies = slices.Clone(st.Studies)
		}
	}
	out := make([]SiteRecord, 0, len(bySite))
	for _, site := range sortedKeys(bySite) {
		out = append(out, *bySite[site])
	}
	return out
}

// Sites returns the network's sites with their status, data cuts and policies, and stores
// them. Offline, it returns the cached list (with their last known status) and no error.
func (s *Service) Sites(ctx context.Context) ([]SiteRecord, error) {
	if s.net != nil {
		status, err := s.net.Sites(ctx)
		if err == nil {
			s.setOffline(false)
			cat, cerr := s.cache.Catalog(ctx, s.network.ID)
			if cerr != nil && ErrorCode(cerr) != ENotFound {
				return nil, cerr
			}
			recs := s.siteRecords(cat, status, s.now())
			if err := s.cache.SaveSites(ctx, s.network.ID, recs); err != nil {
				return nil, err
			}
			return recs, nil
		}
		if ErrorCode(err) != EUnavailable && !isUnreachable(err) {
			return nil, err
		}
		s.setOffline(true)
	}
	recs, err := s.cache.Sites(ctx, s.network.ID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		recs[i].Online = false
	}
	return recs, nil
}
