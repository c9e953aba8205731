package store

import (
	"reflect"
	"unicode/utf8"
	"unsafe"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
)

// The driver's setters make one cgo call per string and per NULL: 4.8 s of CPU for the ~45M values of
// 1M events, a sixth of the whole ingest's (pprof). textColumn writes a chunk's VARCHAR column without a
// cgo call: each row's string_t (duckdb.h: a uint32 length, then up to 12 bytes inline, or a 4-byte
// prefix and a pointer) is written from Go, and out-of-line strings are copied into the cursor's arena
// (arena.go), where the pointers lead.
//
// The driver keeps a vector's data and validity pointers in unexported fields. vectorFields
// finds them by name and type once; if it cannot (a driver upgrade changed them), textColumn uses the
// driver's setters, and TestDirectVectorWrites fails so the slowdown does not go unnoticed.

// vectorFields holds the offsets of duckdb.Vector's *vector and of that vector's fields.
var vectorFields = func() (f struct {
	ok              bool
	ptr, data, mask uintptr
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
	data, ok1 := field("dataPtr", pointer)
	mask, ok2 := field("maskPtr", pointer)
	f.ok = ok1 && ok2
	f.ptr, f.data, f.mask = p.Offset, data, mask
	return f
}()

const (
	stringTSize  = 16 // sizeof(duckdb_string_t)
	stringInline = 12 // strings up to this length are stored inside the string_t
)

// rawVector is a writable flat VARCHAR vector of the chunk being filled.
type rawVector struct {
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
		data: *(*unsafe.Pointer)(unsafe.Add(p, vectorFields.data)),
		mask: *(*unsafe.Pointer)(unsafe.Add(p, vectorFields.mask)),
	}
	return r, r.data != nil && r.mask != nil
}

func (r rawVector) word(row int) *uint64 { return (*uint64)(unsafe.Add(r.mask, row/64*8)) }

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

// put writes the collected rows into column col of ch, starting at row 0, their out-of-line bytes into
// mem, which must live until DuckDB has consumed ch.
func (t *textColumn) put(ch *duckdb.DataChunk, col int, mem *arena) error {
	if r, ok := rawVectorOf(ch, col); ok && t.putDirect(r, mem) {
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

// putDirect writes the rows into r, and returns false, having written nothing, when a value is not valid
// UTF-8: the driver's setters then judge each value (DuckDB stores NULL). A row that repeats the string
// of the row before (the same bytes in memory, as a file's path on each of its events) points at the
// same copy.
func (t *textColumn) putDirect(r rawVector, mem *arena) bool {
	n := 0
	var last string
	for i, s := range t.vals {
		switch {
		case !t.valid[i], sameString(s, last): // a repeat was checked and counted
		case !t.utf8 && !utf8.ValidString(s):
			return false
		case len(s) > stringInline:
			n += len(s)
			last = s
		}
	}
	var heap, lastPtr unsafe.Pointer
	if n > 0 {
		heap = mem.alloc(n)
	}
	last = ""
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
		if !sameString(s, last) {
			lastPtr, last = heap, s
			copy(unsafe.Slice((*byte)(heap), len(s)), s)
			heap = unsafe.Add(heap, len(s))
		}
		copy(slot[4:8], s)
		*(*unsafe.Pointer)(unsafe.Pointer(&slot[8])) = lastPtr
	}
	return true
}

// sameString reports whether a and b are the same bytes in memory.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
