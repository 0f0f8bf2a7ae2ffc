#include "explain_video/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "explain_video/error.hpp"
#include "util/temporaries.hpp"

namespace ev {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

const char* signalName(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return nullptr;
  }
}

void onSignal(int sig) {
  if (!g_stop.exchange(true)) {
    int none = 0;
    g_signal.compare_exchange_strong(none, sig);
    return;
  }
  // The second request: the user does not want to wait for the current window or frame.
  temporaries::unlinkAll();
  static const char msg[] = "\nexplain-video: stopped at once (second signal); no output written\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  ::_exit(128 + sig);
}

// EV_TEST_SIGNAL_AT=STAGE:N:SIG, parsed once.
// EV_TEST_SIGNAL_AT=STAGE:N:SIG[:2], parsed once (":2": the signal twice, an impatient user).
struct TestHook {
  std::string stage;
  int64_t at = -1;
  int sig = 0;
  bool twice = false;
  std::atomic<bool> fired{false};
  TestHook() {
    const char* env = std::getenv("EV_TEST_SIGNAL_AT");
    if (!env) return;
    std::vector<std::string> f;
    std::string s = env;
    for (size_t at = 0;;) {
      const size_t c = s.find(':', at);
      f.push_back(s.substr(at, c == std::string::npos ? std::string::npos : c - at));
      if (c == std::string::npos) break;
      at = c + 1;
    }
    if (f.size() < 3) return;
    stage = f[0];
    at = std::atoll(f[1].c_str());
    sig = f[2] == "INT" ? SIGINT : f[2] == "TERM" ? SIGTERM : f[2] == "HUP" ? SIGHUP : 0;
    twice = f.size() > 3 && f[3] == "2";
  }
};

TestHook& testHook() {
  static TestHook h;
  return h;
}

// ---- temporaries ----
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 holds a path
  char path[kPathMax];
};
Slot g_slots[kSlots];

}  // namespace

void requestStop(int signal) noexcept {
  int none = 0;
  if (signal) g_signal.compare_exchange_strong(none, signal);
  g_stop = true;
}
bool stopRequested() noexcept { return g_stop.load(); }
int stopSignal() noexcept { return g_signal.load(); }
void clearStopRequest() noexcept {
  g_stop = false;
  g_signal = 0;
}
int stopExitCode() noexcept {
  const int s = g_signal.load();
  return 128 + (s ? s : SIGINT);
}

void checkStop(const char* stage, int64_t count) {
  TestHook& h = testHook();
  if (stage && h.sig && count >= h.at && h.stage == stage && !h.fired.exchange(true)) {
    ::raise(h.sig);
    if (h.twice) ::raise(h.sig);
  }
  if (!g_stop.load()) return;
  const char* name = signalName(g_signal.load());
  throw Error(ErrorKind::Interrupted, name ? std::string("interrupted by ") + name : std::string("stopped on request"));
}

void installStopHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // library calls (FFmpeg, LibTorch) are not ready for EINTR
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    // A signal ignored by whoever started us (nohup, a shell's background job) stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &sa, nullptr);
  }
}

namespace temporaries {

int add(const std::string& path) noexcept {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int free = 0;
    if (g_slots[i].state.compare_exchange_strong(free, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state = 2;
      return i;
    }
  }
  return -1;
}

void drop(int slot) noexcept {
  if (slot >= 0 && slot < kSlots) g_slots[slot].state = 0;
}

void unlinkAll() noexcept {
  for (Slot& s : g_slots)
    if (s.state.load() == 2) ::unlink(s.path);
}

}  // namespace temporaries
}  // namespace ev
