package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Every doc comment of an exported function, method or type, and of an
// exported variable or constant declared on its own, begins with the name
// it documents (optionally after "A", "An" or "The"), so that go doc and
// a reader of the source find what a comment is about. A comment over a
// group of constants heads the group and is left alone.
func TestDocCommentsNameTheirIdentifiers(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	names := func(name string, doc *ast.CommentGroup, pos token.Pos) {
		if doc == nil || !ast.IsExported(name) {
			return
		}
		checked++
		words := strings.Fields(doc.Text())
		if len(words) == 0 {
			return
		}
		first := strings.TrimRight(words[0], ":,")
		if first == name || len(words) > 1 && (first == "A" || first == "An" || first == "The") && strings.TrimRight(words[1], ":,") == name {
			return
		}
		t.Errorf("%s: the doc comment of %s begins %q", fset.Position(pos), name, strings.Join(words[:min(len(words), 6)], " "))
	}
	for _, root := range []string{"cmd", "pkg", "internal", "tools"} {
		err := filepath.WalkDir(filepath.Join("..", "..", root), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				switch decl := decl.(type) {
				case *ast.FuncDecl:
					names(decl.Name.Name, decl.Doc, decl.Pos())
				case *ast.GenDecl:
					for _, spec := range decl.Specs {
						switch spec := spec.(type) {
						case *ast.TypeSpec:
							doc := spec.Doc
							if doc == nil && len(decl.Specs) == 1 {
								doc = decl.Doc
							}
							names(spec.Name.Name, doc, spec.Pos())
						case *ast.ValueSpec:
							if len(decl.Specs) == 1 && len(spec.Names) == 1 {
								doc := spec.Doc
								if doc == nil {
									doc = decl.Doc
								}
								names(spec.Names[0].Name, doc, spec.Pos())
							}
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 300 {
		t.Errorf("only %d doc comments checked: the walk missed the source", checked)
	}
	t.Logf("%d doc comments checked", checked)
}
