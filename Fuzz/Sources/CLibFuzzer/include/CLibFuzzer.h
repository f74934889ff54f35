#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's documented entry point for a program with its own main
// (https://llvm.org/docs/LibFuzzer.html#using-libfuzzer-as-a-library); it parses libFuzzer's
// flags from argv and runs `callback` on every input. Provided by the fuzzer runtime that
// `-sanitize=fuzzer` links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
