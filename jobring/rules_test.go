package jobring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/jobring"
)

func TestDecide(t *testing.T) {
	pol, err := jobring.Compile(jobring.Rules{
		Kinds: []jobring.KindRule{
			{Kind: 0, Name: "crc", Order: jobring.Parallel},
			{Kind: 1, Name: "aes", Order: jobring.Atomic, Affinity: true},
			{Kind: 2, Name: "zip", Order: jobring.Ordered},
		},
		Fallbacks: []jobring.Fallback{{Kind: 2, Threshold: 10, Retry: true}, {Kind: 1, Threshold: 0}},
	})
	if err != nil {
		t.Fatal(err)
	}
	core := jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0, 1)}
	dev := jobring.Seat{Class: jobring.Coprocessor, Kinds: jobring.Kinds(2)}
	cases := []struct {
		name string
		seat jobring.Seat
		kind jobring.Kind
		flow uint32
		view jobring.View
		want jobring.Decision
	}{
		{"held kind", core, 0, 5, jobring.View{}, jobring.Take},
		{"not held, no fallback", dev, 0, 5, jobring.View{}, jobring.NoCapability},
		{"unknown kind", core, 63, 0, jobring.View{}, jobring.NoCapability},
		{"kind out of range", core, 200, 0, jobring.View{}, jobring.NoCapability},
		{"affinity match", core, 1, 7, jobring.View{AffIndex: 1, AffCount: 3, Holders: 3}, jobring.Take},
		{"affinity other", core, 1, 8, jobring.View{AffIndex: 1, AffCount: 3, Holders: 3}, jobring.OtherAffinity},
		{"atomic busy", core, 1, 7, jobring.View{AffIndex: 1, AffCount: 3, Holders: 3, FlowBusy: true}, jobring.FlowBusy},
		{"atomic free", core, 1, 7, jobring.View{AffIndex: 1, AffCount: 3, Holders: 3}, jobring.Take},
		{"fallback below threshold", core, 2, 0, jobring.View{Holders: 1, Backlog: 9}, jobring.NotSaturated},
		{"fallback at threshold", core, 2, 0, jobring.View{Holders: 1, Backlog: 10}, jobring.Take},
		{"fallback, no holder", core, 2, 0, jobring.View{Holders: 0}, jobring.Take},
		{"fallback is for cores only", jobring.Seat{Class: jobring.Coprocessor}, 2, 0, jobring.View{Holders: 1, Backlog: 99}, jobring.NoCapability},
		{"threshold 0: only without holders", jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0)}, 1, 0, jobring.View{Holders: 2, Backlog: 99}, jobring.NotSaturated},
		{"threshold 0, no holder", jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0)}, 1, 0, jobring.View{Holders: 0}, jobring.Take},
		{"fallback ignores affinity", jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0)}, 1, 8, jobring.View{Holders: 0, AffIndex: -1}, jobring.Take},
		{"fallback still atomic", jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0)}, 1, 8, jobring.View{Holders: 0, AffIndex: -1, FlowBusy: true}, jobring.FlowBusy},
		{"retry: a core, whatever the backlog", core, 2, 0, jobring.View{Holders: 1, Backlog: 0, Retry: true}, jobring.Take},
		{"retry: never a co-processor", dev, 2, 0, jobring.View{Holders: 1, AffIndex: 0, AffCount: 1, Retry: true}, jobring.NoCapability},
		{"retry: only with Fallback.Retry", jobring.Seat{Class: jobring.Core}, 1, 0, jobring.View{Holders: 0, Retry: true}, jobring.NoCapability},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pol.Decide(c.seat, c.kind, c.flow, c.view); got != c.want {
				t.Errorf("Decide = %v, want %v", got, c.want)
			}
		})
	}
	if a := testing.AllocsPerRun(100, func() { pol.Decide(core, 1, 7, jobring.View{AffIndex: 1, AffCount: 3}) }); a != 0 {
		t.Errorf("Decide allocates %v times", a)
	}
	for d, lasting := range map[jobring.Decision]bool{jobring.Take: false, jobring.FlowBusy: false,
		jobring.NoCapability: true, jobring.NotSaturated: true, jobring.OtherAffinity: true} {
		if d.Lasting() != lasting {
			t.Errorf("%v.Lasting() = %t", d, !lasting)
		}
	}
}

func TestRulesString(t *testing.T) {
	r := jobring.Rules{
		Priority:  true,
		Kinds:     []jobring.KindRule{{Kind: 1, Name: "aes", Order: jobring.Atomic, Affinity: true}, {Kind: 2, Order: jobring.Ordered}},
		Fallbacks: []jobring.Fallback{{Kind: 2, Threshold: 16, Retry: true}},
	}
	want := `rules{priority=true; kind 1 "aes": atomic, affinity flow%holders; kind 2: ordered; fallback kind 2 to cores at backlog>=16 or no holder, retry on a core after a co-processor's error}`
	if got := r.String(); got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}
	pol, err := jobring.Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	if pol.String() != want || pol.Name(1) != "aes" || pol.Name(2) != "kind2" || pol.Order(2) != jobring.Ordered {
		t.Errorf("policy %s: names %q %q, order %v", pol, pol.Name(1), pol.Name(2), pol.Order(2))
	}
	r.Kinds[0].Name = "changed"
	if !strings.Contains(pol.String(), `"aes"`) {
		t.Error("the policy shares its rules with the caller's slices")
	}
	for _, s := range []string{jobring.Parallel.String(), jobring.Core.String(), jobring.Coprocessor.String(), jobring.FlowBusy.String(), jobring.Kinds(0, 5, 63).String()} {
		if s == "" || strings.Contains(s, "(") {
			t.Errorf("String %q", s)
		}
	}
	if got := jobring.Kinds(0, 5, 63, 64).String(); got != "{0,5,63}" {
		t.Errorf("KindSet.String = %q", got)
	}
}

func TestCompileErrors(t *testing.T) {
	for name, r := range map[string]jobring.Rules{
		"kind range":     {Kinds: []jobring.KindRule{{Kind: 64}}},
		"order":          {Kinds: []jobring.KindRule{{Kind: 1, Order: 9}}},
		"twice":          {Kinds: []jobring.KindRule{{Kind: 1}, {Kind: 1}}},
		"fallback range": {Fallbacks: []jobring.Fallback{{Kind: 70}}},
		"fallback twice": {Fallbacks: []jobring.Fallback{{Kind: 3}, {Kind: 3}}},
	} {
		if _, err := jobring.Compile(r); !errors.Is(err, jobring.ErrRules) {
			t.Errorf("%s: Compile = %v, want ErrRules", name, err)
		}
	}
}
