package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
)

// Table is a table on a page. Cells are plain text (escaped); the first
// column is left-aligned, the others right-aligned (they hold numbers).
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Page builds a self-contained HTML report: blocks in the order added,
// figures written as PNG files next to the HTML. The zero value is not
// usable; call NewPage.
type Page struct {
	title   string
	blocks  []block
	figures []Figure
	files   []attachment
	names   map[string]bool
}

type block struct {
	Kind    string // h2, h3, p, pre, list, table, figures, link
	Text    string
	Items   []string
	Table   *Table
	Figures []figureRef
}

type figureRef struct {
	Name, Caption string
	Width         int
}

type attachment struct {
	name string
	data []byte
}

// NewPage starts a page; title is its <title> and top heading.
func NewPage(title string) *Page {
	return &Page{title: title, names: map[string]bool{}}
}

// Heading adds a section heading.
func (p *Page) Heading(text string) { p.blocks = append(p.blocks, block{Kind: "h2", Text: text}) }

// Subheading adds a subsection heading.
func (p *Page) Subheading(text string) { p.blocks = append(p.blocks, block{Kind: "h3", Text: text}) }

// Text adds a paragraph.
func (p *Page) Text(text string) { p.blocks = append(p.blocks, block{Kind: "p", Text: text}) }

// Pre adds preformatted text, such as eval's text tables.
func (p *Page) Pre(text string) { p.blocks = append(p.blocks, block{Kind: "pre", Text: text}) }

// List adds a bulleted list; nothing when items is empty.
func (p *Page) List(items []string) {
	if len(items) > 0 {
		p.blocks = append(p.blocks, block{Kind: "list", Items: items})
	}
}

// Table adds a table.
func (p *Page) Table(t Table) { p.blocks = append(p.blocks, block{Kind: "table", Table: &t}) }

// Figures adds figures side by side (wrapping on narrow screens). Each
// figure's name must be unique on the page; the PNGs are written by Write.
func (p *Page) Figures(fs ...Figure) error {
	var refs []figureRef
	for _, f := range fs {
		if err := f.check(); err != nil {
			return err
		}
		if err := p.claim(f.Name); err != nil {
			return err
		}
		w, _ := f.Pixels()
		p.figures = append(p.figures, f)
		refs = append(refs, figureRef{Name: f.Name, Caption: f.Caption, Width: w})
	}
	if len(refs) > 0 {
		p.blocks = append(p.blocks, block{Kind: "figures", Figures: refs})
	}
	return nil
}

// Attach adds a file written next to the page (such as the report's JSON)
// and a link to it labelled text.
func (p *Page) Attach(name, text string, data []byte) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	if err := p.claim(name); err != nil {
		return err
	}
	p.files = append(p.files, attachment{name: name, data: data})
	p.blocks = append(p.blocks, block{Kind: "link", Text: text, Items: []string{name}})
	return nil
}

func (p *Page) claim(name string) error {
	if p.names[name] {
		return fmt.Errorf("report: file name %q used twice on the page", name)
	}
	p.names[name] = true
	return nil
}

// FigureNames returns the file names of the page's figures, in order.
func (p *Page) FigureNames() []string {
	out := make([]string, len(p.figures))
	for i, f := range p.figures {
		out[i] = f.Name
	}
	return out
}

// HTML renders the page.
func (p *Page) HTML() ([]byte, error) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct {
		Title  string
		Blocks []block
	}{p.title, p.blocks}); err != nil {
		return nil, fmt.Errorf("report: rendering the page: %w", err)
	}
	return buf.Bytes(), nil
}

// Write creates dir if needed and writes the page's figures (PNG), its
// attached files and then the HTML as dir/name (e.g. index.html), each
// atomically. It returns the path of the HTML file.
func (p *Page) Write(dir, name string) (string, error) {
	if dir == "" {
		return "", errNoDir
	}
	if err := checkFileName(name); err != nil {
		return "", err
	}
	if p.names[name] {
		return "", fmt.Errorf("report: page name %q is also a figure or attachment", name)
	}
	html, err := p.HTML()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	for _, f := range p.figures {
		if err := f.WritePNG(dir); err != nil {
			return "", err
		}
	}
	for _, a := range p.files {
		if err := WriteFile(filepath.Join(dir, a.name), a.data); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, name)
	return path, WriteFile(path, html)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #2171b5; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f6fa; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #555; max-width: 550px; }
pre { background: #f7f7f7; padding: .7rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Blocks}}{{if eq .Kind "h2"}}<h2>{{.Text}}</h2>
{{else if eq .Kind "h3"}}<h3>{{.Text}}</h3>
{{else if eq .Kind "p"}}<p>{{.Text}}</p>
{{else if eq .Kind "pre"}}<pre>{{.Text}}</pre>
{{else if eq .Kind "list"}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
{{else if eq .Kind "link"}}<p><a href="{{index .Items 0}}">{{.Text}}</a></p>
{{else if eq .Kind "table"}}<table>{{with .Table}}{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>{{end}}</table>
{{else if eq .Kind "figures"}}<div class="figures">{{range .Figures}}
<figure><img src="{{.Name}}" alt="{{.Caption}}" width="{{.Width}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</div>
{{end}}{{end}}</body>
</html>
`))
