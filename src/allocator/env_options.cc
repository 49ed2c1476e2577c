// TSLAB_OPTIONS parsing (env_options.h). Cold: runs once per process.
#include "src/allocator/env_options.h"

#include <errno.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tslab::internal {

namespace {

constexpr int64_t kMaxPurgeDelayMs = 3600 * 1000;

// The keys, for the "unknown key" message.
#define TSLAB_ENV_KEY_NAME_(key, kind, help) " " #key
constexpr const char kKeyList[] = TSLAB_ENV_OPTION_KEYS(TSLAB_ENV_KEY_NAME_);
#undef TSLAB_ENV_KEY_NAME_

void Report(void (*err_fn)(const char*, void*), void* ctx, const char* fmt,
            const char* a, const char* b) {
  if (err_fn == nullptr) return;
  char line[512];
  std::snprintf(line, sizeof(line), fmt, a, b);
  err_fn(line, ctx);
}

bool ParseUnsigned(const char* v, uint64_t max, uint64_t* out) {
  if (*v < '0' || *v > '9') return false;  // no sign, no space
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || x > max) return false;
  *out = x;
  return true;
}

// Storage of the parsed strings (stats_dir): the parse happens once.
char g_text[4096];  // longer values are cut, and say so

}  // namespace

void ParseEnvOptions(char* text, EnvOptionValues* out,
                     void (*err_fn)(const char* line, void* ctx), void* ctx) {
  if (text == nullptr || out == nullptr) return;
  char* save = nullptr;
  for (char* item = strtok_r(text, ",", &save); item != nullptr;
       item = strtok_r(nullptr, ",", &save)) {
    char* eq = std::strchr(item, '=');
    if (eq == nullptr) {
      Report(err_fn, ctx, "tslab: TSLAB_OPTIONS: '%s' is not key=value (ignored)%s", item, "");
      continue;
    }
    *eq = '\0';
    const char* key = item;
    const char* val = eq + 1;
    bool known = false, good = false;
    uint64_t u = 0;
#define TSLAB_ENV_PARSE_U32(key_)                                           \
    good = ParseUnsigned(val, UINT32_MAX, &u);                              \
    if (good) out->key_ = static_cast<uint32_t>(u);
#define TSLAB_ENV_PARSE_U64(key_)                                           \
    good = ParseUnsigned(val, UINT64_MAX, &u);                              \
    if (good) out->key_ = u;
#define TSLAB_ENV_PARSE_I32(key_)                                           \
    good = ParseUnsigned(val, kMaxPurgeDelayMs, &u);                        \
    if (good) out->key_ = static_cast<int32_t>(u);
#define TSLAB_ENV_PARSE_STR(key_)                                           \
    good = *val != '\0';                                                    \
    if (good) out->key_ = val;
#define TSLAB_ENV_PARSE_MODE(key_)                                          \
    good = std::strcmp(val, "default") == 0 || std::strcmp(val, "off") == 0; \
    if (good) {                                                             \
      out->key_ = std::strcmp(val, "off") == 0 ? TSLAB_REGION_OFF           \
                                               : TSLAB_REGION_DEFAULT;      \
    }
#define TSLAB_ENV_PARSE_BOOL(key_)                                          \
    good = std::strcmp(val, "0") == 0 || std::strcmp(val, "1") == 0;        \
    if (good) out->key_ = val[0] == '1';
#define TSLAB_ENV_PARSE_(key_, kind, help)                                  \
    if (!known && std::strcmp(key, #key_) == 0) {                           \
      known = true;                                                         \
      TSLAB_ENV_PARSE_##kind(key_)                                          \
      if (good) out->has_##key_ = true;                                     \
    }
    TSLAB_ENV_OPTION_KEYS(TSLAB_ENV_PARSE_)
#undef TSLAB_ENV_PARSE_
#undef TSLAB_ENV_PARSE_U32
#undef TSLAB_ENV_PARSE_U64
#undef TSLAB_ENV_PARSE_I32
#undef TSLAB_ENV_PARSE_STR
#undef TSLAB_ENV_PARSE_MODE
#undef TSLAB_ENV_PARSE_BOOL
    if (!known) {
      Report(err_fn, ctx, "tslab: TSLAB_OPTIONS: unknown key '%s' (ignored; keys:%s)", key,
             kKeyList);
    } else if (!good) {
      Report(err_fn, ctx, "tslab: TSLAB_OPTIONS: bad value for %s: '%s' (ignored)", key, val);
    }
  }
}

const EnvOptionValues& EnvOptions() {
  static const EnvOptionValues values = [] {
    EnvOptionValues v;
    const char* text = secure_getenv("TSLAB_OPTIONS");
    auto to_stderr = [](const char* line, void*) { std::fprintf(stderr, "%s\n", line); };
    if (text != nullptr) {
      if (std::strlen(text) >= sizeof(g_text)) {
        to_stderr("tslab: TSLAB_OPTIONS: longer than 4095 bytes: the rest is ignored", nullptr);
      }
      std::snprintf(g_text, sizeof(g_text), "%s", text);
      ParseEnvOptions(g_text, &v, to_stderr, nullptr);
    }
    return v;
  }();
  return values;
}

void ApplyEnvOptions(tslab_options* o) {
  const EnvOptionValues& e = EnvOptions();
  if (e.has_cache_capacity) o->cache_capacity = e.cache_capacity;
  if (e.has_max_bytes) o->max_bytes = e.max_bytes;
  if (e.has_purge_delay_ms) o->purge_delay_ms = e.purge_delay_ms;
  if (e.has_stats_dir) o->stats_dir = e.stats_dir;
  if (e.has_region_mode) o->region_mode = e.region_mode;
}

}  // namespace tslab::internal
