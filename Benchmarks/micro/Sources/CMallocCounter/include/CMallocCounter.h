#ifndef OVA_CMALLOCCOUNTER_H
#define OVA_CMALLOCCOUNTER_H
#include <stdint.h>
/// Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc) since the process started.
uint64_t ova_allocation_count(void);
#endif
