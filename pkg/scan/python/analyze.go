package python

import (
	"fmt"
	"sort"
	"strings"
)

// Use is one dangerous thing the code references.
type Use struct {
	Line     int
	Symbol   string // the fully qualified name, e.g. "os.system"
	Category string // "process", "file-write", "network", "dynamic-code", "native-code", "deserialisation"
	How      string // how the name was reached, when not literally: "through alias sp" ...
}

// Analysis is what a module does when it is imported or its code is run.
type Analysis struct {
	// Imports are the modules the code imports, sorted, without duplicates.
	Imports []string
	// Uses are the dangerous references, in source order.
	Uses []Use
	// Allowed is set by the caller when a policy allows the file as
	// reviewed code: the code finding is then info. Uses stay critical.
	Allowed bool
}

// rules map a qualified name, or a module and everything under it (a
// trailing "."), to a category. Matching is by whole dotted components, so
// "subprocess." matches "subprocess.run" and "subprocess" but not
// "subprocess_helpers".
var rules = map[string]string{
	// Processes.
	"os.system": "process", "os.popen": "process", "os.fork": "process", "os.forkpty": "process",
	"os.posix_spawn": "process", "os.posix_spawnp": "process", "os.kill": "process", "os.killpg": "process",
	"subprocess.": "process", "pty.": "process", "commands.": "process", "posix.system": "process",
	"nt.system": "process", "multiprocessing.popen_fork": "process", "asyncio.create_subprocess_exec": "process",
	"asyncio.create_subprocess_shell": "process", "builtins.breakpoint": "process", "pdb.": "process",
	// Files written, removed or moved.
	"shutil.": "file-write", "os.remove": "file-write", "os.unlink": "file-write", "os.rmdir": "file-write",
	"os.removedirs": "file-write", "os.rename": "file-write", "os.renames": "file-write", "os.replace": "file-write",
	"os.mkdir": "file-write", "os.makedirs": "file-write", "os.chmod": "file-write", "os.chown": "file-write",
	"os.symlink": "file-write", "os.link": "file-write", "os.write": "file-write", "os.truncate": "file-write",
	"os.mkfifo": "file-write", "os.putenv": "file-write", "os.chdir": "file-write", "tempfile.": "file-write",
	"io.FileIO": "file-write", "os.open": "file-write", "os.fdopen": "file-write",
	// Network.
	"socket.": "network", "urllib.": "network", "urllib2.": "network", "urllib3.": "network",
	"http.client.": "network", "http.server.": "network", "httplib.": "network", "requests.": "network",
	"httpx.": "network", "aiohttp.": "network", "ftplib.": "network", "smtplib.": "network",
	"telnetlib.": "network", "poplib.": "network", "imaplib.": "network", "xmlrpc.": "network",
	"websocket.": "network", "websockets.": "network", "paramiko.": "network", "ssl.": "network",
	"asyncio.open_connection": "network", "asyncio.start_server": "network", "torch.hub.": "network",
	"huggingface_hub.": "network", "webbrowser.": "network", "socketserver.": "network",
	// Code made or imported at run time.
	"builtins.eval": "dynamic-code", "builtins.exec": "dynamic-code", "builtins.compile": "dynamic-code",
	"builtins.__import__": "dynamic-code", "importlib.": "dynamic-code", "imp.": "dynamic-code",
	"runpy.": "dynamic-code", "code.": "dynamic-code", "codeop.": "dynamic-code", "types.CodeType": "dynamic-code",
	"types.FunctionType": "dynamic-code", "marshal.": "dynamic-code", "builtins.globals": "dynamic-code",
	"builtins.vars": "dynamic-code", "builtins.locals": "dynamic-code", "sys.modules": "dynamic-code",
	"sys.meta_path": "dynamic-code", "sys.path_hooks": "dynamic-code", "sys.settrace": "dynamic-code",
	"sys.setprofile": "dynamic-code", "zipimport.": "dynamic-code", "pkgutil.": "dynamic-code",
	"torch.utils.cpp_extension.": "native-code", "torch.ops.load_library": "native-code",
	"torch.classes.load_library": "native-code",
	// Native code.
	"ctypes.": "native-code", "_ctypes.": "native-code", "cffi.": "native-code",
	// Deserialisation that runs code.
	"pickle.": "deserialisation", "_pickle.": "deserialisation", "cPickle.": "deserialisation",
	"dill.": "deserialisation", "cloudpickle.": "deserialisation", "shelve.": "deserialisation",
	"joblib.load": "deserialisation", "torch.load": "deserialisation", "torch.jit.load": "deserialisation",
	"torch.serialization.load": "deserialisation", "numpy.load": "deserialisation",
	"yaml.load": "deserialisation", "yaml.unsafe_load": "deserialisation", "yaml.full_load": "deserialisation",
	"pandas.read_pickle": "deserialisation", "jsonpickle.": "deserialisation",
}

// categoryOf returns the rule category of a qualified name, "" for none.
func categoryOf(q string) string {
	if c, ok := rules[q]; ok && !strings.HasSuffix(q, ".") {
		return c
	}
	parts := strings.Split(q, ".")
	for i := len(parts); i >= 1; i-- {
		if c, ok := rules[strings.Join(parts[:i], ".")+"."]; ok {
			return c
		}
	}
	return ""
}

// fileWriteMethods are methods that write files whatever object they are
// called on (pathlib paths; the receiver's type is not known statically).
var fileWriteMethods = map[string]bool{"write_text": true, "write_bytes": true, "unlink": true,
	"symlink_to": true, "hardlink_to": true}

var builtinNames = map[string]bool{
	"eval": true, "exec": true, "compile": true, "__import__": true, "open": true, "getattr": true,
	"globals": true, "vars": true, "locals": true, "breakpoint": true, "setattr": true, "delattr": true,
}

type analyzer struct {
	alias   map[string]string // local name -> qualified name
	bound   map[string]bool   // names bound to something not resolvable
	imports map[string]bool
	uses    []Use
	seen    map[string]bool
}

// Analyze reports what a parsed module imports and the dangerous things it
// references. Names are resolved through imports ("import subprocess as
// sp", "from os import system as run"), assignments of names and
// attributes ("f = os.system"), getattr with a constant, __import__ and
// importlib.import_module with a constant, whatever the scope: the
// resolution is flow-insensitive, so a name bound anywhere in the file to a
// dangerous function is judged so everywhere.
func Analyze(mod *Node) Analysis {
	a := &analyzer{alias: map[string]string{}, bound: map[string]bool{}, imports: map[string]bool{}, seen: map[string]bool{}}
	// Bindings may come after their uses in source order (a function body
	// uses a module-level alias); collect them to a fixed point first.
	for range 4 {
		before := len(a.alias) + len(a.bound)
		walk(mod, a.bind)
		if len(a.alias)+len(a.bound) == before {
			break
		}
	}
	walk(mod, a.visit)
	sort.SliceStable(a.uses, func(i, j int) bool {
		if a.uses[i].Line != a.uses[j].Line {
			return a.uses[i].Line < a.uses[j].Line
		}
		return a.uses[i].Symbol < a.uses[j].Symbol
	})
	res := Analysis{Uses: a.uses}
	for m := range a.imports {
		res.Imports = append(res.Imports, m)
	}
	sort.Strings(res.Imports)
	return res
}

// walk visits every node under root with an explicit stack, so that a
// deeply nested tree (a long chain of binary operators) cannot exhaust the
// goroutine stack. f returns the nodes to visit next.
func walk(root *Node, f func(*Node) []*Node) {
	stack := []*Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n != nil {
			stack = append(stack, f(n)...)
		}
	}
}

func (a *analyzer) bind(n *Node) []*Node {
	switch n.Kind {
	case NImport:
		for _, al := range n.Kids {
			a.imports[al.Name] = true
			if al.As != "" {
				a.alias[al.As] = al.Name
			} else {
				top, _, _ := strings.Cut(al.Name, ".")
				a.alias[top] = top
			}
		}
		return nil
	case NImportFrom:
		a.imports[n.Name] = true
		for _, al := range n.Kids {
			if al.Name == "*" {
				continue
			}
			local := al.As
			if local == "" {
				local = al.Name
			}
			a.alias[local] = n.Name + "." + al.Name
		}
		return nil
	case NAssign:
		value := n.Kids[len(n.Kids)-1]
		if len(n.Kids) == 3 && n.Kids[1] != nil && n.Kids[0].Kind == NName {
			// Annotated assignment: target, value, annotation.
			value = n.Kids[1]
		}
		q := a.resolve(value, 0)
		for _, t := range n.Kids[:len(n.Kids)-1] {
			if t.Kind != NName {
				continue
			}
			if q != "" {
				if _, ok := a.alias[t.Name]; !ok {
					a.alias[t.Name] = q
				}
			} else if _, ok := a.alias[t.Name]; !ok {
				a.bound[t.Name] = true
			}
		}
	case NDef, NClass:
		a.bound[n.Name] = true
	}
	return n.Kids
}

// resolve returns the qualified name an expression denotes, "" when it is
// not a name reached from an import or a builtin.
func (a *analyzer) resolve(n *Node, depth int) string {
	if n == nil || depth > 64 {
		return ""
	}
	switch n.Kind {
	case NName:
		if q, ok := a.alias[n.Name]; ok {
			return q
		}
		if builtinNames[n.Name] && !a.bound[n.Name] {
			return "builtins." + n.Name
		}
	case NAttr:
		// Walk down the chain without recursion: a.b.c.d...
		var names []string
		root := n
		for root.Kind == NAttr {
			names = append(names, root.Name)
			root = root.Kids[0]
		}
		if v := a.resolve(root, depth+1); v != "" {
			for i := len(names) - 1; i >= 0; i-- {
				v += "." + names[i]
			}
			return v
		}
	case NCall:
		f := a.resolve(n.Kids[0], depth+1)
		args := n.Kids[1:]
		switch f {
		case "builtins.getattr":
			if len(args) >= 2 && args[1].Kind == NStr {
				if v := a.resolve(args[0], depth+1); v != "" {
					return v + "." + args[1].Str
				}
			}
		case "builtins.__import__", "importlib.import_module":
			if len(args) >= 1 && args[0].Kind == NStr {
				return args[0].Str
			}
		}
	}
	return ""
}

func (a *analyzer) use(line int, q, cat, how string) {
	key := fmt.Sprintf("%d\x00%s", line, q)
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.uses = append(a.uses, Use{Line: line, Symbol: q, Category: cat, How: how})
}

// how says through which local name a qualified name was reached.
func (a *analyzer) how(n *Node, q string) string {
	root := n
	for root.Kind == NAttr {
		root = root.Kids[0]
	}
	if root.Kind == NName && !strings.HasPrefix(q, root.Name+".") && q != root.Name && !strings.HasPrefix(q, "builtins.") {
		return "through the name " + root.Name
	}
	if root.Kind == NCall {
		return "through a dynamic lookup"
	}
	return ""
}

func (a *analyzer) visit(n *Node) []*Node {
	switch n.Kind {
	case NImportFrom:
		for _, al := range n.Kids {
			if al.Name == "*" {
				if c := categoryOf(n.Name + ".x"); c != "" || categoryOf(n.Name) != "" {
					a.use(n.Line, n.Name+".*", firstNonEmpty(c, categoryOf(n.Name)), "by a star import")
				}
				continue
			}
			q := n.Name + "." + al.Name
			if c := categoryOf(q); c != "" {
				a.use(al.Line, q, c, "imported by name")
			}
		}
		return nil
	case NImport:
		for _, al := range n.Kids {
			// Importing a module that is dangerous as a whole (subprocess,
			// ctypes, socket) is a use: its import runs nothing, but the
			// file has no other reason to import it.
			if c := categoryOf(al.Name); c != "" {
				a.use(al.Line, al.Name, c, "imported")
			}
		}
		return nil
	case NName, NAttr:
		if q := a.resolve(n, 0); q != "" {
			if c := categoryOf(q); c != "" {
				a.use(n.Line, q, c, a.how(n, q))
			}
			if n.Kind == NAttr {
				return chainCall(n.Kids[0])
			}
			return nil
		}
	case NCall:
		// getattr(os, "system"), __import__("subprocess"): the call itself
		// denotes a name.
		if q := a.resolve(n, 0); q != "" {
			if c := categoryOf(q); c != "" {
				a.use(n.Line, q, c, "through a dynamic lookup")
			}
		}
		a.call(n)
	}
	return n.Kids
}

// chainCall returns the call at the root of an attribute chain that
// resolved as a whole (getattr(os, "system") in getattr(...).x), to be
// visited too.
func chainCall(n *Node) []*Node {
	for n != nil && n.Kind == NAttr {
		n = n.Kids[0]
	}
	if n != nil && n.Kind == NCall {
		return []*Node{n}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// call judges calls whose danger depends on their arguments.
func (a *analyzer) call(n *Node) {
	f := a.resolve(n.Kids[0], 0)
	args := n.Kids[1:]
	switch f {
	case "builtins.open", "io.open", "codecs.open", "gzip.open", "bz2.open", "lzma.open", "os.fdopen":
		mode := ""
		known := true
		for i, arg := range args {
			switch {
			case arg.Kind == NKeyword && arg.Name == "mode":
				if arg.Kids[0].Kind == NStr {
					mode = arg.Kids[0].Str
				} else {
					known = false
				}
			case i == 1 && arg.Kind == NStr:
				mode = arg.Str
			case i == 1 && arg.Kind != NKeyword:
				known = false
			case arg.Kind == NStar:
				known = false
			}
		}
		if !known || strings.ContainsAny(mode, "wax+") {
			a.use(n.Line, f, "file-write", "to write a file (mode "+describeMode(mode, known)+")")
		}
	case "builtins.getattr", "builtins.setattr", "builtins.delattr":
		if len(args) >= 2 && args[1].Kind != NStr {
			if v := a.resolve(args[0], 0); v != "" {
				a.use(n.Line, v+".<computed>", "dynamic-code", "through "+strings.TrimPrefix(f, "builtins.")+" with a computed name")
			}
		}
	case "builtins.__import__", "importlib.import_module":
		if len(args) >= 1 && args[0].Kind == NStr {
			a.imports[args[0].Str] = true
		}
	}
	if f == "" && n.Kids[0].Kind == NAttr && fileWriteMethods[n.Kids[0].Name] {
		a.use(n.Line, "."+n.Kids[0].Name, "file-write", "a method that writes or removes files")
	}
}

func describeMode(mode string, known bool) string {
	if !known {
		return "computed at run time"
	}
	return fmt.Sprintf("%q", mode)
}
