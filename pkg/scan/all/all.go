// Package all lists the formats modelverify scans by default, in the order the
// dispatcher tries them: specific magic numbers first, the loose pickle match
// last.
package all

import (
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/archive"
	"github.com/modelverify/modelverify/pkg/scan/compress"
	"github.com/modelverify/modelverify/pkg/scan/executable"
	"github.com/modelverify/modelverify/pkg/scan/gguf"
	"github.com/modelverify/modelverify/pkg/scan/hdf5"
	"github.com/modelverify/modelverify/pkg/scan/hfcode"
	"github.com/modelverify/modelverify/pkg/scan/jinja"
	"github.com/modelverify/modelverify/pkg/scan/numpy"
	"github.com/modelverify/modelverify/pkg/scan/onnx"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
	"github.com/modelverify/modelverify/pkg/scan/python"
	"github.com/modelverify/modelverify/pkg/scan/safetensors"
	"github.com/modelverify/modelverify/pkg/scan/serving"
	"github.com/modelverify/modelverify/pkg/scan/tfsaved"
	"github.com/modelverify/modelverify/pkg/scan/torch"
	"github.com/modelverify/modelverify/pkg/scan/ubjson"
)

// Formats returns the default formats.
func Formats() []scan.Format {
	return []scan.Format{
		// Programs first: a weight file whose head is an executable is one.
		// Python before them, for scripts whose shebang names python.
		python.Format{},
		executable.Format{},
		// Container and non-pickle formats go here, before pickle.
		archive.Zip{},
		archive.SevenZip{},
		compress.Gzip{},
		compress.Bzip2{},
		compress.XZ{},
		compress.Zstd{},
		compress.LZ4{},
		compress.Zlib{},
		compress.JoblibZF{},
		numpy.Format{},
		safetensors.Format{},
		gguf.Format{},
		hdf5.Format{},
		tfsaved.Format{},
		onnx.Format{},
		onnx.Tensor{},
		ubjson.Format{}, // XGBoost's binary models
		hfcode.Config{}, // every JSON object: code references, then keras.JSON's checks
		hfcode.Modules{},
		jinja.Format{},
		archive.Tar{},
		torch.Legacy{},
		compress.LZMA{},
		archive.PickleZip{},
		serving.MLmodel{},
		serving.NemoConfig{},
		// Legacy GGML only claims what no container format above reads (a
		// tar, zip or legacy torch file that starts with its magic is one of
		// those).
		gguf.GGML{},
		// Text that may be Python; what does not parse goes on to pickle.
		python.Text{},
		pickle.Format{},
	}
}
