// Linked into every executable of the sanitizer build (EV_SANITIZE=ON, CMakeLists.txt) only.
// The sanitizers read these defaults at start-up, before main(); ASAN_OPTIONS, UBSAN_OPTIONS
// and LSAN_OPTIONS in the environment still override them. Built in rather than set by a
// script so every process of the suite gets them: ctest's tests, gtest's test discovery at
// build time, and the CLI runs that tests and scripts start.
//
// - A report fails the process with exit code 86 (never a code the CLI documents: 0-7), any
//   undefined behaviour included (UBSan does not continue: -fno-sanitize-recover=undefined).
// - Leaks are reported at exit, except those in tests/sanitizers/lsan.supp: third-party
//   libraries' one-time globals (LibTorch, OpenMP, FFmpeg's codecs), never our code.
extern "C" {

const char* __asan_default_options() {
  return "exitcode=86:detect_leaks=1:check_initialization_order=1";
}

const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1:exitcode=86"; }

const char* __lsan_default_options() {
  return "exitcode=86:suppressions=" EV_SANITIZER_DIR "/lsan.supp";
}

}  // extern "C"
