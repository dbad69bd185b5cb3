/// Which page of a list to read: keyset pagination over the descending row id, so pages stay
/// stable while rows are inserted (new rows appear on page one, never shift later pages).
public struct PageQuery: Sendable, Equatable {
    public static let defaultSize = 50
    public static let maximumSize = 100

    public let size: Int
    /// Rows with an id below this one; nil for the first page.
    public let beforeID: Int64?

    /// - Parameters:
    ///   - pageSize: 0 means the default (50); values above 100 are lowered to 100.
    ///   - pageToken: empty for the first page, else a `next_page_token` this store returned.
    /// - Throws: ``StoreError/invalidPageToken`` for a token this store did not issue.
    public init(pageSize: Int, pageToken: String) throws(StoreError) {
        self.size = pageSize <= 0 ? Self.defaultSize : min(pageSize, Self.maximumSize)
        if pageToken.isEmpty {
            self.beforeID = nil
        } else {
            guard let id = Self.decode(pageToken) else { throw .invalidPageToken }
            self.beforeID = id
        }
    }

    /// The first page with the default size.
    public static var first: PageQuery {
        // Cannot fail: an empty token is always valid.
        (try? PageQuery(pageSize: 0, pageToken: "")) ?? PageQuery(size: defaultSize)
    }

    private init(size: Int) {
        self.size = size
        self.beforeID = nil
    }

    /// The upper bound for the id column (exclusive).
    var idBound: SQLValue { .integer(self.beforeID ?? Int64.max) }

    /// The LIMIT to query with: one row more than a page.
    var limit: SQLValue { .integer(Int64(self.size + 1)) }

    /// Tokens are opaque to clients; "v1." + the hex of the last id keeps them short and lets a
    /// later format change be told apart.
    static func encode(_ id: Int64) -> String {
        "v1." + String(id, radix: 16)
    }

    static func decode(_ token: String) -> Int64? {
        guard token.hasPrefix("v1."), token.utf8.count <= 20 else { return nil }
        guard let id = Int64(token.dropFirst(3), radix: 16), id > 0 else { return nil }
        return id
    }
}

/// One page of a list, newest first.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Empty on the last page.
    public var nextPageToken: String
    /// Rows matching the filter across all pages.
    public var totalSize: Int64

    /// - Parameter fetched: up to `query.limit` rows (one more than a page, so the last page
    ///   is known without an empty extra page).
    init(fetched: [Item], query: PageQuery, totalSize: Int64, id: (Item) -> Int64) {
        self.totalSize = totalSize
        if fetched.count > query.size {
            self.items = Array(fetched.prefix(query.size))
            self.nextPageToken = self.items.last.map { PageQuery.encode(id($0)) } ?? ""
        } else {
            self.items = fetched
            self.nextPageToken = ""
        }
    }
}

extension String {
    /// The first `limit` Unicode code points: what fits a VARCHAR(`limit`) column, which
    /// MariaDB measures in code points (not grapheme clusters, not bytes).
    public func prefix(codePoints limit: Int) -> String {
        let scalars = self.unicodeScalars
        guard scalars.count > limit else { return self }
        return String(String.UnicodeScalarView(scalars.prefix(limit)))
    }
}
