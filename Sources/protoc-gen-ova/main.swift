// protoc-gen-ova: protoc plugin that generates OVA's Swift messages, handlers and clients.
//
//   protoc -I proto --plugin=protoc-gen-ova=PATH --ova_out=Sources/OvaProto/Generated ova/v1/*.proto
//
// Reads a CodeGeneratorRequest from stdin and writes a CodeGeneratorResponse to stdout; all the
// work is in OvaCodegen.
import OvaCodegen

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

exit(PluginMain.run())
