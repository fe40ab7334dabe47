package python

// Node is an expression or statement of the syntax tree, reduced to what the
// analysis reads: names, attributes, calls, constants, imports and
// assignments. Everything else is an NOther node that keeps its children,
// so that nothing inside it is lost to the walk.
type Node struct {
	Kind NodeKind
	Line int
	// Name: the identifier (NName), the attribute (NAttr), the keyword of a
	// keyword argument (NKeyword), the module of an import (NImport,
	// NImportFrom, with leading dots for a relative import).
	Name string
	// Str is a string constant's text, undecoded (NStr).
	Str string
	// Kids: NAttr [value]; NCall [func, args...]; NAssign [targets..., value];
	// NKeyword [value]; NAlias none; NImport/NImportFrom the NAlias nodes.
	Kids []*Node
	// As is the bound name of an NAlias ("" when none).
	As string
}

// NodeKind says what a Node is.
type NodeKind uint8

const (
	NOther NodeKind = iota
	NName
	NAttr
	NCall
	NStr
	NKeyword
	NStar // *args or **kwargs in a call: Name is "*" or "**"
	NAssign
	NImport
	NImportFrom
	NAlias
	NDef   // a function, Name is its name
	NClass // a class, Name is its name
	NModule
)

func other(line int, kids ...*Node) *Node {
	var ks []*Node
	for _, k := range kids {
		if k != nil {
			ks = append(ks, k)
		}
	}
	return &Node{Kind: NOther, Line: line, Kids: ks}
}
