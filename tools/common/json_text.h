// JSON text of documents that carry other people's bytes.
//
// Purpose: the tools put names, command lines, paths and ELF note strings
// into JSON, and any of them may hold bytes that are not UTF-8 (an
// allocator named by a program, another user's argv, a command line cut
// at 4096 bytes mid-character, a crafted ELF). nlohmann::json's dump()
// throws type_error.316 on such a string, which ended the tools with an
// uncaught exception. Every tool serialises through JsonText instead: each
// invalid byte becomes U+FFFD, so the output is always valid JSON and the
// rest of the string is kept.
//
// Invariants: the result is valid UTF-8 JSON; valid strings are unchanged.
// Thread-safety: a pure function.
#ifndef TSLAB_TOOLS_COMMON_JSON_TEXT_H_
#define TSLAB_TOOLS_COMMON_JSON_TEXT_H_

#include <string>

#include <nlohmann/json.hpp>

namespace tslab::tools {

// indent < 0: one line.
template <typename JsonT>
std::string JsonText(const JsonT& j, int indent = -1) {
  return j.dump(indent, ' ', false, JsonT::error_handler_t::replace);
}

}  // namespace tslab::tools

#endif  // TSLAB_TOOLS_COMMON_JSON_TEXT_H_
