#ifndef OVA_CLIBFUZZER_H
#define OVA_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (command-line flags, corpus, mutation loop) with `test_one_input`.
///
/// Why not libFuzzer's own `main`: SwiftPM links every executable on Linux with
/// `--defsym main=<module>_main`, so a fuzz target must provide a Swift entry point (`@main`)
/// and start the driver from there, through libFuzzer's LLVMFuzzerRunDriver.
int ova_run_libfuzzer(int argc, char **argv, int (*test_one_input)(const uint8_t *data, size_t size));

#endif
