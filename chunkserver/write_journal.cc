#include "chunkserver/write_journal.h"

#include <fcntl.h>

#include <cstring>
#include <utility>

#include "absl/base/internal/endian.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace ternion::chunkserver {
namespace {

constexpr char kHeaderMagic[8] = {'T', 'R', 'N', 'J', 'R', 'N', 'L', '1'};
constexpr uint32_t kRecordMagic = 0x3152'4a54;  // "TJR1"
constexpr uint64_t kSlotSize = 4096;
constexpr uint64_t kRingStart = 2 * kSlotSize;
constexpr size_t kHeaderBytes = 52;
// With nothing to make room for, records are applied this long after their commit at most.
constexpr absl::Duration kIdleApply = absl::Seconds(1);

void Put32(std::string* out, uint32_t v) {
  char b[4];
  absl::little_endian::Store32(b, v);
  out->append(b, 4);
}
void Put64(std::string* out, uint64_t v) {
  char b[8];
  absl::little_endian::Store64(b, v);
  out->append(b, 8);
}
using absl::little_endian::Load32;
using absl::little_endian::Load64;
uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

void EncodeJournalRecord(const JournalRecord& r, uint64_t seq, std::string* out) {
  const size_t start = out->size();
  Put32(out, kRecordMagic);
  Put32(out, static_cast<uint32_t>(r.data.size()));
  Put64(out, seq);
  Put64(out, r.chunk_id);
  Put64(out, r.version);
  Put64(out, r.offset);
  Put32(out, r.length);
  Put32(out, r.crc);
  Put32(out, 0);  // flags, none yet
  const uint32_t crc = Crc32cExtend(Crc32c(out->data() + start, 52), r.data.data(), r.data.size());
  Put32(out, crc);
  out->append(r.data);
}

std::optional<DecodedJournalRecord> DecodeJournalRecord(absl::string_view bytes) {
  if (bytes.size() < kJournalRecordHeaderSize) return std::nullopt;
  const char* p = bytes.data();
  const uint32_t data_size = Load32(p + 4);
  if (Load32(p) != kRecordMagic || data_size > kJournalInlineBytes ||
      bytes.size() < kJournalRecordHeaderSize + data_size || Load32(p + 48) != 0) {
    return std::nullopt;
  }
  if (Crc32cExtend(Crc32c(p, 52), p + kJournalRecordHeaderSize, data_size) != Load32(p + 52)) {
    return std::nullopt;
  }
  DecodedJournalRecord d;
  d.seq = Load64(p + 8);
  d.size = kJournalRecordHeaderSize + data_size;
  d.record.chunk_id = Load64(p + 16);
  d.record.version = Load64(p + 24);
  d.record.offset = Load64(p + 32);
  d.record.length = Load32(p + 40);
  d.record.crc = Load32(p + 44);
  // Inline bytes are the covered bytes themselves.
  if (data_size != 0 && (data_size != d.record.length ||
                         Crc32c(p + kJournalRecordHeaderSize, data_size) != d.record.crc)) {
    return std::nullopt;
  }
  d.record.data.assign(p + kJournalRecordHeaderSize, data_size);
  return d;
}

WriteJournal::WriteJournal(FileSystem* fs, std::string path, int fd, uint64_t capacity)
    : fs_(fs), path_(std::move(path)), fd_(fd), capacity_(capacity) {}

absl::StatusOr<std::unique_ptr<WriteJournal>> WriteJournal::Open(
    FileSystem* fs, const std::string& path, uint64_t capacity,
    std::vector<JournalRecord>* recovered) {
  recovered->clear();
  if (capacity < kMinJournalBytes || capacity > kMaxJournalBytes) {
    return absl::InvalidArgumentError(absl::StrCat("journal size ", capacity, " is outside ",
                                                   kMinJournalBytes, "-", kMaxJournalBytes));
  }
  ASSIGN_OR_RETURN(const int fd, fs->Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  std::unique_ptr<WriteJournal> j(new WriteJournal(fs, path, fd, capacity));
  absl::StatusOr<uint64_t> size = fs->FileSize(fd);
  if (!size.ok()) return size.status();
  absl::MutexLock lock(&j->mu_);
  if (*size == 0) {  // new: Start writes the header and zero-fills the ring
    j->header_.capacity = 0;
    return j;
  }
  // The valid slot with the highest generation.
  std::optional<Header> best;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    char b[kHeaderBytes];
    absl::StatusOr<size_t> n = fs->PRead(fd, b, sizeof(b), slot * kSlotSize);
    if (!n.ok()) return n.status();
    if (*n < sizeof(b) || std::memcmp(b, kHeaderMagic, 8) != 0 ||
        Crc32c(b, kHeaderBytes - 4) != Load32(b + kHeaderBytes - 4)) {
      continue;
    }
    Header h{Load64(b + 8), Load64(b + 16), Load64(b + 24), Load64(b + 32), Load64(b + 40)};
    if (h.capacity < kMinJournalBytes || h.capacity > kMaxJournalBytes) continue;
    if (!best || h.generation > best->generation) best = h;
  }
  if (!best) {
    // Start writes the first header (generation 1, slot 1) only after zero-filling the ring,
    // and slot 0 first at generation 2, once records were applied: with slot 0 still all
    // zeros, no record was ever committed (a crash cut the journal's creation short).
    std::string slot0(kSlotSize, '\0');
    absl::StatusOr<size_t> n = fs->PRead(fd, slot0.data(), slot0.size(), 0);
    if (!n.ok()) return n.status();
    if (slot0.find_first_not_of('\0') == std::string::npos) {
      j->header_.capacity = 0;  // as new
      return j;
    }
    return absl::DataLossError(absl::StrCat("the write journal ", path,
                                            " has no valid header: its records cannot be known"));
  }
  j->header_ = *best;
  RETURN_IF_ERROR(j->Replay(*best, recovered));
  return j;
}

WriteJournal::~WriteJournal() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (applier_thread_.joinable()) applier_thread_.join();
  fs_->Close(fd_);
}

absl::Status WriteJournal::Replay(const Header& h, std::vector<JournalRecord>* out) {
  const uint64_t cap = h.capacity;
  // The record at a log position; nullopt where none is (an I/O error fails the replay: the
  // records after it cannot be known, and the ring is wiped once replayed).
  auto read_at = [&](uint64_t lsn) -> absl::StatusOr<std::optional<DecodedJournalRecord>> {
    const uint64_t room = cap - lsn % cap;
    if (room < kJournalRecordHeaderSize) return std::nullopt;
    std::string bytes(std::min<uint64_t>(room, kJournalRecordHeaderSize + kJournalInlineBytes),
                      '\0');
    ASSIGN_OR_RETURN(const size_t n,
                     fs_->PRead(fd_, bytes.data(), bytes.size(), kRingStart + lsn % cap));
    bytes.resize(n);
    return DecodeJournalRecord(bytes);
  };
  uint64_t lsn = h.released_lsn;
  uint64_t seq = h.next_seq;
  while (lsn - h.released_lsn < cap) {
    ASSIGN_OR_RETURN(std::optional<DecodedJournalRecord> d, read_at(lsn));
    if (!d || d->seq != seq) {
      // A record that did not fit before the ring's end went to its start.
      const uint64_t lap = RoundUp(lsn + 1, cap);
      if (lsn % cap == 0 || lap - h.released_lsn >= cap) break;
      ASSIGN_OR_RETURN(d, read_at(lap));
      if (!d || d->seq != seq) break;
      lsn = lap;
    }
    if (lsn + d->size - h.released_lsn > cap) break;
    out->push_back(std::move(d->record));
    lsn += d->size;
    ++seq;
  }
  tail_lsn_ = lsn;
  next_seq_ = seq;
  durable_seq_ = seq - 1;
  released_seq_ = seq - 1;
  if (!out->empty()) {
    TLOG(INFO) << "write journal " << path_ << ": " << out->size()
               << " record(s) to apply after a crash";
  }
  return absl::OkStatus();
}

absl::Status WriteJournal::WriteHeader(const Header& h) {
  std::string b(kHeaderMagic, 8);
  Put64(&b, h.generation);
  Put64(&b, h.capacity);
  Put64(&b, h.released_lsn);
  Put64(&b, h.next_seq);
  Put64(&b, h.wiped_lsn);
  Put32(&b, Crc32c(b.data(), b.size()));
  // Alternate slots: a write torn by a crash leaves the other, older header whole.
  RETURN_IF_ERROR(fs_->WriteAll(fd_, b.data(), b.size(), (h.generation % 2) * kSlotSize, path_));
  return fs_->DataSync(fd_);
}

absl::Status WriteJournal::Zero(uint64_t from_lsn, uint64_t to_lsn) {
  static const std::string* zeros = new std::string(1 << 20, '\0');
  for (uint64_t lsn = from_lsn; lsn < to_lsn;) {
    const uint64_t n =
        std::min<uint64_t>({to_lsn - lsn, capacity_ - lsn % capacity_, zeros->size()});
    RETURN_IF_ERROR(Failpoint("journal.wipe"));
    RETURN_IF_ERROR(fs_->WriteAll(fd_, zeros->data(), n, kRingStart + lsn % capacity_, path_));
    lsn += n;
  }
  return fs_->DataSync(fd_);
}

absl::Status WriteJournal::Start(Applier applier) {
  Header h;
  uint64_t from, to;
  {
    absl::MutexLock lock(&mu_);
    applier_ = std::move(applier);
    h = header_;
    // Everything replayed is applied now: the log starts over at its tail, on a zero ring.
    const bool clean =
        h.capacity == capacity_ && tail_lsn_ == h.released_lsn && h.wiped_lsn == h.released_lsn;
    from = clean ? 0 : tail_lsn_;
    to = clean ? 0 : tail_lsn_ + capacity_;
    h.generation += 1;
    h.capacity = capacity_;
    h.released_lsn = tail_lsn_;
    h.wiped_lsn = tail_lsn_;
    h.next_seq = next_seq_;
    released_lsn_ = tail_lsn_;
  }
  if (from != to) {
    RETURN_IF_ERROR(fs_->Truncate(fd_, kRingStart + capacity_));
    RETURN_IF_ERROR(Zero(from, to));  // every byte of the ring: also allocates a new file
  }
  RETURN_IF_ERROR(WriteHeader(h));
  if (h.generation == 1) RETURN_IF_ERROR(fs_->SyncDir(path_.substr(0, path_.rfind('/'))));
  absl::MutexLock lock(&mu_);
  header_ = h;
  applier_thread_ = std::thread([this] { ApplyLoop(); });
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WriteJournal::Commit(const std::vector<JournalRecord>& records) {
  for (const JournalRecord& r : records) {
    if (EncodedJournalRecordSize(r) > capacity_ / 2 || r.data.size() > kJournalInlineBytes) {
      return absl::InvalidArgumentError("journal record too large");
    }
  }
  // Where each record goes: one never straddles the ring's end.
  auto place = [&](uint64_t lsn, const JournalRecord& r) {
    const size_t size = EncodedJournalRecordSize(r);
    return lsn % capacity_ + size > capacity_ ? RoundUp(lsn, capacity_) : lsn;
  };
  mu_.Lock();
  bool throttled = false;
  while (true) {
    if (!error_.ok() || stop_) {
      absl::Status s = error_.ok() ? absl::UnavailableError("journal closed") : error_;
      mu_.Unlock();
      return s;
    }
    uint64_t end = tail_lsn_;
    for (const JournalRecord& r : records) end = place(end, r) + EncodedJournalRecordSize(r);
    if (end - released_lsn_ <= capacity_) break;
    if (!apply_error_.ok()) {  // full, and the applier is failing: refuse rather than hang
      absl::Status s = absl::UnavailableError(
          absl::StrCat("write journal full; applying it failed: ", apply_error_.message()));
      mu_.Unlock();
      return s;
    }
    if (!throttled) ++stats_.throttled;
    throttled = true;
    wake_ = true;
    cv_.SignalAll();
    cv_.Wait(&mu_);
  }
  for (const JournalRecord& r : records) {
    const uint64_t lsn = place(tail_lsn_, r);
    if (pending_.empty() || pending_.back().lsn + pending_.back().bytes.size() != lsn) {
      pending_.push_back({lsn, {}});
    }
    const uint64_t seq = next_seq_++;
    EncodeJournalRecord(r, seq, &pending_.back().bytes);
    tail_lsn_ = lsn + EncodedJournalRecordSize(r);
    entries_.push_back({seq, tail_lsn_, r.chunk_id});
  }
  stats_.records += records.size();
  const uint64_t last = next_seq_ - 1;
  // Group commit: whoever finds no sync running writes and syncs everything pending, for every
  // writer that queued records meanwhile.
  while (durable_seq_ < last && error_.ok()) {
    if (syncing_) {
      cv_.Wait(&mu_);
      continue;
    }
    syncing_ = true;
    std::vector<Piece> batch = std::move(pending_);
    pending_.clear();
    const uint64_t batch_last = next_seq_ - 1;
    mu_.Unlock();
    absl::Status s = WritePieces(batch);
    if (s.ok()) s = Failpoint("journal.commit.before_sync");
    if (s.ok()) s = fs_->DataSync(fd_);
    if (s.ok()) s = Failpoint("journal.commit.after_sync");
    mu_.Lock();
    syncing_ = false;
    ++stats_.syncs;
    if (s.ok()) {
      durable_seq_ = batch_last;
    } else {
      error_ = absl::Status(s.code(), absl::StrCat("write journal ", path_, ": ", s.message()));
      TLOG(ERROR) << error_;
    }
    cv_.SignalAll();
  }
  absl::Status s = error_;
  mu_.Unlock();
  if (!s.ok()) return s;
  return last;
}

absl::Status WriteJournal::WritePieces(const std::vector<Piece>& pieces) {
  for (const Piece& p : pieces) {
    for (size_t done = 0; done < p.bytes.size();) {
      const uint64_t lsn = p.lsn + done;
      const size_t n = std::min<uint64_t>(p.bytes.size() - done, capacity_ - lsn % capacity_);
      RETURN_IF_ERROR(
          fs_->WriteAll(fd_, p.bytes.data() + done, n, kRingStart + lsn % capacity_, path_));
      done += n;
    }
  }
  return absl::OkStatus();
}

bool WriteJournal::Due() {
  // Only durable records can be applied; a quarter full, the journal makes room early.
  return durable_seq_ > released_seq_ &&
         (wake_ || drain_seq_ > released_seq_ || (tail_lsn_ - released_lsn_) * 4 >= capacity_);
}

void WriteJournal::ApplyLoop() {
  mu_.Lock();
  while (true) {
    bool idle = false;
    while (!stop_ && !Due() && !(idle && durable_seq_ > released_seq_)) {
      idle = cv_.WaitWithTimeout(&mu_, kIdleApply);
    }
    if (stop_) break;
    wake_ = false;
    const uint64_t cut = durable_seq_;
    if (cut <= released_seq_) continue;
    absl::flat_hash_set<uint64_t> seen;
    std::vector<uint64_t> ids;
    uint64_t end = released_lsn_;
    for (const Entry& e : entries_) {
      if (e.seq > cut) break;
      if (seen.insert(e.chunk_id).second) ids.push_back(e.chunk_id);
      end = e.end_lsn;
    }
    const uint64_t from = released_lsn_;
    Header h = header_;
    h.generation += 1;
    h.released_lsn = end;
    h.next_seq = cut + 1;
    h.wiped_lsn = from;  // zeroed below, after the header that drops these records is durable
    mu_.Unlock();
    absl::Status s = applier_(ids);
    if (s.ok()) s = Failpoint("journal.apply.after_apply");
    if (s.ok()) s = WriteHeader(h);
    if (s.ok()) s = Failpoint("journal.apply.after_header");
    if (s.ok()) s = Zero(from, end);
    mu_.Lock();
    if (s.ok()) {
      header_ = h;
      while (!entries_.empty() && entries_.front().seq <= cut) entries_.pop_front();
      released_seq_ = cut;
      released_lsn_ = end;
      apply_error_ = absl::OkStatus();
      ++stats_.applies;
      cv_.SignalAll();
    } else {
      if (apply_error_.ok()) TLOG(ERROR) << "write journal " << path_ << ": apply failed: " << s;
      apply_error_ = s;
      cv_.SignalAll();
      // Retried after a pause: the records stay in the journal meanwhile.
      cv_.WaitWithTimeout(&mu_, kIdleApply);
    }
  }
  mu_.Unlock();
}

absl::Status WriteJournal::Drain() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = next_seq_ - 1;
  if (target <= released_seq_) return absl::OkStatus();
  drain_seq_ = std::max(drain_seq_, target);
  cv_.SignalAll();
  while (released_seq_ < target) {
    if (!error_.ok()) return error_;
    if (stop_) return absl::UnavailableError("journal closed");
    if (!apply_error_.ok() && durable_seq_ > released_seq_) {
      // A failed round: wait for the retry, once.
      absl::Status last = apply_error_;
      cv_.WaitWithTimeout(&mu_, 2 * kIdleApply);
      if (released_seq_ < target && !apply_error_.ok()) return last;
      continue;
    }
    cv_.Wait(&mu_);
  }
  return absl::OkStatus();
}

uint64_t WriteJournal::released_seq() {
  absl::MutexLock lock(&mu_);
  return released_seq_;
}

JournalStats WriteJournal::Stats() {
  absl::MutexLock lock(&mu_);
  JournalStats s = stats_;
  s.capacity = capacity_;
  s.used = tail_lsn_ - released_lsn_;
  return s;
}

}  // namespace ternion::chunkserver
