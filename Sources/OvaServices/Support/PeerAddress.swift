/// The host part of a peer address (`127.0.0.1:53412` → `127.0.0.1`, `[::1]:53412` → `::1`):
/// rate limits and throttles key on the client's address, not on its ephemeral port.
func peerHost(_ address: String) -> String {
    if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
        return String(address[address.index(after: address.startIndex)..<close])
    }
    if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon {
        return String(address[..<colon])
    }
    return address
}
