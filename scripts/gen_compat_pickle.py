#!/usr/bin/python3
"""Writes pkg/scan/pickle/compat_gen.go: the Python 2 module and name remapping
tables that CPython applies to pickles of protocol < 3 (Lib/_compat_pickle.py)."""
import _compat_pickle as c
import sys

out = ['// Code generated from CPython 3.11 Lib/_compat_pickle.py; DO NOT EDIT.',
       "// These are the Python 2 names that CPython remaps when a pickle's protocol is below 3.",
       '', 'package pickle', '', 'var py2Modules = map[string]string{']
for k, v in sorted(c.IMPORT_MAPPING.items()):
    out.append(f'\t"{k}": "{v}",')
out += ['}', '', 'var py2Names = map[[2]string][2]string{']
for (m, n), (m2, n2) in sorted(c.NAME_MAPPING.items()):
    out.append(f'\t{{"{m}", "{n}"}}: {{"{m2}", "{n2}"}},')
out.append('}')
path = sys.argv[1] if len(sys.argv) > 1 else 'pkg/scan/pickle/compat_gen.go'
open(path, 'w').write('\n'.join(out) + '\n')
