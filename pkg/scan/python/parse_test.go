package python

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAcceptsPython312(t *testing.T) {
	for _, src := range []string{
		"x = 1\n",
		"def f[T: int, *Ts, **P](a, /, b: int = 1, *args: *Ts, c, **kw) -> T:\n    return a\n",
		"class C[T](Base, metaclass=M):\n    pass\n",
		"type Alias[T] = list[T]\n",
		"type = 3\nprint(type)\n",
		"match = 1\nmatch(x)\nmatch[1]\n",
		"match p:\n    case [x, *rest] if x > 0:\n        pass\n    case {'k': v, **kw}:\n        pass\n    case Point(x=0, y=yy) | Other() as o:\n        pass\n    case -1 | 1.5 | 'a' | None:\n        pass\n    case _:\n        pass\n",
		"f'{x!r:>{width}} {y=} {\"nested\"} {f\"{z}\"}'\n",
		"f'{a['k']}'\n",
		"with (open(a) as f, open(b) as g):\n    pass\n",
		"with (a, b):\n    pass\n",
		"async def f():\n    async with a as b:\n        await c\n    async for x in y:\n        yield x\n    return [i async for i in g()]\n",
		"try:\n    pass\nexcept* (A, B) as e:\n    pass\n",
		"if (n := len(a)) > 10: pass\n",
		"x = [*a, *b]; y = {**c, 'd': 1}; z = {1, 2}\n",
		"lambda *a, k=1, **kw: (yield)\n",
		"print(*a, sep='', **k)\n",
		"a[1:2, ::3, ...]\n",
		"x = \\\n  1\n",
		"s = r'\\'' b'\\x00' rb\"\\\"\" '''a\n'b'''\n",
		"@decorator(arg)\n@other.attr\nclass A: x: int = 3\n",
		"for i, (j, *k) in enumerate(z): del i, j\nelse: pass\n",
		"global a, b\nassert x, 'msg'\nraise E from None\n",
		"0x_ff + 1_000.5e-3j + .5 + 1e10\n",
		"x = yield_ = 1\n",
		"if a:\n\n    # comment\n\tpass\n",
		"if a: pass\n" + strings.Repeat("elif b: pass\n", 100_000) + "else: pass\n",
		"match(x)\nmatch x:\n    case 1 if y:\n        pass\nz = a if b else c\n",
		"match x:\n    case 1:\n        match.y\nv = a if b else c\n",
	} {
		if _, err := Parse(src, Limits{}); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestParseRejectsWhatIsNotPython(t *testing.T) {
	for _, src := range []string{
		"print 'hello'\n",
		"def f(:\n",
		"if x\n    pass\n",
		"x = (1, 2\n",
		"class\n",
		"  x = 1\n",
		"if a:\n        x\n    y\n",
		"s = 'unterminated\n",
		"x = 1 +\n",
		"exec 'code'\n",
		"f'{'\n",
		"a = b = \n",
		"# Title\n\nSome prose in a README.\n",
	} {
		if _, err := Parse(src, Limits{}); err == nil {
			t.Errorf("%q parsed", src)
		} else {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Errorf("%q: %v is not a syntax error with a line", src, err)
			}
		}
	}
}

func TestParseLimits(t *testing.T) {
	deep := strings.Repeat("(", 300) + strings.Repeat(")", 300) + "\n"
	if _, err := Parse(deep, Limits{}); !errors.Is(err, errTooDeep) {
		t.Errorf("300 brackets: %v", err)
	}
	unary := "x = " + strings.Repeat("-", 10000) + "1\n"
	if _, err := Parse(unary, Limits{}); !errors.Is(err, errTooDeep) {
		t.Errorf("10000 unary minus: %v", err)
	}
	var b strings.Builder
	for i := range 150 {
		b.WriteString(strings.Repeat(" ", i) + "if x:\n")
	}
	b.WriteString(strings.Repeat(" ", 150) + "pass\n")
	if _, err := Parse(b.String(), Limits{MaxNesting: 100}); !errors.Is(err, errTooDeep) {
		t.Errorf("150 indents: %v", err)
	}
	if _, err := Parse(strings.Repeat("x\n", 1000), Limits{MaxTokens: 100}); !errors.Is(err, errTooManyTokens) {
		t.Errorf("tokens: %v", err)
	}
	fdeep := "f'" + strings.Repeat("{f'", 100) + strings.Repeat("'}", 100) + "'\n"
	if _, err := Parse(fdeep, Limits{MaxNesting: 50}); err == nil {
		t.Errorf("nested f-strings past the limit parsed")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.py")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add("match x:\n    case [a, *b]:\n        pass\n")
	f.Add("f'{x!r:{y}}'\n")
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src, Limits{MaxNesting: 50})
		if err == nil && n == nil {
			t.Fatal("nil tree without error")
		}
		if err == nil {
			Analyze(n)
		}
	})
}

// Nested f-strings are parsed once per level, not once per path: 40
// levels finish at once instead of 2^40 parses.
func TestNestedFStringsParseInLinearWork(t *testing.T) {
	src := "x = " + strings.Repeat("f'{", 40) + "os.system('id')" + strings.Repeat("}'", 40) + "\n"
	src = "import os\n" + strings.ReplaceAll(src, "'", "\"")
	mod, err := Parse(src, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if u := Analyze(mod).Uses; len(u) != 1 || u[0].Symbol != "os.system" {
		t.Fatalf("uses %v", u)
	}
}
