#ifndef OVA_CCRYPT_SHIM_H
#define OVA_CCRYPT_SHIM_H
// libxcrypt: crypt_rn, crypt_gensalt_rn and struct crypt_data (Debian: libcrypt-dev).
#include <crypt.h>
#endif
