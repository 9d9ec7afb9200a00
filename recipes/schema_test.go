package recipes

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// TestSchemaCoversEveryField walks the recipe types and checks that every
// yaml field is a property of its type in the schema, with a description,
// and that nothing else is.
func TestSchemaCoversEveryField(t *testing.T) {
	var schema struct {
		Defs map[string]struct {
			Description          string                     `json:"description"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
			Required             []string                   `json:"required"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(JSONSchema(), &schema); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	fields := 0
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == pathType || seen[typ] {
			return
		}
		seen[typ] = true
		def, ok := schema.Defs[typ.Name()]
		if !ok {
			t.Errorf("schema has no definition of %s", typ.Name())
			return
		}
		if def.Description == "" {
			t.Errorf("%s: no description", typ.Name())
		}
		if def.AdditionalProperties == nil || *def.AdditionalProperties {
			t.Errorf("%s: unknown properties must be refused", typ.Name())
		}
		sf := structFields(typ)
		if len(sf) != len(def.Properties) {
			t.Errorf("%s: %d yaml fields, %d schema properties", typ.Name(), len(sf), len(def.Properties))
		}
		for _, f := range sf {
			fields++
			raw, ok := def.Properties[f.name]
			if !ok {
				t.Errorf("%s: schema lacks property %q", typ.Name(), f.name)
				continue
			}
			var prop struct {
				Description string `json:"description"`
			}
			if err := json.Unmarshal(raw, &prop); err != nil || prop.Description == "" {
				t.Errorf("%s.%s: no description (write a doc comment on the field)", typ.Name(), f.name)
			}
			walk(typ.Field(f.index).Type)
		}
		for _, r := range def.Required {
			if !slices.ContainsFunc(sf, func(f structField) bool { return f.name == r }) {
				t.Errorf("%s: required %q is not a field", typ.Name(), r)
			}
		}
	}
	walk(reflect.TypeFor[Recipe]())
	if fields < 50 {
		t.Errorf("walked only %d fields", fields)
	}
}

// TestSchemaGolden pins the schema byte for byte (and so its determinism).
func TestSchemaGolden(t *testing.T) {
	got := JSONSchema()
	if !bytes.Equal(got, JSONSchema()) {
		t.Fatal("JSONSchema is not deterministic")
	}
	golden := "testdata/recipe.schema.json"
	testenv.Golden(t, golden, got)
}

// TestSchemaEnums checks the enums come from the values Validate accepts.
func TestSchemaEnums(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	prop := func(def, name string) map[string]any {
		return schema["$defs"].(map[string]any)[def].(map[string]any)["properties"].(map[string]any)[name].(map[string]any)
	}
	enum := func(p map[string]any) []string {
		var out []string
		for _, v := range p["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := enum(prop("Output", "compression")); !slices.Equal(got, Compressions) {
		t.Errorf("compression enum = %v", got)
	}
	if got := enum(prop("Patch", "mode")); !slices.Equal(got, PatchModes) {
		t.Errorf("mode enum = %v", got)
	}
}
