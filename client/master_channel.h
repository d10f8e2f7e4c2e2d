#pragma once

// The channel every caller of the master uses (client library, CLI, local cluster, benchmarks,
// tests): each call it carries is signed with the caller's AccessKey (security/request_signing.h)
// by a client interceptor, so no call site signs by hand and none can forget to.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "security/credentials.h"
#include "security/tls.h"

namespace ternion {

// A channel to the master at `address` over `tls`, signing every call with `credentials`
// (none: unsigned, which the master refuses for every call but a chunkserver's).
std::shared_ptr<grpc::Channel> NewMasterChannel(const std::string& address,
                                                const security::Credentials& credentials,
                                                const security::TlsConfig& tls,
                                                const grpc::ChannelArguments& args = {});

}  // namespace ternion
