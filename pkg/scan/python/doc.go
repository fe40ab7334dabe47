// Package python parses Python source and judges what it does when it is
// imported: a model folder's modeling_*.py that transformers imports with
// trust_remote_code, a serving archive's handler, an MLflow model's code.
//
// The parser is written here from the Python Language Reference (lexical
// analysis and the full grammar of Python 3.12: INDENT/DEDENT, implicit and
// explicit line joining, string prefixes, f-strings whose replacement fields
// are parsed as expressions, match statements with soft keywords, type
// parameter lists and type aliases). It is pure Go, so the release binary
// stays static. It builds a reduced tree that keeps names, attributes,
// calls, string constants, imports and assignments, and keeps every other
// construct as a generic node with its children, so nothing is skipped.
// Its test parses every .py file of Debian's Python 3.11 standard library.
package python
