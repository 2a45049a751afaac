// Package lungnode gives tests outside node the lung study's declared dictionary
// (analysis/testdata/lung_dictionary.json) as node.Dictionary. It is apart from lungtest
// because node's own tests import lungtest, which therefore cannot import node.
package lungnode

import (
	"os"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/node"
)

// Dictionary reads the lung study's dictionary; withSite adds the categories of lung.csv's
// site column (for files that keep it), and the survival endpoint is named endpoint (the
// file's "OS" when empty).
func Dictionary(tb testing.TB, withSite bool, endpoint string) node.Dictionary {
	tb.Helper()
	f, err := os.Open(lungtest.DictionaryPath())
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	d, err := node.ReadDictionary(f)
	if err != nil {
		tb.Fatalf("lung dictionary: %v", err)
	}
	for i := range d.Entries {
		if d.Entries[i].Endpoint && endpoint != "" {
			d.Entries[i].Name = endpoint
		}
	}
	if withSite {
		if err := d.AddCategories("site", lungtest.Sites); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}
