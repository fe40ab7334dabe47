package scan

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// modelExtensions are the file name endings that say "this is a model": the
// loaders that open such files run whatever format they find. A top-level
// file with one of these names whose content no format recognises is
// malformed, not unsupported: a scan must not pass a checkpoint that it could
// not read (a format variant it does not know, a broken download).
var modelExtensions = map[string]bool{
	".safetensors": true, ".pt": true, ".pth": true, ".bin": true, ".ckpt": true,
	".pkl": true, ".pickle": true, ".joblib": true, ".npy": true, ".npz": true,
	".onnx": true, ".gguf": true, ".h5": true, ".hdf5": true, ".keras": true, ".pb": true,
	".nemo": true, ".pdparams": true, ".pdopt": true, ".mar": true,
}

// modelExtension returns the model extension of a target path ("" for none).
func modelExtension(p string) string {
	ext := strings.ToLower(filepath.Ext(p))
	if modelExtensions[ext] {
		return ext
	}
	return ""
}

// rawDataExtension is the one model extension that is also the usual name of
// raw tensor data that another file describes: ONNX external data, OpenVINO
// IR weights next to their .xml, TensorFlow.js weight shards next to
// model.json. Such a file is left unsupported when its folder holds one of
// those describing files in the same scan, and is malformed otherwise.
const rawDataExtension = ".bin"

// unrecognisedName is the error of a model-named file that no format
// recognises.
func unrecognisedName(ext string) error {
	return Malformedf("named like a model (%s) but no format recognises its content", ext)
}

// describesRawData reports whether the target t is a file that names raw
// data files of its folder: an ONNX model, an OpenVINO IR .xml with the same
// stem as bin, or a TensorFlow.js model.json.
func describesRawData(t Target, bin string) bool {
	if t.Format == "onnx" {
		return true
	}
	base := path.Base(filepath.ToSlash(t.Path))
	if strings.EqualFold(base, "model.json") {
		return true
	}
	stem := strings.TrimSuffix(path.Base(filepath.ToSlash(bin)), path.Ext(bin))
	return strings.EqualFold(base, stem+".xml")
}

// judgeRawData turns each unrecognised .bin target of targets into a
// malformed one unless a file of its folder in the same scan describes raw
// data (see describesRawData).
func judgeRawData(targets []Target) {
	byDir := map[string][]int{}
	for i, t := range targets {
		dir := path.Dir(filepath.ToSlash(t.Path))
		byDir[dir] = append(byDir[dir], i)
	}
	for i := range targets {
		t := &targets[i]
		if !t.rawCandidate {
			continue
		}
		t.rawCandidate = false
		described := false
		for _, j := range byDir[path.Dir(filepath.ToSlash(t.Path))] {
			if j != i && describesRawData(targets[j], t.Path) {
				described = true
				break
			}
		}
		if described {
			continue
		}
		err := fmt.Errorf("%w; raw tensor data is accepted only next to an ONNX model, an OpenVINO .xml or a TensorFlow.js model.json in the same scan", unrecognisedName(rawDataExtension))
		t.Verdict = VerdictMalformed
		t.Error = err.Error()
		t.Findings = append(t.Findings, Finding{RuleID: RuleMalformed, Severity: SeverityInfo, Offset: -1, Message: err.Error()})
	}
}
