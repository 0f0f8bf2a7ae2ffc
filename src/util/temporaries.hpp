// The temporary files a run has open, by name, so that a second SIGINT/SIGTERM (which ends the
// process at once, from the signal handler) can still unlink them. Fixed-size and lock-free:
// the handler may only call async-signal-safe functions.
#pragma once
#include <string>

namespace ev::temporaries {

int add(const std::string& path) noexcept;  // a slot, or -1 when all are taken (then not removed)
void drop(int slot) noexcept;               // the file was renamed into place or removed
void unlinkAll() noexcept;                  // async-signal-safe

}  // namespace ev::temporaries
