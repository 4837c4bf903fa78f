package kvcache

import (
	"fmt"
	"strings"
)

// stage orders the parts of a scheme; composed schemes apply them in this
// order.
type stage int

const (
	stageRetention stage = iota // which tokens each layer and head keeps
	stageRead                   // which kept tokens a decode step reads
	stageShare                  // a prefix the batch shares
	stageChannels               // which channels of a token are kept
	stageFormat                 // bytes per kept element
	stageAlloc                  // how the cache's memory is allocated
)

var stageNames = [...]string{"retention", "read", "share", "channels", "format", "alloc"}

func (s stage) String() string {
	if s < 0 || int(s) >= len(stageNames) {
		return "none"
	}
	return stageNames[s]
}

// Plan is a parsed scheme, or several composed: what each stage does, as
// data. One Rewrite and one StoredBytes interpret every plan, so schemes
// differ only in the values they put here.
type Plan struct {
	parts []string // canonical spec of each composed scheme, in stage order

	retention *retention
	read      *sparseRead
	share     *sharing
	channels  *channels
	format    *format
	alloc     *alloc
}

// String is the canonical spec: every parameter, defaults included.
func (p *Plan) String() string { return strings.Join(p.parts, "+") }

// stages lists the stages p fills, in order.
func (p *Plan) stages() []stage {
	var out []stage
	for s, set := range []bool{p.retention != nil, p.read != nil, p.share != nil, p.channels != nil, p.format != nil, p.alloc != nil} {
		if set {
			out = append(out, stage(s))
		}
	}
	return out
}

func (p *Plan) stageNames() []string {
	var out []string
	for _, s := range p.stages() {
		out = append(out, s.String())
	}
	return out
}

// merge adds q's stages to p; a stage may be filled once.
func (p *Plan) merge(q *Plan) error {
	clash := func(name string) error {
		return fmt.Errorf("%s: the %s stage is already set by %s", q, name, p)
	}
	if q.retention != nil {
		if p.retention != nil {
			return clash("retention")
		}
		p.retention = q.retention
	}
	if q.read != nil {
		if p.read != nil {
			return clash("read")
		}
		p.read = q.read
	}
	if q.share != nil {
		if p.share != nil {
			return clash("share")
		}
		p.share = q.share
	}
	if q.channels != nil {
		if p.channels != nil {
			return clash("channels")
		}
		p.channels = q.channels
	}
	if q.format != nil {
		if p.format != nil {
			return clash("format")
		}
		p.format = q.format
	}
	if q.alloc != nil {
		if p.alloc != nil {
			return clash("alloc")
		}
		p.alloc = q.alloc
	}
	p.parts = append(p.parts, q.parts...)
	return nil
}

// check rejects combinations no paper runs and the cost model cannot
// express: a shared prefix is read once only when every sequence keeps
// and reads all of it.
func (p *Plan) check() error {
	if p.share != nil && (p.retention != nil || p.read != nil) {
		return fmt.Errorf("%s: a shared prefix (hydragen) cannot be combined with token eviction or sparse reads", p)
	}
	return nil
}

// rewrites reports whether the plan changes step graphs (allocation alone
// does not).
func (p *Plan) rewrites() bool {
	return p.retention != nil || p.read != nil || p.share != nil || p.channels != nil || p.format != nil
}
