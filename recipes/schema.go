package recipes

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

//go:embed types.go
var typesSource string

// required lists the yaml names of the fields a type must have.
var required = map[string][]string{
	"Recipe":  {"name", "version", "platform"},
	"Package": {"name"},
	"Patch":   {"mode"},
}

// enums lists the values a "Type.Field" accepts.
var enums = map[string][]string{
	"Output.Compression": Compressions,
	"Build.Executor":     Executors,
	"Patch.Mode":         PatchModes,
}

// sizePattern is the form ParseByteSize reads (besides integers).
const sizePattern = `^[0-9]+(\.[0-9]+)?\s*([kKmMgGtT]([iI]?[bB])?|[bB])?$`

// JSONSchema returns a JSON Schema (draft 2020-12) of the recipe format,
// generated from the recipe types, with their doc comments as descriptions,
// for editors. The output is the same for the same program.
func JSONSchema() []byte {
	docs := fieldDocs()
	defs := map[string]any{}
	var typeSchema func(t reflect.Type) map[string]any
	typeSchema = func(t reflect.Type) map[string]any {
		switch t {
		case pathType:
			return map[string]any{"type": "string", "minLength": 1}
		case sizeType:
			return map[string]any{"anyOf": []any{
				map[string]any{"type": "integer", "minimum": 0},
				map[string]any{"type": "string", "pattern": sizePattern},
			}}
		}
		switch t.Kind() {
		case reflect.Pointer:
			return typeSchema(t.Elem())
		case reflect.String:
			return map[string]any{"type": "string"}
		case reflect.Int:
			return map[string]any{"type": "integer"}
		case reflect.Bool:
			return map[string]any{"type": "boolean"}
		case reflect.Slice:
			return map[string]any{"type": "array", "items": typeSchema(t.Elem())}
		case reflect.Map:
			return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem())}
		case reflect.Struct:
			name := t.Name()
			if _, done := defs[name]; !done {
				defs[name] = nil // placeholder against recursion
				props := map[string]any{}
				for _, f := range structFields(t) {
					sf := t.Field(f.index)
					s := typeSchema(sf.Type)
					if d := docs[name+"."+sf.Name]; d != "" {
						s["description"] = d
					}
					if e, ok := enums[name+"."+sf.Name]; ok {
						s["enum"] = e
					}
					props[f.name] = s
				}
				def := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
				if d := docs[name]; d != "" {
					def["description"] = d
				}
				if t == recipeType {
					def["patternProperties"] = map[string]any{"^" + ExtensionPrefix: map[string]any{}}
				}
				if r, ok := required[name]; ok {
					def["required"] = r
				}
				defs[name] = def
			}
			return map[string]any{"$ref": "#/$defs/" + name}
		}
		return map[string]any{}
	}
	typeSchema(reflect.TypeFor[Recipe]())
	schema := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "https://github.com/bundle-dev/bundle/recipes/recipe.schema.json",
		"title":   "bundle recipe",
		"$ref":    "#/$defs/Recipe",
		"$defs":   defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(schema); err != nil {
		// Only maps, slices and strings are encoded; this cannot happen.
		panic("recipes: schema: " + err.Error())
	}
	return buf.Bytes()
}

// fieldDocs reads the doc comments of the types in types.go: "Type" and
// "Type.Field" to the comment joined into one line.
func fieldDocs() map[string]string {
	docs := map[string]string{}
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return docs
	}
	oneLine := func(cg *ast.CommentGroup) string { return strings.Join(strings.Fields(cg.Text()), " ") }
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gd.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			if gd.Doc != nil {
				docs[ts.Name.Name] = oneLine(gd.Doc)
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				if field.Doc == nil {
					continue
				}
				for _, n := range field.Names {
					docs[ts.Name.Name+"."+n.Name] = oneLine(field.Doc)
				}
			}
		}
	}
	return docs
}
