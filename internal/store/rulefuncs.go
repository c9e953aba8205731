package store

import (
	"database/sql/driver"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/buger/jsonparser"
	"github.com/duckdb/duckdb-go/v2"
)

// ruleUDFs are the Go functions compiled detection rules call (see internal/sigma's DuckDB dialect):
//
//	tw_json_values(doc, path)  every value a path reaches in a JSON document, through arrays, as text
//	tw_json_has(doc, path)     whether the path is present (even as null or empty)
//	tw_cidr_match(ip, cidr)    whether an IP address is inside a network
//
// A path is the list of keys joined by U+001F; keys match exactly (JSON is case-sensitive, as in Athena).
func ruleUDFs() []udfSet {
	V, Bool := duckdb.TYPE_VARCHAR, duckdb.TYPE_BOOLEAN
	listInfo, err := duckdb.NewListInfo(mustTypeInfo(V))
	if err != nil {
		panic(fmt.Sprintf("duckdb list type: %v", err)) // a programming error
	}
	return []udfSet{
		{"tw_json_values", []goFunc{{in: []duckdb.Type{V, V}, outInfo: listInfo, fn: func(a []driver.Value) (any, error) {
			var out []any
			jsonWalk([]byte(a[0].(string)), strings.Split(a[1].(string), "\x1f"), func(v []byte, t jsonparser.ValueType) {
				switch t {
				case jsonparser.Null, jsonparser.NotExist:
				case jsonparser.String:
					s, err := jsonparser.ParseString(v)
					if err != nil {
						s = string(v)
					}
					out = append(out, s)
				default:
					out = append(out, string(v))
				}
			})
			return out, nil
		}}}},
		{"tw_json_has", []goFunc{{in: []duckdb.Type{V, V}, out: Bool, fn: func(a []driver.Value) (any, error) {
			found := false
			jsonWalk([]byte(a[0].(string)), strings.Split(a[1].(string), "\x1f"), func(_ []byte, t jsonparser.ValueType) {
				if t != jsonparser.NotExist {
					found = true
				}
			})
			return found, nil
		}}}},
		{"tw_cidr_match", []goFunc{{in: []duckdb.Type{V, V}, out: Bool, fn: func(a []driver.Value) (any, error) {
			prefix, err := cachedPrefix(a[1].(string))
			if err != nil {
				return nil, err
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(a[0].(string)))
			if err != nil {
				return false, nil // a host name such as ec2.amazonaws.com is in no network
			}
			return prefix.Contains(addr.Unmap()), nil
		}}}},
	}
}

var prefixCache sync.Map

func cachedPrefix(s string) (netip.Prefix, error) {
	if p, ok := prefixCache.Load(s); ok {
		return p.(netip.Prefix), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("tw_cidr_match: %q is not a network: %v", s, err)
	}
	p = p.Masked()
	prefixCache.Store(s, p)
	return p, nil
}

// jsonWalk calls fn with every value the path reaches in doc, passing through arrays at any level.
func jsonWalk(doc []byte, path []string, fn func(v []byte, t jsonparser.ValueType)) {
	v, t, _, err := jsonparser.Get(doc)
	if err != nil {
		return
	}
	walkValue(v, t, path, fn, 0)
}

func walkValue(v []byte, t jsonparser.ValueType, path []string, fn func([]byte, jsonparser.ValueType), depth int) {
	if depth > 64 {
		return
	}
	if t == jsonparser.Array {
		if len(path) == 0 {
			// A path that ends on an array yields its elements.
			_, _ = jsonparser.ArrayEach(v, func(ev []byte, et jsonparser.ValueType, _ int, _ error) {
				fn(ev, et)
			})
			return
		}
		_, _ = jsonparser.ArrayEach(v, func(ev []byte, et jsonparser.ValueType, _ int, _ error) {
			walkValue(ev, et, path, fn, depth+1)
		})
		return
	}
	if len(path) == 0 {
		fn(v, t)
		return
	}
	if t != jsonparser.Object {
		return
	}
	cv, ct, _, err := jsonparser.Get(v, path[0])
	if err != nil {
		return // keys match exactly, as in Athena's JSON functions
	}
	walkValue(cv, ct, path[1:], fn, depth+1)
}
