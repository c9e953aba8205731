package cloudtrail

import (
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		key  string
		want Key
	}{
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0005Z_abc.json.gz",
			Key{InLayout: true, Account: "111122223333", Region: "us-east-1", Year: "2024", Month: "03", Day: "01", Kind: KindLog}},
		{"logs/prod/AWSLogs/o-abc123defg/111122223333/CloudTrail/eu-west-1/2024/12/31/f.json.gz",
			Key{InLayout: true, Prefix: "logs/prod", Org: "o-abc123defg", Account: "111122223333", Region: "eu-west-1", Year: "2024", Month: "12", Day: "31", Kind: KindLog}},
		{"AWSLogs/o-abc123defg/111122223333/CloudTrail-Digest/eu-west-1/2024/12/31/f.json.gz",
			Key{InLayout: true, Org: "o-abc123defg", Account: "111122223333", Region: "eu-west-1", Year: "2024", Month: "12", Day: "31", Kind: KindDigest}},
		{"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/01/f.json.gz",
			Key{InLayout: true, Account: "111122223333", Region: "us-east-1", Year: "2024", Month: "03", Day: "01", Kind: KindInsight}},
		{"AWSLogs/111122223333/Config/us-east-1/2024/3/1/ConfigHistory/f.json.gz", Key{Kind: KindOther}},
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/30/f.json.gz", Key{Kind: KindLog}}, // no such day
		{"AWSLogs/1111/CloudTrail/us-east-1/2024/03/01/f.json.gz", Key{Kind: KindLog}},         // not an account
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/", Key{Kind: KindLog}},             // a folder
		{"exports/lookup-events.json", Key{Kind: KindLog}},
		{"", Key{Kind: KindLog}},
	}
	for _, c := range cases {
		if got := ParseKey(c.key); got != c.want {
			t.Errorf("ParseKey(%q)\n got %+v\nwant %+v", c.key, got, c.want)
		}
	}
	k := ParseKey(cases[1].key)
	if k.Timestamp() != "2024/12/31" || !k.Date().Equal(time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp %s date %s", k.Timestamp(), k.Date())
	}
	if p := DayPrefix("logs/prod/", "o-abc123defg", "111122223333", "eu-west-1", k.Date()); p != "logs/prod/AWSLogs/o-abc123defg/111122223333/CloudTrail/eu-west-1/2024/12/31/" {
		t.Errorf("DayPrefix = %s", p)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("AWSLogs/o-abc123defg/111122223333/CloudTrail/eu-west-1/2024/12/31/f.json.gz")
	f.Add("x/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/f")
	f.Add("AWSLogs/AWSLogs/o-/")
	f.Fuzz(func(t *testing.T, key string) {
		k := ParseKey(key)
		if k.InLayout {
			if len(k.Account) != 12 || k.Region == "" || k.Date().IsZero() {
				t.Fatalf("in layout but incomplete: %+v", k)
			}
			if got := DayPrefix(k.Prefix, k.Org, k.Account, k.Region, k.Date()); k.Kind == KindLog && len(got) > len(key) {
				t.Fatalf("prefix %q longer than key %q", got, key)
			}
		}
	})
}
