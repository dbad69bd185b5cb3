/// Comparisons whose running time does not depend on where two secrets first differ.
enum ConstantTime {
    /// True when `lhs` and `rhs` hold the same bytes.
    ///
    /// Only the contents are compared in constant time: a length mismatch returns early,
    /// which is fine for the values compared here (hash strings and MACs whose length is
    /// public, fixed by the algorithm).
    static func equals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) {
            difference |= left ^ right
        }
        return difference == 0
    }
}
