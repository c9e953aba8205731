package store

import (
	"reflect"
	"unicode/utf8"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
)

// The driver's setters make one cgo call per string and per NULL: 4.8 s of CPU for the ~45M values of
// 1M events, a sixth of the whole ingest's (pprof). textColumn writes a chunk's VARCHAR column with one
// call: the column's out-of-line strings go to DuckDB as one blob, which it copies into the vector's
// string heap (checking it is UTF-8 unless the values are known to be), and each row's string_t
// (duckdb.h: a uint32 length, then up to 12 bytes inline, or a 4-byte prefix and a pointer) is written
// from Go, pointing into that copy. The heap belongs to the vector, so the strings live exactly as long
// as DuckDB's own would.
//
// The driver keeps a vector's handle and its data and validity pointers in unexported fields. vectorFields
// finds them by name and type once; if it cannot (a driver upgrade changed them), textColumn uses the
// driver's setters, and TestDirectVectorWrites fails so the slowdown does not go unnoticed.

// vectorFields holds the offsets of duckdb.Vector's *vector and of that vector's fields.
var vectorFields = func() (f struct {
	ok                   bool
	ptr, vec, data, mask uintptr
}) {
	if unsafe.Sizeof(mapping.StringT{}) != stringTSize {
		return f
	}
	p, ok := reflect.TypeOf(duckdb.Vector{}).FieldByName("v")
	if !ok || len(p.Index) != 1 || p.Type.Kind() != reflect.Pointer || p.Type.Elem().Kind() != reflect.Struct {
		return f
	}
	field := func(name string, t reflect.Type) (uintptr, bool) {
		sf, ok := p.Type.Elem().FieldByName(name)
		return sf.Offset, ok && len(sf.Index) == 1 && sf.Type == t
	}
	pointer := reflect.TypeOf(unsafe.Pointer(nil))
	vec, ok1 := field("vec", reflect.TypeOf(mapping.Vector{}))
	data, ok2 := field("dataPtr", pointer)
	mask, ok3 := field("maskPtr", pointer)
	f.ok = ok1 && ok2 && ok3
	f.ptr, f.vec, f.data, f.mask = p.Offset, vec, data, mask
	return f
}()

const (
	stringTSize  = 16 // sizeof(duckdb_string_t)
	stringInline = 12 // strings up to this length are stored inside the string_t
)

// rawVector is a writable flat VARCHAR vector of the chunk being filled.
type rawVector struct {
	vec  mapping.Vector
	data unsafe.Pointer // string_t[capacity]
	mask unsafe.Pointer // uint64 validity words, a set bit is a valid row
}

// rawVectorOf returns column col of ch, and false when it cannot be written directly.
func rawVectorOf(ch *duckdb.DataChunk, col int) (rawVector, bool) {
	if !vectorFields.ok {
		return rawVector{}, false
	}
	v, err := ch.GetVector(col)
	if err != nil {
		return rawVector{}, false
	}
	p := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(&v), vectorFields.ptr))
	if p == nil {
		return rawVector{}, false
	}
	r := rawVector{
		vec:  *(*mapping.Vector)(unsafe.Add(p, vectorFields.vec)),
		data: *(*unsafe.Pointer)(unsafe.Add(p, vectorFields.data)),
		mask: *(*unsafe.Pointer)(unsafe.Add(p, vectorFields.mask)),
	}
	return r, r.vec.Ptr != nil && r.data != nil && r.mask != nil
}

func (r rawVector) word(row int) *uint64 { return (*uint64)(unsafe.Add(r.mask, row/64*8)) }

func (r rawVector) valid(row int) bool { return *r.word(row)&(1<<(row%64)) != 0 }

func (r rawVector) setValid(row int, ok bool) {
	if ok {
		*r.word(row) |= 1 << (row % 64)
	} else {
		*r.word(row) &^= 1 << (row % 64)
	}
}

// textColumn collects one VARCHAR column of a chunk, row by row, and writes it with put.
type textColumn struct {
	vals  []string
	valid []bool
	blob  []byte
	// utf8 says every value is valid UTF-8 already, as cloudtrail.ParseEvent guarantees for an event's
	// values (it repairs the record's bytes, and unescaping cannot make invalid text): nothing checks
	// them again. Otherwise (object keys, paths) put checks, and DuckDB stores an invalid value as NULL.
	utf8 bool
}

func (t *textColumn) reset() { t.vals, t.valid, t.utf8 = t.vals[:0], t.valid[:0], false }

func (t *textColumn) add(s string, ok bool) {
	t.vals = append(t.vals, s)
	t.valid = append(t.valid, ok)
}

// addNullable adds s, an empty s as NULL.
func (t *textColumn) addNullable(s string) { t.add(s, s != "") }

// put writes the collected rows into column col of ch, starting at row 0.
func (t *textColumn) put(ch *duckdb.DataChunk, col int) error {
	r, direct := rawVectorOf(ch, col)
	if direct {
		direct = t.putDirect(r)
	}
	if direct {
		return nil
	}
	for i, s := range t.vals {
		var err error
		if t.valid[i] {
			err = duckdb.SetChunkValue(*ch, col, i, s)
		} else {
			err = duckdb.SetChunkValue[any](*ch, col, i, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// putDirect writes the rows into r, and returns false, having changed nothing that the driver's setters
// do not set again, when a value is not valid UTF-8: DuckDB then judges each value (it stores NULL).
func (t *textColumn) putDirect(r rawVector) bool {
	b := t.blob[:0]
	for i, s := range t.vals {
		if !t.valid[i] {
			continue
		}
		if len(s) > stringInline {
			b = append(b, s...)
		} else if !t.utf8 && !utf8.ValidString(s) {
			return false
		}
	}
	t.blob = b
	var heap unsafe.Pointer
	if len(b) > 0 {
		// b is longer than stringInline (each piece is), so DuckDB stores it out of line, in the vector's
		// heap, and row 0's string_t points at the copy; rejected bytes leave row 0 NULL instead.
		if t.utf8 {
			bindings.UnsafeVectorAssignStringElementLen(r.vec, 0, b)
		} else {
			mapping.VectorAssignStringElementLen(r.vec, 0, b)
		}
		if !r.valid(0) {
			r.setValid(0, true)
			return false
		}
		heap = *(*unsafe.Pointer)(unsafe.Add(r.data, 8))
	}
	off := 0
	for i, s := range t.vals {
		if !t.valid[i] {
			r.setValid(i, false)
			continue
		}
		r.setValid(i, true)
		slot := (*[stringTSize]byte)(unsafe.Add(r.data, i*stringTSize))
		*slot = [stringTSize]byte{} // inline strings compare by all 16 bytes: the padding must be zero
		*(*uint32)(unsafe.Pointer(slot)) = uint32(len(s))
		if len(s) <= stringInline {
			copy(slot[4:], s)
			continue
		}
		copy(slot[4:8], s)
		*(*unsafe.Pointer)(unsafe.Pointer(&slot[8])) = unsafe.Add(heap, off)
		off += len(s)
	}
	return true
}
