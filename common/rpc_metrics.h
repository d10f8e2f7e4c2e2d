#pragma once

// Counts one RPC (by method and status code) and its latency, on destruction:
//   RpcScope rpc("master", "CreateFile");
//   ...
//   return rpc.Done(status);

#include <grpcpp/support/status.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ternion {

class RpcScope {
 public:
  RpcScope(const char* daemon, const char* method)
      : daemon_(daemon), method_(method), start_(absl::Now()) {}
  ~RpcScope();
  RpcScope(const RpcScope&) = delete;
  RpcScope& operator=(const RpcScope&) = delete;

  grpc::Status Done(const grpc::Status& s) {
    code_ = static_cast<int>(s.error_code());
    return s;
  }

 private:
  const char* daemon_;
  const char* method_;
  int code_ = 0;
  absl::Time start_;
};

}  // namespace ternion
