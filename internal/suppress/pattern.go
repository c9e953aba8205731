package suppress

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// glob is a compiled glob: exact text when it has no wildcard, else an anchored regular expression (RE2, so
// matching takes linear time whatever the pattern).
type glob struct {
	lit string
	re  *regexp.Regexp
}

var _ valueMatcher = glob{}

// compileGlob reads a glob: * matches any run of characters, ? one character, and \*, \? and \\ stand for
// themselves. Any other backslash is an error, so that a pattern means one thing.
func compileGlob(s string) (glob, error) {
	var re, lit strings.Builder
	wild := false
	re.WriteString(`(?s)^`)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 == len(s) {
				return glob{}, fmt.Errorf("glob %q ends in a lone backslash (write \\\\ for a backslash)", s)
			}
			n := s[i+1]
			if n != '*' && n != '?' && n != '\\' {
				return glob{}, fmt.Errorf("glob %q has the unknown escape \\%c (only \\*, \\? and \\\\ are escapes)", s, n)
			}
			re.WriteString(regexp.QuoteMeta(string(n)))
			lit.WriteByte(n)
			i++
		case '*':
			wild = true
			re.WriteString(`.*`)
		case '?':
			wild = true
			re.WriteString(`.`)
		default:
			// Copy the run up to the next special byte whole, so multi-byte characters stay intact.
			j := i + 1
			for j < len(s) && s[j] != '\\' && s[j] != '*' && s[j] != '?' {
				j++
			}
			re.WriteString(regexp.QuoteMeta(s[i:j]))
			lit.WriteString(s[i:j])
			i = j - 1
		}
	}
	if !wild {
		return glob{lit: lit.String()}, nil
	}
	re.WriteString(`$`)
	r, err := regexp.Compile(re.String())
	if err != nil {
		return glob{}, fmt.Errorf("glob %q: %v", s, err)
	}
	return glob{re: r}, nil
}

func (g glob) match(s string) bool {
	if g.re == nil {
		return s == g.lit
	}
	return g.re.MatchString(s)
}

// ipRange is an IP address or CIDR range; a bare address is a range of one.
type ipRange netip.Prefix

var _ valueMatcher = ipRange{}

// compileIP reads an IPv4 or IPv6 address or CIDR range. A range with bits set past its length
// (10.0.0.1/8) is an error: it is a typo or a misunderstanding either way. IPv4-mapped IPv6 forms are taken
// as the IPv4 they map.
func compileIP(s string) (ipRange, error) {
	if strings.ContainsAny(s, "*?") {
		return ipRange{}, fmt.Errorf("%q is a glob; source_ip takes IP addresses and CIDR ranges", s)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return ipRange{}, fmt.Errorf("%q is not a CIDR range", s)
		}
		if m := p.Masked(); m != p {
			return ipRange{}, fmt.Errorf("%s has bits set past the prefix length; write %s", s, m)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return ipRange(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ipRange{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	if a.Zone() != "" {
		return ipRange{}, fmt.Errorf("%q has a zone; CloudTrail records none", s)
	}
	a = a.Unmap()
	return ipRange(netip.PrefixFrom(a, a.BitLen())), nil
}

// match reports whether s, a source IP address as CloudTrail records it, is in the range. Anything that is
// not an address (an AWS service name such as "ec2.amazonaws.com", "AWS Internal") is in no range.
func (r ipRange) match(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return false
	}
	return netip.Prefix(r).Contains(a.Unmap())
}
