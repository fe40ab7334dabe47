package jinja

import (
	"slices"
	"strconv"
	"strings"
)

// What Jinja's filters and tests and Python's string methods do to the
// abstract values of the parser, and which of them reach code.

// filterExpr parses "| filter" and "is test" chains.
func (p *parser) filterExpr(v val) val {
	for {
		switch {
		case p.acceptOp("|"):
			v = p.filter(v)
		case p.acceptName("is"):
			p.acceptName("not")
			p.expectName()
			for p.acceptOp(".") {
				p.expectName()
			}
			t := p.cur()
			switch {
			case p.isOp("("):
				p.callArgs()
			case (t.kind == tName && t.text != "else" && t.text != "or" && t.text != "and") ||
				t.kind == tString || t.kind == tInt || t.kind == tFloat || p.isOp("[") || p.isOp("{"):
				p.postfix(p.parsePrimary())
			}
			v = unknown()
		case p.isOp("("):
			args, kwargs := p.callArgs()
			v = call(v, args, kwargs)
		default:
			return v
		}
	}
}

// filter parses one filter (the '|' is consumed) and applies it to v.
func (p *parser) filter(v val) val {
	pos := p.cur().pos
	name := p.expectName()
	for p.acceptOp(".") {
		name += "." + p.expectName()
	}
	var args []val
	kwargs := map[string]val{}
	if p.isOp("(") {
		args, kwargs = p.callArgs()
	}
	arg := func(i int, kw string) (val, bool) {
		if i < len(args) {
			return args[i], true
		}
		x, ok := kwargs[kw]
		return x, ok
	}
	a := p.a
	if attr, ok := kwargs["attribute"]; ok {
		a.checkPath(attr, pos, name+"(attribute=...) filter")
	}
	switch name {
	case "attr":
		x, ok := arg(0, "name")
		if !ok {
			p.fail("attr filter without a name")
		}
		a.checkDynamic(x, pos, "attr filter")
		return unknown()
	case "map":
		if f, ok := arg(0, ""); ok {
			if s, ok := f.asStrs(); ok && slices.Contains(s, "attr") {
				x, ok := arg(1, "name")
				if !ok {
					x = unknown()
				}
				a.checkDynamic(x, pos, "map('attr') filter")
			} else if !ok {
				a.checkDynamic(f, pos, "map filter with a filter name")
			}
		}
		return unknown()
	case "selectattr", "rejectattr":
		if x, ok := arg(0, "attr"); ok {
			a.checkPath(x, pos, name+" filter")
		}
		return unknown()
	case "groupby":
		if x, ok := arg(0, "attribute"); ok {
			a.checkPath(x, pos, "groupby filter")
		}
		return unknown()
	case "join":
		sep, ok := arg(0, "d")
		if !ok {
			sep = strVal("")
		}
		switch v.k {
		case kList:
			return a.noteBuilt(joinItems(v.items, sep), pos)
		case kStr:
			if len(v.strs) == 1 {
				return a.noteBuilt(joinItems(chars(v.strs[0]).items, sep), pos)
			}
		}
		return builtUnknown(append(slices.Clone(v.fragments()), sep.fragments()...))
	case "lower":
		return a.noteBuilt(mapStr(v, strings.ToLower), pos)
	case "upper":
		return a.noteBuilt(mapStr(v, strings.ToUpper), pos)
	case "capitalize", "title":
		return a.noteBuilt(mapStr(v, func(s string) string {
			if s == "" {
				return s
			}
			r := []rune(strings.ToLower(s))
			r[0] = []rune(strings.ToUpper(string(r[0])))[0]
			return string(r)
		}), pos)
	case "trim":
		return a.noteBuilt(mapStr(v, strings.TrimSpace), pos)
	case "string", "e", "escape", "safe", "forceescape", "striptags":
		if v.k == kNum {
			return strVal(strconv.FormatInt(v.num, 10))
		}
		return v
	case "reverse":
		if v.k == kList {
			items := slices.Clone(v.items)
			slices.Reverse(items)
			return listVal(items)
		}
		return a.noteBuilt(mapStr(v, reverseString), pos)
	case "replace":
		old, ok1 := arg(0, "old")
		nw, ok2 := arg(1, "new")
		os1, k1 := old.asStrs()
		ns1, k2 := nw.asStrs()
		if ok1 && ok2 && k1 && k2 && len(os1) == 1 && len(ns1) == 1 {
			return a.noteBuilt(mapStr(v, func(s string) string { return strings.ReplaceAll(s, os1[0], ns1[0]) }), pos)
		}
		return builtUnknown(append(append(slices.Clone(v.fragments()), old.fragments()...), nw.fragments()...))
	case "format":
		return a.noteBuilt(pyFormat(v, args), pos)
	case "list":
		switch v.k {
		case kList:
			return v
		case kDict:
			items := make([]val, len(v.keys))
			for i, k := range v.keys {
				items[i] = strVal(k)
			}
			return listVal(items)
		case kStr:
			if len(v.strs) == 1 {
				return chars(v.strs[0])
			}
		}
		return unknown()
	case "first":
		if v.k == kDict && len(v.keys) > 0 {
			return strVal(v.keys[0])
		}
		return index(v, numVal(0))
	case "last":
		return index(v, numVal(-1))
	case "default", "d":
		if x, ok := arg(0, "default_value"); ok {
			return union(v, x)
		}
		return v
	}
	return unknown()
}

// method folds calls of string methods; other methods give unknown.
func method(a *analyzer, recv val, name string, args []val, kwargs map[string]val, pos int) val {
	if recv.k != kStr && !recv.built {
		return unknown()
	}
	switch name {
	case "format", "format_map":
		for _, f := range recv.fragments() {
			for _, attr := range formatFieldAttrs(f) {
				a.checkName(attr, pos, "str.format field")
			}
		}
		if recv.k == kStr && len(recv.strs) == 1 {
			if s, ok := braceFormat(recv.strs[0], args); ok {
				return strsVal([]string{s}, true)
			}
		}
		var fr []string
		for _, x := range args {
			fr = append(fr, x.fragments()...)
		}
		return builtUnknown(append(slices.Clone(recv.fragments()), fr...))
	case "join":
		if len(args) == 1 {
			switch args[0].k {
			case kList:
				return joinItems(args[0].items, recv)
			case kStr:
				if len(args[0].strs) == 1 {
					return joinItems(chars(args[0].strs[0]).items, recv)
				}
			}
		}
		var fr []string
		for _, x := range args {
			fr = append(fr, x.fragments()...)
		}
		return builtUnknown(append(slices.Clone(recv.fragments()), fr...))
	case "replace":
		if len(args) >= 2 {
			o, ok1 := args[0].asStrs()
			n, ok2 := args[1].asStrs()
			if ok1 && ok2 && len(o) == 1 && len(n) == 1 {
				return mapStr(recv, func(s string) string { return strings.ReplaceAll(s, o[0], n[0]) })
			}
		}
		return builtUnknown(recv.fragments())
	case "lower", "casefold":
		return mapStr(recv, strings.ToLower)
	case "upper":
		return mapStr(recv, strings.ToUpper)
	case "strip":
		if len(args) == 0 {
			return mapStr(recv, strings.TrimSpace)
		}
		if c, ok := args[0].asStrs(); ok && len(c) == 1 {
			return mapStr(recv, func(s string) string { return strings.Trim(s, c[0]) })
		}
	case "lstrip", "rstrip":
		cut := " \t\n\r\v\f"
		if len(args) > 0 {
			c, ok := args[0].asStrs()
			if !ok || len(c) != 1 {
				return builtUnknown(recv.fragments())
			}
			cut = c[0]
		}
		if name == "lstrip" {
			return mapStr(recv, func(s string) string { return strings.TrimLeft(s, cut) })
		}
		return mapStr(recv, func(s string) string { return strings.TrimRight(s, cut) })
	case "split":
		if recv.k == kStr && len(recv.strs) == 1 {
			var parts []string
			if len(args) == 0 {
				parts = strings.Fields(recv.strs[0])
			} else if s, ok := args[0].asStrs(); ok && len(s) == 1 && s[0] != "" {
				parts = strings.Split(recv.strs[0], s[0])
			} else {
				return unknown()
			}
			if len(parts) > maxItems {
				return unknown()
			}
			items := make([]val, len(parts))
			for i, x := range parts {
				items[i] = strVal(x)
			}
			return listVal(items)
		}
	}
	return builtUnknown(recv.fragments())
}
