package nicsim

// NoCache drops g's frame cache, so that every frame is built.
func (g *Generator) NoCache() { g.cache, g.slab = nil, nil }
