// libFuzzer target: the labels-file parser (ev::parseLabels, what ev::readLabels runs on the
// file's bytes). Built by scripts/fuzz.sh only. Checks its promises on every input: one name
// per line, no trailing whitespace or line break in a name, the last name not empty; anything
// but ev::Error(Usage) escaping is a failure.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "explain_video/error.hpp"
#include "pipeline/labels.hpp"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_labels: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto labels = ev::parseLabels(text, "fuzz-labels.txt");
    if (labels.empty()) broken("no labels and no error");
    if (labels.back().empty()) broken("the last label is empty");
    size_t lines = 1;
    for (char c : text) lines += c == '\n';
    if (labels.size() > lines) broken("more labels than lines");
    for (const std::string& l : labels) {
      if (l.find('\n') != std::string::npos) broken("a label holds a line break");
      if (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) broken("trailing whitespace kept");
    }
  } catch (const ev::Error& e) {
    if (e.kind() != ev::ErrorKind::Usage) broken("error of an unexpected kind");
  }
  return 0;
}
