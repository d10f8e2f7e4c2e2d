#include "master/metadata_store.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "common/failpoint.h"
#include "common/status_macros.h"

namespace ternion::master {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& dir,
                                                                   bool create) {
  rocksdb::Options options;
  options.create_if_missing = create;
  options.paranoid_checks = true;
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!create && s.IsInvalidArgument() && s.ToString().find("does not exist") != std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no metadata store in ", dir));
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("open metadata store ", dir));
  return std::unique_ptr<MetadataStore>(new MetadataStore(db));
}

MetadataStore::MetadataStore(rocksdb::DB* db) : db_(db) {}

MetadataStore::~MetadataStore() {
  if (db_) {
    rocksdb::Status s = db_->Close();
    (void)s;
  }
}

absl::Status MetadataStore::Write(const MetadataBatch& batch) {
  return Write(absl::MakeConstSpan(&batch, 1));
}

absl::Status MetadataStore::Write(absl::Span<const MetadataBatch> batches) {
  rocksdb::WriteBatch wb;
  for (const MetadataBatch& batch : batches) {  // in order: a later batch overrides an earlier
    for (const auto& [k, v] : batch.puts) {
      rocksdb::Status s = wb.Put(k, v);
      if (!s.ok()) return FromRocks(s, "batch put");
    }
    for (const auto& k : batch.deletes) {
      rocksdb::Status s = wb.Delete(k);
      if (!s.ok()) return FromRocks(s, "batch delete");
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(Failpoint("master.metadata.before_write"));
  RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "metadata write"));
  return Failpoint("master.metadata.after_write");  // durable, not yet applied or answered
}

absl::StatusOr<std::string> MetadataStore::Get(absl::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()),
                               &value);
  RETURN_IF_ERROR(FromRocks(s, absl::StrCat("metadata get ", key)));
  return value;
}

absl::StatusOr<bool> MetadataStore::Empty() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  RETURN_IF_ERROR(FromRocks(it->status(), "metadata scan"));
  return !it->Valid();
}

absl::Status MetadataStore::Scan(
    absl::string_view prefix, const std::function<void(absl::string_view, absl::string_view)>& fn,
    absl::string_view start) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::Slice p(prefix.data(), prefix.size());
  const absl::string_view from = std::max(prefix, start);
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid() && it->key().starts_with(p);
       it->Next()) {
    fn(absl::string_view(it->key().data(), it->key().size()),
       absl::string_view(it->value().data(), it->value().size()));
  }
  return FromRocks(it->status(), "metadata scan");
}

absl::StatusOr<std::optional<std::pair<std::string, std::string>>> MetadataStore::Last(
    absl::string_view prefix) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string bound = absl::StrCat(prefix, "\xff");
  it->SeekForPrev(bound);
  if (it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) {
    return std::make_pair(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "metadata seek");
  return std::nullopt;
}

absl::Status MetadataStore::CompactAll() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(FromRocks(db_->Flush(flush), "flush"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, nullptr, nullptr), "compact"));
  // Files the compaction made obsolete are deleted by RocksDB; make it so now.
  return FromRocks(db_->FlushWAL(/*sync=*/true), "sync the write-ahead log");
}

absl::Status MetadataStore::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return FromRocks(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: flush the memtable first, so the copy needs no WAL replay.
  return FromRocks(checkpoint->CreateCheckpoint(dir, 0), absl::StrCat("checkpoint into ", dir));
}

}  // namespace ternion::master
