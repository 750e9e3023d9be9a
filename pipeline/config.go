package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/internal/jsonconf"
	"github.com/ringkit/ringkit/sched"
)

// ErrConfig is wrapped by every error of the config loader, of New (a
// config whose parts would exceed their memory limits included) and of
// NewCapture; the message names the field at fault (ports[1].tcs[0].weight)
// and, for a JSON syntax error, the line.
var ErrConfig = errors.New("pipeline: bad config")

// Config is a whole pipeline: the traffic, the receive side, the
// classification rules, the output ports with their traffic classes, and the
// offload. Its JSON form is what LoadConfig reads:
//
//	{
//	  "queues": 4,
//	  "traffic": {"rate": 1e6, "flows": 4096, "ipv6": 0.3, "tcp": 0.5,
//	              "sizes": [{"size": 60, "weight": 7}, {"size": 590, "weight": 4}],
//	              "dscp": [{"dscp": 46, "weight": 1}, {"dscp": 0, "weight": 1}]},
//	  "rules": {"default": {"port": 0}, "rules": [...]},   // classify's rule config
//	  "ports": [{"name": "uplink", "rate_share": 0.15, "quantum": "1ms",
//	             "tcs": [{"tc": 5, "name": "voice", "priority": 0, "weight": 1, "cap_share": 0.1},
//	                     {"tc": 0, "name": "best", "priority": 1, "weight": 1}]}],
//	  "offload": {"port": 0, "tc": 3, "setup": "1ms", "batch": 128, "ns_per_byte": 0.05},
//	  "migration": {"sessions": 16, "at": 0.5, "rate": 512, "hold": "10ms"}
//	}
//
// Every key but "ports" and "rules" is optional. Unknown keys are errors.
type Config struct {
	// Queues is the number of RX queues RSS spreads the traffic over (4).
	Queues int `json:"queues"`
	// RxDescs and TxDescs size the descriptor rings (512).
	RxDescs int `json:"rx_descs"`
	TxDescs int `json:"tx_descs"`
	// RingSize is the capacity of each traffic-class ring in packets
	// (512 unless RingDelay is given).
	RingSize int `json:"ring_size,omitempty"`
	// RingDelay, if set, sizes each class's ring instead of RingSize: to
	// hold what the class sends in RingDelay at its configured share of
	// the port rate, in frames of the traffic's mean size (RingSizes). A
	// packet then waits in its TC ring at most about RingDelay.
	RingDelay Duration `json:"ring_delay,omitempty"`
	// Buffers is the number of packet buffers (0: enough for every ring).
	Buffers int `json:"buffers"`
	// MaxBytes is the most memory the pipeline's buffer pool, and each of
	// its NICs (rings, bursts, traffic), may take (0: each part's own
	// default, 4 GiB for the pool and 1 GiB for a NIC).
	MaxBytes int64          `json:"max_bytes,omitempty"`
	Traffic  Traffic        `json:"traffic"`
	Rules    RulesJSON      `json:"rules"`
	Ports    []PortConfig   `json:"ports"`
	Offload  *OffloadConfig `json:"offload"`
	// Migration, if set, live-migrates a VM and its sessions midway
	// through a real-time run (Run; RunSim leaves it out).
	Migration *MigrationConfig `json:"migration"`
	// BackPressure makes the classifier hold the packets a full TC ring
	// refuses and stop taking new ones until they fit, so the RX rings
	// fill and the NIC drops (rx missed), instead of dropping them itself
	// (tc ring full). With unpaced traffic (rate 0) the traffic then
	// waits for the receiver: the pipeline runs at its own speed.
	BackPressure bool `json:"back_pressure"`
	// VerifyEvery checks the checksums of every VerifyEvery-th frame at the
	// sink (1: every frame; 0 selects 1).
	VerifyEvery int `json:"verify_every"`
}

// Traffic is what is sent: a nicsim.Generator's frames (see nicsim.GenConfig),
// made once and replayed in a loop.
type Traffic struct {
	// Rate is frames per second; 0 sends as fast as the pipeline takes them.
	Rate  float64 `json:"rate"`
	Flows int     `json:"flows"`
	IPv6  float64 `json:"ipv6"`
	TCP   float64 `json:"tcp"`
	Sizes []Size  `json:"sizes"`
	DSCP  []DSCP  `json:"dscp"`
	Seed  uint64  `json:"seed"`
}

// Size is one frame size of the mix (bytes without FCS) and its weight.
type Size struct {
	Size   int `json:"size"`
	Weight int `json:"weight"`
}

// DSCP is one DSCP value of the mix and its weight.
type DSCP struct {
	DSCP   int `json:"dscp"`
	Weight int `json:"weight"`
}

// RulesJSON is classify's JSON rule config, kept as text and compiled by
// classify.ParseRuleConfig.
type RulesJSON = json.RawMessage

// PortConfig is one output port: its scheduler and traffic classes.
type PortConfig struct {
	Name string `json:"name"`
	// RateBPS is the port rate in bits per second (frame plus 24 bytes of
	// framing). RateShare instead gives it as a fraction of the offered
	// load (Traffic.Rate times the mean frame of the size mix), which is how
	// a port is made the bottleneck whatever the rate. One of the two.
	RateBPS   float64    `json:"rate_bps"`
	RateShare float64    `json:"rate_share"`
	Quantum   Duration   `json:"quantum"`
	TCs       []TCConfig `json:"tcs"`
}

// TCConfig is one traffic class of a port.
type TCConfig struct {
	TC       int    `json:"tc"` // 0..7, as classification assigns it
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Weight   int    `json:"weight"`
	// CapBPS caps the class in bits per second; CapShare as a fraction of
	// the port rate. At most one; neither for no cap.
	CapBPS   float64 `json:"cap_bps"`
	CapShare float64 `json:"cap_share"`
}

// OffloadConfig sends every packet of one (port, TC) through a job ring to
// a co-processor model that computes its L4 checksum, as a NIC's transmit
// checksum offload does.
type OffloadConfig struct {
	Port  int `json:"port"`
	TC    int `json:"tc"`
	Slots int `json:"slots"` // job ring slots (1024)
	Batch int `json:"batch"` // most jobs the co-processor takes at once (128)
	// Setup is the co-processor's latency per batch (1ms). The model
	// waits out a latency under a millisecond by yielding the processor
	// in a loop (jobring's Coprocessor), which costs a core; from a
	// millisecond on it parks on a timer.
	Setup     Duration `json:"setup"`
	NsPerByte float64  `json:"ns_per_byte"` // cost per byte (0.05)
}

// Duration is a time.Duration that reads and writes JSON as "1ms".
type Duration time.Duration

// UnmarshalJSON reads a duration string such as "250us".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"1ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// DefaultConfig is the pipeline `go run ./examples/pipeline` runs: IMIX
// traffic of 4096 flows (30% IPv6, half TCP) in six DSCP classes at rate
// frames per second, RSS over four queues, two output ports (destination
// ports 80-83 to the first, 84-86 to the second) each held to a fraction
// of the offered load so that its scheduler is the bottleneck, six traffic
// classes per port (a capped strict-priority class, five weighted ones),
// the checksum of one class offloaded to a co-processor, and midway a VM
// with 16 TCP sessions live-migrated to a second host.
func DefaultConfig(rate float64) Config {
	tcs := func(rest ...TCConfig) []TCConfig {
		return append([]TCConfig{{TC: 5, Name: "voice", Priority: 0, Weight: 1, CapShare: 0.10}}, rest...)
	}
	return Config{
		Queues:    4,
		RingDelay: Duration(10 * time.Millisecond),
		Traffic: Traffic{
			Rate: rate, Flows: 4096, IPv6: 0.3, TCP: 0.5,
			Sizes: []Size{{60, 7}, {590, 4}, {1514, 1}},
			DSCP:  []DSCP{{46, 1}, {34, 1}, {26, 1}, {18, 1}, {8, 1}, {0, 1}},
			Seed:  1,
		},
		Rules: RulesJSON(`{
  "default": {"port": 0},
  "rules": [
    {"name": "web", "priority": 10, "dst_ports": "80-83", "port": 0},
    {"name": "apps", "priority": 10, "dst_ports": "84-86", "port": 1}
  ]
}`),
		Ports: []PortConfig{
			{Name: "uplink", RateShare: 0.15, Quantum: Duration(time.Millisecond), TCs: tcs(
				TCConfig{TC: 4, Name: "video", Priority: 1, Weight: 4},
				TCConfig{TC: 3, Name: "gold", Priority: 1, Weight: 3},
				TCConfig{TC: 2, Name: "silver", Priority: 1, Weight: 2},
				TCConfig{TC: 1, Name: "bulk", Priority: 1, Weight: 1},
				TCConfig{TC: 0, Name: "best", Priority: 1, Weight: 1},
			)},
			{Name: "backup", RateShare: 0.10, Quantum: Duration(time.Millisecond), TCs: tcs(
				TCConfig{TC: 4, Name: "video", Priority: 1, Weight: 2},
				TCConfig{TC: 3, Name: "secure", Priority: 1, Weight: 2},
				TCConfig{TC: 2, Name: "silver", Priority: 1, Weight: 1},
				TCConfig{TC: 1, Name: "bulk", Priority: 1, Weight: 1},
				TCConfig{TC: 0, Name: "best", Priority: 1, Weight: 1},
			)},
		},
		Offload:   &OffloadConfig{Port: 1, TC: 3, Setup: Duration(time.Millisecond), NsPerByte: 0.05},
		Migration: &MigrationConfig{Sessions: 16, At: 0.5},
	}
}

// LoadConfig reads the JSON config at path (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses a JSON config and checks it (Validate). Errors wrap
// ErrConfig and name the field and its line.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := jsonconf.Decode(data, &c, ErrConfig); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every field and fills the defaults of those left zero.
// Errors wrap ErrConfig and name the field.
func (c *Config) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Queues, 4)
	def(&c.RxDescs, 512)
	def(&c.TxDescs, 512)
	if c.RingDelay == 0 {
		def(&c.RingSize, 512)
	}
	def(&c.VerifyEvery, 1)
	switch {
	case c.RingDelay != 0 && c.RingSize != 0:
		return bad("ring_delay", "give at most one of ring_size and ring_delay")
	case c.RingDelay != 0 && (time.Duration(c.RingDelay) < minRingDelay || time.Duration(c.RingDelay) > maxRingDelay):
		return bad("ring_delay", "%v (want %v..%v)", time.Duration(c.RingDelay), minRingDelay, maxRingDelay)
	case c.Queues < 1 || c.Queues > 64:
		return bad("queues", "%d (want 1..64)", c.Queues)
	case !pow2(c.RxDescs) || c.RxDescs > 1<<14:
		return bad("rx_descs", "%d (want a power of two, 2..16384)", c.RxDescs)
	case !pow2(c.TxDescs) || c.TxDescs > 1<<14:
		return bad("tx_descs", "%d (want a power of two, 2..16384)", c.TxDescs)
	case c.RingDelay == 0 && (c.RingSize < 1 || c.RingSize > maxRingSize):
		return bad("ring_size", "%d (want 1..65536)", c.RingSize)
	case c.Buffers < 0 || c.Buffers > 1<<20:
		return bad("buffers", "%d (want 0..1048576)", c.Buffers)
	case c.MaxBytes < 0:
		return bad("max_bytes", "%d (want 0 for the parts' defaults, or a positive limit)", c.MaxBytes)
	case c.VerifyEvery < 1:
		return bad("verify_every", "%d (want 1 or more)", c.VerifyEvery)
	}
	t := &c.Traffic
	def(&t.Flows, 1024)
	if len(t.Sizes) == 0 {
		t.Sizes = []Size{{60, 1}}
	}
	switch {
	case !(t.Rate >= 0 && t.Rate <= 1e9):
		return bad("traffic.rate", "%v (want 0..1e9 frames per second)", t.Rate)
	case t.Flows < 1 || t.Flows > 1<<16:
		return bad("traffic.flows", "%d (want 1..65536)", t.Flows)
	case !(t.IPv6 >= 0 && t.IPv6 <= 1):
		return bad("traffic.ipv6", "%v (want a fraction, 0..1)", t.IPv6)
	case !(t.TCP >= 0 && t.TCP <= 1):
		return bad("traffic.tcp", "%v (want a fraction, 0..1)", t.TCP)
	}
	for i, s := range t.Sizes {
		if s.Size < 60 || s.Size > 1514 {
			return bad(fmt.Sprintf("traffic.sizes[%d].size", i), "%d (want 60..1514)", s.Size)
		}
		if s.Weight < 1 || s.Weight > 1<<20 {
			return bad(fmt.Sprintf("traffic.sizes[%d].weight", i), "%d (want 1..1048576)", s.Weight)
		}
	}
	for i, d := range t.DSCP {
		if d.DSCP < 0 || d.DSCP > 63 {
			return bad(fmt.Sprintf("traffic.dscp[%d].dscp", i), "%d (want 0..63)", d.DSCP)
		}
		if d.Weight < 1 || d.Weight > 1<<20 {
			return bad(fmt.Sprintf("traffic.dscp[%d].weight", i), "%d (want 1..1048576)", d.Weight)
		}
	}
	if len(c.Rules) == 0 {
		return bad("rules", "missing (a classify rule config)")
	}
	if _, err := c.RuleSet(); err != nil {
		return err
	}
	if len(c.Ports) == 0 || len(c.Ports) > 16 {
		return bad("ports", "%d ports (want 1..16)", len(c.Ports))
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		f := func(name string) string { return fmt.Sprintf("ports[%d].%s", i, name) }
		if p.Name == "" {
			p.Name = fmt.Sprintf("port%d", i)
		}
		if p.Quantum == 0 {
			p.Quantum = Duration(sched.DefaultQuantum)
		}
		switch {
		case (p.RateBPS == 0) == (p.RateShare == 0):
			return bad(f("rate_bps"), "give exactly one of rate_bps and rate_share")
		case p.RateShare != 0 && !(p.RateShare > 0 && p.RateShare <= 100):
			return bad(f("rate_share"), "%v (want a fraction of the offered load above 0)", p.RateShare)
		case p.RateShare != 0 && t.Rate == 0:
			return bad(f("rate_share"), "needs traffic.rate (the offered load it is a share of)")
		case p.RateBPS != 0 && !(p.RateBPS >= 1e3 && p.RateBPS <= 1e13):
			return bad(f("rate_bps"), "%v (want 1e3..1e13 bits per second)", p.RateBPS)
		case time.Duration(p.Quantum) < sched.MinQuantum || time.Duration(p.Quantum) > sched.MaxQuantum:
			return bad(f("quantum"), "%v (want %v..%v)", time.Duration(p.Quantum), sched.MinQuantum, sched.MaxQuantum)
		case len(p.TCs) == 0 || len(p.TCs) > classify.NumTC:
			return bad(f("tcs"), "%d classes (want 1..%d)", len(p.TCs), classify.NumTC)
		}
		var seen [classify.NumTC]bool
		for j := range p.TCs {
			tc := &p.TCs[j]
			g := func(name string) string { return fmt.Sprintf("ports[%d].tcs[%d].%s", i, j, name) }
			if tc.Name == "" {
				tc.Name = fmt.Sprintf("tc%d", tc.TC)
			}
			switch {
			case tc.TC < 0 || tc.TC >= classify.NumTC:
				return bad(g("tc"), "%d (want 0..%d)", tc.TC, classify.NumTC-1)
			case seen[tc.TC]:
				return bad(g("tc"), "%d configured twice", tc.TC)
			case tc.Priority < 0 || tc.Priority > sched.MaxPriority:
				return bad(g("priority"), "%d (want 0..%d)", tc.Priority, sched.MaxPriority)
			case tc.Weight < 1 || tc.Weight > sched.MaxWeight:
				return bad(g("weight"), "%d (want 1..%d)", tc.Weight, sched.MaxWeight)
			case tc.CapBPS != 0 && tc.CapShare != 0:
				return bad(g("cap_bps"), "give at most one of cap_bps and cap_share")
			case tc.CapBPS != 0 && !(tc.CapBPS >= 1e3 && tc.CapBPS <= 1e13):
				return bad(g("cap_bps"), "%v (want 1e3..1e13 bits per second)", tc.CapBPS)
			case tc.CapShare != 0 && !(tc.CapShare > 0 && tc.CapShare <= 1):
				return bad(g("cap_share"), "%v (want a fraction of the port rate, above 0 up to 1)", tc.CapShare)
			}
			seen[tc.TC] = true
		}
	}
	if m := c.Migration; m != nil {
		if err := m.validate(); err != nil {
			return err
		}
	}
	if o := c.Offload; o != nil {
		def(&o.Slots, 1024)
		def(&o.Batch, 128)
		if o.Setup == 0 {
			o.Setup = Duration(time.Millisecond)
		}
		switch {
		case o.Port < 0 || o.Port >= len(c.Ports):
			return bad("offload.port", "%d (want 0..%d, a configured port)", o.Port, len(c.Ports)-1)
		case !c.Ports[o.Port].has(o.TC):
			return bad("offload.tc", "%d is not a class of ports[%d]", o.TC, o.Port)
		case o.Slots < 2 || o.Slots > 1<<16:
			return bad("offload.slots", "%d (want 2..65536)", o.Slots)
		case o.Batch < 1 || o.Batch > o.Slots:
			return bad("offload.batch", "%d (want 1..slots, %d)", o.Batch, o.Slots)
		case time.Duration(o.Setup) < 0 || time.Duration(o.Setup) > time.Second:
			return bad("offload.setup", "%v (want 0..1s)", time.Duration(o.Setup))
		case !(o.NsPerByte >= 0 && o.NsPerByte <= 1e6):
			return bad("offload.ns_per_byte", "%v (want 0..1e6)", o.NsPerByte)
		}
	}
	return nil
}

// RuleSet compiles the rules.
func (c *Config) RuleSet() (*classify.RuleSet, error) {
	rc, err := classify.ParseRuleConfig(c.Rules)
	if err != nil {
		return nil, fmt.Errorf("%w: rules: %w", ErrConfig, err)
	}
	rs, err := classify.NewRuleSet(rc)
	if err != nil {
		return nil, fmt.Errorf("%w: rules: %w", ErrConfig, err)
	}
	return rs, nil
}

func (p *PortConfig) has(tc int) bool {
	for _, t := range p.TCs {
		if t.TC == tc {
			return true
		}
	}
	return false
}

// Limits of the TC rings' size and delay budget.
const (
	minRingSize  = burst
	maxRingSize  = 1 << 16
	minRingDelay = 10 * time.Microsecond
	maxRingDelay = 10 * time.Second
)

// RingSizes returns the capacity of each class ring of port i, in the
// order of Ports[i].TCs: RingSize each, or, with RingDelay, what the class
// sends in RingDelay at its configured share of the port rate
// (ConfiguredShares), counted in frames of the traffic's mean wire size
// (MeanWireBytes), rounded up, at least a burst (32) and at most 65536. A
// packet that finds its ring nearly full then waits about RingDelay while
// the class is served at its share: the ring is the delay budget.
func (c *Config) RingSizes(i int) []int {
	sizes := make([]int, len(c.Ports[i].TCs))
	if c.RingDelay == 0 {
		for j := range sizes {
			sizes[j] = c.RingSize
		}
		return sizes
	}
	rate := c.PortRate(i)
	frame := c.Traffic.MeanWireBytes() * 8 // bits
	for j, share := range c.ConfiguredShares(i) {
		n := math.Ceil(time.Duration(c.RingDelay).Seconds() * share * rate / frame)
		sizes[j] = int(min(max(n, minRingSize), maxRingSize))
	}
	return sizes
}

func pow2(n int) bool { return n >= 2 && n&(n-1) == 0 }

// MeanWireBytes is the mean frame of the size mix plus sched's framing
// overhead: what one frame costs a port, on average.
func (t *Traffic) MeanWireBytes() float64 {
	var sum, w float64
	for _, s := range t.Sizes {
		sum += float64(s.Size) * float64(s.Weight)
		w += float64(s.Weight)
	}
	return sum/w + sched.DefaultOverhead
}

// PortRate returns port i's rate in bits per second.
func (c *Config) PortRate(i int) float64 {
	p := &c.Ports[i]
	if p.RateBPS != 0 {
		return p.RateBPS
	}
	return p.RateShare * c.Traffic.Rate * c.Traffic.MeanWireBytes() * 8
}

// TCCap returns the cap of class j of port i in bits per second (0: none).
func (c *Config) TCCap(i, j int) float64 {
	tc := &c.Ports[i].TCs[j]
	if tc.CapBPS != 0 {
		return tc.CapBPS
	}
	return tc.CapShare * c.PortRate(i)
}

// ConfiguredShares returns, for port i, each class's share of the port
// when every class is backlogged: strict priority levels in order, each
// level sharing what is left by weight, a capped class limited to its cap
// and its unused part going to the others of its level (water filling).
func (c *Config) ConfiguredShares(i int) []float64 {
	p := &c.Ports[i]
	share := make([]float64, len(p.TCs))
	rate := c.PortRate(i)
	left := 1.0
	for prio := 0; prio <= sched.MaxPriority && left > 1e-12; prio++ {
		var open []int
		for j, t := range p.TCs {
			if t.Priority == prio {
				open = append(open, j)
			}
		}
		budget := left
		for len(open) > 0 {
			var w float64
			for _, j := range open {
				w += float64(p.TCs[j].Weight)
			}
			capped := false
			for k, j := range open {
				fair := budget * float64(p.TCs[j].Weight) / w
				if cp := c.TCCap(i, j) / rate; cp > 0 && cp < fair {
					share[j] = cp
					budget -= cp
					open = append(open[:k], open[k+1:]...)
					capped = true
					break
				}
			}
			if capped {
				continue
			}
			for _, j := range open {
				share[j] = budget * float64(p.TCs[j].Weight) / w
			}
			budget = 0
			open = nil
		}
		left = budget
	}
	return share
}
