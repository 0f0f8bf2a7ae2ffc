// A count and its noun for messages: plural(1, "window") is "1 window", plural(2, "window")
// "2 windows", plural(3, "class") "3 classes". Header-only, for the library and the CLI.
#pragma once
#include <string>

namespace ev {

// The noun alone, in the number `n` asks for: nouns ending in s, x, ch or sh take "es".
// An irregular plural is given as `plural`.
template <class N>
std::string pluralNoun(N n, const std::string& noun, const std::string& plural = "") {
  if (n == 1) return noun;
  if (!plural.empty()) return plural;
  const auto ends = [&noun](const char* s) {
    const std::string t(s);
    return noun.size() >= t.size() && noun.compare(noun.size() - t.size(), t.size(), t) == 0;
  };
  return noun + (ends("s") || ends("x") || ends("ch") || ends("sh") ? "es" : "s");
}

template <class N>
std::string plural(N n, const std::string& noun, const std::string& pluralForm = "") {
  return std::to_string(n) + " " + pluralNoun(n, noun, pluralForm);
}

}  // namespace ev
