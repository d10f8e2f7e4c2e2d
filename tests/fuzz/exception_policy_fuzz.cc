// Fuzzes the exception policy parser (master/exception_policy.h): a project owner's JSON reaches
// the master in a signed request. Any text must parse or be refused with INVALID_ARGUMENT,
// never crash; a parsed policy stays within its bounds and names only known actions.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "master/exception_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto policy = ternion::master::ParseExceptionPolicy(text);
  if (!policy.ok()) {
    if (policy.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (policy->size() > ternion::master::kMaxExceptionStatements) std::abort();
  uint32_t all = 0;
  for (auto a : ternion::master::kAllActions) all |= ternion::master::ActionBit(a);
  for (const auto& st : *policy) {
    if (st.actions == 0 || (st.actions & ~all) != 0) std::abort();
    if (st.principals.empty() || st.resources.empty()) std::abort();
    for (const auto& r : st.resources) {
      if (r.pinned_file_id != 0) std::abort();  // only the master pins
    }
  }
  return 0;
}
