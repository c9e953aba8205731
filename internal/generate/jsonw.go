package generate

import (
	"strconv"
	"unicode/utf8"
)

// jw appends JSON to b by hand: encoding/json would spend most of the generator's time in reflection.
// Commas are placed from the last byte written, so a writer never tracks state: a member or element that
// follows an opening brace, an opening bracket or a colon gets none, any other gets one.
// Keys are trusted literals and are not escaped; values always are.
type jw struct{ b []byte }

func (w *jw) comma() {
	if n := len(w.b); n > 0 {
		switch w.b[n-1] {
		case '{', '[', ':':
		default:
			w.b = append(w.b, ',')
		}
	}
}

// key starts a member; an empty key starts an array element (or a value right after key).
func (w *jw) key(k string) {
	w.comma()
	if k == "" {
		return
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jw) num(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// empty writes an empty object, as CloudTrail logs the unset sets of EC2 requests.
func (w *jw) empty(k string) {
	w.key(k)
	w.b = append(w.b, '{', '}')
}

func (w *jw) open(k string) {
	w.key(k)
	w.b = append(w.b, '{')
}

func (w *jw) close() { w.b = append(w.b, '}') }

func (w *jw) openArr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
}

func (w *jw) closeArr() { w.b = append(w.b, ']') }

// cat writes a string member made of parts, escaping each; it saves building the string.
func (w *jw) cat(k string, parts ...string) {
	w.key(k)
	w.b = append(w.b, '"')
	for _, p := range parts {
		w.b = appendEscaped(w.b, p)
	}
	w.b = append(w.b, '"')
}

// time writes a CloudTrail eventTime, 2006-01-02T15:04:05Z.
func (w *jw) time(k string, unix int64) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = appendTime(w.b, unix)
	w.b = append(w.b, '"')
}

// id writes a string of n characters drawn from alphabet, after prefix, from the hash h.
func (w *jw) id(k, prefix string, h uint64, alphabet string, n int) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = appendID(w.b, prefix, h, alphabet, n)
	w.b = append(w.b, '"')
}

// items writes {"items":[{"<field>":"<v>"}]} for the EC2 request sets.
func (w *jw) items(k, field, v string) {
	w.open(k)
	w.openArr("items")
	w.open("")
	w.str(field, v)
	w.close()
	w.closeArr()
	w.close()
}

// appendString appends s as a JSON string. Control characters, quotes and backslashes are escaped; HTML
// characters are not (CloudTrail does not escape them either, so the report must); invalid UTF-8 becomes
// U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the inside of the JSON string s, without the quotes.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendTime appends unix seconds as 2006-01-02T15:04:05Z without going through time.Time.
func appendTime(b []byte, unix int64) []byte {
	days := unix / 86400
	secs := unix - days*86400
	if secs < 0 {
		secs += 86400
		days--
	}
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(secs/3600))
	b = append(b, ':')
	b = append2(b, int(secs/60%60))
	b = append(b, ':')
	b = append2(b, int(secs%60))
	return append(b, 'Z')
}

// civil turns days since 1970-01-01 into a proleptic Gregorian date (H. Hinnant's days_from_civil inverse).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendUUID appends hi and lo as a version 4 UUID, as CloudTrail writes eventID and requestID.
func appendUUID(b []byte, hi, lo uint64) []byte {
	const hex = "0123456789abcdef"
	hi = hi&^0xf000 | 0x4000     // version 4 in the time_hi_and_version group
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	var raw [16]byte
	for i := 0; i < 8; i++ {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// Alphabets of the identifiers AWS hands out.
const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base32     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerHex   = "0123456789abcdef"
	base64ish  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// appendID appends prefix and n characters of alphabet drawn from the hash h.
func appendID(b []byte, prefix string, h uint64, alphabet string, n int) []byte {
	b = append(b, prefix...)
	x := mix(h)
	for i := 0; i < n; i++ {
		if i%8 == 7 {
			x = mix(h + uint64(i))
		}
		b = append(b, alphabet[x%uint64(len(alphabet))])
		x /= uint64(len(alphabet))
	}
	return b
}

// makeID is appendID returning a string, for identifiers computed once while planning.
func makeID(prefix string, h uint64, alphabet string, n int) string {
	return string(appendID(make([]byte, 0, len(prefix)+n), prefix, h, alphabet, n))
}

// mix is the splitmix64 finalizer: a cheap, well-spread 64-bit hash step.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hash combines values into one well-spread value.
func hash(xs ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, x := range xs {
		h = mix(h ^ x)
	}
	return h
}

// hashString is FNV-1a, for mixing names into hash.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
