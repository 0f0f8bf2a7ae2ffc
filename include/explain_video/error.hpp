// The library's one exception type. The CLI maps kind() to an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace ev {

enum class ErrorKind {
  Usage,     // a bad option value or combination
  Input,     // the input video cannot be read or decoded
  Model,     // the model file, layer, class or output cannot be used
  Output,    // an output file cannot be written
  Internal,  // a bug or an unexpected library failure
  Strict,    // --strict: the run's result is empty, degenerate or approximated (a warning)
  Interrupted,  // a stop request (SIGINT, SIGTERM, ev::requestStop): nothing was written
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace ev
