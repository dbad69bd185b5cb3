#ifndef OVA_CESPEAKNG_SHIM_H
#define OVA_CESPEAKNG_SHIM_H
#include <espeak-ng/speak_lib.h>
#endif
