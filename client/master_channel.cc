#include "client/master_channel.h"

#include <google/protobuf/message.h>
#include <grpcpp/support/client_interceptor.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "security/master_key.h"
#include "security/request_fields.h"
#include "security/request_signing.h"

namespace ternion {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Adds the signature headers to a unary call, computed from its method and request message.
class SigningInterceptor final : public grpc::experimental::Interceptor {
 public:
  SigningInterceptor(const security::Credentials* credentials, std::string method)
      : credentials_(credentials), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* batch) override {
    // A unary call sends its metadata and its one message in the same batch.
    if (batch->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        batch->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const auto* request = static_cast<const google::protobuf::Message*>(batch->GetSendMessage());
      if (request != nullptr) {
        security::RequestSignature sig = security::SignRequest(
            credentials_->secret, method_, security::RequestProject(*request),
            security::RequestPayload(*request), credentials_->key_id,
            absl::ToUnixMillis(absl::Now()),
            absl::BytesToHexString(security::SecureRandomBytes(16)));
        auto* md = batch->GetSendInitialMetadata();
        md->emplace(security::kKeyIdHeader, sig.key_id);
        md->emplace(security::kTimestampHeader, absl::StrCat(sig.timestamp_ms));
        md->emplace(security::kNonceHeader, sig.nonce);
        md->emplace(security::kSignatureHeader, sig.signature);
      }
    }
    batch->Proceed();
  }

 private:
  const security::Credentials* const credentials_;  // the factory's; lives as long as the channel
  const std::string method_;
};

class SigningInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit SigningInterceptorFactory(security::Credentials credentials)
      : credentials_(std::move(credentials)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new SigningInterceptor(&credentials_, info->method());
  }

 private:
  const security::Credentials credentials_;
};

}  // namespace

std::shared_ptr<grpc::Channel> NewMasterChannel(const std::string& address,
                                                const security::Credentials& credentials,
                                                const security::TlsConfig& tls,
                                                const grpc::ChannelArguments& args) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> signing;
  if (!credentials.empty()) {
    signing.push_back(std::make_unique<SigningInterceptorFactory>(credentials));
  }
  return tls.NewChannel(address, security::kMasterTlsName, args, std::move(signing));
}

}  // namespace ternion
