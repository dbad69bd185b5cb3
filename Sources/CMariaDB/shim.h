#ifndef OVA_CMARIADB_SHIM_H
#define OVA_CMARIADB_SHIM_H
// MariaDB Connector/C (Debian: libmariadb-dev, pkg-config libmariadb), the official C client of
// MariaDB and MySQL servers.
#include <stddef.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

/// mysql_library_init is a function-like macro (for mysql_server_init), which Swift does not
/// import. It must run once before any thread calls mysql_init: mysql_init would otherwise run
/// it lazily, and not thread-safely.
static inline int ova_mariadb_library_init(void) {
    return mysql_library_init(0, NULL, NULL);
}
#endif
