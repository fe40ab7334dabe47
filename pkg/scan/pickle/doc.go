// Package pickle analyses Python pickle streams statically. It emulates
// CPython's Unpickler opcode by opcode (protocols 0 to 5: stack, marks, memo,
// framing, every opcode that imports or calls) without ever executing or
// unpickling anything, and reports every global the stream would import or
// call, judged against a default-deny allowlist.
package pickle
