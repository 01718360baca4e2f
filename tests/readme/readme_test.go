// Package readme runs README.md's own command blocks against the built
// binary and the image, so that the README cannot drift from the product.
//
// Every ```bash block of the README runs, in the order it appears, with bash
// and curl. A comment line right before a block says how:
//
//	<!-- readme-test: server -->  the block starts the server: it runs in the
//	                              background (with `go run ./cmd/aggregator`
//	                              replaced by the binary built here) until the
//	                              test ends, and /readyz must answer first
//	<!-- readme-test: docker -->  the block needs Docker: it runs against the
//	                              image built from dist/ (target prebuilt)
//
// Blocks for commands that must not run here (the test command itself, a
// stream that never ends) are ```sh. Ports, container, volume and image names
// are replaced by ones of this run, so that it can share a machine. The
// PowerShell blocks are checked for what breaks when they are pasted.
package readme

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// block is one fenced code block of the README.
type block struct {
	lang    string
	marker  string // from <!-- readme-test: MARKER -->
	heading string // the nearest heading above it
	line    int    // of the opening fence, 1-based
	raw     []string
}

func (b block) text() string { return strings.Join(dedent(b.raw), "\n") + "\n" }

var markerRE = regexp.MustCompile(`^<!-- readme-test: (\w+) -->$`)

func parseBlocks(readme string) []block {
	var (
		blocks       []block
		cur          *block
		heading      string
		prevNonEmpty string
	)
	for i, line := range strings.Split(readme, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if trimmed == "```" {
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			cur.raw = append(cur.raw, line)
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimPrefix(trimmed, "```"), heading: heading, line: i + 1}
			if m := markerRE.FindStringSubmatch(prevNonEmpty); m != nil {
				cur.marker = m[1]
			}
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
		if trimmed != "" {
			prevNonEmpty = trimmed
		}
	}
	return blocks
}

// dedent removes the indentation all non-empty lines share.
func dedent(lines []string) []string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); indent < 0 || n < indent {
			indent = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		out[i] = l
	}
	return out
}

func readme(t *testing.T) []block {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return parseBlocks(string(b))
}

// PowerShell rejects a here-string whose closing '@ is not at column 0 of the
// raw text, a 4xx from Invoke-RestMethod throws away the problem body, and
// nested objects print as @{...} without ConvertTo-Json -Depth.
func TestPowerShellBlocksPasteAsTheyAre(t *testing.T) {
	n := 0
	for _, b := range readme(t) {
		if b.lang != "powershell" {
			continue
		}
		n++
		text := strings.Join(b.raw, "\n")
		for i, l := range b.raw {
			where := fmt.Sprintf("README.md:%d", b.line+1+i)
			if s := strings.TrimSpace(l); (s == "'@" || s == `"@`) && l != s {
				t.Errorf("%s: here-string terminator %q is indented; PowerShell needs it at column 0", where, s)
			}
			if strings.Contains(l, "Invoke-RestMethod") && strings.Contains(l, "-Method Post") &&
				!strings.Contains(l, "-SkipHttpErrorCheck") && !strings.Contains(text, "try {") {
				t.Errorf("%s: a POST without try/catch or -SkipHttpErrorCheck hides the problem body of a 4xx", where)
			}
			if strings.Contains(l, "Invoke-RestMethod") && strings.Contains(l, "/stats") && !strings.Contains(l, "ConvertTo-Json -Depth") {
				t.Errorf("%s: /stats has nested objects: pipe it to ConvertTo-Json -Depth 5", where)
			}
		}
	}
	if n == 0 {
		t.Fatal("README.md has no PowerShell blocks")
	}
}

func TestBashBlocksHaveNoPowerShellSyntax(t *testing.T) {
	for _, b := range readme(t) {
		if b.lang != "bash" && b.lang != "sh" {
			continue
		}
		for i, l := range b.raw {
			if strings.HasSuffix(strings.TrimRight(l, " "), "`") || strings.Contains(l, "Invoke-RestMethod") {
				t.Errorf("README.md:%d: PowerShell syntax in a %s block: %q", b.line+1+i, b.lang, l)
			}
		}
	}
}
