// Dynamic analysis of running daemons: every RPC of both services is sent random bytes,
// byte-level and field-level mutations of a well-aimed request (at the victim's project, file,
// chunk and replicas), unsigned, signed by a user without rights, or under the admin's key with a
// wrong secret — bounded in count and time. Afterwards every daemon is still running, nothing
// changed (files, chunks, versions, replicas, bytes, members, users, keys) and the audit chain is
// intact. In the analysis build (scripts/analyze.sh) the daemons run under AddressSanitizer and
// UBSan, so a memory error on any of these paths kills a daemon and fails this test.
//
// The seed is printed; TERNION_RPC_FUZZ_SEED=N repeats a run.

#include <csignal>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testutil/victim_cluster.h"

namespace ternion {
namespace {

namespace pb = ::google::protobuf;

using RpcFuzzTest = testing::VictimClusterFixture;

// Whether process `pid` runs (and is not a zombie).
bool Running(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// `bytes` with 1-8 random edits: flipped bits, overwritten, inserted, deleted or duplicated runs.
std::string Mutate(std::string bytes, std::mt19937_64& rng) {
  auto pick = [&rng](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    const size_t at = pick(bytes.size() + 1);
    switch (rng() % 5) {
      case 0:
        if (!bytes.empty()) bytes[pick(bytes.size())] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:
        if (!bytes.empty()) bytes[pick(bytes.size())] = static_cast<char>(rng());
        break;
      case 2:
        bytes.insert(at, std::string(1 + pick(16), static_cast<char>(rng())));
        break;
      case 3:
        bytes.erase(std::min(at, bytes.size()), 1 + pick(16));
        break;
      default:
        bytes.insert(at, bytes.substr(pick(bytes.size() + 1), 1 + pick(32)));
        break;
    }
  }
  return bytes;
}

// `m` with some of its fields (nested ones too) set to edge values, random values or extra
// repeated entries: mutations that keep the message parseable, so the call reaches admission
// and the handlers rather than failing to parse.
void MutateFields(pb::Message* m, std::mt19937_64& rng, int depth = 0) {
  const pb::Descriptor* d = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  auto some_string = [&rng]() -> std::string {
    switch (rng() % 6) {
      case 0:
        return "";
      case 1:
        return std::string(5000, 'a');  // over every bound
      case 2:
        return "../../../etc/passwd";
      case 3:
        return "victim";
      case 4:
        return std::string(1, static_cast<char>(rng()));  // often not UTF-8
      default: {
        std::string s(rng() % 64, '\0');
        for (char& c : s) c = static_cast<char>(' ' + rng() % 95);
        return s;
      }
    }
  };
  auto some_number = [&rng]() -> uint64_t {
    const uint64_t edges[] = {0, 1, 2, 64 << 20, UINT32_MAX, INT64_MAX, UINT64_MAX};
    return rng() % 2 == 0 ? edges[rng() % 7] : rng();
  };
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (rng() % 3 != 0) continue;
    using T = pb::FieldDescriptor;
    if (f->is_repeated()) {
      for (int n = static_cast<int>(rng() % 4); n > 0; --n) {
        switch (f->cpp_type()) {
          case T::CPPTYPE_STRING:
            r->AddString(m, f, some_string());
            break;
          case T::CPPTYPE_UINT64:
            r->AddUInt64(m, f, some_number());
            break;
          case T::CPPTYPE_MESSAGE:
            if (depth < 3) MutateFields(r->AddMessage(m, f), rng, depth + 1);
            break;
          default:
            break;
        }
      }
      continue;
    }
    switch (f->cpp_type()) {
      case T::CPPTYPE_STRING:
        r->SetString(m, f, some_string());
        break;
      case T::CPPTYPE_UINT64:
        r->SetUInt64(m, f, some_number());
        break;
      case T::CPPTYPE_INT64:
        r->SetInt64(m, f, static_cast<int64_t>(some_number()));
        break;
      case T::CPPTYPE_UINT32:
        r->SetUInt32(m, f, static_cast<uint32_t>(some_number()));
        break;
      case T::CPPTYPE_INT32:
        r->SetInt32(m, f, static_cast<int32_t>(some_number()));
        break;
      case T::CPPTYPE_DOUBLE:
        r->SetDouble(m, f, static_cast<double>(some_number()) - 1e18);
        break;
      case T::CPPTYPE_BOOL:
        r->SetBool(m, f, !r->GetBool(*m, f));
        break;
      case T::CPPTYPE_ENUM:
        r->SetEnumValue(m, f, static_cast<int>(rng() % 8));
        break;
      case T::CPPTYPE_MESSAGE:
        if (depth < 3) MutateFields(r->MutableMessage(m, f), rng, depth + 1);
        break;
      default:
        break;
    }
  }
}

std::string RandomBytes(std::mt19937_64& rng) {
  std::string bytes(rng() % 2048, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

TEST_F(RpcFuzzTest, RandomAndMutatedBytesToEveryRpcCrashNothingAndChangeNothing) {
  uint64_t seed = absl::ToUnixNanos(absl::Now());
  if (const char* s = std::getenv("TERNION_RPC_FUZZ_SEED"); s != nullptr) {
    ASSERT_TRUE(absl::SimpleAtoi(s, &seed)) << s;
  }
  std::cout << "TERNION_RPC_FUZZ_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);
  const std::string before = Snapshot();

  struct Target {
    const pb::MethodDescriptor* method;
    std::string name;                        // the full gRPC method name
    std::string aimed;                       // a well-aimed request's bytes
    std::shared_ptr<grpc::Channel> channel;  // the master, or a chunkserver holding the chunk
  };
  std::vector<Target> targets;
  for (const pb::ServiceDescriptor* service :
       {MasterServiceDescriptor(), ChunkServiceDescriptor()}) {
    const bool master = service == MasterServiceDescriptor();
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* m = service->method(i);
      targets.push_back(
          {m, absl::StrCat("/", service->full_name(), "/", m->name()),
           security::RequestPayload(*AimedRequest(m)),
           master ? cluster_.tls.NewChannel(cluster_.master_address, security::kMasterTlsName)
                  : local::ChunkserverChannel(cluster_, chunk_.replicas[i % 3].address)});
    }
  }

  // Bounded in count and time.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::map<std::string, int> outcomes;          // "method code" -> calls
  std::map<std::string, std::string> examples;  // "method code" -> the first message
  int calls = 0;
  for (; calls < 3000 && absl::Now() < deadline; ++calls) {
    const Target& t = targets[rng() % targets.size()];
    // One message mostly (a few streams of up to three); each random bytes (1 in 6), the aimed
    // request with bytes edited (1 in 3), or with fields changed (1 in 2).
    std::vector<std::string> messages(1 + (rng() % 4 == 0 ? rng() % 3 : 0));
    for (std::string& m : messages) {
      const uint64_t kind = rng() % 6;
      if (kind == 0) {
        m = RandomBytes(rng);
      } else if (kind <= 2) {
        m = Mutate(t.aimed, rng);
      } else {
        std::unique_ptr<pb::Message> request = AimedRequest(t.method);
        MutateFields(request.get(), rng);
        m = request->SerializeAsString();
      }
    }
    // The signature: none, mallory's (valid for what the server will parse, so the call goes on
    // to be decided), or the admin's key with the wrong secret.
    std::optional<security::RequestSignature> sig;
    const int64_t now = absl::ToUnixMillis(absl::Now());
    std::unique_ptr<pb::Message> parsed(
        pb::MessageFactory::generated_factory()->GetPrototype(t.method->input_type())->New());
    (void)parsed->ParseFromString(messages[0]);
    switch (rng() % 3) {
      case 0:
        break;
      case 1:
        sig = Sign(t.name, *parsed, mallory_.key_id, mallory_.secret, now);
        break;
      default:
        sig = Sign(t.name, *parsed, cluster_.admin.key_id, "not-the-secret", now);
        break;
    }
    const grpc::Status s = RawCall(t.channel, t.name, messages, sig ? &*sig : nullptr);
    std::string& example = examples[absl::StrCat(t.method->name(), " ", s.error_code())];
    if (example.empty()) example = s.error_message().substr(0, 100) + " ";
    ++outcomes[absl::StrCat(t.method->name(), " ", s.error_code())];
  }
  std::string summary;
  for (const auto& [outcome, n] : outcomes) {
    absl::StrAppend(&summary, outcome, ": ", n, " (", examples[outcome], ")\n");
  }
  std::cout << calls << " calls:\n" << summary;
  EXPECT_GT(calls, 100);

  for (const local::LocalProcess& p : cluster_.processes) {
    EXPECT_TRUE(Running(p.pid)) << p.name << " died; see " << cluster_.dir << "/logs";
  }
  EXPECT_EQ(Snapshot(), before);
  int rc = 0;
  const std::string verify = RunCli("audit verify", &rc);
  EXPECT_EQ(rc, 0) << verify;
}

}  // namespace
}  // namespace ternion
