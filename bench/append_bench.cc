#include "bench/append_bench.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/sink_process.h"

namespace ternion::bench {
namespace {

constexpr size_t kAppend = 4096;
constexpr uint64_t kRing = 64ull << 20;  // the ceiling's file: written in place, as a journal

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ternion-bench: appends: %s\n", what.c_str());
  std::exit(1);
}

double Micros(absl::Time start) { return absl::ToDoubleMicroseconds(absl::Now() - start); }

// A file of kRing zeros, written and synced, so later writes overwrite allocated blocks (as the
// journal does) and an fdatasync has no metadata to commit.
int OpenRing(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("cannot create " + path);
  const std::string zeros(1 << 20, '\0');
  for (uint64_t off = 0; off < kRing; off += zeros.size()) {
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(zeros.size())) {
      Die("cannot fill " + path);
    }
  }
  if (::fdatasync(fd) != 0) Die("fdatasync");
  return fd;
}

// The i-th 4 KiB record `rec` of a ring file, written in place and synced.
void WriteSynced(int fd, const std::string& rec, int i) {
  const off_t off = static_cast<off_t>((static_cast<uint64_t>(i) * kAppend) % kRing);
  if (::pwrite(fd, rec.data(), kAppend, off) != static_cast<ssize_t>(kAppend) ||
      ::fdatasync(fd) != 0) {
    Die("ceiling write");
  }
}

// One writer: 4 KiB pwrite + fdatasync, queue depth 1.
std::vector<double> RawSingle(const std::string& dir, int appends) {
  const std::string path = dir + "/append-ceiling";
  const int fd = OpenRing(path);
  const std::string rec(kAppend, 'r');
  std::vector<double> us;
  for (int i = 0; i < appends + 50; ++i) {
    const absl::Time start = absl::Now();
    WriteSynced(fd, rec, i);
    if (i >= 50) us.push_back(Micros(start));
  }
  ::close(fd);
  ::unlink(path.c_str());
  return us;
}

// Three replicas on this one disk: three threads, each with a ring file of its own, in lockstep;
// an append is 4 KiB `pwrite` + `fdatasync` by all three at once and ends when all three are
// durable, as a 3-way append's journal syncs on three chunkservers sharing the disk do.
std::vector<double> RawThree(const std::string& dir, int appends) {
  constexpr int kReplicas = 3;
  std::array<int, kReplicas> fds;
  for (int r = 0; r < kReplicas; ++r) fds[r] = OpenRing(absl::StrCat(dir, "/three-ceiling", r));
  const std::string rec(kAppend, 't');
  std::barrier step(kReplicas);  // passed twice per append: start, then all durable
  const int total = appends + 50;
  std::vector<std::thread> helpers;
  for (int r = 1; r < kReplicas; ++r) {
    helpers.emplace_back([&, r] {
      for (int i = 0; i < total; ++i) {
        step.arrive_and_wait();
        WriteSynced(fds[r], rec, i);
        step.arrive_and_wait();
      }
    });
  }
  std::vector<double> us;
  for (int i = 0; i < total; ++i) {
    const absl::Time start = absl::Now();
    step.arrive_and_wait();
    WriteSynced(fds[0], rec, i);
    step.arrive_and_wait();
    if (i >= 50) us.push_back(Micros(start));
  }
  for (auto& t : helpers) t.join();
  for (int r = 0; r < kReplicas; ++r) {
    ::close(fds[r]);
    ::unlink(absl::StrCat(dir, "/three-ceiling", r).c_str());
  }
  return us;
}

// Appends over 2 ms per second of appending (the sum of `us`): how often something stalls an
// append, whatever its own speed.
double SlowPerSecond(const std::vector<double>& us) {
  double total = 0;
  int slow = 0;
  for (double u : us) {
    total += u;
    slow += u > 2000;
  }
  return total > 0 ? slow / (total / 1e6) : 0;
}

// The disk's ceiling: `writers` threads appending 4 KiB to one file with group commit.
TimedAppends RawGroup(const std::string& dir, int writers, int appends) {
  GroupCommitRing ring(dir + "/group-ceiling");
  const std::string rec(kAppend, 'g');
  return TimeWriters(writers, appends, 0, [&](int) { ring.Append(rec); });
}

void SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) Die("replicated ceiling send");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// The replicated ceiling: `writers` threads, each with a connection to each of three sink
// processes (AppendSinkMain). An append sends 4 KiB to all three, then waits for each one's
// acknowledgement that it is durable. Plain TCP with no checksums, tokens or TLS: a bound on
// any 3-way durable append on this machine.
TimedAppends ReplicatedRaw(const std::string& dir, int writers, int appends) {
  const std::vector<SinkProcess> sinks = StartSinkProcesses(dir, 3, "append");
  std::vector<std::array<int, 3>> conns(writers);
  for (auto& c : conns) {
    for (int r = 0; r < 3; ++r) c[r] = ConnectToSink(sinks[r]);
  }
  const std::string rec(kAppend, 'p');
  TimedAppends result = TimeWriters(writers, appends, 20, [&](int w) {
    for (int fd : conns[w]) SendAll(fd, rec.data(), rec.size());
    for (int fd : conns[w]) {
      uint64_t ack;
      if (::recv(fd, &ack, sizeof(ack), MSG_WAITALL) != sizeof(ack)) Die("replicated ack");
    }
  });
  for (auto& c : conns) {
    for (int fd : c) ::close(fd);
  }
  for (const SinkProcess& s : sinks) {  // started above; it serves until told to stop
    ::kill(s.pid, SIGTERM);
    ::waitpid(s.pid, nullptr, 0);
    ::unlink(s.path.c_str());
  }
  return result;
}

// One Ternion writer appending and flushing 4 KiB `appends` times after `warmup` untimed ones
// (the first append of a file allocates its chunk and opens its streams). When `ready` is set,
// the writer waits there after its warm-up, so concurrent writers' timed spans coincide;
// *start and *end get its timed span.
std::vector<double> TernionAppends(Client* client, const std::string& project,
                                   const std::string& path, int appends, int warmup,
                                   absl::Barrier* ready = nullptr, absl::Time* start = nullptr,
                                   absl::Time* end = nullptr) {
  (void)client->Delete(project, path);
  auto w = client->Create(project, path);
  if (!w.ok()) Die(std::string(w.status().message()));
  const std::string rec(kAppend, 'a');
  std::vector<double> us;
  for (int i = 0; i < appends + warmup; ++i) {
    if (i == warmup) {
      if (ready != nullptr) ready->Block();
      if (start != nullptr) *start = absl::Now();
    }
    const absl::Time t0 = absl::Now();
    if (auto s = (*w)->Append(rec); !s.ok()) Die(std::string(s.message()));
    if (auto s = (*w)->Flush(); !s.ok()) Die(std::string(s.message()));
    if (i >= warmup) us.push_back(Micros(t0));
  }
  if (end != nullptr) *end = absl::Now();
  if (auto s = (*w)->Close(); !s.ok()) Die(std::string(s.message()));
  (void)client->Delete(project, path);
  return us;
}

}  // namespace

GroupCommitRing::GroupCommitRing(std::string path) : path_(std::move(path)), fd_(OpenRing(path_)) {}

GroupCommitRing::~GroupCommitRing() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

void GroupCommitRing::Append(absl::string_view rec) {
  absl::MutexLock lock(&mu_);
  pending_.append(rec.data(), rec.size());
  const uint64_t mine = ++assigned_;
  while (durable_ < mine) {
    if (syncing_) {
      cv_.Wait(&mu_);
      continue;
    }
    syncing_ = true;
    std::string batch;
    batch.swap(pending_);
    const uint64_t last = assigned_;
    const uint64_t at = pos_ % kRing;
    pos_ += batch.size();
    mu_.Unlock();
    const size_t n = std::min<uint64_t>(batch.size(), kRing - at);
    if (::pwrite(fd_, batch.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n) ||
        (n < batch.size() && ::pwrite(fd_, batch.data() + n, batch.size() - n, 0) !=
                                 static_cast<ssize_t>(batch.size() - n)) ||
        ::fdatasync(fd_) != 0) {
      Die("group commit write");
    }
    mu_.Lock();
    syncing_ = false;
    durable_ = last;
    cv_.SignalAll();
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

int AppendsPerWriter(int appends, int writers) { return std::max(appends / writers, 100); }

void AppendSinkMain(int listen_fd, const std::string& path) {
  GroupCommitRing ring(path);
  while (true) {
    const int conn = ::accept(listen_fd, nullptr, nullptr);
    if (conn < 0) _exit(2);
    const int one = 1;
    ::setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread([&ring, conn] {
      std::string rec(kAppend, '\0');
      for (uint64_t n = 1;
           ::recv(conn, rec.data(), kAppend, MSG_WAITALL) == static_cast<ssize_t>(kAppend); ++n) {
        ring.Append(rec);
        SendAll(conn, reinterpret_cast<const char*>(&n), sizeof(n));
      }
      ::close(conn);
    }).detach();
  }
}

std::pair<double, double> AppendLatency(Client* client, const std::string& project, int appends) {
  const std::vector<double> us = TernionAppends(client, project, "appends/one", appends, 50);
  return {Percentile(us, 0.5), Percentile(us, 0.99)};
}

AppendFigures MeasureAppends(Client* client, const std::string& project, const std::string& dir,
                             int appends, int writers) {
  AppendFigures f;
  f.appends = appends;
  f.writers = writers;
  const std::vector<double> raw = RawSingle(dir, appends);
  f.raw_p50_us = Percentile(raw, 0.5);
  f.raw_p99_us = Percentile(raw, 0.99);
  const std::vector<double> three = RawThree(dir, appends);
  f.three_p50_us = Percentile(three, 0.5);
  f.three_p99_us = Percentile(three, 0.99);
  f.three_slow_per_s = SlowPerSecond(three);
  const int each = AppendsPerWriter(appends, writers);
  const TimedAppends group = RawGroup(dir, writers, each);
  f.raw_group_per_s = group.per_s;
  f.raw_group_p99_us = Percentile(group.us, 0.99);
  const TimedAppends repl_one = ReplicatedRaw(dir, 1, appends);
  f.repl_p50_us = Percentile(repl_one.us, 0.5);
  f.repl_p99_us = Percentile(repl_one.us, 0.99);
  const TimedAppends repl_many = ReplicatedRaw(dir, writers, each);
  f.repl_many_per_s = repl_many.per_s;
  f.repl_many_p99_us = Percentile(repl_many.us, 0.99);

  const std::vector<double> one = TernionAppends(client, project, "appends/one", appends, 50);
  f.p50_us = Percentile(one, 0.5);
  f.p99_us = Percentile(one, 0.99);
  f.slow_per_s = SlowPerSecond(one);
  std::vector<std::vector<double>> lat(writers);
  std::vector<absl::Time> starts(writers), ends(writers);
  absl::Barrier ready(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      lat[w] = TernionAppends(client, project, absl::StrCat("appends/many-", w), each, 10,
                              &ready, &starts[w], &ends[w]);
    });
  }
  for (auto& t : threads) t.join();
  f.many_per_s = writers * each / absl::ToDoubleSeconds(
                                      *std::max_element(ends.begin(), ends.end()) -
                                      *std::min_element(starts.begin(), starts.end()));
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  f.many_p99_us = Percentile(all, 0.99);
  return f;
}

void AddAppendFigures(const AppendFigures& f, nlohmann::json* j) {
  (*j)["append_p50_us"] = f.p50_us;
  (*j)["append_p99_us"] = f.p99_us;
  (*j)["append_ceiling_p50_us"] = f.raw_p50_us;
  (*j)["append_ceiling_p99_us"] = f.raw_p99_us;
  (*j)["append_p50_ratio"] = f.raw_p50_us / f.p50_us;
  (*j)["append_three_ceiling_p50_us"] = f.three_p50_us;
  (*j)["append_three_ceiling_p99_us"] = f.three_p99_us;
  (*j)["append_three_ceiling_slow_per_s"] = f.three_slow_per_s;
  (*j)["append_slow_per_s"] = f.slow_per_s;
  (*j)["appends_writers"] = f.writers;
  (*j)["appends_many_per_s"] = f.many_per_s;
  (*j)["appends_many_p99_us"] = f.many_p99_us;
  (*j)["appends_group_ceiling_per_s"] = f.raw_group_per_s;
  (*j)["appends_group_ceiling_p99_us"] = f.raw_group_p99_us;
  (*j)["appends_many_ratio"] = f.many_per_s / f.raw_group_per_s;
  (*j)["append_replicated_ceiling_p50_us"] = f.repl_p50_us;
  (*j)["append_replicated_ceiling_p99_us"] = f.repl_p99_us;
  (*j)["append_p50_replicated_ratio"] = f.repl_p50_us / f.p50_us;
  (*j)["appends_many_replicated_ceiling_per_s"] = f.repl_many_per_s;
  (*j)["appends_many_replicated_ceiling_p99_us"] = f.repl_many_p99_us;
  (*j)["appends_many_replicated_ratio"] = f.many_per_s / f.repl_many_per_s;
}

std::string FormatAppendFigures(const AppendFigures& f) {
  return absl::StrFormat(
      "  4 KiB durable appends, 1 writer               p50 %.0f us, p99 %.0f us; ceiling "
      "(pwrite + fdatasync) p50 %.0f us, p99 %.0f us: p50 ratio %.2f\n"
      "  the same by 3 files at once (3 replicas, 1 disk) p50 %.0f us, p99 %.0f us; appends over "
      "2 ms: %.1f/s, Ternion's %.1f/s\n"
      "  4 KiB durable appends, %2d writers             %.0f/s, p99 %.0f us; ceiling (one file, "
      "group commit) %.0f/s, p99 %.0f us: ratio %.2f\n"
      "  replicated ceiling (3 TCP sinks, group commit) 1 writer p50 %.0f us, p99 %.0f us: p50 "
      "ratio %.2f; %d writers %.0f/s, p99 %.0f us: ratio %.2f\n",
      f.p50_us, f.p99_us, f.raw_p50_us, f.raw_p99_us, f.raw_p50_us / f.p50_us, f.three_p50_us,
      f.three_p99_us, f.three_slow_per_s, f.slow_per_s, f.writers,
      f.many_per_s, f.many_p99_us, f.raw_group_per_s, f.raw_group_p99_us,
      f.many_per_s / f.raw_group_per_s, f.repl_p50_us, f.repl_p99_us, f.repl_p50_us / f.p50_us,
      f.writers, f.repl_many_per_s, f.repl_many_p99_us, f.many_per_s / f.repl_many_per_s);
}

}  // namespace ternion::bench
