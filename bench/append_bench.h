#pragma once

// Small durable appends (4 KiB Append + Flush) against the machine's own limits measured in the
// same run: one writer at queue depth 1 against one 4 KiB pwrite + fdatasync, and many
// concurrent writers against the same many threads appending to one file with group commit
// (one fdatasync for every append that arrived while the previous one ran), the least any
// store making small appends durable on this disk has to do. Beside those, the replicated
// ceiling: the same appends sent over plain loopback TCP to three sink processes that each
// group-commit them to a file of their own and acknowledge (no checksums, tokens or TLS), the
// least any 3-way durable append has to do on this machine.

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "ternion/client.h"

namespace ternion::bench {

struct AppendFigures {
  int appends = 0;  // timed at queue depth 1 (and per writer below)
  int writers = 0;  // concurrent writers
  // Ceilings: one thread, then `writers` threads group-committing to one file.
  double raw_p50_us = 0, raw_p99_us = 0;
  double raw_group_per_s = 0, raw_group_p99_us = 0;
  // One writer's appends made durable in three files at once (three replicas on the one disk),
  // and how many per second of appending take over 2 ms, there and in Ternion's.
  double three_p50_us = 0, three_p99_us = 0, three_slow_per_s = 0;
  double slow_per_s = 0;
  // Replicated ceilings: one writer, then `writers`, each to three sinks.
  double repl_p50_us = 0, repl_p99_us = 0;
  double repl_many_per_s = 0, repl_many_p99_us = 0;
  // Ternion: one writer, then `writers` writers of their own files.
  double p50_us = 0, p99_us = 0;
  double many_per_s = 0, many_p99_us = 0;
};

// Appends to a ring file of 64 MiB (filled and synced first, so appends overwrite allocated
// blocks, as the chunkserver's write journal does) with group commit: whoever finds no sync
// running writes everything queued and syncs once for all of it. Removes the file at the end.
class GroupCommitRing {
 public:
  explicit GroupCommitRing(std::string path);
  ~GroupCommitRing();
  // Returns once `rec` is durable.
  void Append(absl::string_view rec);

 private:
  const std::string path_;
  const int fd_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  uint64_t assigned_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
};

// `writers` threads appending `appends` records each after `warmup` untimed ones; `append(w)`
// makes writer w's next record durable. Appends per second over the timed span (all writers
// start it together), and every timed append's latency in microseconds.
struct TimedAppends {
  double per_s = 0;
  std::vector<double> us;
};
template <typename AppendFn>
TimedAppends TimeWriters(int writers, int appends, int warmup, AppendFn append) {
  std::vector<std::vector<double>> lat(writers);
  absl::Barrier ready(writers + 1);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < warmup; ++i) append(w);
      ready.Block();
      for (int i = 0; i < appends; ++i) {
        const absl::Time t0 = absl::Now();
        append(w);
        lat[w].push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    });
  }
  ready.Block();
  const absl::Time start = absl::Now();
  for (auto& t : threads) t.join();
  TimedAppends r;
  r.per_s = writers * appends / absl::ToDoubleSeconds(absl::Now() - start);
  for (auto& l : lat) r.us.insert(r.us.end(), l.begin(), l.end());
  return r;
}

// The p-th quantile (0..1) of `v`; 0 when empty.
double Percentile(std::vector<double> v, double p);

// Appends each of `writers` concurrent writers makes when `appends` are asked for in all.
int AppendsPerWriter(int appends, int writers);

// p50 and p99 of one writer's 4 KiB Append + Flush, `appends` times (after 50 to warm up).
std::pair<double, double> AppendLatency(Client* client, const std::string& project, int appends);

// Runs both ceilings in `dir` (a file per run, removed after) and Ternion's appends in
// `project` (files appends/...).
AppendFigures MeasureAppends(Client* client, const std::string& project, const std::string& dir,
                             int appends, int writers);
// The replicated ceiling's sink process: group-commits 4 KiB records from every connection on
// `listen_fd` to `path`, acknowledging each once durable, until killed.
[[noreturn]] void AppendSinkMain(int listen_fd, const std::string& path);

void AddAppendFigures(const AppendFigures& f, nlohmann::json* j);
std::string FormatAppendFigures(const AppendFigures& f);

}  // namespace ternion::bench
