#ifndef OVA_CPROTOBUFC_SHIM_H
#define OVA_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
