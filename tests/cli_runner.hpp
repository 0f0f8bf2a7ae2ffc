// Runs the explain-video binary (evtest::cliPath()) with arguments and collects exit code, stdout
// and stderr, for the tests that drive the command line.
#pragma once
#include "test_paths.hpp"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace evtest {

// `s` as one single-quoted shell word (paths with spaces or quotes).
inline std::string shellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliRun {
  int code = -1;
  std::string out, err;
};

// `errFile` is where stderr goes meanwhile: give each test process its own. `prefix` is shell
// put before the command (environment, ulimit, a pipe feeding standard input).
inline CliRun runCli(const std::string& args, const std::string& errFile, const std::string& prefix = "") {
  const std::string cmd = prefix + " " + std::string(evtest::cliPath()) + " " + args + " 2>'" + errFile + "'";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(errFile);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

}  // namespace evtest
