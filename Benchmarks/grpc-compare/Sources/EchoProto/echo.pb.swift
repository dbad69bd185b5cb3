// Hand-written equivalent of what protoc-gen-swift (swift-protobuf 1.39) generates for
// proto/ova/v1/echo.proto at the repository root. It is written by hand so the benchmark does
// not have to build the protoc plugin; keep it in step with that file.
//
// Field numbers and types:
//   EchoRequest  { string text = 1; bytes payload = 2; uint32 response_count = 3;
//                  uint32 response_size = 4; uint32 delay_ms = 5; EchoFailure fail_with = 6;
//                  bool echo_metadata = 7; }
//   EchoFailure  { uint32 code = 1; string message = 2; }
//   EchoResponse { string text = 1; bytes payload = 2; uint64 sequence = 3;
//                  map<string, string> metadata = 4; }
//   EchoSummary  { uint64 message_count = 1; uint64 byte_count = 2; string last_text = 3; }

import Foundation
import SwiftProtobuf

public struct Ova_V1_EchoRequest: Sendable {
    public var text: String = String()
    public var payload: Data = Data()
    /// Server streaming: number of responses to send; 0 means 1.
    public var responseCount: UInt32 = 0
    /// Size of each response's payload; 0 echoes the request payload.
    public var responseSize: UInt32 = 0
    /// Delay before each response, in milliseconds.
    public var delayMs: UInt32 = 0
    /// When set (code != 0), the call ends with this status instead of OK.
    public var failWith: Ova_V1_EchoFailure {
        get { self._failWith ?? Ova_V1_EchoFailure() }
        set { self._failWith = newValue }
    }
    public var hasFailWith: Bool { self._failWith != nil }
    public mutating func clearFailWith() { self._failWith = nil }
    /// Copy the request metadata into the response.
    public var echoMetadata: Bool = false

    public var unknownFields = SwiftProtobuf.UnknownStorage()

    public init() {}

    fileprivate var _failWith: Ova_V1_EchoFailure? = nil
}

public struct Ova_V1_EchoFailure: Sendable {
    public var code: UInt32 = 0
    public var message: String = String()

    public var unknownFields = SwiftProtobuf.UnknownStorage()

    public init() {}
}

public struct Ova_V1_EchoResponse: Sendable {
    public var text: String = String()
    public var payload: Data = Data()
    /// 0-based index of this response within the call.
    public var sequence: UInt64 = 0
    public var metadata: Dictionary<String, String> = [:]

    public var unknownFields = SwiftProtobuf.UnknownStorage()

    public init() {}
}

public struct Ova_V1_EchoSummary: Sendable {
    public var messageCount: UInt64 = 0
    public var byteCount: UInt64 = 0
    public var lastText: String = String()

    public var unknownFields = SwiftProtobuf.UnknownStorage()

    public init() {}
}

// MARK: - Code below here is support for the SwiftProtobuf runtime.

fileprivate let _protobuf_package = "ova.v1"

extension Ova_V1_EchoRequest: SwiftProtobuf.Message, SwiftProtobuf._MessageImplementationBase, SwiftProtobuf._ProtoNameProviding {
    public static let protoMessageName: String = _protobuf_package + ".EchoRequest"
    public static let _protobuf_nameMap = SwiftProtobuf._NameMap(
        bytecode: "\0\u{1}text\0\u{1}payload\0\u{3}response_count\0\u{3}response_size\0\u{3}delay_ms\0\u{3}fail_with\0\u{3}echo_metadata\0"
    )

    public mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        while let fieldNumber = try decoder.nextFieldNumber() {
            switch fieldNumber {
            case 1: try { try decoder.decodeSingularStringField(value: &self.text) }()
            case 2: try { try decoder.decodeSingularBytesField(value: &self.payload) }()
            case 3: try { try decoder.decodeSingularUInt32Field(value: &self.responseCount) }()
            case 4: try { try decoder.decodeSingularUInt32Field(value: &self.responseSize) }()
            case 5: try { try decoder.decodeSingularUInt32Field(value: &self.delayMs) }()
            case 6: try { try decoder.decodeSingularMessageField(value: &self._failWith) }()
            case 7: try { try decoder.decodeSingularBoolField(value: &self.echoMetadata) }()
            default: break
            }
        }
    }

    public func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        if !self.text.isEmpty {
            try visitor.visitSingularStringField(value: self.text, fieldNumber: 1)
        }
        if !self.payload.isEmpty {
            try visitor.visitSingularBytesField(value: self.payload, fieldNumber: 2)
        }
        if self.responseCount != 0 {
            try visitor.visitSingularUInt32Field(value: self.responseCount, fieldNumber: 3)
        }
        if self.responseSize != 0 {
            try visitor.visitSingularUInt32Field(value: self.responseSize, fieldNumber: 4)
        }
        if self.delayMs != 0 {
            try visitor.visitSingularUInt32Field(value: self.delayMs, fieldNumber: 5)
        }
        try { if let v = self._failWith {
            try visitor.visitSingularMessageField(value: v, fieldNumber: 6)
        } }()
        if self.echoMetadata != false {
            try visitor.visitSingularBoolField(value: self.echoMetadata, fieldNumber: 7)
        }
        try self.unknownFields.traverse(visitor: &visitor)
    }

    public static func == (lhs: Ova_V1_EchoRequest, rhs: Ova_V1_EchoRequest) -> Bool {
        if lhs.text != rhs.text { return false }
        if lhs.payload != rhs.payload { return false }
        if lhs.responseCount != rhs.responseCount { return false }
        if lhs.responseSize != rhs.responseSize { return false }
        if lhs.delayMs != rhs.delayMs { return false }
        if lhs._failWith != rhs._failWith { return false }
        if lhs.echoMetadata != rhs.echoMetadata { return false }
        if lhs.unknownFields != rhs.unknownFields { return false }
        return true
    }
}

extension Ova_V1_EchoFailure: SwiftProtobuf.Message, SwiftProtobuf._MessageImplementationBase, SwiftProtobuf._ProtoNameProviding {
    public static let protoMessageName: String = _protobuf_package + ".EchoFailure"
    public static let _protobuf_nameMap = SwiftProtobuf._NameMap(bytecode: "\0\u{1}code\0\u{1}message\0")

    public mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        while let fieldNumber = try decoder.nextFieldNumber() {
            switch fieldNumber {
            case 1: try { try decoder.decodeSingularUInt32Field(value: &self.code) }()
            case 2: try { try decoder.decodeSingularStringField(value: &self.message) }()
            default: break
            }
        }
    }

    public func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        if self.code != 0 {
            try visitor.visitSingularUInt32Field(value: self.code, fieldNumber: 1)
        }
        if !self.message.isEmpty {
            try visitor.visitSingularStringField(value: self.message, fieldNumber: 2)
        }
        try self.unknownFields.traverse(visitor: &visitor)
    }

    public static func == (lhs: Ova_V1_EchoFailure, rhs: Ova_V1_EchoFailure) -> Bool {
        if lhs.code != rhs.code { return false }
        if lhs.message != rhs.message { return false }
        if lhs.unknownFields != rhs.unknownFields { return false }
        return true
    }
}

extension Ova_V1_EchoResponse: SwiftProtobuf.Message, SwiftProtobuf._MessageImplementationBase, SwiftProtobuf._ProtoNameProviding {
    public static let protoMessageName: String = _protobuf_package + ".EchoResponse"
    public static let _protobuf_nameMap = SwiftProtobuf._NameMap(
        bytecode: "\0\u{1}text\0\u{1}payload\0\u{1}sequence\0\u{1}metadata\0"
    )

    public mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        while let fieldNumber = try decoder.nextFieldNumber() {
            switch fieldNumber {
            case 1: try { try decoder.decodeSingularStringField(value: &self.text) }()
            case 2: try { try decoder.decodeSingularBytesField(value: &self.payload) }()
            case 3: try { try decoder.decodeSingularUInt64Field(value: &self.sequence) }()
            case 4: try {
                try decoder.decodeMapField(
                    fieldType: SwiftProtobuf._ProtobufMap<SwiftProtobuf.ProtobufString, SwiftProtobuf.ProtobufString>.self,
                    value: &self.metadata
                )
            }()
            default: break
            }
        }
    }

    public func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        if !self.text.isEmpty {
            try visitor.visitSingularStringField(value: self.text, fieldNumber: 1)
        }
        if !self.payload.isEmpty {
            try visitor.visitSingularBytesField(value: self.payload, fieldNumber: 2)
        }
        if self.sequence != 0 {
            try visitor.visitSingularUInt64Field(value: self.sequence, fieldNumber: 3)
        }
        if !self.metadata.isEmpty {
            try visitor.visitMapField(
                fieldType: SwiftProtobuf._ProtobufMap<SwiftProtobuf.ProtobufString, SwiftProtobuf.ProtobufString>.self,
                value: self.metadata,
                fieldNumber: 4
            )
        }
        try self.unknownFields.traverse(visitor: &visitor)
    }

    public static func == (lhs: Ova_V1_EchoResponse, rhs: Ova_V1_EchoResponse) -> Bool {
        if lhs.text != rhs.text { return false }
        if lhs.payload != rhs.payload { return false }
        if lhs.sequence != rhs.sequence { return false }
        if lhs.metadata != rhs.metadata { return false }
        if lhs.unknownFields != rhs.unknownFields { return false }
        return true
    }
}

extension Ova_V1_EchoSummary: SwiftProtobuf.Message, SwiftProtobuf._MessageImplementationBase, SwiftProtobuf._ProtoNameProviding {
    public static let protoMessageName: String = _protobuf_package + ".EchoSummary"
    public static let _protobuf_nameMap = SwiftProtobuf._NameMap(
        bytecode: "\0\u{3}message_count\0\u{3}byte_count\0\u{3}last_text\0"
    )

    public mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        while let fieldNumber = try decoder.nextFieldNumber() {
            switch fieldNumber {
            case 1: try { try decoder.decodeSingularUInt64Field(value: &self.messageCount) }()
            case 2: try { try decoder.decodeSingularUInt64Field(value: &self.byteCount) }()
            case 3: try { try decoder.decodeSingularStringField(value: &self.lastText) }()
            default: break
            }
        }
    }

    public func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        if self.messageCount != 0 {
            try visitor.visitSingularUInt64Field(value: self.messageCount, fieldNumber: 1)
        }
        if self.byteCount != 0 {
            try visitor.visitSingularUInt64Field(value: self.byteCount, fieldNumber: 2)
        }
        if !self.lastText.isEmpty {
            try visitor.visitSingularStringField(value: self.lastText, fieldNumber: 3)
        }
        try self.unknownFields.traverse(visitor: &visitor)
    }

    public static func == (lhs: Ova_V1_EchoSummary, rhs: Ova_V1_EchoSummary) -> Bool {
        if lhs.messageCount != rhs.messageCount { return false }
        if lhs.byteCount != rhs.byteCount { return false }
        if lhs.lastText != rhs.lastText { return false }
        if lhs.unknownFields != rhs.unknownFields { return false }
        return true
    }
}
