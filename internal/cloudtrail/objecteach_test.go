package cloudtrail

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buger/jsonparser"
)

// walk records what an ObjectEach implementation reports for data, nested objects included.
func walk(each func([]byte, func(key, value []byte, dt jsonparser.ValueType, offset int) error) error, data []byte) string {
	var b strings.Builder
	var visit func(data []byte, depth int) error
	visit = func(data []byte, depth int) error {
		return each(data, func(key, value []byte, dt jsonparser.ValueType, offset int) error {
			fmt.Fprintf(&b, "%d %q %q %v %d\n", depth, key, value, dt, offset)
			if dt == jsonparser.Object && depth < 3 {
				if err := visit(value, depth+1); err != nil {
					fmt.Fprintf(&b, "nested error: %v\n", err)
				}
			}
			if string(key) == "stop" {
				return fmt.Errorf("stopped")
			}
			return nil
		})
	}
	err := visit(data, 0)
	fmt.Fprintf(&b, "error: %v\n", err)
	return b.String()
}

func jsonparserEach(data []byte, cb func(key, value []byte, dt jsonparser.ValueType, offset int) error) error {
	return jsonparser.ObjectEach(data, cb)
}

// seedObjects are the records of the real CloudTrail files under testdata and some edge cases.
func seedObjects(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{}`), []byte(` { } `), []byte(`{"a":"b\"c\\","d":[1,{"e":"]}"}],"f":{"g":{"h":null}},"t":true,"n":-1.5e3}`),
		[]byte(`{"k\u0041y":"v","stop":1,"after":2}`), []byte(`{"a":"\\\\"}`), []byte(`{"a":"x\\\"y"}`),
		[]byte(`{"a":tru}`), []byte(`{"a":"unterminated}`), []byte(`{"a":{"b":1}`), []byte(`{"a" 1}`), []byte(`{"a":1,}`),
		[]byte(`{"a":1 "b":2}`), []byte(`["a"]`), []byte(`{"a":[1,2}`), []byte(`{"a":nul}`), []byte(`{"a":x}`), []byte(`{`),
	}
	files, _ := filepath.Glob("../../testdata/cloudtrail/*/*.json") // real records, copied with their licences
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_ = Read(strings.NewReader(string(data)), func(raw []byte) error {
			seeds = append(seeds, append([]byte(nil), raw...))
			return nil
		})
	}
	return seeds
}

func TestObjectEachMatchesJSONParser(t *testing.T) {
	seeds := seedObjects(t)
	if len(seeds) < 50 {
		t.Fatalf("only %d records found under testdata/cloudtrail", len(seeds))
	}
	for _, data := range seeds {
		// Every prefix too: truncated input must fail the same way.
		for _, d := range [][]byte{data, data[:len(data)/2], data[:len(data)-1]} {
			if want, got := walk(jsonparserEach, d), walk(objectEach, d); got != want {
				t.Fatalf("%q:\njsonparser:\n%s\nobjectEach:\n%s", d, want, got)
			}
		}
	}
}

func FuzzObjectEach(f *testing.F) {
	for _, s := range seedObjects(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if want, got := walk(jsonparserEach, data), walk(objectEach, data); got != want {
			t.Fatalf("%q:\njsonparser:\n%s\nobjectEach:\n%s", data, want, got)
		}
	})
}
