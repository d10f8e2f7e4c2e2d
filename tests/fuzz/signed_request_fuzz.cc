// Fuzzes what the master does with a request's untrusted bytes before any handler runs
// (master_service.cc, Serve): the signature headers (security/request_signing.h), the request
// message of any method of either service, its bounds, project and paths, its canonical
// payload, and the signature check. Properties: a request verifies only with the signature
// its key's secret makes; a correctly signed request verifies once and its replay is refused;
// the canonical payload of a parsed request is stable under a second parse.

#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "security/request_fields.h"
#include "security/request_signing.h"
#include "ternion/v1/chunkserver.pb.h"
#include "ternion/v1/master.pb.h"

namespace {

using ternion::security::RequestSignature;
using ternion::security::RequestVerifier;

constexpr char kKeyId[] = "AKfuzz0000000001";
constexpr char kSecret[] = "fuzz-secret-fuzz-secret-fuzz-sec";
constexpr int64_t kNowMs = 1'800'000'000'000;

class FixedClock : public ternion::Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixMillis(kNowMs); }
};

std::optional<absl::string_view> MaybeHeader(FuzzedDataProvider& in, std::string* storage) {
  if (!in.ConsumeBool()) return std::nullopt;
  *storage = in.ConsumeRandomLengthString(300);
  return absl::string_view(*storage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ternion::security;
  static const FixedClock clock;
  FuzzedDataProvider in(data, size);

  // The method: any of either service (as Serve and the chunk service see them).
  static const google::protobuf::ServiceDescriptor* services[] = {
      ternion::v1::GetFileInfoRequest::descriptor()->file()->FindServiceByName("MasterService"),
      ternion::v1::ReadChunkRequest::descriptor()->file()->FindServiceByName("ChunkServerService")};
  const google::protobuf::ServiceDescriptor* service = services[in.ConsumeIntegralInRange(0, 1)];
  const google::protobuf::MethodDescriptor* method =
      service->method(in.ConsumeIntegralInRange(0, service->method_count() - 1));
  const std::string method_name = absl::StrCat("/", service->full_name(), "/", method->name());

  std::string key_id, timestamp, nonce, signature;
  absl::StatusOr<std::optional<RequestSignature>> sig =
      ParseSignatureHeaders(MaybeHeader(in, &key_id), MaybeHeader(in, &timestamp),
                            MaybeHeader(in, &nonce), MaybeHeader(in, &signature));

  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(method->input_type())
          ->New());
  const std::string bytes = in.ConsumeRemainingBytesAsString();
  if (!request->ParseFromString(bytes)) return 0;
  if (!CheckRequestBounds(*request, 4096, 10000).ok()) return 0;
  const std::string project = RequestProject(*request);
  (void)RequestPaths(*request);
  const std::string payload = RequestPayload(*request);
  std::unique_ptr<google::protobuf::Message> again(request->New());
  if (!again->ParseFromString(payload) || RequestPayload(*again) != payload) __builtin_trap();

  RequestVerifier verifier(
      [](const std::string& id) -> std::optional<RequestVerifier::Key> {
        if (id != kKeyId) return std::nullopt;
        return RequestVerifier::Key{.user = "fuzz", .secret = kSecret};
      },
      &clock);
  if (sig.ok()) {
    absl::StatusOr<std::string> user = verifier.Verify(*sig, method_name, project, payload);
    if (user.ok()) {
      const RequestSignature& s = **sig;
      if (SignRequest(kSecret, method_name, project, payload, s.key_id, s.timestamp_ms, s.nonce)
              .signature != s.signature) {
        __builtin_trap();
      }
    }
  }
  // The same request signed by the key: admitted once, refused as a replay after.
  const RequestSignature good = SignRequest(kSecret, method_name, project, payload, kKeyId, kNowMs,
                                            "fuzz-nonce-000000000001");
  if (!verifier.Verify(good, method_name, project, payload).ok()) __builtin_trap();
  if (verifier.Verify(good, method_name, project, payload).ok()) __builtin_trap();
  return 0;
}
