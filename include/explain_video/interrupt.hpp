// Stopping a run early, cleanly. The library polls a process-wide stop request at every window,
// frame and training step; once set, the running job throws Error(ErrorKind::Interrupted) and
// unwinds, which removes every temporary file it made (outputs appear only on success).
// The CLI installs handlers that turn SIGINT, SIGTERM and SIGHUP into a stop request; a library
// user (a GUI, a server) may call requestStop() from any thread instead.
#pragma once
#include <cstdint>

namespace ev {

// Asks the running job to stop. Async-signal-safe. `signal` is the signal that asked (0: none).
void requestStop(int signal = 0) noexcept;
bool stopRequested() noexcept;
int stopSignal() noexcept;     // the signal of the first request, 0 if none or a plain request
void clearStopRequest() noexcept;  // before a new job in the same process

// Throws Error(ErrorKind::Interrupted, "interrupted by SIGINT") when a stop was requested.
// `stage` and `count` name the point for the test hook: with EV_TEST_SIGNAL_AT=STAGE:N:SIG in
// the environment (e.g. render:5:INT), the process sends itself SIG the first time it passes a
// point >= N of STAGE (explain: windows done, render: frames done, decode: frames decoded, batch: videos
// started, spool: polls of a stream being copied), so tests interrupt at a known place instead of by timing.
void checkStop(const char* stage = nullptr, int64_t count = 0);

// SIGINT, SIGTERM, SIGHUP -> requestStop(signal). A second one ends the process at once with
// exit code 128 + signal, after unlinking the temporary files it can name (staging folders
// are left to the next run's sweep, see AtomicOutput). Call once, from main().
void installStopHandlers();

// 128 + the stop signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP); 130 for a plain request.
int stopExitCode() noexcept;

}  // namespace ev
