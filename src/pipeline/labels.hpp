// Internal: the labels-file parser behind ev::readLabels (which reads the file with a size
// bound and calls it); the fuzz target tests/fuzz/fuzz_labels.cpp feeds it bytes directly.
#pragma once
#include <string>
#include <vector>

namespace ev {

// One name per line ('\n'; trailing whitespace, '\r' included, removed; trailing empty lines
// dropped). Errors: ev::Error(Usage) naming `path` when no name is left.
std::vector<std::string> parseLabels(const std::string& text, const std::string& path);

}  // namespace ev
