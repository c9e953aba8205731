package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

const sharedData = "../../testdata/cloudtrail" // real records, copied with their licences

// readAll reads a file's records, parsing each, and returns the events and the per-record errors.
func readAll(t testing.TB, data []byte) ([]Event, []error, error) {
	t.Helper()
	var evs []Event
	var recErrs []error
	err := Read(bytes.NewReader(data), func(raw []byte) error {
		var e Event
		if err := ParseEvent(raw, &e); err != nil {
			recErrs = append(recErrs, err)
			return nil
		}
		evs = append(evs, e)
		return nil
	})
	return evs, recErrs, err
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// independentCount counts records the way a reader of the JSON would, with encoding/json.
func independentCount(t *testing.T, data []byte) int {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var count func(v any, inEvents bool) int
	count = func(v any, inEvents bool) int {
		switch x := v.(type) {
		case []any:
			n := 0
			for _, it := range x {
				n += count(it, inEvents)
			}
			return n
		case map[string]any:
			if r, ok := x["Records"]; ok && !inEvents {
				return count(r, false)
			}
			if r, ok := x["Events"]; ok && !inEvents {
				return count(r, true)
			}
			if _, ok := x["eventTime"]; ok {
				return 1
			}
			return 0
		}
		return 0
	}
	return count(v, false)
}

func TestReadSharedData(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedData, "stratus-red-team", "*.json"))
	files = append(files, filepath.Join(sharedData, "aws-docs-examples", "awsdocs_records.json"))
	if len(files) < 30 {
		t.Fatalf("shared data not found: %d files", len(files))
	}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := independentCount(t, data)
		for _, in := range [][]byte{data, gz(t, data)} {
			evs, recErrs, err := readAll(t, in)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(evs) != want {
				t.Errorf("%s: %d events, independent count %d (record errors %v)", f, len(evs), want, recErrs)
			}
			for _, e := range evs {
				if e.Time.IsZero() {
					t.Errorf("%s: event without time", f)
				}
				if id, _ := e.Get(ColEventID); id == "" {
					t.Errorf("%s: event without id", f)
				}
			}
		}
		total += want
	}
	t.Logf("%d files, %d events", len(files), total)
}

func TestParseEventMapping(t *testing.T) {
	raw := []byte(`{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:bob","arn":"arn:aws:sts::111122223333:assumed-role/Admin/bob","accountId":"111122223333","accessKeyId":"ASIA1","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"webIdFederationData":{"federatedProvider":"x","attributes":{"a":"b"}},"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"true"},"sourceIdentity":"alice"},"onBehalfOf":{"userId":"u1"}},"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"<script>alert(1)</script>","requestParameters":{"bucketName":"b","key":"k"},"responseElements":null,"requestID":"R","eventID":"E1","readOnly":true,"resources":[{"ARN":"arn:aws:s3:::b/k","type":"AWS::S3::Object"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"b.s3.amazonaws.com","extraTLS":1},"sessionCredentialFromConsole":"true"}`)
	var e Event
	if err := ParseEvent(raw, &e); err != nil {
		t.Fatal(err)
	}
	check := func(c Col, want string) {
		t.Helper()
		got, ok := e.Get(c)
		if !ok || got != want {
			t.Errorf("col %d = %q (%v), want %q", c, got, ok, want)
		}
	}
	check(ColUIType, "AssumedRole")
	check(ColSIUserName, "Admin")
	check(ColSCMFAAuthenticated, "true")
	check(ColReadOnly, "true")
	check(ColManagementEvent, "false")
	check(ColRequestParameters, `{"bucketName":"b","key":"k"}`)
	check(ColUserAgent, "<script>alert(1)</script>")
	check(ColResources, `[{"arn":"arn:aws:s3:::b/k","type":"AWS::S3::Object"},{"accountid":"111122223333","type":"AWS::S3::Bucket","arn":"arn:aws:s3:::b"}]`)
	check(ColSCWebIDFederationData, `{"federatedProvider":"x","attributes":"{\"a\":\"b\"}"}`)
	check(ColExtra, `{"sessionCredentialFromConsole":"true","userIdentity":{"onBehalfOf":{"userId":"u1"},"sessionContext":{"sourceIdentity":"alice"}},"tlsDetails":{"extraTLS":1}}`)
	if _, ok := e.Get(ColResponseElements); ok {
		t.Error("null responseElements should be absent")
	}
	if e.Structs != HasUserIdentity|HasSessionContext|HasAttributes|HasSessionIssuer|HasTLSDetails {
		t.Errorf("structs = %b", e.Structs)
	}
	var extra map[string]any
	if err := json.Unmarshal([]byte(e.Vals[ColExtra]), &extra); err != nil {
		t.Errorf("extra is not JSON: %v", err)
	}
}

func TestReadFormats(t *testing.T) {
	ev := func(id string) string {
		return `{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventID":"` + id + `","eventName":"X"}`
	}
	cases := []struct {
		name string
		in   string
		ids  string
		err  string
	}{
		{"records", `{"Records":[` + ev("a") + `,` + ev("b") + `]}`, "a,b", ""},
		{"records-empty", `{"Records":[]}`, "", ""},
		{"records-later-key", `{"Other":{"x":[1,2]},"Records":[` + ev("a") + `]}`, "a", ""},
		{"array", `[` + ev("a") + `, ` + ev("b") + `]`, "a,b", ""},
		{"jsonlines", ev("a") + "\n" + ev("b") + "\n", "a,b", ""},
		{"single", ev("a"), "a", ""},
		{"lookup", `{"Events":[{"EventId":"a","CloudTrailEvent":` + jsonString(ev("a")) + `}],"NextToken":"x"}`, "a", ""},
		{"truncated", `{"Records":[` + ev("a") + `,` + ev("b")[:30], "a", "truncated"},
		{"garbage-after", `{"Records":[` + ev("a") + `]} xyz`, "a", "unexpected data"},
		{"not-cloudtrail", `{"foo":1}`, "", "not a CloudTrail log"},
		{"not-cloudtrail-array", `[{"foo":1}]`, "", "not a CloudTrail log"},
		{"no-records-key", `{"Records":null}`, "", "no Records array"},
		{"empty", ``, "", "empty file"},
		{"spaces", "  \n ", "", "empty file"},
		{"text", `hello`, "", "unexpected character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, in := range [][]byte{[]byte(c.in), gz(t, []byte(c.in))} {
				var ids []string
				err := Read(bytes.NewReader(in), func(raw []byte) error {
					var e Event
					if err := ParseEvent(raw, &e); err == nil {
						ids = append(ids, e.Vals[ColEventID])
					}
					return nil
				})
				if got := strings.Join(ids, ","); got != c.ids {
					t.Errorf("ids %q, want %q", got, c.ids)
				}
				if c.err == "" && err != nil {
					t.Errorf("unexpected error %v", err)
				}
				if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
					t.Errorf("error %v, want %q", err, c.err)
				}
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestReadCorruptGzip(t *testing.T) {
	data := gz(t, []byte(`{"Records":[`+strings.Repeat(`{"eventTime":"2024-01-02T03:04:05Z","eventID":"a"},`, 2000)+`{"eventTime":"2024-01-02T03:04:05Z","eventID":"a"}]}`))
	cut := data[:len(data)/2]
	n := 0
	err := Read(bytes.NewReader(cut), func([]byte) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "corrupt gzip") {
		t.Fatalf("err = %v", err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Records != n {
		t.Fatalf("format error %v, records %d", err, n)
	}
	if n == 0 {
		t.Error("records before the corruption should be read")
	}
}

func TestParseEventErrors(t *testing.T) {
	cases := map[string]string{
		`{"eventID":"a"}`:                         "no eventTime",
		`{"eventTime":"yesterday","eventID":"a"}`: "not an ISO-8601 time",
		`[1]`: "not a CloudTrail record",
		`{"eventTime":"2024-01-02T03:04:05Z","x":}`:             "malformed",
		`{"eventTime":"2024-01-02T03:04:05Z","userIdentity":5}`: "not an object",
	}
	for in, want := range cases {
		var e Event
		err := ParseEvent([]byte(in), &e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", in, err, want)
		}
	}
	var e Event
	if err := ParseEvent([]byte("{\"eventTime\":\"2024-01-02T03:04:05Z\",\"userAgent\":\"a\xffb\"}"), &e); err != nil {
		t.Fatal(err)
	}
	if !e.Repaired || e.Vals[ColUserAgent] != "a\uFFFDb" || !e.IDSynthesized {
		t.Errorf("repair: %+v", e)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"Records":[{"eventTime":"2024-01-02T03:04:05Z","eventID":"a"}]}`))
	f.Add([]byte(`[{"eventTime":"2024-01-02T03:04:05Z"}]`))
	f.Add([]byte("{\"eventTime\":\"x\"}\n{\"a\":1}"))
	f.Add([]byte(`{"Events":[{"CloudTrailEvent":"{}"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Read(bytes.NewReader(data), func(raw []byte) error {
			var e Event
			_ = ParseEvent(raw, &e)
			return nil
		})
	})
}

// TestReadEscapesAcrossReads checks the record scanner's string skipping where it is subtle: escaped
// quotes, runs of backslashes before a closing quote, and brackets inside strings, with the input arriving
// one byte per read, so every boundary falls inside a string or a backslash run somewhere.
func TestReadEscapesAcrossReads(t *testing.T) {
	agents := []string{`a"b`, `a\`, `a\\`, `\"}]{[`, `\\\"`, `x\\\\`, `"`, `\`, `]}`}
	var recs []map[string]string
	for i, a := range agents {
		recs = append(recs, map[string]string{"eventTime": "2024-01-02T03:04:05Z", "eventID": string(rune('a' + i)), "userAgent": a})
	}
	data, err := json.Marshal(map[string]any{"Records": recs})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = Read(iotest.OneByteReader(bytes.NewReader(data)), func(raw []byte) error {
		var e Event
		if err := ParseEvent(raw, &e); err != nil {
			return err
		}
		got = append(got, e.Vals[ColUserAgent])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\x00") != strings.Join(agents, "\x00") {
		t.Fatalf("user agents %q, want %q", got, agents)
	}
}
