#include "master/audit_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "master/metadata_keys.h"

namespace ternion::master {
namespace {

constexpr absl::string_view kMagic = "TAR1";

// The same bytes for the same record, wherever and whenever it is serialized.
std::string Deterministic(const ternion::v1::AuditRecord& r) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  r.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

std::string AuditKey(uint64_t seq) { return absl::StrFormat("%s%016x", kAuditPrefix, seq); }

std::string EncodeAuditRecord(const ternion::v1::AuditRecord& record) {
  return absl::StrCat(kMagic, Deterministic(record));
}

absl::StatusOr<std::optional<ternion::v1::AuditRecord>> DecodeAuditRecord(absl::string_view value) {
  if (!absl::StartsWith(value, kMagic)) {
    // Before the chain: "2026-11-30T15:25:15.123Z action ..." lines.
    if (!value.empty() && value[0] >= '0' && value[0] <= '9') return std::nullopt;
    return absl::DataLossError("an audit record is neither a record nor a legacy line");
  }
  ternion::v1::AuditRecord r;
  value.remove_prefix(kMagic.size());
  if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("an audit record does not parse");
  }
  return r;
}

std::string AuditHash(const ternion::v1::AuditRecord& record) {
  ternion::v1::AuditRecord body = record;
  body.clear_hash();
  const std::string bytes = absl::StrCat(record.prev_hash(), Deterministic(body));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

void AuditChainVerifier::Add(uint64_t key_seq, absl::string_view value) {
  if (!status_.ok()) return;
  absl::StatusOr<std::optional<ternion::v1::AuditRecord>> decoded = DecodeAuditRecord(value);
  if (!decoded.ok()) {
    status_ = absl::DataLossError(
        absl::StrCat("audit record ", key_seq, ": ", decoded.status().message()));
    return;
  }
  if (!decoded->has_value()) {
    if (last_.has_value()) {
      status_ = absl::DataLossError(
          absl::StrCat("audit record ", key_seq, " is a legacy line inside the chain"));
    }
    ++legacy_;
    return;
  }
  const ternion::v1::AuditRecord& r = **decoded;
  if (r.seq() != key_seq) {
    status_ = absl::DataLossError(
        absl::StrCat("audit record ", key_seq, " says it is record ", r.seq(), ": moved"));
  } else if (AuditHash(r) != r.hash()) {
    status_ = absl::DataLossError(
        absl::StrCat("audit record ", key_seq, " does not match its hash: edited"));
  } else if (last_.has_value() && key_seq != last_->seq() + 1) {
    status_ = absl::DataLossError(absl::StrCat("audit records ", last_->seq() + 1, " to ",
                                               key_seq - 1, " are missing: removed"));
  } else if (r.prev_hash() != (last_.has_value() ? last_->hash() : std::string())) {
    status_ = absl::DataLossError(absl::StrCat("audit record ", key_seq, " does not follow record ",
                                               last_.has_value() ? last_->seq() : 0,
                                               ": removed or reordered"));
  }
  if (!status_.ok()) return;
  ++records_;
  last_ = r;
}

absl::Status AuditLog::Load(std::optional<std::pair<uint64_t, std::string>> newest) {
  absl::MutexLock lock(&mu);
  if (!newest.has_value()) return absl::OkStatus();
  next_seq_ = newest->first + 1;
  absl::StatusOr<std::optional<ternion::v1::AuditRecord>> r = DecodeAuditRecord(newest->second);
  if (!r.ok()) return r.status();
  last_hash_ = r->has_value() ? (*r)->hash() : std::string();  // legacy: a new chain starts
  return absl::OkStatus();
}

ternion::v1::AuditRecord AuditLog::Append(const AuditEvent& e, int64_t now_ms,
                                          MetadataBatch* batch) {
  ternion::v1::AuditRecord r;
  r.set_seq(next_seq_++);
  r.set_time_unix_ms(now_ms);
  r.set_user(e.user);
  r.set_project(e.project);
  r.set_action(e.action);
  r.set_object(e.object);
  r.set_result(e.result);
  r.set_peer(e.peer);
  r.set_detail(e.detail);
  r.set_prev_hash(last_hash_);
  r.set_hash(AuditHash(r));
  last_hash_ = r.hash();
  batch->Put(AuditKey(r.seq()), EncodeAuditRecord(r));
  return r;
}

}  // namespace ternion::master
