#include "common/rpc_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace ternion {

RpcScope::~RpcScope() {
  static const char* kCodes[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  std::string code = code_ >= 0 && code_ <= 16 ? kCodes[code_] : absl::StrCat(code_);
  std::string prefix = absl::StrCat("ternion_", daemon_, "_rpc");
  GetCounter(prefix + "s_total", absl::StrCat("RPCs handled by the ", daemon_, "."),
             {{"method", method_}, {"code", code}})
      ->Increment();
  GetHistogram(prefix + "_duration_seconds", absl::StrCat("RPC latency in the ", daemon_, "."),
               LatencySecondsBuckets(), {{"method", method_}})
      ->Observe(absl::ToDoubleSeconds(absl::Now() - start_));
}

}  // namespace ternion
