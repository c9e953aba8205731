package cloudtrail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/buger/jsonparser"
	"github.com/klauspost/compress/gzip"
)

// MaxRecordSize bounds one record; CloudTrail's own limit is far below it.
const MaxRecordSize = 64 << 20

// FormatError says where and why a log file could not be read further.
type FormatError struct {
	Offset  int64 // byte offset in the decompressed stream
	Records int   // records read before the error
	Reason  string
	Err     error
}

func (e *FormatError) Error() string {
	msg := fmt.Sprintf("%s at byte %d (after %d records)", e.Reason, e.Offset, e.Records)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrEmpty is returned for a file with no content at all.
var ErrEmpty = errors.New("empty file")

// ErrNotCloudTrail is returned for JSON that holds no CloudTrail records.
var ErrNotCloudTrail = errors.New("not a CloudTrail log file")

// Read reads one log file and calls fn with the raw JSON of each record, in file order. It accepts gzip or
// plain text holding any of:
//
//   - the S3 delivery form {"Records":[…]};
//   - the LookupEvents output {"Events":[…]} (with CloudTrailEvent strings unwrapped);
//   - a JSON array of records;
//   - JSON lines, or any sequence of records or of the forms above.
//
// Records reach fn as they are read, so a file of any size uses bounded memory. On an error, the records
// before it have been passed to fn; the error is a *FormatError, ErrEmpty, ErrNotCloudTrail or fn's error.
// The slice passed to fn is only valid during the call.
func Read(r io.Reader, fn func(raw []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && len(magic) == 0 {
		if err == io.EOF {
			return ErrEmpty
		}
		return err
	}
	var in io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return &FormatError{Reason: "corrupt gzip header", Err: err}
		}
		zr.Multistream(true)
		in = zr
	}
	s := &scanner{r: in, gz: in != io.Reader(br), buf: make([]byte, 0, 256<<10)}
	rd := &fileReader{s: s, fn: fn}
	return rd.run()
}

type fileReader struct {
	s       *scanner
	fn      func([]byte) error
	records int
}

// recordKeys are fields every CloudTrail record has; a first record with none of them means the file is
// some other JSON.
var recordKeys = [][]string{{"eventTime"}, {"eventVersion"}, {"eventID"}, {"eventName"}, {"userIdentity"}}

func (f *fileReader) fail(reason string, err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, errGzip) {
		reason = "corrupt gzip data"
	}
	return &FormatError{Offset: f.s.offset(), Records: f.records, Reason: reason, Err: err}
}

func (f *fileReader) emit(raw []byte) error {
	if f.records == 0 && len(raw) > 0 && raw[0] == '{' {
		found := false
		jsonparser.EachKey(raw, func(int, []byte, jsonparser.ValueType, error) { found = true }, recordKeys...)
		if !found {
			return f.fail("the first JSON object has none of eventTime, eventVersion, eventID, eventName, userIdentity", ErrNotCloudTrail)
		}
	}
	f.records++
	return f.fn(raw)
}

func (f *fileReader) run() error {
	c, err := f.s.peekNonSpace()
	if err == io.EOF {
		return ErrEmpty
	}
	if err != nil {
		return f.fail("read", err)
	}
	if c == '{' {
		key, err := f.s.peekFirstKey()
		if err != nil && !errors.Is(err, io.EOF) {
			return f.fail("read", err)
		}
		if key == "Records" || key == "Events" || key == "NextToken" {
			if err := f.container(); err != nil {
				return err
			}
			return f.trailing()
		}
	}
	// A sequence of top-level values: JSON lines, a JSON array, or single records.
	values := 0
	for {
		c, err := f.s.peekNonSpace()
		if err == io.EOF {
			if values == 0 {
				return ErrEmpty
			}
			return nil
		}
		if err != nil {
			return f.fail("read", err)
		}
		values++
		switch c {
		case '[':
			if err := f.array(topLevel); err != nil {
				return err
			}
		case '{':
			raw, err := f.s.value()
			if err != nil {
				return f.fail("truncated or malformed JSON", err)
			}
			if err := f.record(raw, topLevel); err != nil {
				return err
			}
		default:
			return f.fail("unexpected character "+quoteByte(c)+", expected a JSON object or array", ErrNotCloudTrail)
		}
	}
}

// container streams {"Records":[…], …} without holding the file in memory.
func (f *fileReader) container() error {
	s := f.s
	if err := s.expect('{'); err != nil {
		return f.fail("malformed JSON", err)
	}
	found := false
	for {
		c, err := s.peekNonSpace()
		if err != nil {
			return f.fail("truncated JSON", eofAsUnexpected(err))
		}
		if c == '}' {
			s.pos++
			break
		}
		key, err := s.key()
		if err != nil {
			return f.fail("malformed JSON object key", err)
		}
		if key == "Records" || key == "Events" {
			c, err := s.peekNonSpace()
			if err != nil {
				return f.fail("truncated JSON", eofAsUnexpected(err))
			}
			if c == 'n' { // "Records": null
				if _, err := s.value(); err != nil {
					return f.fail("malformed JSON", err)
				}
			} else {
				where := inRecords
				if key == "Events" {
					where = inEvents
				}
				if err := f.array(where); err != nil {
					return err
				}
				found = true
			}
		} else if _, err := s.value(); err != nil {
			return f.fail("truncated or malformed JSON", err)
		}
		c, err = s.peekNonSpace()
		if err != nil {
			return f.fail("truncated JSON", eofAsUnexpected(err))
		}
		switch c {
		case ',':
			s.pos++
		case '}':
		default:
			return f.fail("malformed JSON: expected ',' or '}' but found "+quoteByte(c), nil)
		}
	}
	if !found {
		return f.fail("no Records array", ErrNotCloudTrail)
	}
	return nil
}

// array streams the elements of a JSON array, each a record (or a nested container form).
func (f *fileReader) array(where int) error {
	s := f.s
	if err := s.expect('['); err != nil {
		return f.fail("malformed JSON", err)
	}
	first := true
	for {
		c, err := s.peekNonSpace()
		if err != nil {
			return f.fail("truncated JSON", eofAsUnexpected(err))
		}
		if c == ']' {
			s.pos++
			return nil
		}
		if !first {
			if c != ',' {
				return f.fail("malformed JSON: expected ',' or ']' but found "+quoteByte(c), nil)
			}
			s.pos++
		}
		first = false
		raw, err := s.value()
		if err != nil {
			return f.fail("truncated or malformed JSON", err)
		}
		if err := f.record(raw, where); err != nil {
			return err
		}
	}
}

// Where a record sits decides what it may be.
const (
	inRecords = iota // an element of "Records": a record
	inEvents         // an element of "Events": a LookupEvents item or a record
	topLevel         // a top-level value or array element: a record or a nested container form
)

// unwrapKeys are looked up in one pass over a record that may be a wrapper.
var unwrapKeys = [][]string{{"CloudTrailEvent"}, {"Records"}, {"Events"}}

// record passes one element on, unwrapping LookupEvents items and nested container forms.
func (f *fileReader) record(raw []byte, where int) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || bytes.HasPrefix(raw, []byte(`{"eventVersion"`)) {
		return f.emit(raw) // ParseEvent judges it; CloudTrail writes eventVersion first, so this is the usual case
	}
	var (
		inner     []byte
		innerKind = -1
		innerDT   jsonparser.ValueType
	)
	jsonparser.EachKey(raw, func(idx int, v []byte, dt jsonparser.ValueType, err error) {
		if err != nil || innerKind >= 0 {
			return
		}
		switch {
		case idx == 0 && dt == jsonparser.String:
			inner, innerKind, innerDT = v, 0, dt
		case idx > 0 && where != inEvents && dt == jsonparser.Array:
			inner, innerKind, innerDT = v, idx, dt
		}
	}, unwrapKeys...)
	switch innerKind {
	case 0: // a LookupEvents item: the record is the CloudTrailEvent string
		s, err := jsonparser.ParseString(inner)
		if err != nil {
			return f.fail("malformed CloudTrailEvent string", err)
		}
		return f.emit([]byte(s))
	case 1, 2:
		_ = innerDT
		nested := inRecords
		if innerKind == 2 {
			nested = inEvents
		}
		var ferr error
		_, err := jsonparser.ArrayEach(inner, func(item []byte, _ jsonparser.ValueType, _ int, _ error) {
			if ferr == nil {
				ferr = f.record(item, nested)
			}
		})
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return f.fail("malformed JSON in nested "+unwrapKeys[innerKind][0], err)
		}
		return nil
	}
	return f.emit(raw)
}

func (f *fileReader) trailing() error {
	c, err := f.s.peekNonSpace()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return f.fail("read", err)
	}
	return f.fail("unexpected data "+quoteByte(c)+" after the end of the JSON document", nil)
}

func eofAsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("0x%02x", c)
}

var errGzip = errors.New("gzip")

// scanner finds the extent of JSON values in a stream, holding one value at a time.
type scanner struct {
	r    io.Reader
	gz   bool
	buf  []byte
	pos  int   // read position in buf
	base int64 // stream offset of buf[0]
	eof  bool
	err  error
}

func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// fill reads more input after dropping buf[:keep] (positions shift down by keep). It returns false when
// no more input will come.
func (s *scanner) fill(keep int) bool {
	if keep > 0 {
		n := copy(s.buf, s.buf[keep:])
		s.buf = s.buf[:n]
		s.base += int64(keep)
		s.pos -= keep
	}
	if s.eof {
		return false
	}
	if cap(s.buf)-len(s.buf) < 32<<10 {
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+64<<10)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.eof = true
		if err != io.EOF {
			s.err = err
			if s.gz {
				s.err = fmt.Errorf("%w: %w", errGzip, err)
			}
		}
	}
	return n > 0 || !s.eof
}

func (s *scanner) endErr() error {
	if s.err != nil {
		return s.err
	}
	return io.EOF
}

func (s *scanner) peekNonSpace() (byte, error) {
	for {
		for s.pos < len(s.buf) {
			c := s.buf[s.pos]
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				s.pos++
				continue
			}
			return c, nil
		}
		// Everything before pos is consumed: drop it.
		if !s.fill(s.pos) {
			return 0, s.endErr()
		}
	}
}

func (s *scanner) expect(b byte) error {
	c, err := s.peekNonSpace()
	if err != nil {
		return eofAsUnexpected(err)
	}
	if c != b {
		return fmt.Errorf("expected %s but found %s", quoteByte(b), quoteByte(c))
	}
	s.pos++
	return nil
}

// peekFirstKey returns the first key of the object at pos without consuming input.
func (s *scanner) peekFirstKey() (string, error) {
	for {
		rest := s.buf[s.pos:]
		i := 1
		for i < len(rest) && (rest[i] == ' ' || rest[i] == '\n' || rest[i] == '\r' || rest[i] == '\t') {
			i++
		}
		if i < len(rest) {
			if rest[i] != '"' {
				return "", nil
			}
			end := bytes.IndexByte(rest[i+1:], '"')
			if end >= 0 {
				return string(rest[i+1 : i+1+end]), nil
			}
		}
		if len(rest) > 4096 || !s.fill(s.pos) {
			return "", s.endErr()
		}
	}
}

func (s *scanner) key() (string, error) {
	raw, err := s.value()
	if err != nil {
		return "", err
	}
	if len(raw) < 2 || raw[0] != '"' {
		return "", fmt.Errorf("expected a string key but found %s", quoteByte(raw[0]))
	}
	k, err := jsonparser.ParseString(raw[1 : len(raw)-1])
	if err != nil {
		return "", err
	}
	if err := s.expect(':'); err != nil {
		return "", err
	}
	return k, nil
}

func (s *scanner) sized(v []byte) ([]byte, error) {
	if len(v) > MaxRecordSize {
		return nil, errTooLarge
	}
	return v, nil
}

var errTooLarge = fmt.Errorf("JSON value larger than %d MiB", MaxRecordSize>>20)

// value returns the raw bytes of the next JSON value, which stay valid until the next call.
func (s *scanner) value() ([]byte, error) {
	c, err := s.peekNonSpace()
	if err != nil {
		return nil, eofAsUnexpected(err)
	}
	start := s.pos
	i := start
	depth := 0
	inStr := false
	switch {
	case c == '{' || c == '[' || c == '"':
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		// literal or number: runs to the next delimiter
		for {
			for i < len(s.buf) {
				switch s.buf[i] {
				case ',', '}', ']', ' ', '\n', '\r', '\t':
					s.pos = i
					return s.buf[start:i], nil
				}
				i++
			}
			if i-start > 64 {
				return nil, errors.New("malformed literal")
			}
			off := i - start
			if !s.fill(start) {
				s.pos = len(s.buf)
				if s.err != nil {
					return nil, s.err
				}
				return s.buf[0:], nil
			}
			start = 0
			i = off
		}
	default:
		return nil, fmt.Errorf("unexpected character %s", quoteByte(c))
	}
	for {
		for ; i < len(s.buf); i++ {
			b := s.buf[i]
			if inStr {
				// Most of a record is string bytes: find the closing quote with IndexByte, not byte by byte.
				j := closingQuote(s.buf[start:], i-start)
				if j < 0 {
					i = len(s.buf) - 1
					continue
				}
				i = start + j
				inStr = false
				if depth == 0 {
					s.pos = i + 1
					return s.sized(s.buf[start : i+1])
				}
				continue
			}
			switch b {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos = i + 1
					return s.sized(s.buf[start : i+1])
				}
				if depth < 0 {
					return nil, fmt.Errorf("unbalanced %s", quoteByte(b))
				}
			}
		}
		if i-start > MaxRecordSize {
			return nil, errTooLarge
		}
		off := i - start
		if !s.fill(start) {
			s.pos = len(s.buf)
			if s.err != nil {
				return nil, s.err
			}
			return nil, io.ErrUnexpectedEOF
		}
		start = 0
		i = off
	}
}
