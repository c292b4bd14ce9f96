// Package onnxpb holds the ONNX protobuf message types (ModelProto,
// GraphProto, NodeProto, TensorProto, ...) generated from onnx.proto, a
// subset of upstream onnx/onnx.proto3 with the same message names, field
// names and field numbers, so what it writes is an ordinary ONNX file.
//
// onnx.pb.go is generated and committed; regenerate it after editing
// onnx.proto with (Debian: apt-get install protobuf-compiler; the plugin's
// version matches the google.golang.org/protobuf in go.mod):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.8
//	cd interop/onnx/onnxpb && protoc --go_out=. --go_opt=paths=source_relative onnx.proto
//
// The committed file was made with protoc 3.21.12 and protoc-gen-go v1.36.8.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
