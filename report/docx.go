package report

import (
	"archive/zip"
	"encoding/xml"
	"io"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/analysis"
)

// WriteTable1Docx writes a Table 1 as a Word document (.docx, Office Open XML): a title, the
// table with a header row (bold labels of the variables, levels indented), the notes and a
// footnote (the privacy and provenance line), in the layout journals ask for — rules above and
// below the header and at the foot of the table, no vertical lines. smd adds the SMD column.
func WriteTable1Docx(w io.Writer, title string, tb analysis.Table1, smd bool, footnote string) error {
	z := zip.NewWriter(w)
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", docxContentTypes},
		{"_rels/.rels", docxRels},
		{"word/document.xml", table1DocumentXML(title, tb, smd, footnote)},
	}
	for _, p := range parts {
		f, err := z.Create(p.name)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(f, p.body); err != nil {
			return err
		}
	}
	return z.Close()
}

const docxContentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
	`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
	`<Default Extension="xml" ContentType="application/xml"/>` +
	`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
	`</Types>`

const docxRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
	`</Relationships>`

// table1DocumentXML is the document part: WordprocessingML with one table.
func table1DocumentXML(title string, tb analysis.Table1, smd bool, footnote string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	docxParagraph(&b, title, true, 0, "", 24)
	b.WriteString(`<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:tblBorders>` +
		`<w:top w:val="single" w:sz="8" w:space="0" w:color="000000"/>` +
		`<w:bottom w:val="single" w:sz="8" w:space="0" w:color="000000"/>` +
		`</w:tblBorders></w:tblPr>`)
	head := append([]string{"Characteristic"}, tb.Columns...)
	if smd {
		head = append(head, "SMD")
	}
	// The grid Word requires: column widths in twentieths of a point (A4 less margins ≈ 9,600).
	b.WriteString(`<w:tblGrid><w:gridCol w:w="3400"/>`)
	for range tb.Columns {
		b.WriteString(`<w:gridCol w:w="` + strconv.Itoa(max(1200, 5400/len(tb.Columns))) + `"/>`)
	}
	if smd {
		b.WriteString(`<w:gridCol w:w="800"/>`)
	}
	b.WriteString(`</w:tblGrid>`)
	docxRow(&b, head, true)
	for _, r := range tb.Rows {
		cells := append([]string{r.Label}, r.Cells...)
		if smd {
			cells = append(cells, r.SMD)
		}
		docxRow(&b, cells, false)
	}
	b.WriteString(`</w:tbl>`)
	for _, n := range tb.Notes {
		docxParagraph(&b, n, false, 0, "", 18)
	}
	if footnote != "" {
		docxParagraph(&b, footnote, false, 0, "", 16)
	}
	b.WriteString(`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>` +
		`<w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="709" w:gutter="0"/>` +
		`</w:sectPr></w:body></w:document>`)
	return b.String()
}

// docxRow writes a table row; a header row is bold with a rule under it. A label indented with
// spaces (a level under its variable) is indented in Word, a variable's label is bold.
func docxRow(b *strings.Builder, cells []string, header bool) {
	b.WriteString(`<w:tr>`)
	for i, c := range cells {
		b.WriteString(`<w:tc><w:tcPr>`)
		if header {
			b.WriteString(`<w:tcBorders><w:bottom w:val="single" w:sz="4" w:space="0" w:color="000000"/></w:tcBorders>`)
		}
		b.WriteString(`</w:tcPr>`)
		text, indent := c, 0
		if i == 0 {
			trimmed := strings.TrimLeft(c, " ")
			indent, text = 120*(len(c)-len(trimmed)), trimmed
		}
		bold := header || (i == 0 && indent == 0 && text != "")
		if i > 0 {
			docxParagraph(b, text, bold && header, 0, "center", 18)
		} else {
			docxParagraph(b, text, bold, indent, "", 18)
		}
		b.WriteString(`</w:tc>`)
	}
	b.WriteString(`</w:tr>`)
}

// docxParagraph writes a paragraph of one run, indented (twentieths of a point) and aligned
// ("" leaves Word's default); size is in half-points (18 = 9 pt).
func docxParagraph(b *strings.Builder, text string, bold bool, indent int, align string, size int) {
	b.WriteString(`<w:p><w:pPr>`)
	if indent > 0 {
		b.WriteString(`<w:ind w:left="` + strconv.Itoa(indent) + `"/>`)
	}
	if align != "" {
		b.WriteString(`<w:jc w:val="` + align + `"/>`)
	}
	b.WriteString(`</w:pPr>`)
	docxRun(b, text, bold, size)
	b.WriteString(`</w:p>`)
}

func docxRun(b *strings.Builder, text string, bold bool, size int) {
	b.WriteString(`<w:r><w:rPr>`)
	if bold {
		b.WriteString(`<w:b/>`)
	}
	b.WriteString(`<w:sz w:val="` + strconv.Itoa(size) + `"/></w:rPr><w:t xml:space="preserve">`)
	_ = xml.EscapeText(b, []byte(text))
	b.WriteString(`</w:t></w:r>`)
}
