// The wire types (StatusCode, Metadata) are part of the runtime's API.
@_exported import OvaWire
@_exported import OvaProtobuf
