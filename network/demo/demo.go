// Package demo runs a synthetic federation in one process: an embedded hub and one site node
// per hospital of synth's demo federation, each a node.Engine over its own SQLite file,
// serving on its own connection. The desktop app's default network, `oncofed-cli --demo` and
// tests use it. It wires concrete implementations (node, synth, network) together, so only
// commands, main.go and tests import it; package network itself stays free of them.
package demo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// Options configures Start; the zero value runs synth.DemoFederation on a random loopback port.
type Options struct {
	// Listen is the hub's client address (host:port); empty: 127.0.0.1 on a free port.
	Listen string
	// Federation is the synthetic network; nil means synth.DemoFederation().
	Federation *synth.Federation
	// AnalystRole is the role the sites list the demo analyst under: node.RoleTrusted (the
	// default, "") for the policy's rule-based releases, or node.RoleDP to see the network as
	// an analyst outside a data-use agreement does (differentially private releases, a ρ
	// budget per day and study).
	AnalystRole node.Role
}

// Demo is a running federation. Its sites answer signed queries only, from one demo analyst
// (DemoAnalyst, role trusted) whose key Start keeps next to the site databases: clients sign
// with AnalystKey (network.WithSigner(d.Signer())), so the demo needs no setup and still runs
// the release path a real network runs.
type Demo struct {
	Hub     *network.Hub
	Sites   []string            // hospital names, sorted
	Studies map[string][]string // studies per site
	// AnalystKey is the demo analyst's private key (PEM, protocol.MarshalPrivateKey) and
	// KeyPath the file holding it (mode 0600), for `oncofed-cli --key` against a demo hub.
	AnalystKey []byte
	KeyPath    string

	mu     sync.Mutex
	stores []*node.SQLiteStore
	conns  map[string]*nats.Conn
	svcs   map[string]*network.SiteService
}

// URL is the hub's address, for network.Dial.
func (d *Demo) URL() string { return d.Hub.URL() }

// DemoAnalyst is the name the demo sites list the demo analyst key under.
const DemoAnalyst = "demo"

// Signer signs queries as the demo analyst.
func (d *Demo) Signer() *protocol.Signer {
	key, err := protocol.ParsePrivateKey(d.AnalystKey)
	if err != nil {
		panic("demo: the analyst key Start checked no longer parses: " + err.Error())
	}
	return protocol.NewSigner(key, nil)
}

// analystKey reads the demo analyst's key file under dir, creating it on first use, and lists
// it under role.
func analystKey(dir string, role node.Role) (path string, pem []byte, list *node.Analysts, err error) {
	path = filepath.Join(dir, "demo-analyst.key")
	pem, err = protocol.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return "", nil, nil, fmt.Errorf("demo: analyst key: %w", gerr)
		}
		if pem, err = protocol.MarshalPrivateKey(priv); err == nil {
			err = writeFileAtomic(path, pem)
		}
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("demo: %w", err)
	}
	key, err := protocol.ParsePrivateKey(pem)
	if err != nil {
		return "", nil, nil, fmt.Errorf("demo: analyst key %s: %w", path, err)
	}
	pub := protocol.EncodePublicKey(key.Public().(ed25519.PublicKey))
	if role == "" {
		role = node.RoleTrusted
	}
	list, err = node.ParseAnalysts(strings.NewReader(DemoAnalyst + " " + pub + " " + string(role) + "\n"))
	if err != nil {
		return "", nil, nil, fmt.Errorf("demo: %w", err)
	}
	return path, pem, list, nil
}

// writeFileAtomic writes data to path (mode 0600) through a temporary file, so that a
// crash leaves either no key or a whole one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".demo-analyst-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Audited returns how many queries the sites have recorded in their audit logs, all sites
// together: what a test counts to show that an analysis sent nothing.
func (d *Demo) Audited(ctx context.Context) (int, error) {
	d.mu.Lock()
	stores := slices.Clone(d.stores)
	d.mu.Unlock()
	n := 0
	for _, s := range stores {
		recs, err := s.AuditRecords(ctx)
		if err != nil {
			return 0, err
		}
		n += len(recs)
	}
	return n, nil
}

// StopSite takes a site off the network, as if its node went down.
func (d *Demo) StopSite(site string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.svcs[site]; s != nil {
		s.Stop()
		delete(d.svcs, site)
	}
	if c := d.conns[site]; c != nil {
		c.Close()
		delete(d.conns, site)
	}
}

// Close stops every site and the hub.
func (d *Demo) Close() {
	for _, site := range d.Sites {
		d.StopSite(site)
	}
	for _, s := range d.stores {
		s.Close()
	}
	if d.Hub != nil {
		d.Hub.Shutdown()
	}
}

// Start generates the federation's hospitals into one SQLite file per site under dir, or
// reuses the files an earlier Start left there for the same federation (the generator is
// deterministic), and serves every site on a new embedded hub. A failed generation leaves no
// half-imported files behind for the next start.
func Start(ctx context.Context, dir string, opts Options) (*Demo, error) {
	fed := synth.DemoFederation()
	if opts.Federation != nil {
		fed = *opts.Federation
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	keyPath, keyPEM, analysts, err := analystKey(dir, opts.AnalystRole)
	if err != nil {
		return nil, err
	}
	stores, studies, err := prepare(ctx, dir, fed)
	if err != nil {
		return nil, err
	}
	d := &Demo{Studies: studies, AnalystKey: keyPEM, KeyPath: keyPath, conns: map[string]*nats.Conn{}, svcs: map[string]*network.SiteService{}}
	for site, st := range stores {
		d.Sites = append(d.Sites, site)
		d.stores = append(d.stores, st)
	}
	sort.Strings(d.Sites)
	d.Hub, err = network.StartHub(network.HubOptions{Listen: opts.Listen})
	if err != nil {
		d.Close()
		return nil, err
	}
	for _, site := range d.Sites {
		sp, ok := fed.Policies[site]
		if !ok {
			sp = synth.DemoPolicy
		}
		pol := protocol.Policy{MinCohort: sp.MinCohort, MinCell: sp.MinCell, BinDays: float64(sp.BinDays), OverlapGuard: sp.OverlapGuard}
		// As node.ParsePolicy reads a policy file with these four fields: only an exact
		// (trusted) site answers the pooled Cox form, which discloses covariate values.
		pol.AllowPooledCox = node.IsExact(pol)
		eng, err := node.NewEngine(ctx, stores[site], node.Config{Site: site, Policy: &pol, Analysts: analysts})
		if err != nil {
			d.Close()
			return nil, err
		}
		nc, err := nats.Connect(d.Hub.URL(), nats.Name("oncofed-demo-"+site), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("demo: site %s: %w", site, err)
		}
		d.conns[site] = nc
		svc, err := network.ServeSite(ctx, nc, site, studies[site], eng)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.svcs[site] = svc
	}
	return d, nil
}

// demoDataVersion changes when what synth writes or how it is imported changes while the
// federation's specs do not, so that demo databases from an older build (without version
// control information in it) are regenerated: 2 = PFS with competing causes (issue 17), 3 = ECOG
// and year of diagnosis declared discrete, 4 = a myeloma registry site with delayed entry of OS.
const demoDataVersion = 4

// prepare opens (generating when needed) one store per site.
func prepare(ctx context.Context, dir string, fed synth.Federation) (map[string]*node.SQLiteStore, map[string][]string, error) {
	marker := filepath.Join(dir, "ready-"+fingerprint(fed))
	_, statErr := os.Stat(marker)
	fresh := statErr != nil
	if fresh {
		// Whatever an earlier, different or interrupted generation left is discarded whole.
		olds, _ := filepath.Glob(filepath.Join(dir, "*.db*"))
		readies, _ := filepath.Glob(filepath.Join(dir, "ready-*"))
		for _, o := range append(olds, readies...) {
			os.Remove(o)
		}
	}
	stores := map[string]*node.SQLiteStore{}
	studies := map[string][]string{}
	fail := func(err error) (map[string]*node.SQLiteStore, map[string][]string, error) {
		for _, s := range stores {
			s.Close()
		}
		return nil, nil, err
	}
	for _, spec := range fed.Studies {
		g, err := synth.New(spec)
		if err != nil {
			return fail(fmt.Errorf("demo: %w", err))
		}
		for i, s := range g.Sites() {
			st := stores[s.Name]
			if st == nil {
				if st, err = node.OpenSQLite(filepath.Join(dir, s.Name+".db")); err != nil {
					return fail(fmt.Errorf("demo: %w", err))
				}
				stores[s.Name] = st
			}
			is := g.ImportSpec(i)
			studies[s.Name] = append(studies[s.Name], is.Study)
			if !fresh {
				continue
			}
			var buf bytes.Buffer
			if err := g.WriteCSV(&buf, i); err != nil {
				return fail(fmt.Errorf("demo: %w", err))
			}
			ns := NodeImportSpec(is)
			if is.Markers {
				ns.Dictionary = schemaDictionary(g.Schema()) // with the spec's NullMarkers, if any
			}
			if _, err := node.ImportCSV(ctx, st, ns, &buf); err != nil {
				return fail(fmt.Errorf("demo: %s at %s: %w", is.Study, s.Name, err))
			}
		}
	}
	if fresh {
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return fail(fmt.Errorf("demo: %w", err))
		}
	}
	return stores, studies, nil
}

// NodeImportSpec returns synth's import spec in the node importer's form: the same study,
// site, id column, endpoints and data cut (as YYYY-MM-DD) that `oncofed-node import` reads
// from the flags is.Args gives. It lives here, not in synth, because synth may not import
// node; this wiring package imports both.
func NodeImportSpec(is synth.ImportSpec) node.ImportSpec {
	spec := node.ImportSpec{Study: is.Study, IDColumn: is.IDColumn, DataCut: is.DataCut.Format("2006-01-02"), Site: is.Site}
	for _, ep := range is.Endpoints {
		spec.Endpoints = append(spec.Endpoints, node.EndpointSpec{Name: ep.Name, TimeColumn: ep.TimeColumn, EventColumn: ep.EventColumn})
	}
	if is.Markers {
		schema, err := synth.SchemaWithMarkers(synth.Study(is.Study))
		if err != nil {
			panic("demo: " + err.Error())
		}
		spec.Dictionary = schemaDictionary(schema)
	} else {
		spec.Dictionary = StudyDictionary(synth.Study(is.Study))
	}
	spec.Causes = is.Causes
	spec.Entry = is.Entry
	return spec
}

// StudyDictionary is a synthetic study's declared dictionary (synth's Schema.Dictionary, read
// as `oncofed-node import --dictionary` reads it): every demo site of the study declares the
// same one. It panics on an unknown study or a dictionary the node refuses (a bug in synth).
func StudyDictionary(study synth.Study) node.Dictionary {
	schema, err := synth.SchemaOf(study)
	if err != nil {
		panic("demo: " + err.Error())
	}
	return schemaDictionary(schema)
}

func schemaDictionary(schema *synth.Schema) node.Dictionary {
	d, err := node.ReadDictionary(bytes.NewReader(schema.Dictionary()))
	if err != nil {
		panic("demo: dictionary of " + string(schema.Study) + ": " + err.Error())
	}
	return d
}

// fingerprint names a federation's generated data, so that a changed federation — or a
// build from another revision, whose generator or node schema may differ — is regenerated.
func fingerprint(fed synth.Federation) string {
	b, _ := json.Marshal(fed.Studies)
	h := sha256.New()
	h.Write(b)
	fmt.Fprintln(h, demoDataVersion)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintln(h, bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				fmt.Fprintln(h, s.Key, s.Value)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
