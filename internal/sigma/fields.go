package sigma

import (
	"strings"
)

// FieldKind says how a resolved field is represented in the table.
type FieldKind int

// Field kinds.
const (
	Scalar   FieldKind = iota // one text value (or NULL)
	List                      // a list of text values: a match on any element counts
	JSONPath                  // a path into a JSON text column: every value the path reaches, through arrays
	Virtual                   // computed by trailwatch: principal, offHours
)

// Field is a Sigma field name resolved against the Athena CloudTrail table.
type Field struct {
	Name   string    // as written in the rule
	Kind   FieldKind //
	Column string    // the top-level column (or the JSON column for JSONPath)
	Path   []string  // struct path below Column (Scalar, List) or JSON path (JSONPath)
	Text   bool      // a Scalar that is a struct or list: compared as its JSON text
}

type colNode struct {
	name     string
	kind     string // scalar, struct, json, structlist, map
	children []*colNode
}

func leaf(names ...string) []*colNode {
	out := make([]*colNode, len(names))
	for i, n := range names {
		out[i] = &colNode{name: n, kind: "scalar"}
	}
	return out
}

// cloudTrailColumns is the Athena CloudTrail table, the columns rules can name.
var cloudTrailColumns = func() map[string]*colNode {
	m := map[string]*colNode{}
	for _, n := range leaf("eventversion", "eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress",
		"useragent", "errorcode", "errormessage", "requestid", "eventid", "readonly", "eventtype", "apiversion",
		"recipientaccountid", "sharedeventid", "vpcendpointid", "eventcategory", "managementevent") {
		m[n.name] = n
	}
	for _, n := range []string{"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"} {
		m[n] = &colNode{name: n, kind: "json"}
	}
	m["useridentity"] = &colNode{name: "useridentity", kind: "struct", children: append(
		leaf("type", "principalid", "arn", "accountid", "invokedby", "accesskeyid", "username"),
		&colNode{name: "sessioncontext", kind: "struct", children: []*colNode{
			{name: "attributes", kind: "struct", children: leaf("mfaauthenticated", "creationdate")},
			{name: "sessionissuer", kind: "struct", children: leaf("type", "principalid", "arn", "accountid", "username")},
			{name: "ec2roledelivery", kind: "scalar"},
			{name: "webidfederationdata", kind: "map"},
		}},
	)}
	m["tlsdetails"] = &colNode{name: "tlsdetails", kind: "struct", children: leaf("tlsversion", "ciphersuite", "clientprovidedhostheader")}
	m["resources"] = &colNode{name: "resources", kind: "structlist", children: leaf("arn", "accountid", "type")}
	return m
}()

// ExtraColumn holds every field of an event outside the Athena columns, as JSON nested as in the event.
const ExtraColumn = "extra"

// VirtualFields are the fields trailwatch computes.
var VirtualFields = map[string]string{
	"trailwatch.principal": "who acted, resolved through assumed roles to the human where the record says so",
	"trailwatch.offhours":  "'true' when the event falls outside business hours in the configured time zone",
}

// ResolveField maps a Sigma field name (a CloudTrail JSON path) to where the store keeps it. Column and
// struct names are matched without regard to case, as Athena does; JSON keys keep their case.
func ResolveField(name string) (Field, bool) {
	if name == "" {
		return Field{}, false
	}
	if _, ok := VirtualFields[strings.ToLower(name)]; ok {
		return Field{Name: name, Kind: Virtual, Path: []string{strings.ToLower(name)}}, true
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if p == "" {
			return Field{}, false
		}
	}
	col, ok := cloudTrailColumns[strings.ToLower(parts[0])]
	if !ok {
		return Field{Name: name, Kind: JSONPath, Column: ExtraColumn, Path: parts}, true
	}
	f := Field{Name: name, Column: col.name}
	switch col.kind {
	case "scalar":
		if len(parts) > 1 {
			return Field{Name: name, Kind: JSONPath, Column: ExtraColumn, Path: parts}, true
		}
		f.Kind = Scalar
		return f, true
	case "json":
		if len(parts) == 1 {
			f.Kind = Scalar
			return f, true
		}
		f.Kind, f.Path = JSONPath, parts[1:]
		return f, true
	case "structlist":
		if len(parts) == 1 {
			f.Kind, f.Text = Scalar, true
			return f, true
		}
		child := findChild(col, parts[1])
		if child == nil || len(parts) > 2 {
			return Field{Name: name, Kind: JSONPath, Column: ExtraColumn, Path: parts}, true
		}
		f.Kind, f.Path = List, []string{child.name}
		return f, true
	}
	// A struct: walk down.
	node := col
	for i := 1; i < len(parts); i++ {
		switch node.kind {
		case "struct":
			child := findChild(node, parts[i])
			if child == nil {
				return Field{Name: name, Kind: JSONPath, Column: ExtraColumn, Path: parts}, true
			}
			f.Path = append(f.Path, child.name)
			node = child
		default: // a path into a scalar or a map: not a column of the table

			return Field{Name: name, Kind: JSONPath, Column: ExtraColumn, Path: parts}, true
		}
	}
	f.Kind = Scalar
	f.Text = node.kind != "scalar"
	return f, true
}

func findChild(n *colNode, name string) *colNode {
	l := strings.ToLower(name)
	for _, c := range n.children {
		if c.name == l {
			return c
		}
	}
	return nil
}
