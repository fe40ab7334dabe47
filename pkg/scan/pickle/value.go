package pickle

// Kind is the kind of a statically known Value.
type Kind uint8

const (
	KindUnknown Kind = iota // the result of a call, or anything not tracked
	KindNone
	KindBool
	KindInt
	KindFloat
	KindStr
	KindBytes
	KindTuple
	KindList
	KindDict
	KindSet
	KindGlobal // an imported module attribute; Str holds "module.name"
)

// Value is what a pickle leaves on its stack, as far as static analysis knows
// it. Containers keep a bounded number of items.
type Value struct {
	Kind  Kind
	Int   int64
	Str   string // str, bytes (raw), or the global's dotted name
	Items []Value
}
