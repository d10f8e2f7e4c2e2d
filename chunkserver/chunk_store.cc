#include "chunkserver/chunk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "common/file_system.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace ternion::chunkserver {

struct ReplicaWriter::Replica {
  FileSystem* fs = nullptr;  // the store's; outlives every replica
  WriteJournal* journal = nullptr;  // its disk's; outlives every replica
  uint64_t chunk_id = 0;
  std::string project;
  std::string disk;
  std::string data_path;
  std::string meta_path;

  absl::Mutex mu;
  uint64_t version ABSL_GUARDED_BY(mu) = 0;
  uint64_t length ABSL_GUARDED_BY(mu) = 0;       // durable length
  std::vector<uint32_t> crcs ABSL_GUARDED_BY(mu);  // one per (possibly partial) block
  bool writing ABSL_GUARDED_BY(mu) = false;
  bool wiping ABSL_GUARDED_BY(mu) = false;  // its wipe has begun: never moved to a new version
  bool copying ABSL_GUARDED_BY(mu) = false;  // an unfinished copy: nobody's replica yet
  // The last journal record of this replica: once the journal has released it, the replica's
  // own files hold every durable byte.
  uint64_t journal_seq ABSL_GUARDED_BY(mu) = 0;
  // Every journaled append is in the replica's own files. (Lock order: the replica's mutex,
  // then its journal's.)
  bool Applied() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return journal == nullptr || journal_seq <= journal->released_seq();
  }
  // Written to the data file (perhaps not yet durable): the length, and the CRCs from block
  // staged_first_block on. The applier may make these durable in the meta file early: bytes
  // durable beyond what was acknowledged are allowed (never served before a restart, and only
  // bytes that were written).
  uint64_t staged_length ABSL_GUARDED_BY(mu) = 0;
  uint64_t staged_first_block ABSL_GUARDED_BY(mu) = 0;
  std::vector<uint32_t> staged_crcs ABSL_GUARDED_BY(mu);
};

namespace {

constexpr size_t kPageSize = 4096;  // O_DIRECT alignment

void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }

constexpr char kChunksRoot[] = "chunks";
constexpr char kQuarantineRoot[] = "quarantine";

// <disk>/<root>/<project>/<id>: the path of a replica's files without their extension.
std::string ChunkFileBase(const std::string& disk, const std::string& project, uint64_t id,
                          const char* root = kChunksRoot) {
  return absl::StrFormat("%s/%s/%s/%016x", disk, root, project, id);
}

std::string DirOf(const std::string& path) { return path.substr(0, path.find_last_of('/')); }

// Beside a replica's files while a copy into it is unfinished (ChunkStore::StartCopy).
std::string CopyMarkerOf(const std::string& data_path) {
  return data_path.substr(0, data_path.size() - std::string_view(".data").size()) + ".copying";
}

// The chunk id of a replica file name "<16 hex digits><ext>", or nullopt.
std::optional<uint64_t> ChunkIdOf(const std::string& name, absl::string_view ext) {
  uint64_t id;
  if (name.size() != 16 + ext.size() || name.substr(16) != ext ||
      !absl::SimpleHexAtoi(name.substr(0, 16), &id)) {
    return std::nullopt;
  }
  return id;
}

// Adds `what` (a path) to an I/O error.
absl::Status About(const absl::Status& s, const std::string& what) {
  return absl::Status(s.code(), absl::StrCat(s.message(), " (", what, ")"));
}

// Creates a directory durably: when it is new, its parent is synced so the entry survives a
// crash along with what is then created in it.
absl::Status MakeDirDurably(FileSystem* fs, const std::string& path) {
  absl::Status s = fs->MakeDir(path);
  if (s.ok()) return fs->SyncDir(path.substr(0, path.find_last_of('/')));
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ReplicaWriter

ReplicaWriter::ReplicaWriter(std::shared_ptr<Replica> replica, int data_fd, bool direct,
                             uint64_t max_length)
    : replica_(std::move(replica)), data_fd_(data_fd), direct_(direct), max_length_(max_length) {
  absl::MutexLock lock(&replica_->mu);
  pending_length_ = replica_->length;
  version_ = replica_->version;
}

ReplicaWriter::~ReplicaWriter() {
  std::free(buf_);
  replica_->fs->Close(data_fd_);
  if (buffered_fd_ >= 0) replica_->fs->Close(buffered_fd_);
  absl::MutexLock lock(&replica_->mu);
  replica_->writing = false;
  replica_->staged_length = replica_->length;  // what a failed writer left is not applied
  replica_->staged_crcs.clear();
}

uint64_t ReplicaWriter::length() const {
  absl::MutexLock lock(&replica_->mu);
  return replica_->length;
}

void ReplicaWriter::EnsureCapacity(size_t bytes) {
  if (bytes <= buf_capacity_) return;
  size_t cap = std::max<size_t>(bytes, 1 << 20) + kPageSize;
  cap = (cap + kPageSize - 1) / kPageSize * kPageSize;
  void* p = nullptr;
  if (posix_memalign(&p, kPageSize, cap) != 0) std::abort();
  if (tail_len_ > 0) std::memcpy(p, buf_, tail_len_);
  std::free(buf_);
  buf_ = static_cast<char*>(p);
  buf_capacity_ = cap;
}

absl::Status ReplicaWriter::LoadTail(uint64_t length) {
  tail_len_ = 0;
  EnsureCapacity(kPageSize);
  const size_t tail = length % kPageSize;
  if (tail == 0) return absl::OkStatus();
  absl::StatusOr<size_t> r = replica_->fs->PRead(data_fd_, buf_, kPageSize, length - tail);
  if (!r.ok()) return About(r.status(), replica_->data_path);
  if (*r < tail) return absl::DataLossError(absl::StrCat(replica_->data_path, " is too short"));
  tail_len_ = tail;
  return absl::OkStatus();
}

// Writes data at offset (== the replica's length) to the data file through `fd` without
// O_DIRECT.
absl::Status ReplicaWriter::WriteBuffered(int fd, uint64_t offset, const char* data, size_t n) {
  ASSIGN_OR_RETURN(size_t allowed, FailpointWrite("chunk_store.write_data", n));
  RETURN_IF_ERROR(replica_->fs->WriteAll(fd, data, allowed, offset, replica_->data_path));
  if (allowed < n) return absl::InternalError("short write to " + replica_->data_path);
  return absl::OkStatus();
}

// Writes data at offset (== the replica's length) to the data file. Under O_DIRECT the partial
// last page is rewritten whole from buf_ and the write padded with zeros past the end (the file
// may then be longer than the replica; the meta file's length is what counts) -- except for a
// write its journal record carries whole: that one goes through the page cache, so the device
// write is not on the acknowledgement's path (the record makes it durable; the applier's data
// sync writes it back). The kernel keeps the file's cached pages and O_DIRECT I/O coherent.
absl::Status ReplicaWriter::WriteData(uint64_t offset, const char* data, size_t n) {
  if (!direct_) return WriteBuffered(data_fd_, offset, data, n);
  const uint64_t aligned = offset - tail_len_;
  const size_t total = tail_len_ + n;
  const size_t padded = (total + kPageSize - 1) / kPageSize * kPageSize;
  EnsureCapacity(padded);
  std::memcpy(buf_ + tail_len_, data, n);
  std::memset(buf_ + total, 0, padded - total);
  if (n <= kJournalInlineBytes) {
    if (buffered_fd_ < 0) {
      absl::StatusOr<int> fd = replica_->fs->Open(replica_->data_path, O_RDWR | O_CLOEXEC);
      if (!fd.ok()) return About(fd.status(), replica_->data_path);
      buffered_fd_ = *fd;
    }
    RETURN_IF_ERROR(WriteBuffered(buffered_fd_, offset, data, n));
  } else {
    ASSIGN_OR_RETURN(size_t allowed, FailpointWrite("chunk_store.write_data", padded));
    allowed = allowed / kPageSize * kPageSize;  // O_DIRECT writes whole pages
    absl::StatusOr<size_t> w = replica_->fs->PWrite(data_fd_, buf_, allowed, aligned);
    if (!w.ok()) return About(w.status(), replica_->data_path);
    if (*w != padded) {
      return absl::InternalError(absl::StrCat("short write to ", replica_->data_path));
    }
  }
  const size_t new_tail = (offset + n) % kPageSize;
  if (new_tail > 0) std::memmove(buf_, buf_ + total - new_tail, new_tail);
  tail_len_ = new_tail;
  return absl::OkStatus();
}

absl::Status ReplicaWriter::Append(uint64_t offset, const char* data, size_t n) {
  RETURN_IF_ERROR(Write(offset, data, n));
  return Sync();
}

absl::Status ReplicaWriter::Write(uint64_t offset, const char* data, size_t n) {
  if (!failed_.ok()) return failed_;
  if (offset != pending_length_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "append at offset ", offset, " but the replica's length is ", pending_length_));
  }
  if (offset + n > max_length_ || offset + n < offset) {
    return absl::OutOfRangeError(absl::StrCat("append of ", n, " bytes at ", offset,
                                              " exceeds the chunk size ", max_length_));
  }
  if (n == 0) return absl::OkStatus();
  if (pending_crcs_.empty()) {  // first write since the last sync
    absl::MutexLock lock(&replica_->mu);
    pending_first_block_ = offset / kBlockSize;
    if (pending_first_block_ < replica_->crcs.size()) {
      pending_crcs_.push_back(replica_->crcs[pending_first_block_]);
    }
  }
  // Extend the CRCs: the first block may be partial and continues from its stored CRC.
  uint64_t pos = offset;
  for (size_t i = 0; i < n;) {
    size_t piece = std::min<size_t>(kBlockSize - pos % kBlockSize, n - i);
    size_t slot = pos / kBlockSize - pending_first_block_;
    if (slot == pending_crcs_.size()) pending_crcs_.push_back(0);
    pending_crcs_[slot] = Crc32cExtend(pending_crcs_[slot], data + i, piece);
    pos += piece;
    i += piece;
  }
  if (absl::Status s = WriteData(offset, data, n); !s.ok()) return failed_ = s;
  pending_length_ = offset + n;
  JournalRecord& record = records_.emplace_back();
  record.chunk_id = replica_->chunk_id;
  record.version = version_;
  record.offset = offset;
  record.length = static_cast<uint32_t>(n);
  record.crc = Crc32c(data, n);
  if (n <= kJournalInlineBytes) {
    record.data.assign(data, n);
  } else {
    data_sync_needed_ = true;
  }
  absl::MutexLock lock(&replica_->mu);
  replica_->staged_length = pending_length_;
  replica_->staged_first_block = pending_first_block_;
  replica_->staged_crcs = pending_crcs_;
  return absl::OkStatus();
}

absl::Status ReplicaWriter::Sync() {
  if (!failed_.ok()) return failed_;
  if (records_.empty()) return absl::OkStatus();
  // One sync for a small append: its journal record carries the bytes. A large one makes the
  // data file durable first, then journals only its range and CRC (docs/formats.md).
  absl::Status s = Failpoint("chunk_store.sync.before_data_sync");
  if (s.ok() && data_sync_needed_) s = About(replica_->fs->DataSync(data_fd_), replica_->data_path);
  if (s.ok()) s = Failpoint("chunk_store.sync.after_data_sync");
  absl::StatusOr<uint64_t> seq = absl::UnavailableError("");
  if (s.ok()) {
    seq = replica_->journal->Commit(records_);
    s = seq.status();
  }
  if (s.ok()) s = Failpoint("chunk_store.sync.after_journal_sync");  // durable, not yet visible
  if (!s.ok()) return failed_ = s;

  absl::MutexLock lock(&replica_->mu);
  replica_->crcs.resize(pending_first_block_);
  replica_->crcs.insert(replica_->crcs.end(), pending_crcs_.begin(), pending_crcs_.end());
  replica_->length = pending_length_;
  replica_->journal_seq = *seq;
  pending_crcs_.clear();
  records_.clear();
  data_sync_needed_ = false;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// ChunkStore

absl::StatusOr<std::unique_ptr<ChunkStore>> ChunkStore::Open(const std::vector<std::string>& dirs,
                                                             FileSystem* fs,
                                                             uint64_t journal_bytes) {
  if (dirs.empty()) return absl::InvalidArgumentError("no data directory given");
  std::vector<Disk> disks;
  for (const std::string& d : dirs) {
    Disk disk{d, false, nullptr};
    absl::Status s = MakeDirDurably(fs, d);
    if (s.ok()) s = MakeDirDurably(fs, d + "/chunks");
    if (s.ok()) s = MakeDirDurably(fs, d + "/wipe");
    if (s.ok()) s = MakeDirDurably(fs, d + "/" + kQuarantineRoot);
    if (!s.ok()) {
      TLOG(ERROR) << "data directory " << d << " is unusable: " << s;
      disk.failed = true;
    }
    disks.push_back(disk);
  }
  std::unique_ptr<ChunkStore> store(new ChunkStore(std::move(disks), fs));
  size_t usable = 0;
  for (size_t i = 0; i < store->disks_.size(); ++i) {
    Disk& disk = store->disks_[i];
    if (disk.failed) continue;
    store->ResumeWipes(disk.path);  // before loading: a half-wiped replica is gone
    std::vector<JournalRecord> recovered;
    absl::StatusOr<std::unique_ptr<WriteJournal>> journal =
        WriteJournal::Open(fs, disk.path + "/journal", journal_bytes, &recovered);
    if (absl::IsInvalidArgument(journal.status())) return journal.status();
    if (!journal.ok()) {
      TLOG(ERROR) << "data directory " << disk.path << " is unusable: " << journal.status();
      disk.failed = true;
      continue;
    }
    disk.journal = std::move(*journal);
    RETURN_IF_ERROR(store->LoadDisk(i));
    if (absl::Status applied = store->ApplyRecovered(disk.path, recovered); !applied.ok()) {
      // The journal keeps its records (it is not started, so not wiped) for another attempt;
      // meanwhile the disk serves nothing.
      TLOG(ERROR) << "data directory " << disk.path
                  << " is unusable: cannot apply its journal: " << applied;
      absl::MutexLock lock(&store->mu_);
      disk.failed = true;
      disk.journal.reset();
      absl::erase_if(store->replicas_,
                     [&](const auto& kv) { return kv.second->disk == disk.path; });
      absl::erase_if(store->quarantined_,
                     [&](const auto& kv) { return kv.second.replica->disk == disk.path; });
      absl::erase_if(store->damaged_, [&](const auto& kv) { return kv.second->disk == disk.path; });
      continue;
    }
    ChunkStore* self = store.get();
    RETURN_IF_ERROR(disk.journal->Start(
        [self](const std::vector<uint64_t>& ids) { return self->ApplyJournaled(ids); }));
    ++usable;
  }
  if (usable == 0) return absl::FailedPreconditionError("no usable data directory");
  return store;
}

ChunkStore::~ChunkStore() {
  // The appliers stop before the store they apply to goes; what they leave is replayed.
  for (Disk& d : disks_) d.journal.reset();
}

std::shared_ptr<ChunkStore::Replica> ChunkStore::LoadReplica(const std::string& disk,
                                                             const std::string& project,
                                                             uint64_t id, const char* root) {
  auto r = std::make_shared<Replica>();
  r->fs = fs_;
  r->chunk_id = id;
  r->project = project;
  r->disk = disk;
  const std::string base = ChunkFileBase(disk, project, id, root);
  absl::StatusOr<std::string> bytes = fs_->ReadFile(base + ".meta");
  absl::StatusOr<uint64_t> data_size = absl::NotFoundError("");
  if (absl::StatusOr<int> fd = fs_->Open(base + ".data", O_RDONLY); fd.ok()) {
    data_size = fs_->FileSize(*fd);
    fs_->Close(*fd);
  }
  std::optional<ReplicaMeta> meta;
  if (bytes.ok()) meta = ParseReplicaMeta(*bytes, id);
  if (!meta.has_value() || !data_size.ok() || *data_size < meta->length) {
    TLOG(WARNING) << "damaged replica " << base << " (bad meta or short data): kept, not served";
    return nullptr;
  }
  r->data_path = base + ".data";
  r->meta_path = base + ".meta";
  absl::MutexLock rl(&r->mu);
  r->version = meta->version;
  r->length = meta->length;
  r->crcs = std::move(meta->crcs);
  return r;
}

absl::Status ChunkStore::LoadDisk(size_t disk_index) {
  const std::string& disk = disks_[disk_index].path;
  const std::string chunks_root = absl::StrCat(disk, "/", kChunksRoot);
  if (!fs_->Exists(chunks_root)) return absl::NotFoundError(absl::StrCat("no ", chunks_root));
  // A move into or out of quarantine renames the data file first, then the meta file: where a
  // data file lies without its meta, a crash cut the move short, and the meta belongs beside it.
  for (const char* root : {kChunksRoot, kQuarantineRoot}) {
    const char* other = root == kChunksRoot ? kQuarantineRoot : kChunksRoot;
    for (const std::string& project : fs_->ListDir(absl::StrCat(disk, "/", root))) {
      for (const std::string& name : fs_->ListDir(absl::StrCat(disk, "/", root, "/", project))) {
        std::optional<uint64_t> id = ChunkIdOf(name, ".data");
        if (!id) continue;
        const std::string meta = ChunkFileBase(disk, project, *id, root) + ".meta";
        const std::string moved = ChunkFileBase(disk, project, *id, other) + ".meta";
        if (fs_->Exists(meta) || !fs_->Exists(moved)) continue;
        RETURN_IF_ERROR(fs_->Rename(moved, meta));
        RETURN_IF_ERROR(fs_->SyncDir(DirOf(meta)));
        RETURN_IF_ERROR(fs_->SyncDir(DirOf(moved)));
        TLOG(INFO) << "finished an interrupted move of chunk " << *id << " into " << root;
      }
    }
  }
  for (const char* root : {kChunksRoot, kQuarantineRoot}) {
    for (const std::string& project : fs_->ListDir(absl::StrCat(disk, "/", root))) {
      const std::vector<std::string> names =
          fs_->ListDir(absl::StrCat(disk, "/", root, "/", project));
      absl::flat_hash_set<uint64_t> metas, copies;
      for (const std::string& name : names) {
        if (std::optional<uint64_t> id = ChunkIdOf(name, ".meta")) metas.insert(*id);
        if (std::optional<uint64_t> id = ChunkIdOf(name, ".copying")) copies.insert(*id);
      }
      for (uint64_t id : copies) {  // without its replica: its wipe finished, or none was made
        if (!metas.contains(id)) {
          RETURN_IF_ERROR(fs_->Unlink(ChunkFileBase(disk, project, id, root) + ".copying"));
        }
      }
      for (const uint64_t id : metas) {
        // A copy a crash cut short holds a prefix of the chunk, perhaps less than was
        // acknowledged: never served as a replica, kept with the damaged ones for the master.
        std::shared_ptr<Replica> r;
        if (copies.contains(id)) {
          TLOG(WARNING) << "unfinished copy of chunk " << id << " on " << disk
                        << " (the server stopped during it): kept, not served";
        } else {
          r = LoadReplica(disk, project, id, root);
          if (r != nullptr) r->journal = disks_[disk_index].journal.get();
        }
        if (r == nullptr) {
          // Its bytes are on disk but cannot be trusted: kept (never served), listed as not
          // wiped, and wiped only when the master says so.
          r = std::make_shared<Replica>();
          r->fs = fs_;
          r->chunk_id = id;
          r->project = project;
          r->disk = disk;
          r->data_path = ChunkFileBase(disk, project, id, root) + ".data";
          r->meta_path = ChunkFileBase(disk, project, id, root) + ".meta";
          absl::MutexLock lock(&mu_);
          damaged_[id] = std::move(r);
          continue;
        }
        if (root == kChunksRoot) {
          absl::MutexLock lock(&mu_);  // never while holding a replica's mutex: mu_ comes first
          replicas_[id] = std::move(r);
        } else {
          std::vector<uint32_t> bad = BadBlocks(r);
          absl::MutexLock lock(&mu_);
          quarantined_[id] = {std::move(r), std::move(bad)};
        }
      }
    }
  }
  return absl::OkStatus();
}

std::vector<uint32_t> ChunkStore::BadBlocks(std::shared_ptr<Replica> r) {
  std::vector<uint32_t> bad;
  uint64_t version, length;
  {
    absl::MutexLock rl(&r->mu);
    version = r->version;
    length = r->length;
  }
  absl::StatusOr<int> fd = r->fs->Open(r->data_path, O_RDONLY);
  if (!fd.ok()) {  // nothing of it can be read
    for (uint64_t b = 0; b < NumBlocks(length); ++b) bad.push_back(b);
    return bad;
  }
  ReplicaReader reader(std::move(r), *fd, /*direct=*/false, version);
  std::string block;
  for (uint64_t b = 0; b < NumBlocks(length); ++b) {
    if (!reader.Read(b * kBlockSize, kBlockSize, &block).ok()) bad.push_back(b);
  }
  return bad;
}

absl::StatusOr<std::shared_ptr<ChunkStore::Replica>> ChunkStore::MoveReplica(
    Replica& from, const char* to_root) {
  auto to = std::make_shared<Replica>();
  to->fs = fs_;
  to->journal = from.journal;
  to->chunk_id = from.chunk_id;
  to->project = from.project;
  to->disk = from.disk;
  const std::string base = ChunkFileBase(from.disk, from.project, from.chunk_id, to_root);
  to->data_path = base + ".data";
  to->meta_path = base + ".meta";
  {
    absl::MutexLock fl(&from.mu);
    absl::MutexLock tl(&to->mu);
    to->version = from.version;
    to->length = from.length;
    to->crcs = from.crcs;
  }
  RETURN_IF_ERROR(MakeDirDurably(fs_, absl::StrCat(from.disk, "/", to_root)));
  RETURN_IF_ERROR(MakeDirDurably(fs_, DirOf(to->data_path)));
  // Data first: LoadDisk finishes a move that a crash cut short by moving the meta file to
  // wherever the data file is.
  RETURN_IF_ERROR(fs_->Rename(from.data_path, to->data_path));
  absl::Status s = Failpoint("chunk_store.move.after_data_rename");
  if (s.ok()) s = fs_->Rename(from.meta_path, to->meta_path);
  if (!s.ok()) {
    if (absl::Status back = fs_->Rename(to->data_path, from.data_path); !back.ok()) {
      TLOG(ERROR) << "cannot move " << to->data_path << " back: " << back;
    }
    return s;
  }
  RETURN_IF_ERROR(fs_->SyncDir(DirOf(to->data_path)));
  RETURN_IF_ERROR(fs_->SyncDir(DirOf(from.data_path)));
  return to;
}

absl::Status ChunkStore::Quarantine(uint64_t chunk_id) {
  if (std::shared_ptr<Replica> live = Find(chunk_id); live != nullptr) {
    RETURN_IF_ERROR(AwaitApplied(*live));  // the applier finds only live replicas
  }
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(chunk_id);
    if (it == replicas_.end()) {
      return absl::NotFoundError(absl::StrCat("no replica of chunk ", chunk_id));
    }
    if (refused_.contains(chunk_id)) {
      return absl::FailedPreconditionError(absl::StrCat("chunk ", chunk_id, " is being wiped"));
    }
    r = it->second;
    {
      absl::MutexLock rl(&r->mu);
      if (r->writing) return absl::FailedPreconditionError("replica is being written");
      if (!r->Applied()) {
        return absl::AbortedError("replica has appends not yet applied from the journal");
      }
    }
    replicas_.erase(it);
    refused_.insert(chunk_id);  // no new replica of that id while its files move
  }
  absl::StatusOr<std::shared_ptr<Replica>> moved = MoveReplica(*r, kQuarantineRoot);
  absl::MutexLock lock(&mu_);
  refused_.erase(chunk_id);
  if (!moved.ok()) {
    replicas_[chunk_id] = std::move(r);
    return moved.status();
  }
  quarantined_[chunk_id] = {std::move(*moved), {}};
  return absl::OkStatus();
}

absl::Status ChunkStore::Release(uint64_t chunk_id) {
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    auto it = quarantined_.find(chunk_id);
    if (it == quarantined_.end()) {
      return absl::NotFoundError(absl::StrCat("no quarantined replica of chunk ", chunk_id));
    }
    if (!it->second.bad_blocks.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the quarantined replica of chunk ", chunk_id, " is corrupt"));
    }
    if (replicas_.contains(chunk_id) || refused_.contains(chunk_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("chunk ", chunk_id, " has another replica on this server"));
    }
    r = it->second.replica;
    quarantined_.erase(it);
    refused_.insert(chunk_id);
  }
  absl::StatusOr<std::shared_ptr<Replica>> moved = MoveReplica(*r, kChunksRoot);
  absl::MutexLock lock(&mu_);
  refused_.erase(chunk_id);
  if (!moved.ok()) {
    quarantined_[chunk_id] = {std::move(r), {}};
    return moved.status();
  }
  replicas_[chunk_id] = std::move(*moved);
  return absl::OkStatus();
}

std::vector<ReplicaInfo> ChunkStore::ListDamaged() {
  absl::MutexLock lock(&mu_);
  std::vector<ReplicaInfo> out;
  for (const auto& [id, r] : damaged_) out.push_back({id, 0, 0, r->project, r->disk, false});
  return out;
}

std::vector<QuarantinedReplica> ChunkStore::ListQuarantined() {
  std::vector<Quarantined> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, q] : quarantined_) all.push_back(q);
  }
  std::vector<QuarantinedReplica> out;
  for (const Quarantined& q : all) {
    Replica& r = *q.replica;
    absl::MutexLock rl(&r.mu);
    out.push_back({{r.chunk_id, r.version, r.length, r.project, r.disk, false}, q.bad_blocks});
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ReplicaReader>> ChunkStore::OpenQuarantined(uint64_t chunk_id) {
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    auto it = quarantined_.find(chunk_id);
    if (it == quarantined_.end() || refused_.contains(chunk_id)) {
      return absl::NotFoundError(absl::StrCat("no quarantined replica of chunk ", chunk_id));
    }
    r = it->second.replica;
  }
  uint64_t version;
  {
    absl::MutexLock rl(&r->mu);
    version = r->version;
  }
  ASSIGN_OR_RETURN(int fd, fs_->Open(r->data_path, O_RDONLY));
  return std::unique_ptr<ReplicaReader>(new ReplicaReader(std::move(r), fd, false, version));
}

void ChunkStore::RefuseReads(uint64_t chunk_id) {
  absl::MutexLock lock(&mu_);
  refused_.insert(chunk_id);
}

std::shared_ptr<ChunkStore::Replica> ChunkStore::Find(uint64_t chunk_id) {
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    if (refused_.contains(chunk_id)) return nullptr;
    auto it = replicas_.find(chunk_id);
    if (it == replicas_.end()) return nullptr;
    r = it->second;
  }
  absl::MutexLock rl(&r->mu);
  return r->copying ? nullptr : r;
}

absl::StatusOr<std::unique_ptr<ReplicaWriter>> ChunkStore::StartWrite(uint64_t chunk_id,
                                                                      uint64_t version,
                                                                      const std::string& project,
                                                                      uint64_t max_length) {
  return StartWriting(chunk_id, version, project, max_length, /*copy=*/false);
}

absl::StatusOr<std::unique_ptr<ReplicaWriter>> ChunkStore::StartCopy(uint64_t chunk_id,
                                                                     uint64_t version,
                                                                     const std::string& project,
                                                                     uint64_t max_length) {
  return StartWriting(chunk_id, version, project, max_length, /*copy=*/true);
}

absl::Status ChunkStore::FinishCopy(uint64_t chunk_id) {
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(chunk_id);
    if (it == replicas_.end()) return absl::NotFoundError(absl::StrCat("no copy of ", chunk_id));
    r = it->second;
  }
  const std::string marker = CopyMarkerOf(r->data_path);
  RETURN_IF_ERROR(fs_->Unlink(marker));
  RETURN_IF_ERROR(fs_->SyncDir(DirOf(marker)));
  absl::MutexLock rl(&r->mu);
  r->copying = false;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ReplicaWriter>> ChunkStore::StartWriting(uint64_t chunk_id,
                                                                        uint64_t version,
                                                                        const std::string& project,
                                                                        uint64_t max_length,
                                                                        bool copy) {
  std::shared_ptr<Replica> r;
  bool created = false;
  {
    absl::MutexLock lock(&mu_);
    if (refused_.contains(chunk_id) || quarantined_.contains(chunk_id) ||
        damaged_.contains(chunk_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "chunk ", chunk_id, " is being wiped, quarantined or kept damaged on this server"));
    }
    auto it = replicas_.find(chunk_id);
    if (it != replicas_.end()) {
      r = it->second;
    } else {
      // A new replica goes to the usable disk with the most free space.
      int best = -1;
      uint64_t best_free = 0;
      for (size_t i = 0; i < disks_.size(); ++i) {
        if (disks_[i].failed) continue;
        const uint64_t free_bytes = fs_->AvailableBytes(disks_[i].path).value_or(0);
        // Equal free space (disks sharing a filesystem): spread by chunk id.
        if (best < 0 || free_bytes > best_free ||
            (free_bytes == best_free && (chunk_id % disks_.size()) == i)) {
          best = static_cast<int>(i);
          best_free = free_bytes;
        }
      }
      if (best < 0) return absl::UnavailableError("no usable data directory");
      r = std::make_shared<Replica>();
      r->fs = fs_;
      r->journal = disks_[best].journal.get();
      r->chunk_id = chunk_id;
      r->project = project;
      r->disk = disks_[best].path;
      std::string base = ChunkFileBase(r->disk, project, chunk_id);
      r->data_path = base + ".data";
      r->meta_path = base + ".meta";
      absl::MutexLock rl(&r->mu);
      r->version = version;
      r->writing = true;  // claimed before anyone else can see it
      r->copying = copy;
      replicas_[chunk_id] = r;
      created = true;
    }
  }
  if (copy && !created) {
    return absl::AlreadyExistsError(absl::StrCat("a replica of chunk ", chunk_id, " is here"));
  }
  if (!created) {
    absl::MutexLock rl(&r->mu);
    if (r->project != project) {
      return absl::PermissionDeniedError("chunk belongs to another project");
    }
    if (r->version != version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "chunk ", chunk_id, " is at version ", r->version, ", not ", version));
    }
    if (r->writing) return absl::AbortedError("replica is already being written");
    r->writing = true;
  }
  auto release = [&](absl::Status s) -> absl::Status {
    if (created) {
      absl::MutexLock lock(&mu_);
      replicas_.erase(chunk_id);
    } else {
      absl::MutexLock rl(&r->mu);
      r->writing = false;
    }
    return s;
  };

  if (created) {
    absl::Status s = MakeDirDurably(fs_, r->disk + "/chunks/" + project);
    // The marker is durable before the replica's files are (StartWrite syncs the directory).
    if (s.ok() && copy) s = fs_->WriteFileAtomically(CopyMarkerOf(r->data_path), "");
    if (!s.ok()) return release(s);
  }
  int flags = O_RDWR | O_CLOEXEC | (created ? O_CREAT | O_TRUNC : 0);
  // Data bypasses the page cache (O_DIRECT): on this class of machine copying into fresh page
  // cache pages was the single largest CPU cost of a write. Filesystems without O_DIRECT
  // (tmpfs) fall back to buffered writes.
  bool direct = true;
  absl::StatusOr<int> opened = fs_->Open(r->data_path, flags | O_DIRECT);
  if (absl::IsInvalidArgument(opened.status())) {
    direct = false;
    opened = fs_->Open(r->data_path, flags);
  }
  if (!opened.ok()) return release(opened.status());
  const int data_fd = *opened;
  if (created) {
    opened = fs_->Open(r->meta_path, flags);
    if (!opened.ok()) {
      fs_->Close(data_fd);
      return release(opened.status());
    }
    const int meta_fd = *opened;
    // The empty replica is published durably: header, both files, and their directory. The
    // meta file gets its full size now (room for every block's CRC), so later updates only
    // overwrite it in place and its fdatasync need not commit a size change to the journal.
    std::string meta(kMetaHeaderSize + 4 * NumBlocks(max_length), '\0');
    EncodeMetaHeader(chunk_id, version, 0, meta.data());
    absl::Status s = fs_->WriteAll(meta_fd, meta.data(), meta.size(), 0, r->meta_path);
    if (s.ok()) s = About(fs_->DataSync(meta_fd), r->meta_path);
    if (s.ok()) s = fs_->SyncDir(r->disk + "/chunks/" + project);
    fs_->Close(meta_fd);
    if (!s.ok()) {
      fs_->Close(data_fd);
      (void)fs_->Unlink(r->data_path);  // empty: nothing to wipe
      (void)fs_->Unlink(r->meta_path);
      if (copy) (void)fs_->Unlink(CopyMarkerOf(r->data_path));
      return release(s);
    }
  }
  std::unique_ptr<ReplicaWriter> writer(new ReplicaWriter(r, data_fd, direct, max_length));
  if (direct) {
    uint64_t length;
    {
      absl::MutexLock rl(&r->mu);
      length = r->length;
    }
    if (absl::Status s = writer->LoadTail(length); !s.ok()) {
      writer.reset();  // releases the replica
      return s;
    }
  }
  return writer;
}

absl::StatusOr<std::unique_ptr<ReplicaReader>> ChunkStore::OpenRead(uint64_t chunk_id,
                                                                    uint64_t version) {
  std::shared_ptr<Replica> r = Find(chunk_id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no replica of chunk ", chunk_id));
  {
    absl::MutexLock rl(&r->mu);
    if (r->version != version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "chunk ", chunk_id, " is at version ", r->version, ", not ", version));
    }
  }
  // Reads bypass the page cache too: on this class of machine copying out of freshly filled
  // page-cache pages cost several times a plain memcpy (profiled: 29% of all CPU while
  // reading). The data was written with O_DIRECT, so the page cache rarely holds it anyway.
  bool direct = true;
  absl::StatusOr<int> opened = fs_->Open(r->data_path, O_RDONLY | O_DIRECT);
  if (absl::IsInvalidArgument(opened.status())) {
    direct = false;
    opened = fs_->Open(r->data_path, O_RDONLY);
  }
  RETURN_IF_ERROR(opened.status());
  const int fd = *opened;
  if (!direct) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ReplicaReader>(new ReplicaReader(std::move(r), fd, direct, version));
}

absl::Status ChunkStore::Read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                              uint64_t length, std::string* out) {
  ASSIGN_OR_RETURN(std::unique_ptr<ReplicaReader> reader, OpenRead(chunk_id, version));
  return reader->Read(offset, length, out);
}

// ---------------------------------------------------------------------------------------------
// ReplicaReader

ReplicaReader::~ReplicaReader() {
  std::free(buf_);
  replica_->fs->Close(fd_);
}

void ReplicaReader::WillNeed(uint64_t offset, uint64_t length) {
  if (direct_) return;
  ::posix_fadvise(fd_, offset, std::min<uint64_t>(length, 96ull << 20), POSIX_FADV_WILLNEED);
}

absl::Status ReplicaReader::Read(uint64_t offset, uint64_t length, std::string* out) {
  uint64_t durable;
  std::vector<uint32_t> crcs;
  {
    absl::MutexLock rl(&replica_->mu);
    if (replica_->version != version_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "chunk ", replica_->chunk_id, " is at version ", replica_->version, ", not ", version_));
    }
    durable = replica_->length;
    if (offset > durable) {
      return absl::OutOfRangeError(
          absl::StrCat("read at ", offset, " is past the replica's length ", durable));
    }
    length = std::min(length, durable - offset);
    if (length > 0) {
      uint64_t first = offset / kBlockSize;
      uint64_t last = (offset + length - 1) / kBlockSize;
      crcs.assign(replica_->crcs.begin() + first, replica_->crcs.begin() + last + 1);
    }
  }
  out->clear();
  if (length == 0) return absl::OkStatus();

  // Read whole blocks so each can be checked against its CRC, then keep the requested range.
  const uint64_t start = (offset / kBlockSize) * kBlockSize;
  const uint64_t end = std::min(durable, ((offset + length - 1) / kBlockSize + 1) * kBlockSize);
  const char* blocks;
  if (direct_) {
    const size_t span = (end - start + kPageSize - 1) / kPageSize * kPageSize;
    if (span > buf_capacity_) {
      std::free(buf_);
      void* p = nullptr;
      if (posix_memalign(&p, kPageSize, span) != 0) std::abort();
      buf_ = static_cast<char*>(p);
      buf_capacity_ = span;
    }
    size_t got = 0;
    while (got < end - start) {  // the file may end inside the last page: a short read
      absl::StatusOr<size_t> r = replica_->fs->PRead(fd_, buf_ + got, span - got, start + got);
      if (!r.ok()) return About(r.status(), replica_->data_path);
      if (*r == 0) return absl::DataLossError(absl::StrCat(replica_->data_path, " is short"));
      got += *r;
    }
    blocks = buf_;
  } else {
    out->resize(end - start);  // read straight into *out: no copy when offset == start
    RETURN_IF_ERROR(
        replica_->fs->ReadAll(fd_, out->data(), out->size(), start, replica_->data_path));
    blocks = out->data();
  }
  for (size_t k = 0; k < crcs.size(); ++k) {
    size_t b0 = k * kBlockSize;
    size_t bn = std::min<size_t>(kBlockSize, end - start - b0);
    if (Crc32c(blocks + b0, bn) != crcs[k]) {
      return absl::DataLossError(absl::StrCat("checksum mismatch in chunk ", replica_->chunk_id,
                                              " block ", start / kBlockSize + k));
    }
  }
  if (direct_) {
    out->assign(blocks + (offset - start), length);
  } else {
    out->resize(offset + length - start);
    if (offset > start) out->erase(0, offset - start);
  }
  return absl::OkStatus();
}

absl::Status ChunkStore::UpdateReplica(uint64_t chunk_id, uint64_t version, uint64_t new_version,
                                       uint64_t length) {
  std::shared_ptr<Replica> r = Find(chunk_id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no replica of chunk ", chunk_id));
  RETURN_IF_ERROR(AwaitApplied(*r));  // the meta file rewritten below holds every append
  absl::MutexLock rl(&r->mu);
  if (r->writing) return absl::AbortedError("replica is being written");
  if (r->wiping) return absl::NotFoundError(absl::StrCat("chunk ", chunk_id, " is being wiped"));
  if (!r->Applied()) {
    return absl::AbortedError("replica has appends not yet applied from the journal");
  }
  if (r->version != version || new_version <= version) {
    return absl::FailedPreconditionError(absl::StrCat("chunk ", chunk_id, " is at version ",
                                                      r->version, "; cannot move ", version,
                                                      " -> ", new_version));
  }
  if (length > r->length) {
    return absl::OutOfRangeError(absl::StrCat("replica holds ", r->length, " bytes, not ", length));
  }
  ASSIGN_OR_RETURN(const int data_fd, fs_->Open(r->data_path, O_RDWR));
  absl::StatusOr<int> opened = fs_->Open(r->meta_path, O_RDWR);
  if (!opened.ok()) {
    fs_->Close(data_fd);
    return opened.status();
  }
  const int meta_fd = *opened;
  // The last block's checksum covers only the bytes that stay.
  std::vector<uint32_t> crcs = r->crcs;
  crcs.resize(NumBlocks(length));
  absl::Status s;
  if (length % kBlockSize != 0) {
    std::string tail(length % kBlockSize, '\0');
    s = fs_->ReadAll(data_fd, tail.data(), tail.size(), length - tail.size(), r->data_path);
    if (s.ok()) crcs.back() = Crc32c(tail);
  }
  // The meta file (checksum, version, length) first, then the data file is cut: a crash in
  // between leaves bytes past the recorded length, which are never served.
  if (s.ok() && !crcs.empty()) {
    char crc[4];
    PutU32(crc, crcs.back());
    s = fs_->WriteAll(meta_fd, crc, 4, kMetaHeaderSize + 4 * (crcs.size() - 1), r->meta_path);
  }
  char header[kMetaHeaderSize];
  EncodeMetaHeader(chunk_id, new_version, length, header);
  if (s.ok()) s = fs_->WriteAll(meta_fd, header, kMetaHeaderSize, 0, r->meta_path);
  if (s.ok()) s = About(fs_->DataSync(meta_fd), r->meta_path);
  if (s.ok()) s = Failpoint("chunk_store.update.after_meta_sync");  // data not yet cut
  // The cut-off bytes are data too: overwritten and synced before their space is released.
  absl::StatusOr<uint64_t> size = fs_->FileSize(data_fd);
  if (s.ok()) s = About(size.status(), r->data_path);
  if (s.ok() && *size > length) {
    const std::string zeros(std::min<uint64_t>(*size - length, 1 << 20), '\0');
    for (uint64_t off = length; s.ok() && off < *size; off += zeros.size()) {
      s = fs_->WriteAll(data_fd, zeros.data(), std::min<uint64_t>(zeros.size(), *size - off),
                    off, r->data_path);
    }
  }
  if (s.ok()) s = fs_->DataSync(data_fd);
  if (s.ok()) s = fs_->Truncate(data_fd, length);
  if (s.ok()) s = fs_->DataSync(data_fd);
  if (s.ok()) s = About(s, r->data_path);
  fs_->Close(data_fd);
  fs_->Close(meta_fd);
  if (!s.ok()) return s;
  r->version = new_version;
  r->length = length;
  r->crcs = std::move(crcs);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ChunkStore::Delete(uint64_t chunk_id, uint64_t max_version) {
  std::shared_ptr<Replica> r;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = replicas_.find(chunk_id); it != replicas_.end()) {
      r = it->second;
    } else if (auto q = quarantined_.find(chunk_id); q != quarantined_.end()) {
      r = q->second.replica;
    } else if (auto d = damaged_.find(chunk_id); d != damaged_.end()) {
      r = d->second;
    } else {
      return absl::NotFoundError(absl::StrCat("no replica of chunk ", chunk_id));
    }
    absl::MutexLock rl(&r->mu);
    if (r->writing) return absl::FailedPreconditionError("replica is being written");
    if (r->version > max_version) {
      refused_.erase(chunk_id);
      return absl::AbortedError(absl::StrCat("the replica is at version ", r->version,
                                             ", newer than the ", max_version, " judged"));
    }
    r->wiping = true;  // UpdateReplica moves it no more
    refused_.insert(chunk_id);
  }
  // Until the wipe has succeeded the replica stays known (and refused): a failed wipe is
  // retried, never taken for done. Its journaled appends are applied first: their journal
  // space is wiped when they are released, and the applier must not write files being wiped.
  RETURN_IF_ERROR(AwaitApplied(*r));
  ASSIGN_OR_RETURN(uint64_t bytes, Wipe(*r));
  absl::MutexLock lock(&mu_);
  if (auto it = replicas_.find(chunk_id); it != replicas_.end() && it->second == r) {
    replicas_.erase(it);
  }
  if (auto q = quarantined_.find(chunk_id); q != quarantined_.end() && q->second.replica == r) {
    quarantined_.erase(q);
  }
  if (auto d = damaged_.find(chunk_id); d != damaged_.end() && d->second == r) damaged_.erase(d);
  refused_.erase(chunk_id);
  return bytes;
}

absl::StatusOr<uint64_t> ChunkStore::Wipe(const Replica& r) {
  // The journal entry names the files; it is durable before the first byte is overwritten.
  const std::string journal = absl::StrFormat("%s/wipe/%016x", r.disk, r.chunk_id);
  const std::string marker = CopyMarkerOf(r.data_path);  // an unfinished copy's, if any
  RETURN_IF_ERROR(fs_->WriteFileAtomically(
      journal, absl::StrCat(r.data_path, "\n", r.meta_path, "\n", marker, "\n")));
  RETURN_IF_ERROR(Failpoint("wipe.after_journal"));
  ASSIGN_OR_RETURN(uint64_t bytes, WipeFiles({r.data_path, r.meta_path, marker}));
  RETURN_IF_ERROR(fs_->Unlink(journal));
  RETURN_IF_ERROR(fs_->SyncDir(r.disk + "/wipe"));
  return bytes;
}

absl::StatusOr<uint64_t> ChunkStore::WipeFiles(const std::vector<std::string>& paths) {
  static const std::string* zeros = new std::string(1 << 20, '\0');
  uint64_t total = 0;
  for (const std::string& path : paths) {
    absl::StatusOr<int> opened = fs_->Open(path, O_WRONLY);
    if (absl::IsNotFound(opened.status())) continue;  // already wiped and unlinked (resumed)
    ASSIGN_OR_RETURN(const int fd, opened);
    // Every allocated byte, including the preallocated tail of the meta file.
    absl::StatusOr<uint64_t> file_size = fs_->FileSize(fd);
    if (!file_size.ok()) {
      fs_->Close(fd);
      return About(file_size.status(), path);
    }
    const uint64_t size = *file_size;
    absl::Status s;
    for (uint64_t off = 0; off < size && s.ok(); off += zeros->size()) {
      const absl::Time start = absl::Now();
      const size_t n = std::min<uint64_t>(zeros->size(), size - off);
      s = Failpoint("wipe.overwrite");
      if (s.ok()) s = fs_->WriteAll(fd, zeros->data(), n, off, path);
      total += n;
      const double rate = wipe_bytes_per_second_.load();
      if (rate > 0) {
        const absl::Duration budget = absl::Seconds(n / rate) - (absl::Now() - start);
        if (budget > absl::ZeroDuration()) absl::SleepFor(budget);
      }
    }
    if (s.ok()) s = About(fs_->DataSync(fd), path);
    fs_->Close(fd);
    if (s.ok()) s = Failpoint("wipe.after_overwrite");  // zeros durable, file not yet unlinked
    if (s.ok()) s = fs_->Unlink(path);
    if (!s.ok()) return s;
  }
  // The unlinks are durable before the journal entry that would redo them goes.
  absl::flat_hash_set<std::string> dirs;
  for (const std::string& path : paths) dirs.insert(DirOf(path));
  for (const std::string& dir : dirs) {
    if (absl::Status s = fs_->SyncDir(dir); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  return total;
}

void ChunkStore::ResumeWipes(const std::string& disk) {
  const std::string dir = disk + "/wipe";
  for (const std::string& name : fs_->ListDir(dir)) {
    const std::string journal = absl::StrCat(dir, "/", name);
    if (!ChunkIdOf(name, "")) {  // a journal entry that was never published
      (void)fs_->Unlink(journal);
      continue;
    }
    absl::StatusOr<std::string> text = fs_->ReadFile(journal);
    if (!text.ok()) continue;
    std::vector<std::string> paths = absl::StrSplit(*text, '\n', absl::SkipEmpty());
    absl::StatusOr<uint64_t> wiped = WipeFiles(paths);
    if (!wiped.ok()) {
      TLOG(ERROR) << "cannot finish the wipe journaled in " << journal << ": " << wiped.status();
      continue;
    }
    (void)fs_->Unlink(journal);
    TLOG(INFO) << "finished an interrupted wipe (" << *wiped << " bytes) from " << journal;
  }
  (void)fs_->SyncDir(dir);
}

absl::Status ChunkStore::AwaitApplied(Replica& r) {
  {
    absl::MutexLock rl(&r.mu);
    if (r.Applied()) return absl::OkStatus();
  }
  return r.journal->Drain();
}

absl::Status ChunkStore::PersistReplica(const Replica& r, uint64_t version, uint64_t length,
                                        const std::vector<uint32_t>& crcs) {
  ASSIGN_OR_RETURN(const int data_fd, fs_->Open(r.data_path, O_RDONLY | O_CLOEXEC));
  absl::Status s = About(fs_->DataSync(data_fd), r.data_path);
  fs_->Close(data_fd);
  RETURN_IF_ERROR(s);
  ASSIGN_OR_RETURN(const int meta_fd, fs_->Open(r.meta_path, O_WRONLY | O_CLOEXEC));
  // The CRCs, then the header that makes them count: torn by a crash, the file still describes
  // the old length (and the journal, not yet released, still holds the appends).
  std::string crc_bytes(4 * crcs.size(), '\0');
  for (size_t k = 0; k < crcs.size(); ++k) PutU32(crc_bytes.data() + 4 * k, crcs[k]);
  s = fs_->WriteAll(meta_fd, crc_bytes.data(), crc_bytes.size(), kMetaHeaderSize, r.meta_path);
  char header[kMetaHeaderSize];
  EncodeMetaHeader(r.chunk_id, version, length, header);
  if (s.ok()) s = fs_->WriteAll(meta_fd, header, kMetaHeaderSize, 0, r.meta_path);
  if (s.ok()) s = About(fs_->DataSync(meta_fd), r.meta_path);
  fs_->Close(meta_fd);
  return s;
}

absl::Status ChunkStore::ApplyJournaled(const std::vector<uint64_t>& chunk_ids) {
  for (uint64_t id : chunk_ids) {
    std::shared_ptr<Replica> r;
    {
      absl::MutexLock lock(&mu_);  // refused (being deleted) replicas too: Delete waits for this
      if (auto it = replicas_.find(id); it != replicas_.end()) r = it->second;
    }
    if (r == nullptr) continue;  // its disk failed
    uint64_t version, length;
    std::vector<uint32_t> crcs;
    {
      // Every byte up to the staged length was written to the data file before this point, so
      // the data sync below covers it.
      absl::MutexLock rl(&r->mu);
      version = r->version;
      length = r->length;
      crcs = r->crcs;
      if (r->staged_length > r->length) {
        length = r->staged_length;
        crcs.resize(r->staged_first_block);
        crcs.insert(crcs.end(), r->staged_crcs.begin(), r->staged_crcs.end());
      }
    }
    RETURN_IF_ERROR(PersistReplica(*r, version, length, crcs));
  }
  return absl::OkStatus();
}

absl::Status ChunkStore::ApplyRecovered(const std::string& disk,
                                        const std::vector<JournalRecord>& records) {
  absl::Status status;
  struct Fix {
    std::shared_ptr<Replica> r;
    int fd = -1;
    uint64_t dirty_block = UINT64_MAX;  // CRCs from here on are recomputed
    bool stopped = false;
  };
  absl::flat_hash_map<uint64_t, Fix> fixes;
  size_t skipped = 0;
  for (const JournalRecord& rec : records) {
    auto it = fixes.find(rec.chunk_id);
    if (it == fixes.end()) {
      std::shared_ptr<Replica> r;
      {
        absl::MutexLock lock(&mu_);
        if (auto f = replicas_.find(rec.chunk_id); f != replicas_.end()) r = f->second;
      }
      if (r == nullptr || r->disk != disk) {  // wiped since, or never published
        ++skipped;
        continue;
      }
      absl::StatusOr<int> fd = fs_->Open(r->data_path, O_RDWR | O_CLOEXEC);
      if (!fd.ok()) {
        status = About(fd.status(), r->data_path);
        break;
      }
      it = fixes.emplace(rec.chunk_id, Fix{std::move(r), *fd}).first;
    }
    Fix& f = it->second;
    if (f.stopped) continue;
    Replica& r = *f.r;
    absl::MutexLock rl(&r.mu);
    // An older version: applied before the replica moved on (a move waits for that).
    if (rec.version != r.version) {
      ++skipped;
      continue;
    }
    if (rec.offset > r.length) {
      TLOG(ERROR) << "journal replay: chunk " << rec.chunk_id << " holds " << r.length
                  << " bytes but a record starts at " << rec.offset << "; the rest is not applied";
      f.stopped = true;
      continue;
    }
    absl::Status s;
    if (rec.data.empty()) {  // the bytes were synced to the data file before the record
      std::string bytes(rec.length, '\0');
      s = fs_->ReadAll(f.fd, bytes.data(), bytes.size(), rec.offset, r.data_path);
      if (s.ok() && Crc32c(bytes) != rec.crc) {
        s = absl::DataLossError(absl::StrCat("journal replay: chunk ", rec.chunk_id,
                                             " does not hold the bytes journaled at ", rec.offset));
      }
    } else {
      s = fs_->WriteAll(f.fd, rec.data.data(), rec.data.size(), rec.offset, r.data_path);
    }
    if (absl::IsDataLoss(s)) {
      TLOG(ERROR) << s << "; the rest is not applied";
      f.stopped = true;
      continue;
    }
    if (!s.ok()) {
      status = s;
      break;
    }
    // A record at a lower offset than the length (replayed again, or a later writer after a
    // failed one) rewrites from there.
    r.length = rec.offset + rec.length;
    f.dirty_block = std::min<uint64_t>(f.dirty_block, rec.offset / kBlockSize);
  }
  for (auto& [id, f] : fixes) {
    Replica& r = *f.r;
    uint64_t version, length;
    std::vector<uint32_t> crcs;
    {
      absl::MutexLock rl(&r.mu);
      version = r.version;
      length = r.length;
      crcs = r.crcs;
    }
    crcs.resize(std::min<uint64_t>(f.dirty_block, NumBlocks(length)));
    std::string block;
    for (uint64_t b = crcs.size(); status.ok() && b < NumBlocks(length); ++b) {
      block.resize(std::min<uint64_t>(kBlockSize, length - b * kBlockSize));
      status = fs_->ReadAll(f.fd, block.data(), block.size(), b * kBlockSize, r.data_path);
      crcs.push_back(Crc32c(block));
    }
    fs_->Close(f.fd);
    if (status.ok()) status = PersistReplica(r, version, length, crcs);
    absl::MutexLock rl(&r.mu);
    r.crcs = std::move(crcs);
    r.staged_length = r.length;
  }
  if (!records.empty()) {
    TLOG(INFO) << "journal replay on " << disk << ": " << records.size() << " record(s), "
               << fixes.size() << " replica(s), " << skipped << " record(s) of older versions or "
               << "gone replicas skipped";
  }
  return status;
}

JournalStats ChunkStore::Journals() {
  JournalStats sum;
  for (const Disk& d : disks_) {
    if (d.journal == nullptr) continue;
    JournalStats s = d.journal->Stats();
    sum.capacity += s.capacity;
    sum.used += s.used;
    sum.records += s.records;
    sum.syncs += s.syncs;
    sum.throttled += s.throttled;
    sum.applies += s.applies;
  }
  return sum;
}

absl::StatusOr<ReplicaInfo> ChunkStore::GetReplica(uint64_t chunk_id) {
  std::shared_ptr<Replica> r = Find(chunk_id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no replica of chunk ", chunk_id));
  absl::MutexLock rl(&r->mu);
  return ReplicaInfo{r->chunk_id, r->version, r->length, r->project, r->disk, r->writing};
}

std::vector<ReplicaInfo> ChunkStore::ListReplicas() {
  std::vector<std::shared_ptr<Replica>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, r] : replicas_) all.push_back(r);
  }
  std::vector<ReplicaInfo> out;
  for (const auto& r : all) {
    absl::MutexLock rl(&r->mu);
    if (r->copying) continue;
    out.push_back({r->chunk_id, r->version, r->length, r->project, r->disk, r->writing});
  }
  return out;
}

void ChunkStore::CheckDisks() {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t>& lost = lost_.failed_disk;
  for (Disk& d : disks_) {
    if (d.failed || fs_->Exists(d.path + "/chunks")) continue;
    d.failed = true;
    const size_t before = lost.size();
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (it->second->disk == d.path) {
        lost.push_back(it->first);
        replicas_.erase(it++);
      } else {
        ++it;
      }
    }
    for (auto it = quarantined_.begin(); it != quarantined_.end();) {
      if (it->second.replica->disk == d.path) {
        quarantined_.erase(it++);
      } else {
        ++it;
      }
    }
    absl::erase_if(damaged_, [&](const auto& kv) { return kv.second->disk == d.path; });
    TLOG(ERROR) << "data directory " << d.path << " failed; its " << lost.size() - before
                << " replicas are gone from this server";
  }
}

void ChunkStore::QuarantineCorrupt(uint64_t chunk_id) {
  std::shared_ptr<Replica> r = Find(chunk_id);
  if (r == nullptr) return;
  {
    absl::MutexLock rl(&r->mu);
    if (r->writing) return;
  }
  std::vector<uint32_t> bad = BadBlocks(r);
  if (bad.empty()) {
    TLOG(WARNING) << "replica of chunk " << chunk_id << " on " << r->disk
                  << " failed a read but every block passes its checksum now; kept";
    return;
  }
  // Kept, not wiped: while no intact replica exists elsewhere its good blocks may be the
  // only copy. The master wipes it once the chunk is whole again.
  if (absl::Status s = Quarantine(chunk_id); !s.ok()) {
    TLOG(ERROR) << "cannot quarantine the corrupt replica of chunk " << chunk_id << ": " << s;
    return;
  }
  absl::MutexLock lock(&mu_);
  if (auto q = quarantined_.find(chunk_id); q != quarantined_.end()) q->second.bad_blocks = bad;
  lost_.corrupt.push_back(chunk_id);
  TLOG(ERROR) << "replica of chunk " << chunk_id << " on " << r->disk << " failed the checksums of "
              << bad.size() << " block(s); quarantined";
}

LostReplicas ChunkStore::TakeLost() {
  absl::MutexLock lock(&mu_);
  return std::exchange(lost_, LostReplicas());
}

std::vector<DiskInfo> ChunkStore::Disks() {
  std::vector<Disk> disks;
  {
    absl::MutexLock lock(&mu_);
    disks = disks_;
  }
  std::vector<DiskInfo> out;
  for (const Disk& d : disks) {
    DiskInfo info{d.path, 0, 0, d.failed};
    struct statvfs vfs;
    if (!d.failed && ::statvfs(d.path.c_str(), &vfs) == 0) {
      info.capacity_bytes = vfs.f_blocks * vfs.f_frsize;
      info.used_bytes = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    } else {
      info.failed = true;
    }
    out.push_back(info);
  }
  return out;
}

}  // namespace ternion::chunkserver
