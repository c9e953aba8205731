package cloudtrail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"
)

// Col names one flat value of an event. The store assembles the Athena table's nested columns from them.
type Col int

// The flat values of an event, in the order of the Athena CloudTrail table.
const (
	ColEventVersion Col = iota
	ColUIType
	ColUIPrincipalID
	ColUIARN
	ColUIAccountID
	ColUIInvokedBy
	ColUIAccessKeyID
	ColUIUserName
	ColSCMFAAuthenticated
	ColSCCreationDate
	ColSIType
	ColSIPrincipalID
	ColSIARN
	ColSIAccountID
	ColSIUserName
	ColSCEC2RoleDelivery
	ColSCWebIDFederationData // JSON object of string values, becomes MAP(VARCHAR, VARCHAR)
	ColEventTime
	ColEventSource
	ColEventName
	ColAWSRegion
	ColSourceIPAddress
	ColUserAgent
	ColErrorCode
	ColErrorMessage
	ColRequestParameters
	ColResponseElements
	ColAdditionalEventData
	ColRequestID
	ColEventID
	ColReadOnly
	ColResources // JSON array of {"arn","accountid","type"}
	ColEventType
	ColAPIVersion
	ColRecipientAccountID
	ColServiceEventDetails
	ColSharedEventID
	ColVPCEndpointID
	ColTLSVersion
	ColTLSCipherSuite
	ColTLSHost
	ColEventCategory
	ColManagementEvent
	ColExtra // JSON object with every field outside the columns above, nested as in the event
	NumCols
)

// Struct presence flags: a struct absent from the event is NULL in the table, not a struct of NULLs.
const (
	HasUserIdentity = 1 << iota
	HasSessionContext
	HasAttributes
	HasSessionIssuer
	HasTLSDetails
)

// Event is one CloudTrail record flattened for storage. Values are the record's own text; an absent or null
// field has its bit clear in Set.
type Event struct {
	Vals    [NumCols]string
	Set     uint64
	Structs uint8
	Time    time.Time // eventTime parsed, UTC
	// IDSynthesized is true when the record had no eventID (CloudTrail eventVersion 1.0 records did not)
	// and EventID holds a content hash instead ("tw-" + 32 hex digits).
	IDSynthesized bool
	// Repaired is true when invalid UTF-8 in the record was replaced with U+FFFD.
	Repaired bool
}

// Get returns the value of c and whether the event has it.
func (e *Event) Get(c Col) (string, bool) {
	if e.Set&(1<<uint(c)) == 0 {
		return "", false
	}
	return e.Vals[c], true
}

func (e *Event) set(c Col, v string) {
	e.Vals[c] = v
	e.Set |= 1 << uint(c)
}

// Reset clears the event for reuse.
func (e *Event) Reset() { *e = Event{} }

// ErrNotEvent marks a JSON value that is not a CloudTrail record.
var ErrNotEvent = errors.New("not a CloudTrail record")

// ParseEvent maps one raw CloudTrail record onto e. It fails when the record is not a JSON object, lacks
// eventTime or has one that is not an ISO-8601 time. A missing eventID is replaced with a content hash.
func ParseEvent(raw []byte, e *Event) error {
	e.Reset()
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		e.Repaired = true
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: a record must be a JSON object", ErrNotEvent)
	}
	var extra objBuilder
	var uiExtra, scExtra, attrExtra, siExtra, tlsExtra objBuilder
	err := objectEach(raw, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
		k := string(key)
		switch k {
		case "eventVersion":
			return e.scalar(ColEventVersion, value, dt)
		case "userIdentity":
			if dt == jsonparser.Null {
				return nil
			}
			if dt != jsonparser.Object {
				return fmt.Errorf("userIdentity is a %s, not an object", dt)
			}
			e.Structs |= HasUserIdentity
			return objectEach(value, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
				switch string(key) {
				case "type":
					return e.scalar(ColUIType, value, dt)
				case "principalId":
					return e.scalar(ColUIPrincipalID, value, dt)
				case "arn":
					return e.scalar(ColUIARN, value, dt)
				case "accountId":
					return e.scalar(ColUIAccountID, value, dt)
				case "invokedBy":
					return e.scalar(ColUIInvokedBy, value, dt)
				case "accessKeyId":
					return e.scalar(ColUIAccessKeyID, value, dt)
				case "userName":
					return e.scalar(ColUIUserName, value, dt)
				case "sessionContext":
					if dt != jsonparser.Object {
						uiExtra.add(key, value, dt)
						return nil
					}
					e.Structs |= HasSessionContext
					return e.sessionContext(value, &scExtra, &attrExtra, &siExtra)
				default:
					uiExtra.add(key, value, dt)
				}
				return nil
			})
		case "eventTime":
			if err := e.scalar(ColEventTime, value, dt); err != nil {
				return err
			}
			s := e.Vals[ColEventTime]
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("eventTime %q is not an ISO-8601 time", truncate(s, 40))
			}
			e.Time = t.UTC()
		case "eventSource":
			return e.scalar(ColEventSource, value, dt)
		case "eventName":
			return e.scalar(ColEventName, value, dt)
		case "awsRegion":
			return e.scalar(ColAWSRegion, value, dt)
		case "sourceIPAddress":
			return e.scalar(ColSourceIPAddress, value, dt)
		case "userAgent":
			return e.scalar(ColUserAgent, value, dt)
		case "errorCode":
			return e.scalar(ColErrorCode, value, dt)
		case "errorMessage":
			return e.scalar(ColErrorMessage, value, dt)
		case "requestParameters":
			e.jsonText(ColRequestParameters, value, dt)
		case "responseElements":
			e.jsonText(ColResponseElements, value, dt)
		case "additionalEventData":
			e.jsonText(ColAdditionalEventData, value, dt)
		case "serviceEventDetails":
			e.jsonText(ColServiceEventDetails, value, dt)
		case "requestID":
			return e.scalar(ColRequestID, value, dt)
		case "eventID":
			return e.scalar(ColEventID, value, dt)
		case "readOnly":
			return e.scalar(ColReadOnly, value, dt)
		case "resources":
			if dt == jsonparser.Null {
				return nil
			}
			if dt != jsonparser.Array {
				extra.add(key, value, dt)
				return nil
			}
			res, ok := normalizeResources(value)
			if !ok {
				extra.add(key, value, dt) // keep what does not fit the Athena shape, whole
			}
			e.set(ColResources, res)
		case "eventType":
			return e.scalar(ColEventType, value, dt)
		case "apiVersion":
			return e.scalar(ColAPIVersion, value, dt)
		case "recipientAccountId":
			return e.scalar(ColRecipientAccountID, value, dt)
		case "sharedEventID":
			return e.scalar(ColSharedEventID, value, dt)
		case "vpcEndpointId":
			return e.scalar(ColVPCEndpointID, value, dt)
		case "tlsDetails":
			if dt == jsonparser.Null {
				return nil
			}
			if dt != jsonparser.Object {
				extra.add(key, value, dt)
				return nil
			}
			e.Structs |= HasTLSDetails
			return objectEach(value, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
				switch string(key) {
				case "tlsVersion":
					return e.scalar(ColTLSVersion, value, dt)
				case "cipherSuite":
					return e.scalar(ColTLSCipherSuite, value, dt)
				case "clientProvidedHostHeader":
					return e.scalar(ColTLSHost, value, dt)
				default:
					tlsExtra.add(key, value, dt)
				}
				return nil
			})
		case "eventCategory":
			return e.scalar(ColEventCategory, value, dt)
		case "managementEvent":
			return e.scalar(ColManagementEvent, value, dt)
		default:
			extra.add(key, value, dt)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("malformed record: %v", err)
	}
	if _, ok := e.Get(ColEventTime); !ok {
		return errors.New("record has no eventTime")
	}
	if id, ok := e.Get(ColEventID); !ok || id == "" {
		sum := sha256.Sum256(raw)
		e.set(ColEventID, "tw-"+hex.EncodeToString(sum[:16]))
		e.IDSynthesized = true
	}
	// Nest the extras the way they sit in the event.
	scExtra.addObj("attributes", &attrExtra)
	scExtra.addObj("sessionIssuer", &siExtra)
	uiExtra.addObj("sessionContext", &scExtra)
	extra.addObj("userIdentity", &uiExtra)
	extra.addObj("tlsDetails", &tlsExtra)
	if !extra.empty() {
		e.set(ColExtra, extra.String())
	}
	return nil
}

func (e *Event) sessionContext(value []byte, scExtra, attrExtra, siExtra *objBuilder) error {
	return objectEach(value, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
		switch string(key) {
		case "attributes":
			if dt != jsonparser.Object {
				scExtra.add(key, value, dt)
				return nil
			}
			e.Structs |= HasAttributes
			return objectEach(value, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
				switch string(key) {
				case "mfaAuthenticated":
					return e.scalar(ColSCMFAAuthenticated, value, dt)
				case "creationDate":
					return e.scalar(ColSCCreationDate, value, dt)
				default:
					attrExtra.add(key, value, dt)
				}
				return nil
			})
		case "sessionIssuer":
			if dt != jsonparser.Object {
				scExtra.add(key, value, dt)
				return nil
			}
			e.Structs |= HasSessionIssuer
			return objectEach(value, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
				switch string(key) {
				case "type":
					return e.scalar(ColSIType, value, dt)
				case "principalId":
					return e.scalar(ColSIPrincipalID, value, dt)
				case "arn":
					return e.scalar(ColSIARN, value, dt)
				case "accountId":
					return e.scalar(ColSIAccountID, value, dt)
				case "userName":
					return e.scalar(ColSIUserName, value, dt)
				default:
					siExtra.add(key, value, dt)
				}
				return nil
			})
		case "ec2RoleDelivery":
			return e.scalar(ColSCEC2RoleDelivery, value, dt)
		case "webIdFederationData":
			if dt == jsonparser.Null {
				return nil
			}
			if dt != jsonparser.Object {
				scExtra.add(key, value, dt)
				return nil
			}
			e.set(ColSCWebIDFederationData, stringMap(value))
		default:
			scExtra.add(key, value, dt)
		}
		return nil
	})
}

// scalar stores a string, number or boolean as text, the way Athena's JSON SerDe reads it into a STRING.
// An object or array is kept as its JSON text.
func (e *Event) scalar(c Col, value []byte, dt jsonparser.ValueType) error {
	switch dt {
	case jsonparser.Null:
		return nil
	case jsonparser.String:
		s, err := jsonparser.ParseString(value)
		if err != nil {
			return fmt.Errorf("bad string: %v", err)
		}
		e.set(c, s)
	default:
		e.set(c, string(value))
	}
	return nil
}

func (e *Event) jsonText(c Col, value []byte, dt jsonparser.ValueType) {
	switch dt {
	case jsonparser.Null:
	case jsonparser.String:
		// A JSON string is stored as the string itself, as Athena's SerDe does.
		if s, err := jsonparser.ParseString(value); err == nil {
			e.set(c, s)
		} else {
			e.set(c, string(value))
		}
	default:
		e.set(c, string(value))
	}
}

// normalizeResources rewrites CloudTrail's resources array (keys ARN, accountId, type) with the Athena
// struct's lowercase field names. ok is false when an item holds anything else, which the caller keeps.
func normalizeResources(value []byte) (string, bool) {
	b := make([]byte, 0, len(value)+16)
	b = append(b, '[')
	ok := true
	n := 0
	_, _ = jsonparser.ArrayEach(value, func(item []byte, dt jsonparser.ValueType, _ int, _ error) {
		if dt != jsonparser.Object {
			ok = false
			return
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '{')
		first := true
		_ = objectEach(item, func(key, v []byte, dt jsonparser.ValueType, _ int) error {
			var name string
			switch string(key) {
			case "ARN", "arn":
				name = "arn"
			case "accountId", "accountid":
				name = "accountid"
			case "type":
				name = "type"
			default:
				ok = false
				return nil
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":`...)
			if dt == jsonparser.String {
				b = append(b, '"')
				b = append(b, v...)
				b = append(b, '"')
			} else if dt == jsonparser.Null {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendQuote(b, string(v))
			}
			return nil
		})
		b = append(b, '}')
	})
	b = append(b, ']')
	return string(b), ok
}

// stringMap turns a JSON object into one whose values are all strings (nested values as JSON text), the
// shape of Athena's MAP<STRING,STRING>.
func stringMap(value []byte) string {
	b := []byte{'{'}
	first := true
	_ = objectEach(value, func(key, v []byte, dt jsonparser.ValueType, _ int) error {
		if dt == jsonparser.Null {
			return nil
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		if dt == jsonparser.String {
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		} else {
			b = strconv.AppendQuote(b, string(v))
		}
		return nil
	})
	return string(append(b, '}'))
}

// objBuilder writes a JSON object of raw values, keeping key order.
type objBuilder struct{ b []byte }

func (o *objBuilder) add(key, value []byte, dt jsonparser.ValueType) {
	if o.b == nil {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, key...)
	o.b = append(o.b, `":`...)
	if dt == jsonparser.String {
		o.b = append(o.b, '"')
		o.b = append(o.b, value...)
		o.b = append(o.b, '"')
	} else {
		o.b = append(o.b, value...)
	}
}

func (o *objBuilder) addObj(key string, child *objBuilder) {
	if child.empty() {
		return
	}
	o.add([]byte(key), []byte(child.String()), jsonparser.Object)
}

func (o *objBuilder) empty() bool { return o.b == nil }

func (o *objBuilder) String() string {
	if o.b == nil {
		return "{}"
	}
	return string(o.b) + "}"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
