#include "master/metadata_log.h"

#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ternion::master {
namespace {

class GroupCommitLog final : public MetadataLog {
 public:
  GroupCommitLog(MetadataStore* store, std::function<void(const absl::Status&)> on_failure)
      : store_(store), on_failure_(std::move(on_failure)), writer_([this] { Run(); }) {}

  ~GroupCommitLog() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      work_.Signal();
    }
    writer_.join();  // writes what is pending first
  }

  uint64_t Append(MetadataBatch batch) override {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(batch));
    work_.Signal();
    return ++appended_;
  }

  uint64_t LastAppended() const override {
    absl::MutexLock lock(&mu_);
    return appended_;
  }

  absl::Status WaitDurable(uint64_t seq) override {
    absl::MutexLock lock(&mu_);
    while (durable_ < seq && failed_.ok()) durable_changed_.Wait(&mu_);
    if (durable_ >= seq) return absl::OkStatus();
    return failed_;
  }

  Stats stats() const override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  void Run() {
    while (true) {
      std::vector<MetadataBatch> group;
      uint64_t last = 0;
      {
        absl::MutexLock lock(&mu_);
        while (pending_.empty() && !stopping_) work_.Wait(&mu_);
        if (pending_.empty()) return;  // stopping, everything written
        group.swap(pending_);
        last = appended_;
      }
      absl::Status s = store_->Write(group);
      absl::MutexLock lock(&mu_);
      if (!s.ok()) {
        failed_ = absl::UnavailableError(
            absl::StrCat("the metadata log failed (the master must restart): ", s.message()));
        durable_changed_.SignalAll();
        if (on_failure_) on_failure_(s);
        return;
      }
      durable_ = last;
      durable_changed_.SignalAll();
      ++stats_.writes;
      stats_.batches += group.size();
    }
  }

  MetadataStore* const store_;
  const std::function<void(const absl::Status&)> on_failure_;
  mutable absl::Mutex mu_;
  std::vector<MetadataBatch> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::CondVar work_;             // batches appended, or stopping
  absl::CondVar durable_changed_;  // durable_ moved on, or the log failed
  std::thread writer_;  // last: started once everything above is initialized
};

}  // namespace

std::unique_ptr<MetadataLog> NewGroupCommitLog(
    MetadataStore* store, std::function<void(const absl::Status&)> on_failure) {
  return std::make_unique<GroupCommitLog>(store, std::move(on_failure));
}

}  // namespace ternion::master
