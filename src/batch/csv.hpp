// RFC 4180 CSV fields: quoting on write, one line's cells on read (no embedded newlines).
#pragma once
#include <string>
#include <vector>

namespace ev {

// The field as CSV: quoted (with doubled quotes) when it holds a comma, quote or line break.
inline std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' || c == '\r' ? ' ' : c);
  return q + "\"";
}

// Splits one line into cells; false on an unterminated quote.
inline bool parseCsvLine(const std::string& line, std::vector<std::string>& cells) {
  cells.clear();
  std::string cur;
  bool quoted = false, any = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
    any = true;
  }
  if (quoted) return false;
  if (any || !cells.empty()) cells.push_back(cur);
  return true;
}

}  // namespace ev
