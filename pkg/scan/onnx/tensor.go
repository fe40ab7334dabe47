package onnx

import (
	"context"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/internal/pbwalk"
)

// Tensor is a bare TensorProto: what onnx.save_tensor and
// numpy_helper.from_array(...).SerializeToString() write, and the
// input_N.pb / output_N.pb files of ONNX test data sets. It holds data
// only; Scan decodes it completely and judges its external data as a
// model's initializers are judged.
type Tensor struct{}

var _ scan.Format = Tensor{}

// Name implements scan.Format.
func (Tensor) Name() string { return "onnx-tensor" }

// tensorFields are TensorProto's fields and the wire types a writer may use
// for them (repeated numeric fields packed or not).
var tensorFields = map[protowire.Number][]protowire.Type{
	1:  {protowire.VarintType, protowire.BytesType},  // dims
	2:  {protowire.VarintType},                       // data_type
	3:  {protowire.BytesType},                        // segment
	4:  {protowire.BytesType, protowire.Fixed32Type}, // float_data
	5:  {protowire.BytesType, protowire.VarintType},  // int32_data
	6:  {protowire.BytesType},                        // string_data
	7:  {protowire.BytesType, protowire.VarintType},  // int64_data
	8:  {protowire.BytesType},                        // name
	9:  {protowire.BytesType},                        // raw_data
	10: {protowire.BytesType, protowire.Fixed64Type}, // double_data
	11: {protowire.BytesType, protowire.VarintType},  // uint64_data
	12: {protowire.BytesType},                        // doc_string
	13: {protowire.BytesType},                        // external_data
	14: {protowire.VarintType},                       // data_location
	16: {protowire.BytesType},                        // metadata_props
}

// maxDataType is the highest TensorProto.DataType ONNX defines (FLOAT4E2M1
// is 23); 0 is UNDEFINED.
const maxDataType = 23

// Match implements scan.Format: dims or data_type first, every field in the
// head a TensorProto field with a wire type its writers use, and a
// data_type ONNX defines. Fields that run past the head are the Scan's to
// check.
func (Tensor) Match(head []byte, size int64) bool {
	if len(head) < 2 || head[0] != 0x08 && head[0] != 0x10 && head[0] != 0x0a {
		return false
	}
	b := head
	dataType := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		ok := false
		for _, t := range tensorFields[num] {
			ok = ok || t == typ
		}
		if !ok {
			return false
		}
		b = b[n:]
		var m int
		switch typ {
		case protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b)
			if num == 2 {
				if m < 0 || v == 0 || v > maxDataType {
					return false
				}
				dataType = true
			}
		case protowire.Fixed32Type:
			m = protowire.ConsumeFieldValue(num, typ, b)
		case protowire.Fixed64Type:
			m = protowire.ConsumeFieldValue(num, typ, b)
		default:
			var l uint64
			l, m = protowire.ConsumeVarint(b)
			if m >= 0 && l > uint64(len(b)-m) {
				return dataType // runs past the head
			}
			if m >= 0 {
				m += int(l)
			}
		}
		if m < 0 {
			return dataType && len(head) == scan.HeadSize
		}
		b = b[m:]
	}
	return dataType
}

// Scan implements scan.Format.
func (Tensor) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	m := &model{s: s, r: pbwalk.NewReader(r, size), lim: s.Limits(), dir: s.Dir(),
		ops: map[string]map[string]bool{}, local: map[string]bool{}, pyops: map[string]bool{}}
	return m.tensor(pbwalk.Field{Type: protowire.BytesType, Off: 0, Len: size}, 1)
}
