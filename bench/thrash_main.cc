// ternion-thrash: a bounded fault-injection run on a real local cluster. Writers append and
// flush; a fault injector kill -9s and restarts chunkservers and the master and corrupts replica
// files; verifiers read back what was acknowledged. Writers commit lazily (the master is off the
// flush path), and some abandon their files without closing: other writers take such a file
// over once its short lease expires (they must find every flushed byte), and the master
// recovers the rest past the lease hard limit (its length must then cover every flushed byte).
// Now and then a writer dies in the middle of a write recovery, after the master moved the
// chunk's version and before any replica moved (an injected failpoint): its file is left like
// an abandoned one, with no replica at the chunk's version.
// At the end every acknowledged byte of every file must read back exactly: the run prints
// operations, faults and bytes verified, and exits non-zero if any acknowledged byte was lost or
// corrupted.
//
// Faults are bounded so that acknowledged data stays recoverable: at most one chunkserver is
// down at a time, and a replica file is corrupted only while every server is up.

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/cli/local_cluster.h"
#include "common/failpoint.h"
#include "common/version.h"
#include "ternion/client.h"

namespace {

using ternion::local::LocalCluster;

struct Config {
  double seconds = 20;
  int writers = 2;
  int racks = 4;
  int per_rack = 2;
  uint64_t seed = 1;
  std::string dir;
  bool master_faults = true;
  bool json = false;
};

// The content of every file is a function of (file number, offset), so a verifier can check any
// range without keeping the bytes.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
std::string Content(uint64_t file, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    const uint64_t pos = offset + i;
    out[i] = static_cast<char>(Mix(file * 0x100000001b3ull ^ (pos / 8)) >> (8 * (pos % 8)));
  }
  return out;
}

// The cluster's leases: short, so abandoned files are taken over and recovered within a run,
// and long enough that a writer renews its lease (at least every second while it flushes)
// through a master restart.
constexpr double kLeaseSeconds = 4;
constexpr double kLeaseHardLimitSeconds = 4;
// Where a writer dies in write recovery (client/client.cc, FileWriterImpl::Rebuild).
constexpr char kRecoveryDeath[] = "client.recovery.after_replace_replicas";

struct Stats {
  std::atomic<uint64_t> appends{0}, flushes{0}, files{0}, write_errors{0};
  std::atomic<uint64_t> abandoned{0}, taken_over{0}, lost_on_takeover{0}, died_in_recovery{0};
  std::atomic<uint64_t> chunkserver_kills{0}, master_kills{0}, corruptions{0};
  std::atomic<uint64_t> bytes_verified{0}, read_retries{0};
};

class Thrash {
 public:
  Thrash(Config cfg, LocalCluster cluster, std::unique_ptr<ternion::Client> client)
      : cfg_(std::move(cfg)), cluster_(std::move(cluster)), client_(std::move(client)) {}

  // Appends until the deadline; records each file's acknowledged length. Now and then it takes
  // over a file another writer abandoned, or abandons its own.
  void Writer(int id) {
    std::mt19937_64 gen(cfg_.seed * 1000 + id);
    while (absl::Now() < deadline_) {
      uint64_t file = 0;
      absl::StatusOr<std::unique_ptr<ternion::FileWriter>> w;
      if (gen() % 3 == 0 && TakeAbandoned(&file)) {
        w = client_->OpenForAppend("thrash", absl::StrCat("f", file));
        if (!w.ok()) {  // still leased (clocks), or a fault in the way: try again later
          Abandon(file, absl::Now());
          continue;
        }
        ++stats_.taken_over;
        const uint64_t acked = Snapshot()[file];
        if ((*w)->length() < acked) {
          ++stats_.lost_on_takeover;
          std::cerr << "thrash: f" << file << " taken over at " << (*w)->length()
                    << " bytes, below its " << acked << " acknowledged\n";
        }
      } else {
        file = next_file_++;
        w = client_->Create("thrash", absl::StrCat("f", file), {.chunk_size = 2 << 20});
        if (!w.ok()) {
          ++stats_.write_errors;
          std::cerr << "thrash: create error on f" << file << ": " << w.status() << "\n";
          absl::SleepFor(absl::Milliseconds(200));
          continue;
        }
        ++stats_.files;
      }
      uint64_t offset = (*w)->length();
      bool died = false;
      for (int i = 0; i < 40 && absl::Now() < deadline_; ++i) {
        const size_t n = 1 + gen() % (700 << 10);
        absl::Status s = (*w)->Append(Content(file, offset, n));
        ++stats_.appends;
        if (s.ok() && gen() % 3 == 0) {
          s = (*w)->Flush();
          ++stats_.flushes;
        }
        Record(file, (*w)->length());
        if (!s.ok() && absl::StrContains(s.message(), kRecoveryDeath)) {
          died = true;  // the injected death: the file is left to a takeover or the master
          break;
        }
        if (!s.ok()) {
          ++stats_.write_errors;
          std::cerr << "thrash: write error on f" << file << ": " << s << "\n";
          break;
        }
        offset += n;
      }
      if (died) {
        Abandon(file, absl::Now() + absl::Seconds(kLeaseSeconds + 0.5));
        ++stats_.died_in_recovery;
        continue;
      }
      if (gen() % 4 == 0) {  // vanish without closing: the lease stays until it expires
        Flush(file, **w);
        Abandon(file, absl::Now() + absl::Seconds(kLeaseSeconds + 0.5));
        ++stats_.abandoned;
        continue;
      }
      if ((*w)->Close().ok()) Record(file, (*w)->length());
    }
  }

  // Kills and restarts processes and corrupts replicas until the deadline.
  void Injector() {
    std::mt19937_64 gen(cfg_.seed);
    std::vector<std::string> servers;
    for (const auto& p : cluster_.processes) {
      if (p.role == "chunkserver") servers.push_back(p.name);
    }
    while (absl::Now() < deadline_) {
      absl::SleepFor(absl::Milliseconds(500 + gen() % 1000));
      const int kind = gen() % 10;
      if (kind < 5) {  // one chunkserver down for a while, then back with its data
        const std::string& name = servers[gen() % servers.size()];
        // A quarter of the kills also make the next write recovery's writer die in it.
        if (gen() % 4 == 0) Check(ternion::ArmFailpoints(absl::StrCat(kRecoveryDeath, "=eio*1")), "arm");
        if (!ternion::local::KillProcess(cluster_.dir, name).ok()) continue;
        ++stats_.chunkserver_kills;
        absl::SleepFor(absl::Milliseconds(500 + gen() % 3000));
        Check(ternion::local::RestartProcess(cluster_.dir, name), "restart " + name);
      } else if (kind < 7 && cfg_.master_faults) {
        if (!ternion::local::KillProcess(cluster_.dir, "master").ok()) continue;
        ++stats_.master_kills;
        absl::SleepFor(absl::Milliseconds(200 + gen() % 800));
        Check(ternion::local::RestartProcess(cluster_.dir, "master"), "restart master");
      } else {
        Corrupt(gen);
      }
    }
  }

  // Reads back random files' acknowledged prefixes while the faults go on.
  void Verifier() {
    std::mt19937_64 gen(cfg_.seed + 77);
    while (absl::Now() < deadline_) {
      auto files = Snapshot();
      if (files.empty()) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      auto it = files.begin();
      std::advance(it, gen() % files.size());
      if (!Verify(it->first, it->second)) ++stats_.read_retries;  // a fault in the way
    }
  }

  // After the faults: every acknowledged byte, with bounded retries while the cluster heals; and
  // each file still abandoned, once the master recovers its lease, has a length covering every
  // flushed byte.
  uint64_t FinalCheck(uint64_t* lost_files) {
    uint64_t bad_bytes = 0;
    const std::map<uint64_t, uint64_t> acked_now = Snapshot();
    for (const auto& [file, unused] : Abandoned()) {
      const uint64_t acked = acked_now.contains(file) ? acked_now.at(file) : 0;
      absl::StatusOr<ternion::FileStat> st;
      // Recovered within the lease, its hard limit and the master's round (5 s), and a restart.
      for (int i = 0; i < 60; ++i) {
        st = client_->Stat("thrash", absl::StrCat("f", file), false);
        if (st.ok() && !st->open) break;
        absl::SleepFor(absl::Milliseconds(500));
      }
      if (!st.ok() || st->open || st->length < acked) {
        ++*lost_files;
        bad_bytes += acked;
        std::cerr << "thrash: abandoned f" << file << " with " << acked
                  << " acknowledged bytes: " << (st.ok() ? "" : st.status().ToString())
                  << (st.ok() && st->open ? "lease not recovered" : "")
                  << (st.ok() ? absl::StrCat(", length ", st->length) : "") << "\n";
      }
    }
    for (const auto& [file, acked] : Snapshot()) {
      bool ok = false;
      for (int attempt = 0; attempt < 30 && !ok; ++attempt) {
        ok = Verify(file, acked);
        if (!ok) absl::SleepFor(absl::Seconds(1));
      }
      if (!ok) {
        ++*lost_files;
        bad_bytes += acked;
        std::cerr << "thrash: f" << file << " does not read back its " << acked
                  << " acknowledged bytes\n";
      }
    }
    return bad_bytes;
  }

  absl::Time deadline_;
  Stats stats_;

 private:
  // Flushes what an abandoning writer appended last, so it leaves flushed bytes the master may
  // not have heard of.
  void Flush(uint64_t file, ternion::FileWriter& w) {
    if (w.Flush().ok()) Record(file, w.length());
  }
  // Files abandoned by their writers, each with when another writer may take it over.
  void Abandon(uint64_t file, absl::Time from) {
    absl::MutexLock lock(&mu_);
    abandoned_[file] = from;
  }
  bool TakeAbandoned(uint64_t* file) {
    absl::MutexLock lock(&mu_);
    for (auto it = abandoned_.begin(); it != abandoned_.end(); ++it) {
      if (it->second <= absl::Now()) {
        *file = it->first;
        abandoned_.erase(it);
        return true;
      }
    }
    return false;
  }
  std::map<uint64_t, absl::Time> Abandoned() {
    absl::MutexLock lock(&mu_);
    return abandoned_;
  }
  void Record(uint64_t file, uint64_t acked) {
    absl::MutexLock lock(&mu_);
    acked_[file] = std::max(acked_[file], acked);
  }
  std::map<uint64_t, uint64_t> Snapshot() {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  void Check(const absl::Status& s, const std::string& what) {
    if (!s.ok()) std::cerr << "thrash: " << what << ": " << s << "\n";
  }

  bool Verify(uint64_t file, uint64_t acked) {
    if (acked == 0) return true;
    auto r = client_->Open("thrash", absl::StrCat("f", file));
    if (!r.ok() || (*r)->length() < acked) return false;
    std::string got;
    for (uint64_t off = 0; off < acked; off += 4 << 20) {
      const uint64_t n = std::min<uint64_t>(4 << 20, acked - off);
      if (!(*r)->ReadAt(off, n, &got).ok() || got != Content(file, off, n)) return false;
      stats_.bytes_verified += n;
    }
    return true;
  }

  // Flips bytes in the middle of a random replica file (the scrubber or a reader finds it).
  void Corrupt(std::mt19937_64& gen) {
    std::vector<std::filesystem::path> replicas;
    for (const auto& p : cluster_.processes) {
      for (const auto& d : p.data_dirs) {
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(d, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
          if (it->path().extension() == ".data" && it->file_size(ec) > 4096) {
            replicas.push_back(it->path());
          }
        }
      }
    }
    if (replicas.empty()) return;
    const auto& victim = replicas[gen() % replicas.size()];
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(victim, ec);
    if (ec || size < 4096) return;
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(gen() % (size - 16));
    f.write("\xde\xad\xbe\xef thrash", 12);
    if (f) ++stats_.corruptions;
  }

  const Config cfg_;
  const LocalCluster cluster_;
  std::unique_ptr<ternion::Client> client_;
  std::atomic<uint64_t> next_file_{0};
  absl::Mutex mu_;
  std::map<uint64_t, uint64_t> acked_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, absl::Time> abandoned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Fault-injection run: writers, verifiers, kill -9 and corruption, bounded in time."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-thrash"));
  app.add_option("--seconds", cfg.seconds, "How long faults are injected");
  app.add_option("--writers", cfg.writers, "Concurrent writers");
  app.add_option("--racks", cfg.racks, "Racks");
  app.add_option("--per-rack", cfg.per_rack, "Chunkservers per rack");
  app.add_option("--seed", cfg.seed, "Random seed");
  app.add_option("--dir", cfg.dir, "Cluster directory (default: a new one under /tmp)");
  app.add_flag("!--no-master-faults", cfg.master_faults, "Never kill the master");
  app.add_flag("--json", cfg.json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  if (cfg.seconds <= 0 || cfg.seconds > 3600 || cfg.writers < 1 || cfg.racks < 3) {
    std::cerr << "need 0 < seconds <= 3600, writers >= 1, racks >= 3\n";
    return 2;
  }
  const bool own_dir = cfg.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/ternion-thrash.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 2;
    cfg.dir = tmpl;
  }
  ternion::local::LocalClusterOptions lopts;
  lopts.dir = cfg.dir + "/cluster";
  lopts.racks = cfg.racks;
  lopts.per_rack = cfg.per_rack;
  lopts.heartbeat_s = 0.5;
  lopts.dead_after_s = 2;
  lopts.move_scan_s = 0.3;
  lopts.report_s = 2;
  lopts.scrub_interval_s = 1;
  lopts.default_chunk_size_mib = 2;
  lopts.lease_s = kLeaseSeconds;
  lopts.lease_hard_limit_s = kLeaseHardLimitSeconds;
  auto cluster = ternion::local::StartLocalCluster(lopts);
  if (!cluster.ok()) {
    std::cerr << "thrash: " << cluster.status() << "\n";
    return 1;
  }
  ternion::ClientOptions copts = ternion::local::AdminClientOptions(*cluster);
  copts.rpc_timeout = absl::Seconds(30);
  auto client = ternion::Client::Connect(copts);
  if (!client.ok() || !(*client)->CreateProject("thrash").ok()) {
    std::cerr << "thrash: cannot connect or create the project\n";
    (void)ternion::local::StopLocalCluster(lopts.dir);
    return 1;
  }

  Thrash t(cfg, *cluster, std::move(*client));
  const absl::Time start = absl::Now();
  t.deadline_ = start + absl::Seconds(cfg.seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < cfg.writers; ++i) threads.emplace_back([&t, i] { t.Writer(i); });
  threads.emplace_back([&t] { t.Injector(); });
  threads.emplace_back([&t] { t.Verifier(); });
  for (auto& th : threads) th.join();
  // Every process back up, then every acknowledged byte is checked.
  for (const auto& p : cluster->processes) {
    (void)ternion::local::RestartProcess(lopts.dir, p.name);  // fails harmlessly if running
  }
  uint64_t lost_files = 0;
  const uint64_t lost_bytes = t.FinalCheck(&lost_files);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  (void)ternion::local::StopLocalCluster(lopts.dir);
  // A failed run keeps its cluster (the daemons' logs say what happened).
  const bool passed =
      lost_bytes == 0 && t.stats_.write_errors.load() == 0 && t.stats_.lost_on_takeover.load() == 0;
  if (own_dir && passed) std::filesystem::remove_all(cfg.dir);

  const Stats& s = t.stats_;
  nlohmann::json j = {{"seconds", seconds},
                      {"files", s.files.load()},
                      {"appends", s.appends.load()},
                      {"flushes", s.flushes.load()},
                      {"write_errors", s.write_errors.load()},
                      {"abandoned", s.abandoned.load()},
                      {"taken_over", s.taken_over.load()},
                      {"lost_on_takeover", s.lost_on_takeover.load()},
                      {"died_in_recovery", s.died_in_recovery.load()},
                      {"chunkserver_kills", s.chunkserver_kills.load()},
                      {"master_kills", s.master_kills.load()},
                      {"corruptions", s.corruptions.load()},
                      {"bytes_verified", s.bytes_verified.load()},
                      {"read_retries", s.read_retries.load()},
                      {"lost_files", lost_files},
                      {"lost_or_corrupt_acknowledged_bytes", lost_bytes}};
  if (cfg.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "ternion-thrash: %.0f s, %d files, %d appends, %d flushes, %d write errors\n"
        "  leases: %d files abandoned, %d writers died in write recovery, %d files taken over "
        "(%d below their acknowledged length)\n"
        "  faults: %d chunkserver kill -9, %d master kill -9, %d replica corruptions\n"
        "  verified %d bytes (%d reads retried during faults)\n"
        "  lost or corrupted acknowledged bytes: %d (in %d files)%s\n",
        seconds, s.files.load(), s.appends.load(), s.flushes.load(), s.write_errors.load(),
        s.abandoned.load(), s.died_in_recovery.load(), s.taken_over.load(),
        s.lost_on_takeover.load(),
        s.chunkserver_kills.load(), s.master_kills.load(), s.corruptions.load(),
        s.bytes_verified.load(), s.read_retries.load(), lost_bytes, lost_files,
        passed ? "" : absl::StrCat("\n  (cluster kept in ", cfg.dir, ")"));
  }
  // A run that lost nothing but also proved nothing (no acknowledged append) or failed a write
  // (the guarantee is that one fault at a time never fails a job) does not pass.
  if (s.appends.load() == 0) {
    std::cerr << "ternion-thrash: FAILED: nothing was acknowledged, so nothing was verified\n";
    return 1;
  }
  if (s.write_errors.load() > 0) {
    std::cerr << "ternion-thrash: FAILED: " << s.write_errors.load()
              << " write(s) failed under single faults\n";
    return 1;
  }
  if (s.lost_on_takeover.load() > 0) {
    std::cerr << "ternion-thrash: FAILED: " << s.lost_on_takeover.load()
              << " file(s) taken over below their acknowledged length\n";
    return 1;
  }
  return lost_bytes == 0 ? 0 : 1;
}
