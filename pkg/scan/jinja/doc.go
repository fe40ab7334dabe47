// Package jinja judges Jinja2 chat templates without rendering them.
//
// Model files carry chat templates that loaders render with Jinja2 (GGUF's
// tokenizer.chat_template keys, Hugging Face tokenizer_config.json). A
// template rendered outside Jinja's sandbox can climb from any object to
// Python's builtins through dunder attributes (CVE-2024-34359 in
// llama-cpp-python). Analyze tokenizes and parses the template's
// expressions and statements, folds the string operations an attacker uses
// to hide a name (concatenation, join, format, replace, reverse, slices,
// variables and loops over constants), and reports every attribute name the
// template can reach, however it is spelled. Ordinary templates (loops,
// conditionals, filters, macros, raise_exception) produce no issues.
//
// A template that does not parse is judged by a textual check for special
// names, and reported as not analysed.
package jinja
