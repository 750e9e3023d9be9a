package classify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/ringkit/ringkit/internal/jsonconf"
)

// ErrConfig is wrapped by every error of the rule-config loader, whose
// message names the field (rules[2].dst_ports) and, where the position is
// known, the line; and by the constructors' errors for arguments out of
// range (NewClassifier, NewStage).
var ErrConfig = errors.New("classify: bad config")

// The JSON form of a RuleConfig, as ParseRuleConfig reads it:
//
//	{
//	  "dscp_tc": {"46": 7, "34": 4},            // DSCP -> TC overrides of DSCP>>3
//	  "default": {"port": 0},                    // no "tc": from the DSCP table
//	  "rules": [
//	    {"name": "voice", "priority": 100, "proto": "udp",
//	     "src": "10.0.0.0/8", "dst_ports": "16384-32767", "port": 1, "tc": 6},
//	    {"name": "ssh", "priority": 50, "proto": "tcp", "dst_ports": 22, "port": 1}
//	  ]
//	}
//
// Every key is optional except a rule's "port". "src" and "dst" are
// prefixes or single addresses; "proto" is "tcp", "udp", "icmp", "icmpv6"
// or a number; ports are a number or "lo-hi". Unknown keys are errors.
type ruleJSON struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Proto    any    `json:"proto"`
	SrcPorts any    `json:"src_ports"`
	DstPorts any    `json:"dst_ports"`
	Port     *int   `json:"port"`
	TC       *int   `json:"tc"`
}

type actionJSON struct {
	Port *int `json:"port"`
	TC   *int `json:"tc"`
}

// LoadRuleSet reads the JSON rule config at path and compiles it.
func LoadRuleSet(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := ParseRuleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewRuleSet(c)
}

// ReadRuleConfig reads a JSON rule config from r (see ParseRuleConfig).
func ReadRuleConfig(r io.Reader) (RuleConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return RuleConfig{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return ParseRuleConfig(data)
}

// ParseRuleConfig parses a JSON rule config. Errors wrap ErrConfig and
// name the bad field and its line.
func ParseRuleConfig(data []byte) (RuleConfig, error) {
	p := configParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	// A syntax error is found first by a whole-document pass, whose
	// offsets count from the start of data (a Decoder's do not).
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return RuleConfig{}, fmt.Errorf("%w: line %d: %v", ErrConfig, p.lineExact(se.Offset), err)
		}
		return RuleConfig{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	p.dec.DisallowUnknownFields()
	c, err := p.parse()
	if err != nil {
		return RuleConfig{}, err
	}
	// Compile once to report what only compiling finds (ports without
	// TCP/UDP, families that differ), with the field's line.
	if _, err := NewRuleSet(c); err != nil {
		return RuleConfig{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return c, nil
}

type configParser struct {
	data []byte
	dec  *json.Decoder
}

// line returns the 1-based line of byte offset off, skipping the
// whitespace and commas a decoder offset may point before.
func (p *configParser) line(off int64) int { return jsonconf.LineAfter(p.data, off) }

// lineExact returns the 1-based line of byte offset off.
func (p *configParser) lineExact(off int64) int { return jsonconf.Line(p.data, off) }

// fieldLine returns the line of key's first occurrence in data[from:to],
// or of from if it does not occur.
func (p *configParser) fieldLine(from, to int64, key string) int {
	from, to = min(from, int64(len(p.data))), min(to, int64(len(p.data)))
	if i := bytes.Index(p.data[from:to], []byte(`"`+key+`"`)); i >= 0 {
		return p.line(from + int64(i))
	}
	return p.line(from)
}

// jsonErr turns an encoding/json error into one naming field at. base is
// where the value being decoded starts: error offsets count from there.
func (p *configParser) jsonErr(at string, base int64, err error) error {
	return jsonconf.Error(ErrConfig, p.data, base, at, err)
}

func (p *configParser) delim(at string, want json.Delim) error {
	off := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return p.jsonErr(at, 0, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: %s (line %d): want %q, got %v", ErrConfig, at, p.line(off), want, tok)
	}
	return nil
}

func (p *configParser) parse() (RuleConfig, error) {
	var c RuleConfig
	if err := p.delim("top level", '{'); err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		off := p.dec.InputOffset()
		tok, err := p.dec.Token()
		if err != nil {
			return c, p.jsonErr("top level", 0, err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return c, fmt.Errorf("%w: %s (line %d): repeated", ErrConfig, key, p.line(off))
		}
		seen[key] = true
		switch key {
		case "dscp_tc":
			if c.DSCP, err = p.parseDSCP(); err != nil {
				return c, err
			}
		case "default":
			start := p.dec.InputOffset()
			var a actionJSON
			if err := p.dec.Decode(&a); err != nil {
				return c, p.jsonErr("default", start, err)
			}
			act, err := p.action("default", a, start, p.dec.InputOffset())
			if err != nil {
				return c, err
			}
			c.Default = &act
		case "rules":
			if c.Rules, err = p.parseRules(); err != nil {
				return c, err
			}
		default:
			return c, fmt.Errorf("%w: %q (line %d): unknown field (want dscp_tc, default, rules)", ErrConfig, key, p.line(off))
		}
	}
	// The whole-document pass has rejected anything after the object.
	return c, p.delim("top level", '}')
}

func (p *configParser) parseDSCP() (*[64]uint8, error) {
	start := p.dec.InputOffset()
	var m map[string]int
	if err := p.dec.Decode(&m); err != nil {
		return nil, p.jsonErr("dscp_tc", start, err)
	}
	end := p.dec.InputOffset()
	t := new([64]uint8)
	for d := range t {
		t[d] = uint8(d >> 3)
	}
	for k, tc := range m {
		d, err := strconv.Atoi(k)
		if err != nil || d < 0 || d > 63 {
			return nil, fmt.Errorf("%w: dscp_tc[%q] (line %d): DSCP must be 0..63", ErrConfig, k, p.fieldLine(start, end, k))
		}
		if tc < 0 || tc >= NumTC {
			return nil, fmt.Errorf("%w: dscp_tc[%q] (line %d): traffic class %d (0..%d)", ErrConfig, k, p.fieldLine(start, end, k), tc, NumTC-1)
		}
		t[d] = uint8(tc)
	}
	return t, nil
}

func (p *configParser) parseRules() ([]Rule, error) {
	if err := p.delim("rules", '['); err != nil {
		return nil, err
	}
	var rules []Rule
	for i := 0; p.dec.More(); i++ {
		at := fmt.Sprintf("rules[%d]", i)
		start := p.dec.InputOffset()
		var rj ruleJSON
		if err := p.dec.Decode(&rj); err != nil {
			return nil, p.jsonErr(at, start, err)
		}
		r, err := p.rule(at, &rj, start, p.dec.InputOffset())
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if err := p.delim("rules", ']'); err != nil {
		return nil, err
	}
	return rules, nil
}

func (p *configParser) rule(at string, rj *ruleJSON, start, end int64) (Rule, error) {
	r := Rule{Name: rj.Name, Priority: rj.Priority}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s.%s (line %d): %s", ErrConfig, at, field, p.fieldLine(start, end, field), fmt.Sprintf(format, args...))
	}
	var err error
	if r.Src, err = parsePrefix(rj.Src); err != nil {
		return r, bad("src", "%v", err)
	}
	if r.Dst, err = parsePrefix(rj.Dst); err != nil {
		return r, bad("dst", "%v", err)
	}
	if r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4() {
		return r, bad("dst", "%v is not of the family of src %v", r.Dst, r.Src)
	}
	if r.Proto, err = parseProto(rj.Proto); err != nil {
		return r, bad("proto", "%v", err)
	}
	if r.SrcPorts, err = parsePorts(rj.SrcPorts); err != nil {
		return r, bad("src_ports", "%v", err)
	}
	if r.DstPorts, err = parsePorts(rj.DstPorts); err != nil {
		return r, bad("dst_ports", "%v", err)
	}
	if (!r.SrcPorts.Any() || !r.DstPorts.Any()) && r.Proto != 0 && r.Proto != ProtoTCP && r.Proto != ProtoUDP {
		return r, bad("proto", "protocol %d has no ports, but the rule matches ports", r.Proto)
	}
	if r.Action, err = p.action(at, actionJSON{Port: rj.Port, TC: rj.TC}, start, end); err != nil {
		return r, err
	}
	return r, nil
}

func (p *configParser) action(at string, a actionJSON, start, end int64) (Action, error) {
	if a.Port == nil {
		return Action{}, fmt.Errorf("%w: %s.port (line %d): missing", ErrConfig, at, p.line(start))
	}
	if *a.Port < 0 || *a.Port > 0xffff {
		return Action{}, fmt.Errorf("%w: %s.port (line %d): %d is not 0..65535", ErrConfig, at, p.fieldLine(start, end, "port"), *a.Port)
	}
	act := Action{Port: uint16(*a.Port), TC: TCFromDSCP}
	if a.TC != nil {
		if *a.TC < 0 || *a.TC >= NumTC {
			return Action{}, fmt.Errorf("%w: %s.tc (line %d): %d is not 0..%d", ErrConfig, at, p.fieldLine(start, end, "tc"), *a.TC, NumTC-1)
		}
		act.TC = uint8(*a.TC)
	}
	return act, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an address or prefix", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseProto(v any) (uint8, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		switch strings.ToLower(v) {
		case "tcp":
			return ProtoTCP, nil
		case "udp":
			return ProtoUDP, nil
		case "icmp":
			return ProtoICMP, nil
		case "icmpv6":
			return ProtoICMPv6, nil
		}
		return 0, fmt.Errorf("%q is not tcp, udp, icmp, icmpv6 or a number", v)
	case float64:
		if v < 1 || v > 255 || v != float64(int(v)) {
			return 0, fmt.Errorf("%v is not a protocol number 1..255", v)
		}
		return uint8(v), nil
	}
	return 0, fmt.Errorf("%v is not a name or a number", v)
}

func parsePorts(v any) (PortRange, error) {
	port := func(f float64) (uint16, bool) {
		return uint16(f), f >= 0 && f <= 0xffff && f == float64(int(f))
	}
	switch v := v.(type) {
	case nil:
		return PortRange{}, nil
	case float64:
		p, ok := port(v)
		if !ok {
			return PortRange{}, fmt.Errorf("%v is not a port 0..65535", v)
		}
		if p == 0 {
			return PortRange{}, errors.New("port 0 cannot be matched (omit the field to match any port)")
		}
		return PortRange{p, p}, nil
	case string:
		lo, hi, found := strings.Cut(v, "-")
		if !found {
			hi = lo
		}
		l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		h, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if err1 != nil || err2 != nil {
			return PortRange{}, fmt.Errorf("%q is not a port or a range lo-hi of ports 0..65535", v)
		}
		if l > h {
			return PortRange{}, fmt.Errorf("%q is an empty range", v)
		}
		if h == 0 {
			return PortRange{}, errors.New("port 0 cannot be matched (omit the field to match any port)")
		}
		return PortRange{uint16(l), uint16(h)}, nil
	}
	return PortRange{}, fmt.Errorf("%v is not a port number or a range string", v)
}
