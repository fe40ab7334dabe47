package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// fileRef is a regular file found by walk: Path is where to read it, Display
// is the path the user sees (through symlinks, not to their targets).
type fileRef struct {
	Path    string
	Display string
}

// walkError is a path walk could not read.
type walkError struct {
	Display string
	Err     error
}

// walk sends every regular file under root (root itself if it is a file) to
// out, following symlinks to files and directories (the Hugging Face cache
// links snapshot files to blobs elsewhere) with loop detection: a directory
// already on the current path is not entered again. It returns how many
// files it sent and the paths it could not read.
func walk(ctx context.Context, root string, out chan<- fileRef) (int, []walkError) {
	w := &walker{ctx: ctx, out: out, active: map[fileKey]bool{}}
	w.visit(root, root, 0)
	return w.files, w.errs
}

type walker struct {
	ctx    context.Context
	out    chan<- fileRef
	active map[fileKey]bool
	errs   []walkError
	files  int
}

// maxWalkDepth stops directory trees deeper than any real model folder.
const maxWalkDepth = 256

func (w *walker) visit(path, display string, depth int) {
	if w.ctx.Err() != nil {
		return
	}
	fi, err := os.Stat(path) // follows symlinks
	if err != nil {
		w.errs = append(w.errs, walkError{display, err})
		return
	}
	switch {
	case fi.Mode().IsRegular():
		select {
		case w.out <- fileRef{Path: path, Display: display}:
			w.files++
		case <-w.ctx.Done():
		}
	case fi.IsDir():
		if depth > maxWalkDepth {
			w.errs = append(w.errs, walkError{display, fmt.Errorf("directory tree deeper than %d", maxWalkDepth)})
			return
		}
		key, ok := keyOf(fi)
		if ok {
			if w.active[key] {
				return // a symlink loop: this directory is already being walked
			}
			w.active[key] = true
			defer delete(w.active, key)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			w.errs = append(w.errs, walkError{display, err})
			return
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			w.visit(filepath.Join(path, e.Name()), filepath.Join(display, e.Name()), depth+1)
		}
	default:
		// Devices, sockets and pipes are not model files; reading a FIFO would hang.
	}
}
