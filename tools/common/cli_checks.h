// tools/common/cli_checks.h: CLI11 validators for the tools' numeric
// options, with messages a user reads and no type noise in --help.
//
// Purpose: CLI11's Range says "Value abc not in range 1 to 1073741824" for
// a word and shows "INT:INT in [1 - 1073741824]" in --help. These say "not
// a number: 'abc'" or "must be from 1 to 1073741824, not '0'", and the
// option shows its own type name (PID, N, SECONDS) with the bounds in its
// help text, written once, where the flag is declared.
// Thread-safety: pure (used while parsing the command line).
#ifndef TSLAB_TOOLS_COMMON_CLI_CHECKS_H_
#define TSLAB_TOOLS_COMMON_CLI_CHECKS_H_

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tslab::tools {

// A whole number in [lo, hi].
inline CLI::Validator WholeNumber(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& in) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(in.c_str(), &end, 10);
        if (in.empty() || end == in.c_str() || *end != '\0' || errno == ERANGE) {
          return "not a number: '" + in + "'";
        }
        if (v < lo || v > hi) {
          return "must be from " + std::to_string(lo) + " to " + std::to_string(hi) +
                 ", not '" + in + "'";
        }
        return "";
      },
      "");
}

// A number of seconds in [lo, hi] (fractions allowed; NaN is not a number).
inline CLI::Validator Seconds(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& in) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(in.c_str(), &end);
        if (in.empty() || end == in.c_str() || *end != '\0' || std::isnan(v)) {
          return "not a number of seconds: '" + in + "'";
        }
        if (v < lo || v > hi) {
          char b[96];
          std::snprintf(b, sizeof(b), "must be from %g to %g seconds", lo, hi);
          return std::string(b) + ", not '" + in + "'";
        }
        return "";
      },
      "");
}

}  // namespace tslab::tools

#endif  // TSLAB_TOOLS_COMMON_CLI_CHECKS_H_
