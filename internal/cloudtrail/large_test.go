package cloudtrail

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// spaceReader yields head, then n bytes of whitespace, then tail, without holding them in memory.
type spaceReader struct {
	head, tail []byte
	n          int64
}

func (r *spaceReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		k := copy(p, r.head)
		r.head = r.head[k:]
		return k, nil
	}
	if r.n > 0 {
		k := len(p)
		if int64(k) > r.n {
			k = int(r.n)
		}
		for i := range p[:k] {
			p[i] = ' '
		}
		r.n -= int64(k)
		return k, nil
	}
	if len(r.tail) > 0 {
		k := copy(p, r.tail)
		r.tail = r.tail[k:]
		return k, nil
	}
	return 0, io.EOF
}

const oneRecord = `{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventID":"%s"}`

// A 2 GB log file is read as a stream in bounded memory.
func TestRead2GBFile(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 2 GB")
	}
	r := &spaceReader{
		head: []byte(`{"Records":[` + strings.Replace(oneRecord, "%s", "first", 1) + `,`),
		n:    2 << 30,
		tail: []byte(strings.Replace(oneRecord, "%s", "last", 1) + `]}`),
	}
	var ids []string
	err := Read(r, func(raw []byte) error {
		var e Event
		if err := ParseEvent(raw, &e); err != nil {
			return err
		}
		ids = append(ids, e.Vals[ColEventID])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "first,last" {
		t.Fatalf("ids %v", ids)
	}
}

// A single record beyond MaxRecordSize is refused with a clear error; the records before it are kept.
func TestReadHugeRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MB")
	}
	r := &spaceReader{
		head: []byte(`{"Records":[` + strings.Replace(oneRecord, "%s", "first", 1) + `,{"eventTime":"2024-01-02T03:04:05Z","requestParameters":{"x":"`),
		tail: append(bytes.Repeat([]byte("a"), MaxRecordSize+1024), `"}}]}`...),
	}
	n := 0
	err := Read(r, func([]byte) error { n++; return nil })
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than 64 MiB") || n != 1 {
		t.Fatalf("err %v after %d records", err, n)
	}
}
