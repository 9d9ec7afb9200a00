// Command funclen lists the functions of non-test Go files longer than a
// limit, and exits 1 when there is one: `make check` keeps functions short
// enough to read in one go.
//
//	go run ./internal/funclen [-max 150] [DIR...]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// long is one function over the limit.
type long struct {
	pos   token.Position
	name  string
	lines int
}

func main() {
	max := flag.Int("max", 150, "the most lines a function may have")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	var found []long
	for _, d := range dirs {
		l, err := scan(d, *max)
		if err != nil {
			fmt.Fprintln(os.Stderr, "funclen:", err)
			os.Exit(2)
		}
		found = append(found, l...)
	}
	for _, f := range found {
		fmt.Printf("%s:%d: %s is %d lines (max %d)\n", f.pos.Filename, f.pos.Line, f.name, f.lines, *max)
	}
	if len(found) > 0 {
		os.Exit(1)
	}
}

// scan walks dir for non-test Go files (skipping testdata and hidden
// folders) and returns their functions longer than max lines, in file order.
func scan(dir string, max int) ([]long, error) {
	var found []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		found = append(found, inFile(fset, f, max)...)
		return nil
	})
	sort.SliceStable(found, func(i, j int) bool { return found[i].pos.Filename < found[j].pos.Filename })
	return found, err
}

// inFile returns f's functions, methods and function literals longer than
// max lines.
func inFile(fset *token.FileSet, f *ast.File, max int) []long {
	var found []long
	ast.Inspect(f, func(n ast.Node) bool {
		var name string
		var body *ast.BlockStmt
		switch fn := n.(type) {
		case *ast.FuncDecl:
			name, body = fn.Name.Name, fn.Body
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				name = recvName(fn.Recv.List[0].Type) + "." + name
			}
		case *ast.FuncLit:
			name, body = "func literal", fn.Body
		default:
			return true
		}
		if body == nil {
			return false
		}
		start, end := fset.Position(n.Pos()), fset.Position(body.Rbrace)
		if lines := end.Line - start.Line + 1; lines > max {
			found = append(found, long{start, name, lines})
		}
		return true
	})
	return found
}

// recvName is the type name of a method's receiver.
func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}
