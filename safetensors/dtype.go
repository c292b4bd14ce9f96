package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType names the element type of a stored tensor, spelled as in the header
// ("F32", "BF16", ...).
type DType string

// The element types of the safetensors format. The 8-bit floats are the
// OCP formats PyTorch calls float8_e5m2 and float8_e4m3fn.
const (
	DTypeF64    DType = "F64"
	DTypeF32    DType = "F32"
	DTypeF16    DType = "F16"
	DTypeBF16   DType = "BF16"
	DTypeF8E5M2 DType = "F8_E5M2"
	DTypeF8E4M3 DType = "F8_E4M3"
	DTypeI64    DType = "I64"
	DTypeI32    DType = "I32"
	DTypeI16    DType = "I16"
	DTypeI8     DType = "I8"
	DTypeU64    DType = "U64"
	DTypeU32    DType = "U32"
	DTypeU16    DType = "U16"
	DTypeU8     DType = "U8"
	DTypeBool   DType = "BOOL"
)

// Size returns the number of bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case DTypeF64, DTypeI64, DTypeU64:
		return 8
	case DTypeF32, DTypeI32, DTypeU32:
		return 4
	case DTypeF16, DTypeBF16, DTypeI16, DTypeU16:
		return 2
	case DTypeF8E5M2, DTypeF8E4M3, DTypeI8, DTypeU8, DTypeBool:
		return 1
	}
	return 0
}

// isInteger reports whether d holds integers (BOOL counts as 0/1).
func (d DType) isInteger() bool {
	switch d {
	case DTypeI64, DTypeI32, DTypeI16, DTypeI8, DTypeU64, DTypeU32, DTypeU16, DTypeU8, DTypeBool:
		return true
	}
	return false
}

// toFloat32 converts e's data (already validated to hold exactly len(dst)
// elements) into dst.
func toFloat32(e Entry, dst []float32) error {
	b := e.Data
	le := binary.LittleEndian
	switch e.DType {
	case DTypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case DTypeF64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case DTypeF16:
		for i := range dst {
			dst[i] = f16ToF32(le.Uint16(b[2*i:]))
		}
	case DTypeBF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case DTypeF8E5M2:
		for i := range dst {
			dst[i] = f16ToF32(uint16(b[i]) << 8) // E5M2 is the top byte of an IEEE half
		}
	case DTypeF8E4M3:
		for i := range dst {
			dst[i] = f8e4m3ToF32(b[i])
		}
	default:
		if !e.DType.isInteger() {
			return fmt.Errorf("safetensors: tensor %q: cannot convert dtype %s to float32", e.Name, e.DType)
		}
		vals := make([]int64, len(dst))
		if err := toInt64(e, vals); err != nil {
			return err
		}
		for i, v := range vals {
			dst[i] = float32(v)
		}
	}
	return nil
}

// toInt64 converts e's integer data (already validated to hold exactly
// len(dst) elements) into dst.
func toInt64(e Entry, dst []int64) error {
	b := e.Data
	le := binary.LittleEndian
	switch e.DType {
	case DTypeI64:
		for i := range dst {
			dst[i] = int64(le.Uint64(b[8*i:]))
		}
	case DTypeI32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case DTypeI16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case DTypeI8:
		for i := range dst {
			dst[i] = int64(int8(b[i]))
		}
	case DTypeU64:
		for i := range dst {
			v := le.Uint64(b[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("safetensors: tensor %q: U64 value %d at index %d does not fit in int64", e.Name, v, i)
			}
			dst[i] = int64(v)
		}
	case DTypeU32:
		for i := range dst {
			dst[i] = int64(le.Uint32(b[4*i:]))
		}
	case DTypeU16:
		for i := range dst {
			dst[i] = int64(le.Uint16(b[2*i:]))
		}
	case DTypeU8:
		for i := range dst {
			dst[i] = int64(b[i])
		}
	case DTypeBool:
		for i := range dst {
			if b[i] > 1 {
				return fmt.Errorf("safetensors: tensor %q: BOOL byte %d at index %d is neither 0 nor 1", e.Name, b[i], i)
			}
			dst[i] = int64(b[i])
		}
	default:
		return fmt.Errorf("safetensors: tensor %q: dtype %s is not an integer type", e.Name, e.DType)
	}
	return nil
}

// f16ToF32 converts IEEE 754 binary16 bits to float32 exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN; keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// f8e4m3ToF32 converts float8_e4m3fn (bias 7, no infinities, S.1111.111 is
// NaN) to float32 exactly.
func f8e4m3ToF32(b byte) float32 {
	sign := uint32(b>>7) << 31
	exp := uint32(b>>3) & 0xf
	mant := uint32(b) & 0x7
	switch {
	case exp == 0xf && mant == 0x7:
		return float32(math.NaN())
	case exp == 0: // zero or subnormal: mant * 2^-9
		f := float32(mant) * (1.0 / (1 << 9))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-7)<<23 | mant<<20)
}
