// Package numpy scans numpy's .npy files. The header is a Python dict
// literal that is parsed, never evaluated. An array whose dtype holds Python
// objects is a pickle after the header (numpy.load with allow_pickle=True
// unpickles it), which is scanned; a plain array is checked to be exactly as
// long as its shape and dtype say. An .npz is a zip of .npy files, which
// package archive opens and hands back here member by member.
package numpy
