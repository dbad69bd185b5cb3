import CMariaDB

/// A connection to a MariaDB (or MySQL) server through MariaDB Connector/C: the twin of
/// ``SQLiteConnection``, with the same ``SQLValue`` parameters and ``SQLRow`` results.
///
/// Every call blocks on the network, up to the configured timeouts, so a connection is used
/// from a thread pool's threads and never from an event loop (where it would stall every
/// connection of that loop), and by one thread at a time: like ``SQLiteConnection`` it is not
/// `Sendable`, and whoever owns it (the pool, next) hands it to one job at a time.
///
/// Statements are always prepared, and cached per connection: values travel as bound
/// parameters of the binary protocol, never inside SQL text. The connection speaks `utf8mb4`,
/// so 4-byte characters round-trip; tables must say `DEFAULT CHARSET=utf8mb4` themselves,
/// since a server's default may still be latin1.
///
/// Once ``isBroken`` is true (the server went away, a timeout fired mid-answer) the connection
/// and its statements are dead: replace it. It never reconnects by itself, because a silent
/// reconnect would lose the session's transaction and prepared statements.
final class MariaDBConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    private var statementCache: [String: UnsafeMutablePointer<MYSQL_STMT>] = [:]
    private let password: String
    let configuration: MariaDBConfiguration

    /// The server's version string, e.g. `10.11.19-MariaDB-0+deb12u1`.
    private(set) var serverVersion = ""

    /// The id of the row inserted by the last statement that generated one (`LAST_INSERT_ID()`).
    private(set) var lastInsertedID: Int64 = 0

    /// The connection failed in a way that leaves it unusable (see ``MariaDBError/isConnectionLost``).
    private(set) var isBroken = false

    /// Connects and logs in, then sets the session up: strict SQL mode (a value too long for its
    /// column is an error, never silently cut) and UTC for any time the server computes.
    ///
    /// - Throws: ``MariaDBError`` with the server's number: 1045 for a wrong user or password,
    ///   1049 for an unknown database, 2002 when nothing answers at the endpoint, 2013 when the
    ///   server does not complete the handshake within `connectTimeout`. The message names the
    ///   account and the endpoint, never the password.
    init(_ configuration: MariaDBConfiguration) throws(MariaDBError) {
        guard MariaDBLibrary.isInitialized else {
            throw .client("MariaDB Connector/C failed to initialize")
        }
        guard let handle = mysql_init(nil) else {
            throw .client("MariaDB Connector/C is out of memory")
        }
        self.configuration = configuration
        self.password = configuration.password
        self.handle = handle
        // Every stored property is set from here on, so deinit closes the handle also when
        // init throws.
        try self.setOptions(configuration)
        let connected: UnsafeMutablePointer<MYSQL>?
        // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, as SQLite does, not only those
        // whose values changed; otherwise an update to the same values would look like a miss.
        let flags = UInt(CLIENT_FOUND_ROWS)
        switch configuration.endpoint {
        case .tcp(let host, let port):
            guard let port = UInt32(exactly: port), port > 0, port <= 65_535 else {
                throw .client("the port of \(configuration) is out of range")
            }
            connected = mysql_real_connect(handle, host, configuration.user, configuration.password, configuration.database, port, nil, flags)
        case .unixSocket(let path):
            connected = mysql_real_connect(handle, "localhost", configuration.user, configuration.password, configuration.database, 0, path, flags)
        }
        guard connected != nil else {
            throw MariaDBError.last(of: handle, redacting: self.password, context: "cannot connect as \(configuration)")
        }
        guard let charset = mysql_character_set_name(handle).map({ String(cString: $0) }), charset == "utf8mb4" else {
            throw .client("the server at \(configuration.endpoint) did not accept the utf8mb4 character set")
        }
        if configuration.tlsMode == .required, case .tcp = configuration.endpoint, mysql_get_ssl_cipher(handle) == nil {
            // Connector/C refuses a plain-text server only when it also verifies certificates
            // (verify-identity); for `required` the check is here, before any statement runs.
            throw MariaDBError(
                code: UInt32(CR_SSL_CONNECTION_ERROR), sqlState: "HY000",
                message: "the server at \(configuration.endpoint) does not offer TLS, which DB_SSL_MODE=required demands"
            )
        }
        self.serverVersion = mysql_get_server_info(handle).map { String(cString: $0) } ?? ""
        try self.run("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', time_zone = '+00:00'")
    }

    deinit {
        for statement in self.statementCache.values {
            mysql_stmt_close(statement)
        }
        mysql_close(self.handle)
    }

    /// The TLS cipher of the connection, nil when it is not encrypted.
    var tlsCipher: String? {
        mysql_get_ssl_cipher(self.handle).map { String(cString: $0) }
    }

    /// Checks that the server still answers on this connection (one round trip); a connection
    /// that fails it is marked broken.
    func ping() throws(MariaDBError) {
        guard !self.isBroken, mysql_ping(self.handle) == 0 else {
            let error = self.isBroken
                ? MariaDBError(code: UInt32(CR_SERVER_GONE_ERROR), sqlState: "HY000", message: "the connection to \(self.configuration.endpoint) was lost earlier")
                : MariaDBError.last(of: self.handle, redacting: self.password)
            self.isBroken = true
            throw error
        }
    }

    /// Runs a statement that returns no rows (DDL, SET); prepared like every other.
    func execute(_ sql: String) throws(MariaDBError) {
        try self.run(sql)
    }

    /// Runs a parameterized statement and returns every row.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws(MariaDBError) -> [SQLRow] {
        try self.perform(sql, parameters).rows
    }

    /// Runs a parameterized INSERT/UPDATE/DELETE; returns the number of rows it matched.
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue] = []) throws(MariaDBError) -> Int {
        try self.perform(sql, parameters).affectedRows
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws(MariaDBError) -> T) throws(MariaDBError) -> T {
        try self.run("START TRANSACTION")
        do {
            let result = try body()
            try self.run("COMMIT")
            return result
        } catch {
            if !self.isBroken {
                _ = try? self.run("ROLLBACK")
            }
            throw error
        }
    }

    // MARK: - Statements

    private func perform(_ sql: String, _ parameters: [SQLValue]) throws(MariaDBError) -> (rows: [SQLRow], affectedRows: Int) {
        guard !self.isBroken else {
            throw MariaDBError(code: UInt32(CR_SERVER_GONE_ERROR), sqlState: "HY000", message: "the connection to \(self.configuration.endpoint) was lost earlier")
        }
        do throws(MariaDBError) {
            let statement = try self.prepared(sql)
            do throws(MariaDBError) {
                try self.execute(statement, parameters)
                let rows = try self.fetchRows(statement)
                let affected = mysql_stmt_affected_rows(statement)
                let insertID = mysql_stmt_insert_id(statement)
                if insertID != 0 {
                    self.lastInsertedID = Int64(clamping: insertID)
                }
                mysql_stmt_free_result(statement)
                // (my_ulonglong)-1 means "no count" (a SELECT counted in rows instead).
                return (rows, affected == UInt64.max ? rows.count : Int(clamping: affected))
            } catch {
                // Leaves the statement ready for its next execution (drops unread rows).
                mysql_stmt_reset(statement)
                throw error
            }
        } catch {
            if error.isConnectionLost { self.isBroken = true }
            throw error
        }
    }

    private func prepared(_ sql: String) throws(MariaDBError) -> UnsafeMutablePointer<MYSQL_STMT> {
        if let cached = self.statementCache[sql] {
            return cached
        }
        guard let statement = mysql_stmt_init(self.handle) else {
            throw MariaDBError.last(of: self.handle, redacting: self.password)
        }
        let utf8 = Array(sql.utf8)
        let code = utf8.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { mysql_stmt_prepare(statement, $0.baseAddress, UInt($0.count)) }
        }
        guard code == 0 else {
            let error = MariaDBError.last(of: statement, redacting: self.password)
            mysql_stmt_close(statement)
            throw error
        }
        // Results are read whole (store_result); with this, each column's longest value is known
        // before the first fetch, so buffers are sized once.
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        self.statementCache[sql] = statement
        return statement
    }

    /// Binds `parameters` and executes. Connector/C reads the bound buffers during
    /// mysql_stmt_execute only, so they live exactly that long.
    private func execute(_ statement: UnsafeMutablePointer<MYSQL_STMT>, _ parameters: [SQLValue]) throws(MariaDBError) {
        let expected = Int(mysql_stmt_param_count(statement))
        guard expected == parameters.count else {
            throw .client("statement expects \(expected) parameters, got \(parameters.count)")
        }
        let buffers = BindBuffers(count: parameters.count)
        defer { buffers.deallocate() }
        for (index, value) in parameters.enumerated() {
            switch value {
            case .integer(let integer):
                buffers.bindInteger(integer, at: index)
            case .text(let text):
                // Bound by length, so text with an embedded NUL is stored whole, never cut.
                buffers.bindText(text, at: index)
            case .null:
                buffers.binds[index].buffer_type = MYSQL_TYPE_NULL
            }
        }
        if !parameters.isEmpty, mysql_stmt_bind_param(statement, buffers.binds) != 0 {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
        guard mysql_stmt_execute(statement) == 0 else {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
    }

    /// Reads every row of the executed statement (none for statements without a result set).
    private func fetchRows(_ statement: UnsafeMutablePointer<MYSQL_STMT>) throws(MariaDBError) -> [SQLRow] {
        let columnCount = Int(mysql_stmt_field_count(statement))
        guard columnCount > 0 else { return [] }
        guard mysql_stmt_store_result(statement) == 0 else {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
        guard let metadata = mysql_stmt_result_metadata(statement) else {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
        defer { mysql_free_result(metadata) }
        guard let fields = mysql_fetch_fields(metadata) else {
            throw .client("the server sent a result without column descriptions")
        }
        let buffers = BindBuffers(count: columnCount)
        defer { buffers.deallocate() }
        var kinds: [ColumnKind] = []
        kinds.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            let field = fields[column]
            if Self.integerTypes.contains(field.type.rawValue) {
                let isUnsigned = field.flags & UInt32(UNSIGNED_FLAG) != 0
                buffers.prepareInteger(at: column, unsigned: isUnsigned)
                kinds.append(isUnsigned ? .unsignedInteger : .integer)
            } else {
                // Everything else (text, decimals, dates) is read as the server writes it as text.
                buffers.prepareText(at: column, capacity: Int(field.max_length) + 1)
                kinds.append(.text)
            }
        }
        guard mysql_stmt_bind_result(statement, buffers.binds) == 0 else {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(clamping: mysql_stmt_num_rows(statement)))
        while true {
            let code = mysql_stmt_fetch(statement)
            if code == MYSQL_NO_DATA { break }
            guard code == 0 || code == MYSQL_DATA_TRUNCATED else {
                throw MariaDBError.last(of: statement, redacting: self.password)
            }
            var values: [SQLValue] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if buffers.isNull[column] != 0 {
                    values.append(.null)
                    continue
                }
                switch kinds[column] {
                case .integer:
                    values.append(.integer(buffers.integer(at: column)))
                case .unsignedInteger:
                    let value = UInt64(bitPattern: buffers.integer(at: column))
                    guard let signed = Int64(exactly: value) else {
                        throw .client("column \(column + 1) holds \(value), beyond the 64-bit signed range")
                    }
                    values.append(.integer(signed))
                case .text:
                    values.append(.text(try self.text(of: statement, column: column, buffers: buffers)))
                }
            }
            rows.append(SQLRow(values: values))
        }
        return rows
    }

    /// A text column of the current row; refetched whole should it not fit its buffer (its
    /// max_length said otherwise, which Connector/C does not promise for every type).
    private func text(of statement: UnsafeMutablePointer<MYSQL_STMT>, column: Int, buffers: BindBuffers) throws(MariaDBError) -> String {
        let length = Int(buffers.lengths[column])
        if length <= buffers.capacity(at: column) {
            return buffers.text(at: column, length: length)
        }
        let whole = BindBuffers(count: 1)
        defer { whole.deallocate() }
        whole.prepareText(at: 0, capacity: length)
        guard mysql_stmt_fetch_column(statement, whole.binds, UInt32(column), 0) == 0 else {
            throw MariaDBError.last(of: statement, redacting: self.password)
        }
        return whole.text(at: 0, length: min(Int(whole.lengths[0]), length))
    }

    private enum ColumnKind {
        case integer, unsignedInteger, text
    }

    /// TINYINT … BIGINT and YEAR, fetched as 64-bit integers.
    private static let integerTypes: Set<UInt32> = [
        MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    // MARK: - Connection options

    private func setOptions(_ configuration: MariaDBConfiguration) throws(MariaDBError) {
        try self.setOption(MYSQL_SET_CHARSET_NAME, string: "utf8mb4")
        try self.setOption(MYSQL_OPT_CONNECT_TIMEOUT, seconds: configuration.connectTimeout)
        try self.setOption(MYSQL_OPT_READ_TIMEOUT, seconds: configuration.readTimeout)
        try self.setOption(MYSQL_OPT_WRITE_TIMEOUT, seconds: configuration.writeTimeout)
        let proto: mysql_protocol_type
        switch configuration.endpoint {
        case .tcp: proto = MYSQL_PROTOCOL_TCP
        case .unixSocket: proto = MYSQL_PROTOCOL_SOCKET
        }
        try self.setOption(MYSQL_OPT_PROTOCOL, uint: proto.rawValue)
        // LOAD DATA LOCAL lets a server ask the client for any file it can read: never needed.
        try self.setOption(MYSQL_OPT_LOCAL_INFILE, uint: 0)
        var reconnect: my_bool = 0
        try self.check(mysql_options(self.handle, MYSQL_OPT_RECONNECT, &reconnect), MYSQL_OPT_RECONNECT)
        try self.setTLSOptions(configuration)
    }

    private func setTLSOptions(_ configuration: MariaDBConfiguration) throws(MariaDBError) {
        let mode = configuration.tlsMode
        if case .unixSocket = configuration.endpoint, mode != .verifyIdentity {
            // A unix socket never leaves the machine: TLS would add nothing but cost.
            return
        }
        switch mode {
        case .disabled:
            return
        case .preferred, .required, .verifyIdentity:
            // Turns TLS on (Connector/C's use_ssl); without enforcement it falls back to plain
            // text when the server has no TLS.
            _ = mysql_ssl_set(self.handle, nil, nil, nil, nil, nil)
        }
        if let path = configuration.certificateAuthorityPath {
            try self.setOption(MYSQL_OPT_SSL_CA, string: path)
        }
        var enforce: my_bool = mode == .required || mode == .verifyIdentity ? 1 : 0
        try self.check(mysql_options(self.handle, MYSQL_OPT_SSL_ENFORCE, &enforce), MYSQL_OPT_SSL_ENFORCE)
        var verify: my_bool = mode == .verifyIdentity ? 1 : 0
        try self.check(mysql_options(self.handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify), MYSQL_OPT_SSL_VERIFY_SERVER_CERT)
    }

    private func setOption(_ option: mysql_option, string: String) throws(MariaDBError) {
        let code = string.withCString { mysql_options(self.handle, option, $0) }
        try self.check(code, option)
    }

    private func setOption(_ option: mysql_option, seconds: Duration) throws(MariaDBError) {
        let (whole, fraction) = seconds.components
        let rounded = whole + (fraction > 0 ? 1 : 0)
        try self.setOption(option, uint: UInt32(clamping: max(rounded, 1)))
    }

    private func setOption(_ option: mysql_option, uint: UInt32) throws(MariaDBError) {
        var value = uint
        try self.check(mysql_options(self.handle, option, &value), option)
    }

    private func check(_ code: Int32, _ option: mysql_option) throws(MariaDBError) {
        guard code == 0 else {
            throw .client("Connector/C refused connection option \(option.rawValue)")
        }
    }
}

/// `mysql_library_init`, once per process, before the first `mysql_init`.
private enum MariaDBLibrary {
    static let isInitialized: Bool = ova_mariadb_library_init() == 0
}

/// The MYSQL_BIND array of one execution or one result, and the memory each entry points to.
///
/// Connector/C keeps pointers into these buffers between calls (bind, then execute or fetch),
/// so they are allocated by hand rather than borrowed from Swift values for one call.
private final class BindBuffers {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    let lengths: UnsafeMutablePointer<UInt>
    let isNull: UnsafeMutablePointer<my_bool>
    private let integers: UnsafeMutablePointer<Int64>
    private var texts: [UnsafeMutableRawPointer?]
    private var capacities: [Int]
    private let count: Int

    init(count: Int) {
        let slots = max(count, 1)
        self.count = count
        self.binds = .allocate(capacity: slots)
        self.binds.initialize(repeating: MYSQL_BIND(), count: slots)
        self.lengths = .allocate(capacity: slots)
        self.lengths.initialize(repeating: 0, count: slots)
        self.isNull = .allocate(capacity: slots)
        self.isNull.initialize(repeating: 0, count: slots)
        self.integers = .allocate(capacity: slots)
        self.integers.initialize(repeating: 0, count: slots)
        self.texts = Array(repeating: nil, count: slots)
        self.capacities = Array(repeating: 0, count: slots)
    }

    func deallocate() {
        for text in self.texts {
            text?.deallocate()
        }
        self.binds.deallocate()
        self.lengths.deallocate()
        self.isNull.deallocate()
        self.integers.deallocate()
    }

    func bindInteger(_ value: Int64, at index: Int) {
        self.integers[index] = value
        self.binds[index].buffer_type = MYSQL_TYPE_LONGLONG
        self.binds[index].buffer = UnsafeMutableRawPointer(self.integers + index)
    }

    func bindText(_ text: String, at index: Int) {
        let utf8 = Array(text.utf8)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(utf8.count, 1), alignment: 1)
        utf8.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(storage), byteCount: $0.count) }
        self.texts[index] = storage
        self.capacities[index] = utf8.count
        self.lengths[index] = UInt(utf8.count)
        self.binds[index].buffer_type = MYSQL_TYPE_STRING
        self.binds[index].buffer = storage
        self.binds[index].buffer_length = UInt(utf8.count)
        self.binds[index].length = self.lengths + index
    }

    func prepareInteger(at index: Int, unsigned: Bool) {
        self.binds[index].buffer_type = MYSQL_TYPE_LONGLONG
        self.binds[index].buffer = UnsafeMutableRawPointer(self.integers + index)
        self.binds[index].is_unsigned = unsigned ? 1 : 0
        self.binds[index].is_null = self.isNull + index
        self.binds[index].length = self.lengths + index
    }

    func prepareText(at index: Int, capacity: Int) {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
        self.texts[index] = storage
        self.capacities[index] = capacity
        self.binds[index].buffer_type = MYSQL_TYPE_STRING
        self.binds[index].buffer = storage
        self.binds[index].buffer_length = UInt(capacity)
        self.binds[index].is_null = self.isNull + index
        self.binds[index].length = self.lengths + index
    }

    func integer(at index: Int) -> Int64 {
        self.integers[index]
    }

    func capacity(at index: Int) -> Int {
        self.capacities[index]
    }

    func text(at index: Int, length: Int) -> String {
        guard let storage = self.texts[index], length > 0 else { return "" }
        let bytes = UnsafeRawBufferPointer(start: storage, count: min(length, self.capacities[index]))
        return String(decoding: bytes, as: UTF8.self)
    }
}
