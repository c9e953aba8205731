package cloudtrail

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkReadParse reads and parses a gzip log file of 1,000 realistic records.
func BenchmarkReadParse(b *testing.B) {
	var recs []string
	for i := 0; i < 1000; i++ {
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:s%d","arn":"arn:aws:sts::111122223333:assumed-role/app/s%d","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/app","accountId":"111122223333","userName":"app"},"attributes":{"creationDate":"2024-03-01T10:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-03-01T10:00:%02dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.%d","userAgent":"aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22","requestParameters":{"bucketName":"data","key":"k/%d","Host":"data.s3.amazonaws.com"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","bytesTransferredIn":0,"bytesTransferredOut":1024},"requestID":"R%d","eventID":"e%d","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::data/k/%d"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"data.s3.amazonaws.com"}}`, i, i, i%60, i%250, i, i, i, i))
	}
	data := gz(b, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var e Event
	n := 0
	for i := 0; i < b.N; i++ {
		err := Read(bytes.NewReader(data), func(raw []byte) error {
			n++
			return ParseEvent(raw, &e)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
