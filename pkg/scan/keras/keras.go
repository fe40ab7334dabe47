// Package keras scans Keras model configurations: the config.json member of
// a Keras v3 .keras archive (the archive itself is opened by the zip
// container, which hands every member to the dispatcher; this format
// recognises the member by its content), and the same JSON that legacy
// HDF5 .h5 models keep in their model_config attribute (package hdf5 reads
// it and calls AnalyzeConfig).
//
// Loading a Keras model rebuilds every object its config names. A Lambda
// layer carries marshalled Python bytecode that runs when the model loads
// (Keras 3 "__lambda__" objects with a "code" field, Keras 2 "function"
// arrays with function_type "lambda"): critical, wherever it sits in the
// layer tree, nested models and wrappers included. A "module" outside
// Keras's own packages (keras, keras_hub, keras_cv, keras_nlp, tf_keras) makes
// the loader import that module: high, critical for modules that run
// commands or code. A registered_name outside those packages is a custom
// object: high. When such a module (or a registered_name's package) is a
// .py file of the model's folder, package coderef links the config key to
// that file (MV-REMOTE-CODE, high unless allowCode lists the file).
//
// The format also handles any other JSON object it is given: Hugging Face
// tokenizer_config.json and chat_template.json carry Jinja chat templates
// in "chat_template" fields, which go through package jinja; JSON with
// neither is clean.
package keras

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/coderef"
	"github.com/modelverify/modelverify/pkg/scan/jinja"
)

// JSON is the format of JSON documents: Keras configs, tokenizer configs
// with chat templates, and other JSON metadata.
type JSON struct{}

var _ scan.Format = JSON{}

// Name implements scan.Format.
func (JSON) Name() string { return "json" }

// Match implements scan.Format: a JSON object, that is "{" then a key or "}".
func (JSON) Match(head []byte, size int64) bool {
	b := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return len(b) == 0 || b[0] == '"' || b[0] == '}'
}

// Scan implements scan.Format.
func (JSON) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	if max := s.Limits().MaxHeaderBytes; size > max {
		return &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	res, err := AnalyzeConfig(ctx, s, "", io.NewSectionReader(r, 0, size))
	if res.Keras {
		s.SetFormat("keras-config")
	}
	return err
}

// Result says what AnalyzeConfig recognised.
type Result struct {
	// Keras is true when the document is a Keras object config (a top-level
	// object with class_name and config).
	Keras bool
}

// kerasPackages are Keras's own packages, whose objects the loader may
// rebuild.
var kerasPackages = map[string]bool{"keras": true, "keras_hub": true, "keras_cv": true, "keras_nlp": true, "tf_keras": true}

// codeModules are modules whose functions run commands or code.
var codeModules = map[string]bool{
	"os": true, "posix": true, "nt": true, "subprocess": true, "sys": true, "builtins": true,
	"__builtin__": true, "importlib": true, "runpy": true, "pty": true, "socket": true, "shutil": true,
	"ctypes": true, "pickle": true, "marshal": true, "code": true, "codeop": true, "webbrowser": true,
	"commands": true, "platform": true, "multiprocessing": true, "asyncio": true,
}

// kerasDeniedFunctions are functions inside Keras's own packages that a
// config can name to escape the loader's safe mode or touch files and the
// network (the CVE-2025-1550 family).
var kerasDeniedFunctions = map[string]bool{
	"enable_unsafe_deserialization": true, "get_file": true, "load_model": true, "load_weights": true,
	"save_model": true, "save_weights": true, "load_img": true, "save_img": true, "image_dataset_from_directory": true,
	"text_dataset_from_directory": true, "audio_dataset_from_directory": true, "set_floatx": true,
	"exec": true, "eval": true, "system": true, "popen": true,
}

// summary is what a closed object tells its parent.
type summary struct {
	className    string
	module       string
	hasCode      bool
	functionKind string // "", "code", "lambda", "name", "object"
	functionType string
	reported     bool
	// itemsCode: a {"class_name": "__tuple__", "items": [code, ...]} tuple,
	// as keras_metadata.pb encodes a Keras 2 function triple.
	itemsCode bool
}

type frame struct {
	obj       bool
	expectKey bool
	key       string
	parentKey string
	index     int
	// object facts
	className, module, registeredName, functionType string
	hasCode, hasConfig                              bool
	functionKind                                    string
	config                                          *summary
	reported                                        bool
	// array facts: a Keras 2 function triple starts with the code string
	firstString bool
	itemsCode   bool
	// configString is "config" when it is a string (a function's name).
	configString string
}

type analyzer struct {
	s      *scan.Session
	member string
	stack  []*frame
	root   *frame
	// refs are the modules named outside Keras, to be linked to the .py
	// files of the model's folder.
	refs []coderef.Ref
}

// AnalyzeConfig reads one JSON document from r and reports Keras objects
// that run code or import modules, and chat templates, as findings on s
// under member. It streams: memory is bounded by the nesting depth and the
// longest string.
//
// A module (or the package of a registered_name) outside Keras whose file
// is in the folder of the scan's target (custom_layers.py for
// "custom_layers", a/b.py for "a.b") is linked to it: an MV-REMOTE-CODE
// finding names the config key and the file, which the Python format
// judges when the folder is scanned. Configs nested deeper than a member
// of the target (a .keras inside another archive) are not linked.
func AnalyzeConfig(ctx context.Context, s *scan.Session, member string, r io.Reader) (Result, error) {
	a := &analyzer{s: s, member: member}
	res, err := a.run(ctx, r)
	if len(a.refs) > 0 && s.Depth() <= 1 {
		folderCode.Report(s, member, s.TargetDir(), a.refs)
	}
	return res, err
}

// folderCode links modules to the folder's files only: a module that is not
// there is an installed package, reported by MV-KERAS-MODULE already.
var folderCode = coderef.Linker{Runs: "when Keras imports it to load the model with this folder on sys.path (a script run from the folder, python in it)", PresentOnly: true}

func (a *analyzer) run(ctx context.Context, r io.Reader) (Result, error) {
	s := a.s
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.UseNumber()
	max := s.Limits().MaxNesting
	n := 0
	for {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(a.stack) != 0 || a.root == nil {
				return a.result(), scan.Malformedf("json: unexpected end of input")
			}
			return a.result(), nil
		}
		if err != nil {
			return a.result(), scan.Malformedf("json: %v", err)
		}
		var top *frame
		if len(a.stack) > 0 {
			top = a.stack[len(a.stack)-1]
		} else if a.root != nil {
			return a.result(), scan.Malformedf("json: data after the top-level value")
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(a.stack) >= max {
					return a.result(), &scan.LimitError{Limit: "max-nesting", Max: int64(max)}
				}
				f := &frame{obj: v == '{', expectKey: v == '{'}
				if top != nil {
					f.parentKey = top.valueKey()
				}
				a.stack = append(a.stack, f)
			case '}', ']':
				a.stack = a.stack[:len(a.stack)-1]
				sum := a.close(top)
				if len(a.stack) == 0 {
					a.root = top
				} else {
					a.absorb(a.stack[len(a.stack)-1], top, sum)
				}
			}
		case string:
			if top == nil {
				return a.result(), scan.Malformedf("json: top-level value is not an object")
			}
			if top.obj && top.expectKey {
				top.key = v
				top.expectKey = false
				continue
			}
			a.value(top, v, dec.InputOffset())
		default:
			if top == nil {
				return a.result(), scan.Malformedf("json: top-level value is not an object")
			}
			if top.obj {
				if top.key == "function" && v == nil {
					top.functionKind = ""
				}
				if top.key == "config" {
					top.hasConfig = true
				}
			}
			top.valueKey()
		}
	}
}

func (a *analyzer) result() Result {
	f := a.root
	if f == nil && len(a.stack) > 0 {
		f = a.stack[0]
	}
	return Result{Keras: f != nil && f.className != "" && f.hasConfig}
}

// valueKey returns the key a value in f is stored under, and moves f on.
func (f *frame) valueKey() string {
	if f.obj {
		k := f.key
		f.expectKey = true
		return k
	}
	f.index++
	return ""
}

// value handles a string value.
func (a *analyzer) value(f *frame, v string, off int64) {
	if !f.obj {
		if f.index == 0 && (f.parentKey == "function" || f.parentKey == "items") && v != "" {
			f.firstString = true
		}
		if f.parentKey == "chat_template" || f.parentKey == "chat_templates" {
			a.template(fmt.Sprintf("%s[%d]", f.parentKey, f.index), v, off)
		}
		f.valueKey()
		return
	}
	switch f.key {
	case "class_name":
		f.className = v
	case "module":
		f.module = v
	case "registered_name":
		f.registeredName = v
	case "function_type":
		f.functionType = v
	case "code":
		f.hasCode = v != ""
	case "function":
		if v != "" {
			f.functionKind = "name-or-code"
		}
	case "config":
		f.hasConfig = true
		f.configString = v
	case "chat_template":
		a.template(f.key, v, off)
	case "template":
		// tokenizer_config.json: "chat_template": [{"name": ..., "template": ...}]
		if n := len(a.stack); n >= 2 && !a.stack[n-2].obj && a.stack[n-2].parentKey == "chat_template" {
			a.template("chat_template."+f.key, v, off)
		}
	}
	f.valueKey()
}

func (a *analyzer) template(where, src string, off int64) {
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		return
	}
	jinja.Report(a.s, a.member, off, where, src)
}

// path is the key path of the object being closed, from the frames above
// it: "config.layers[1]".
func (a *analyzer) path() string {
	var b strings.Builder
	for _, f := range a.stack {
		if f.obj {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			fmt.Fprintf(&b, "[%d]", f.index-1)
		}
	}
	return b.String()
}

// link records that the object at the current path names module mod under
// key, for AnalyzeConfig to resolve against the folder.
func (a *analyzer) link(key, target, mod string) {
	if !coderef.ValidModule(mod) || len(a.refs) >= maxRefs {
		return
	}
	if p := a.path(); p != "" {
		key = p + "." + key
	}
	a.refs = append(a.refs, coderef.Module(key, target, mod, ""))
}

// maxRefs bounds the modules kept for linking: a config that names more is
// reported module by module by MV-KERAS-MODULE anyway.
const maxRefs = 1000

// absorb passes a closed child's facts to its parent.
func (a *analyzer) absorb(parent, child *frame, sum summary) {
	if !parent.obj {
		return
	}
	switch child.parentKey {
	case "items":
		parent.itemsCode = !child.obj && child.firstString
	case "config":
		parent.hasConfig = true
		parent.config = &sum
	case "function":
		switch {
		case !child.obj && child.firstString:
			parent.functionKind = "code"
		case child.obj && sum.className == "__tuple__" && sum.itemsCode:
			parent.functionKind = "code"
		case child.obj && sum.className == "__lambda__":
			parent.functionKind = "lambda"
			parent.reported = parent.reported || sum.reported
		case child.obj:
			parent.functionKind = "object"
		}
	}
}

func (a *analyzer) report(sev scan.Severity, rule, symbol, msg string) {
	a.s.Report(scan.Finding{RuleID: rule, Severity: sev, Member: a.member, Offset: -1, Symbol: symbol, Message: msg})
}

// close judges a closed object and summarises it.
func (a *analyzer) close(f *frame) summary {
	sum := summary{className: f.className, module: f.module, hasCode: f.hasCode, functionKind: f.functionKind,
		functionType: f.functionType, reported: f.reported, itemsCode: f.itemsCode}
	if !f.obj {
		return sum
	}
	if f.className == "__lambda__" && (f.hasCode || (f.config != nil && f.config.hasCode)) {
		a.report(scan.SeverityCritical, scan.RuleKerasLambda, "__lambda__",
			"Keras object with marshalled Python bytecode (__lambda__): the code runs when the model loads")
		sum.reported = true
	}
	if f.className == "Lambda" && f.config != nil && !f.config.reported {
		c := f.config
		switch {
		case c.functionKind == "lambda" || c.functionKind == "code" ||
			(c.functionType == "lambda" && c.functionKind != "") ||
			(c.functionKind == "name-or-code" && c.functionType == ""):
			a.report(scan.SeverityCritical, scan.RuleKerasLambda, "Lambda",
				"Keras Lambda layer with marshalled Python bytecode: the code runs when the model loads")
			sum.reported = true
		case c.functionType == "function":
			sev := scan.SeverityHigh
			if top, _, _ := strings.Cut(c.module, "."); codeModules[top] {
				sev = scan.SeverityCritical
			}
			a.report(sev, scan.RuleKerasLambda, "Lambda",
				fmt.Sprintf("Keras Lambda layer calling a Python function by name from module %q", c.module))
			sum.reported = true
			a.link("config.module", c.module, c.module)
		}
	}
	if f.className == "TFSMLayer" {
		a.report(scan.SeverityHigh, scan.RuleKerasModule, "TFSMLayer",
			"Keras TFSMLayer loads and runs a TensorFlow SavedModel from a path in the config")
	}
	if fn := f.configString; f.className == "function" && kerasDeniedFunctions[fn] ||
		kerasDeniedFunctions[f.className] && f.className != "" && f.module != "" {
		name := fn
		if f.className != "function" {
			name = f.className
		}
		a.report(scan.SeverityCritical, scan.RuleKerasModule, f.module+"."+name,
			fmt.Sprintf("Keras config calls %s.%s, which fetches or writes files or turns off safe mode", f.module, name))
	}
	// Keras objects always carry class_name beside module; other JSON that
	// happens to have a "module" key is not a Keras config.
	if f.module != "" && f.className != "" {
		top, _, _ := strings.Cut(f.module, ".")
		if !kerasPackages[top] {
			sev := scan.SeverityHigh
			if codeModules[top] {
				sev = scan.SeverityCritical
			}
			sym := f.module
			if f.className != "" {
				sym += "." + f.className
			}
			a.report(sev, scan.RuleKerasModule, sym,
				fmt.Sprintf("Keras config names module %q (class %q): loading imports it", f.module, f.className))
			a.link("module", f.module, f.module)
		}
	}
	if pkg, _, ok := strings.Cut(f.registeredName, ">"); ok && f.className != "" && !kerasPackages[pkg] {
		a.report(scan.SeverityHigh, scan.RuleKerasModule, f.registeredName,
			fmt.Sprintf("Keras config names custom registered object %q: loading runs the application's code for it", f.registeredName))
		// register_keras_serializable's package is often the module's name.
		a.link("registered_name", f.registeredName, pkg)
	}
	return sum
}
