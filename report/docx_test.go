package report

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
)

// The .docx is a zip of the three parts Word needs, and its document holds the table's text
// in reading order, one table row per Table 1 row plus the header, escaped.
func TestTable1Docx(t *testing.T) {
	tb := analysis.Table1{Columns: []string{"female", "male", "Overall"}, Notes: []string{"age: <5 values left out"},
		Rows: []analysis.Table1Row{
			{Label: "n", Cells: []string{"90", "137", "227"}},
			{Label: "stage, n (%)", Cells: []string{"", "", ""}, SMD: "0.120"},
			{Label: "  I & II", Cells: []string{"<5 (≤5.6)", "12 (8.8)", "13–16 (5.7–7.0)"}},
		}}
	var buf bytes.Buffer
	if err := WriteTable1Docx(&buf, "Table 1 <lung>", tb, true, "privacy: exact release"); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*zip.File{}
	for _, f := range z.File {
		files[f.Name] = f
	}
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"} {
		if files[name] == nil {
			t.Fatalf("no %s in the package", name)
		}
	}
	rc, err := files["word/document.xml"].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var texts []string
	rows, cells := 0, 0
	d := xml.NewDecoder(rc)
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("document.xml is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			inText = e.Name.Local == "t"
			switch e.Name.Local {
			case "tr":
				rows++
			case "tc":
				cells++
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			inText = false
		}
	}
	got := strings.Join(texts, "|")
	// (Empty cells hold an empty text run.)
	want := "Table 1 <lung>|Characteristic|female|male|Overall|SMD|n|90|137|227|stage, n (%)|0.120|I & II|<5 (≤5.6)|12 (8.8)|13–16 (5.7–7.0)|age: <5 values left out|privacy: exact release"
	if got != want {
		t.Errorf("document text\n got %s\nwant %s", got, want)
	}
	if rows != 4 || cells != 4*5 {
		t.Errorf("%d table rows of %d cells, want the header and 3 rows of 5", rows, cells)
	}
}
