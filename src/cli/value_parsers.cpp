// The CLI's value parsers (declared in cli_common.hpp): text of one option value to numbers.
// Kept apart from cli_common.cpp, which needs the whole library, so the options fuzz target
// (tests/fuzz/fuzz_options.cpp) builds them alone.
#include <array>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"

namespace cli {

float parseScale(const std::string& flag, const std::string& text) {
  const std::string problem = flag + " '" + text + "': expected a positive number or a fraction such as 1/255";
  const auto slash = text.find('/');
  try {
    size_t u1 = 0, u2 = 0;
    if (slash == std::string::npos) {
      const float v = std::stof(text, &u1);
      if (u1 != text.size() || !(v > 0) || !std::isfinite(v)) throw std::invalid_argument(text);
      return v;
    }
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    const double num = std::stod(a, &u1), den = std::stod(b, &u2);
    if (u1 != a.size() || u2 != b.size() || !(num > 0) || !(den > 0) || !std::isfinite(num / den))
      throw std::invalid_argument(text);
    // The quotient as a float must stay positive and finite (1e60/4 or 1/1e60 do not).
    const double q = num / den;
    if (!(q >= std::numeric_limits<float>::min() && q <= std::numeric_limits<float>::max()))
      throw std::invalid_argument(text);
    return static_cast<float>(q);
  } catch (const std::exception&) {
    throw ev::Error(ev::ErrorKind::Usage, problem);
  }
}

std::array<float, 3> parseTriple(const std::string& flag, const std::string& text, bool positive) {
  std::vector<std::string> toks;
  std::istringstream in(text);
  for (std::string tok; std::getline(in, tok, ',');) toks.push_back(tok);
  const std::string kind = positive ? "positive number" : "number";
  const std::string problem = flag + " '" + text + "': expected one " + kind +
                              " (for all three channels) or three comma-separated " + kind + "s";
  if ((toks.size() != 1 && toks.size() != 3) || text.back() == ',') throw ev::Error(ev::ErrorKind::Usage, problem);
  std::array<float, 3> v{};
  for (size_t i = 0; i < toks.size(); ++i) {
    try {
      size_t used = 0;
      v[i] = std::stof(toks[i], &used);
      // stof takes "nan" and "inf": a NaN mean or an infinite or zero std turns every input
      // value into NaN or infinity, and the run would explain garbage without a word.
      if (used != toks[i].size() || !std::isfinite(v[i]) || (positive && !(v[i] > 0)))
        throw std::invalid_argument(toks[i]);
    } catch (const std::exception&) {
      throw ev::Error(ev::ErrorKind::Usage, problem);
    }
  }
  if (toks.size() == 1) v[1] = v[2] = v[0];
  return v;
}

void parseSize(const std::string& flag, const std::string& text, int& h, int& w) {
  const auto x = text.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument(text);
    size_t u1 = 0, u2 = 0;
    h = std::stoi(text.substr(0, x), &u1);
    w = std::stoi(text.substr(x + 1), &u2);
    if (u1 != x || u2 != text.size() - x - 1 || h <= 0 || w <= 0) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw ev::Error(ev::ErrorKind::Usage, flag + " '" + text + "': expected HEIGHTxWIDTH, e.g. 128x171");
  }
}

}  // namespace cli
