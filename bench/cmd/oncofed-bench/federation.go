package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// benchStudy is the study every figure uses: the synthetic real-world NSCLC cohort.
const benchStudy = "nsclc"

// studyData turns one synthetic site into the columns node.BuildStudy would make of its CSV
// and the study's dictionary (synth's Schema.Dictionary): a numeric variable stays numeric
// (NaN = missing) with its declared range; a categorical one has the declared categories, in
// the schema's order, whatever the site holds. Going through columns rather than CSV keeps a
// 10,000,000-patient federation within minutes; the columns are the same.
func studyData(c *synth.Cohort, dataCut time.Time) *node.StudyData {
	n := c.Len()
	st := &node.StudyData{Name: c.Study, DataCut: dataCut.Format("2006-01-02"), IDs: make([]string, n), StudyVersion: synth.DictionaryVersion}
	for i := range st.IDs {
		st.IDs[i] = c.ID(i)
	}
	for j, v := range c.Schema.Variables {
		col := c.Columns[j]
		if !v.Categorical() {
			st.Variables = append(st.Variables, node.VariableData{
				Variable: protocol.Variable{Name: v.Name, Type: protocol.Numeric, Label: v.Doc, Unit: v.Unit, Min: v.Min, Max: v.Max},
				Numeric:  append([]float64(nil), col.Values...),
			})
			continue
		}
		codes := make([]int32, n)
		for i, code := range col.Codes {
			codes[i] = int32(code) // −1 stays missing
		}
		st.Variables = append(st.Variables, node.VariableData{
			Variable: protocol.Variable{Name: v.Name, Type: protocol.Categorical, Label: v.Doc, Categories: append([]string(nil), v.Levels...)},
			Codes:    codes,
		})
	}
	st.Endpoints = []node.EndpointData{
		{Name: "OS", Time: append([]float64(nil), c.OSDays...), Event: append([]bool(nil), c.OSEvent...)},
		{Name: "PFS", Time: append([]float64(nil), c.PFSDays...), Event: append([]bool(nil), c.PFSEvent...)},
	}
	return st
}

// pooledWriter writes the pooled patient-level columns R needs (OS time, OS event, sex, age,
// ECOG) as raw little-endian float64 files, which R reads with readBin in a fraction of a
// second: the comparison times R's statistics, not its CSV parser.
type pooledWriter struct {
	dir   string
	files map[string]*os.File
	n     int
}

var pooledColumns = []string{"time", "event", "sex", "age", "ecog"}

func newPooledWriter(dir string) (*pooledWriter, error) {
	w := &pooledWriter{dir: dir, files: map[string]*os.File{}}
	for _, c := range pooledColumns {
		f, err := os.Create(filepath.Join(dir, c+".f64"))
		if err != nil {
			w.close()
			return nil, err
		}
		w.files[c] = f
	}
	return w, nil
}

func (w *pooledWriter) add(c *synth.Cohort) error {
	n := c.Len()
	sexIdx := c.Schema.Index("sex")
	male := -1
	for k, lv := range c.Schema.Variables[sexIdx].Levels {
		if lv == "male" {
			male = k
		}
	}
	cols := map[string][]float64{}
	for _, name := range pooledColumns {
		cols[name] = make([]float64, n)
	}
	sex := c.Column("sex").Codes
	age := c.Column("age").Values
	ecog := c.Column("ecog").Values
	for i := 0; i < n; i++ {
		cols["time"][i] = c.OSDays[i]
		if c.OSEvent[i] {
			cols["event"][i] = 1
		}
		switch {
		case sex[i] < 0:
			cols["sex"][i] = math.NaN()
		case int(sex[i]) == male:
			cols["sex"][i] = 1
		default:
			cols["sex"][i] = 0
		}
		cols["age"][i] = age[i]
		cols["ecog"][i] = ecog[i]
	}
	for _, name := range pooledColumns {
		if err := binary.Write(w.files[name], binary.LittleEndian, cols[name]); err != nil {
			return err
		}
	}
	w.n += n
	return nil
}

func (w *pooledWriter) close() error {
	var first error
	for _, f := range w.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// siteDB is one site's database file and engine.
type siteDB struct {
	name   string
	store  *node.SQLiteStore
	engine *node.Engine
}

// buildSites generates spec, stores every site in its own SQLite file under dir (as
// `oncofed-node import` would) and, when pooled is not nil, writes the pooled columns for R.
func buildSites(ctx context.Context, dir string, spec synth.Spec, policy protocol.Policy, pooled *pooledWriter) ([]*siteDB, error) {
	g, err := synth.New(spec)
	if err != nil {
		return nil, err
	}
	var sites []*siteDB
	for i := range g.Sites() {
		c := g.Site(i)
		st := studyData(c, g.Spec().DataCut)
		if pooled != nil {
			if err := pooled.add(c); err != nil {
				return nil, err
			}
		}
		store, err := node.OpenSQLite(filepath.Join(dir, fmt.Sprintf("site%03d.db", i)))
		if err != nil {
			return nil, err
		}
		if _, err := store.ReplaceStudy(ctx, st); err != nil {
			store.Close()
			return nil, err
		}
		if err := store.SetSiteName(ctx, c.Site.Name); err != nil {
			store.Close()
			return nil, err
		}
		p := policy
		eng, err := node.NewEngine(ctx, store, node.Config{InsecureOpen: true, Site: c.Site.Name, Policy: &p})
		if err != nil {
			store.Close()
			return nil, err
		}
		sites = append(sites, &siteDB{name: c.Site.Name, store: store, engine: eng})
	}
	return sites, nil
}

// servedSite is a site connected to the hub.
type servedSite struct {
	db   *siteDB
	nc   *nats.Conn
	svc  *network.SiteService
	slow *time.Duration // extra delay per query, nil for none
}

// federation is an embedded hub with every site served on it over its own connection, as
// separate oncofed-node processes would be.
type federation struct {
	hub   *network.Hub
	sites []*servedSite
}

func serveFederation(ctx context.Context, dbs []*siteDB, delays map[int]time.Duration) (*federation, error) {
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		return nil, err
	}
	f := &federation{hub: hub}
	for i, db := range dbs {
		nc, err := nats.Connect(hub.URL(), nats.Name("bench-"+db.name))
		if err != nil {
			f.close()
			return nil, err
		}
		var h network.Handler = db.engine
		if d, ok := delays[i]; ok {
			eng := db.engine
			h = network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
				// A slow site: a long WAN path or a busy node, before it answers.
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
				return eng.HandleJSON(ctx, q)
			})
		}
		svc, err := network.ServeSite(ctx, nc, db.name, []string{benchStudy}, h)
		if err != nil {
			nc.Close()
			f.close()
			return nil, err
		}
		f.sites = append(f.sites, &servedSite{db: db, nc: nc, svc: svc})
	}
	return f, nil
}

// stop takes site i off the network (the process died or the hospital's link is down).
func (f *federation) stop(i int) {
	s := f.sites[i]
	s.svc.Stop()
	s.nc.Close()
}

func (f *federation) close() {
	for _, s := range f.sites {
		s.svc.Stop()
		s.nc.Close()
	}
	f.hub.Shutdown()
}

func closeSites(dbs []*siteDB) {
	for _, s := range dbs {
		s.store.Close()
	}
}
