/// The conditions of a list query's WHERE clause, joined with AND, and their parameters.
///
/// No condition gives no WHERE at all, never `WHERE 1 = 1`: SQLite answers a bare
/// `SELECT COUNT(*) FROM t` from the b-tree's page headers (its count optimization) but steps
/// through every row once any WHERE is present, even a constant true one. Measured on
/// `contact_messages` with 1,000 rows: 1.8 µs against 18.6 µs, and the scan grows with the table
/// (docs/PERFORMANCE.md, "The database's own ceiling").
struct SQLConditions {
    private var conditions: [String] = []
    private(set) var parameters: [SQLValue] = []

    init() {}

    /// Adds `condition`, whose `?` placeholders take `parameters` in order.
    mutating func add(_ condition: String, _ parameters: SQLValue...) {
        self.conditions.append(condition)
        self.parameters.append(contentsOf: parameters)
    }

    /// ` WHERE a AND b`, or an empty string when there is no condition.
    var whereClause: String {
        self.conditions.isEmpty ? "" : " WHERE " + self.conditions.joined(separator: " AND ")
    }

    /// The conditions and one more, always a WHERE: ` WHERE a AND b AND extra`.
    func whereClause(and extra: String) -> String {
        " WHERE " + (self.conditions + [extra]).joined(separator: " AND ")
    }
}
