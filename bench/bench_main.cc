// ternion-bench: measures Ternion's sequential 3-way write and read throughput and 4 KiB durable
// append latency, and in the same run the machine's own ceilings with minimal code that has no
// Ternion logic in it:
//   replicated-write  each writer's bytes sent over three loopback TCP connections to three
//   ceiling           sink processes of its own (as many streams as Ternion's writers open to
//                     their replicas) that write them O_DIRECT from aligned buffers, receiving
//                     while they sync, as a chunkserver does: the least any 3-way write must do;
//   read ceiling      a raw read of the same number of bytes from files of its own as the
//                     chunkservers read: O_DIRECT 1 MiB preads, one in flight per stream;
//   physical write    bytes on disk per second, 3 writers, sync every 8 MiB: the unit of
//   ceiling           re-replication and wipe rates (each writes every replica byte once);
//   transport         Ternion's own read and write messages over gRPC to a service that only
//   ceilings          moves bytes (no disk, checksums or tokens), in plaintext and over TLS:
//                     what the transport alone allows, and what TLS costs this machine; and
//                     4 KiB appends over it, acknowledged at once and (over TLS) made durable
//                     first in a group-committed journal per replica: the least a durable
//                     append over Ternion's transport costs;
//   appends           4 KiB durable appends against one pwrite + fdatasync, group commit to one
//                     file, and three TCP sink processes that group-commit and acknowledge
//                     (bench/append_bench.h);
//   rows              tables of 100-byte and 4 KiB rows written and scanned encrypted and as
//                     the same plain records, beside one core's raw AES-256-GCM rate
//                     (bench/row_bench.h).
// The replicated-write ceiling's sinks overlap receiving with syncing as a chunkserver does.
// Every figure is printed with its ratio to its ceiling; --json prints one JSON object.

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/append_bench.h"
#include "bench/row_bench.h"
#include "bench/sink_process.h"
#include "chunkserver/write_journal.h"
#include "client/cli/local_cluster.h"
#include "client/master_channel.h"
#include "common/daemon.h"
#include "common/version.h"
#include "security/certificates.h"
#include "security/tls.h"
#include "ternion/client.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"

namespace {

using ternion::bench::ConnectToSink;
using ternion::bench::SinkProcess;
using ternion::bench::StartSinkProcesses;

constexpr size_t kMiB = 1 << 20;
// Bytes in MiB, fractions kept.
double MiB(uint64_t bytes) { return static_cast<double>(bytes) / kMiB; }

struct Config {
  std::string master;
  std::string dir;
  uint64_t write_mib = 3072;
  int writers = 3;
  int appends = 2000;
  int append_writers = 16;
  uint64_t row_mib = 64;  // of rows of each size, encrypted and plain
  int racks = 3;
  int per_rack = 2;
  bool json = false;
  bool only_appends = false;
};

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "ternion-bench: " << msg << "\n";
  std::exit(1);
}

double Seconds(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

constexpr size_t kPayloadBytes = 8 * kMiB;

// A fixed block of random bytes, page-aligned (for O_DIRECT), repeated as every writer's data.
const char* Payload() {
  static const char* p = [] {
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, kPayloadBytes) != 0) Die("out of memory");
    std::mt19937_64 gen(1);
    for (size_t i = 0; i < kPayloadBytes; i += 8) {
      uint64_t v = gen();
      std::memcpy(static_cast<char*>(mem) + i, &v, 8);
    }
    return static_cast<const char*>(mem);
  }();
  return p;
}

const char* PayloadAt(uint64_t off) { return Payload() + off % kPayloadBytes; }

// Opens for writing in the chunkservers' I/O mode: O_DIRECT where the filesystem has it.
int OpenLikeChunkserver(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0 && errno == EINVAL) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  return fd;
}

// ---- replicated-write ceiling: sink processes, forked before any thread exists ----

// The child: accept one connection and write what arrives to `path` the way the chunkserver
// does, only with nothing else: one thread receives into 1 MiB aligned buffers while another
// writes every buffer received since its last sync and syncs once (receiving overlaps
// syncing; a busy stream pays one fdatasync per batch). Acknowledges with one byte after the
// last sync.
[[noreturn]] void SinkMain(int listen_fd, const std::string& path) {
  int conn = ::accept(listen_fd, nullptr, nullptr);
  int fd = OpenLikeChunkserver(path);
  if (conn < 0 || fd < 0) _exit(2);
  constexpr int kBuffers = 8;  // as much in flight as a chunkserver stream queues and writes
  std::vector<char*> free_buffers;
  for (int i = 0; i < kBuffers; ++i) {
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, kMiB) != 0) _exit(2);
    free_buffers.push_back(static_cast<char*>(mem));
  }
  absl::Mutex mu;
  absl::CondVar changed;
  std::deque<std::pair<char*, size_t>> full;  // received, not yet written
  bool eof = false;
  std::thread disk([&] {
    uint64_t off = 0;
    while (true) {
      std::vector<std::pair<char*, size_t>> batch;
      {
        absl::MutexLock lock(&mu);
        while (full.empty() && !eof) changed.Wait(&mu);
        if (full.empty()) break;
        batch.assign(full.begin(), full.end());
        full.clear();
      }
      for (auto [buf, n] : batch) {
        const size_t padded = (n + 4095) / 4096 * 4096;  // the byte counts used are whole pages
        if (::pwrite(fd, buf, padded, off) != static_cast<ssize_t>(padded)) _exit(3);
        off += n;
      }
      ::fdatasync(fd);
      absl::MutexLock lock(&mu);
      for (auto [buf, n] : batch) free_buffers.push_back(buf);
      changed.SignalAll();
    }
  });
  while (true) {
    char* buf;
    {
      absl::MutexLock lock(&mu);
      while (free_buffers.empty()) changed.Wait(&mu);
      buf = free_buffers.back();
      free_buffers.pop_back();
    }
    size_t fill = 0;
    while (fill < kMiB) {
      ssize_t r = ::recv(conn, buf + fill, kMiB - fill, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      fill += r;
    }
    absl::MutexLock lock(&mu);
    if (fill > 0) full.emplace_back(buf, fill);
    changed.SignalAll();
    if (fill < kMiB) {
      eof = true;
      break;
    }
  }
  disk.join();
  char ack = 1;
  if (::send(conn, &ack, 1, 0) != 1) _exit(4);
  ::close(fd);
  ::unlink(path.c_str());
  _exit(0);
}

// Sends `per_sink` bytes to each sink at once (a sink per writer and replica); returns the user
// bytes (`per_sink` for each group of three sinks) per second.
double ReplicatedCeiling(const std::vector<SinkProcess>& sinks, uint64_t per_sink) {
  std::vector<int> socks;
  for (const SinkProcess& s : sinks) socks.push_back(ConnectToSink(s));
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int fd : socks) {
    threads.emplace_back([fd, per_sink] {
      for (uint64_t off = 0; off < per_sink; off += kMiB) {
        size_t n = std::min<uint64_t>(kMiB, per_sink - off);
        const char* p = PayloadAt(off);
        while (n > 0) {
          ssize_t w = ::send(fd, p, n, 0);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) Die("sink send");
          p += w;
          n -= w;
        }
      }
      ::shutdown(fd, SHUT_WR);
      char ack;
      if (::recv(fd, &ack, 1, MSG_WAITALL) != 1) Die("sink ack");
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double secs = Seconds(start);
  for (const SinkProcess& s : sinks) waitpid(s.pid, nullptr, 0);
  return MiB(per_sink * sinks.size() / 3) / secs;
}

// Physical bytes written per second (each replica byte counts once) by `writers` concurrent
// writers of 1 MiB pwrites with an fdatasync every `sync_every` bytes, the better of O_DIRECT
// and buffered. `overwrite`: into files written beforehand (untimed), in place, as a wipe does.
double PhysicalCeiling(const std::string& dir, int writers, uint64_t bytes_per_writer,
                       uint64_t sync_every, bool overwrite) {
  double best = 0;
  for (bool direct : {true, false}) {
    auto path = [&](int i) { return absl::StrCat(dir, "/physical", i); };
    auto write_all = [&](int i, bool sync) {
      int fd = direct ? OpenLikeChunkserver(path(i))
                      : ::open(path(i).c_str(), O_WRONLY | O_CREAT, 0644);
      if (fd < 0) Die("physical ceiling open");
      for (uint64_t off = 0; off < bytes_per_writer; off += kMiB) {
        if (::pwrite(fd, PayloadAt(off), kMiB, off) != static_cast<ssize_t>(kMiB)) {
          Die("physical ceiling pwrite");
        }
        if (sync && (off + kMiB) % sync_every == 0 && ::fdatasync(fd) != 0) Die("fdatasync");
      }
      if (::fdatasync(fd) != 0) Die("fdatasync");
      ::close(fd);
    };
    if (overwrite) {
      for (int i = 0; i < writers; ++i) write_all(i, false);
    }
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int i = 0; i < writers; ++i) threads.emplace_back([&, i] { write_all(i, true); });
    for (auto& t : threads) t.join();
    best = std::max(best, MiB(writers * bytes_per_writer) / Seconds(start));
    for (int i = 0; i < writers; ++i) ::unlink(path(i).c_str());
  }
  return best;
}

// The ceilings of re-replication (new replica files, synced every 8 MiB as a copy syncs) and
// of wiping (replica files overwritten in place, one sync per 64 MiB chunk), at three and at
// one-writer-per-chunkserver concurrency; the better of each.
struct PhysicalCeilings {
  double copy = 0;
  double overwrite = 0;
  void Measure(const std::string& dir, int servers) {
    for (int writers : {3, servers}) {
      const uint64_t each = std::max<uint64_t>(1024 / writers, 1) * kMiB;  // 1 GiB in all
      copy = std::max(copy, PhysicalCeiling(dir, writers, each, 8 * kMiB, false));
      overwrite = std::max(overwrite, PhysicalCeiling(dir, writers, each, 64 * kMiB, true));
    }
  }
};

// Drops the page cache so reads come from the disk; returns false where not permitted.
bool DropCaches() {
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  bool ok = ::write(fd, "3", 1) == 1;
  ::close(fd);
  return ok;
}

// Writes the files the read ceiling reads (untimed): reader i reads file i % 3 at offset
// (i / 3) * per_reader.
void PrepareReadFiles(const std::string& dir, int readers, uint64_t per_reader) {
  const uint64_t size = (readers + 2) / 3 * per_reader;
  for (int f = 0; f < 3; ++f) {
    int fd = OpenLikeChunkserver(absl::StrCat(dir, "/disk", f));
    if (fd < 0) Die("read ceiling file open");
    for (uint64_t off = 0; off < size; off += kMiB) {
      if (::pwrite(fd, PayloadAt(off), kMiB, off) != static_cast<ssize_t>(kMiB)) {
        Die("read ceiling file write");
      }
    }
    if (::fdatasync(fd) != 0) Die("read ceiling file fdatasync");
    ::close(fd);
  }
}

// Reads per_reader bytes per reader from the PrepareReadFiles files, 1 MiB at a time, buffered
// (kernel read-ahead) or O_DIRECT into an aligned buffer (the chunkservers' mode).
double ReadCeiling(const std::string& dir, int readers, uint64_t per_reader, bool direct) {
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      int fd = ::open(absl::StrCat(dir, "/disk", i % 3).c_str(), O_RDONLY | (direct ? O_DIRECT : 0));
      if (fd < 0) Die("read ceiling open");
      void* buf = nullptr;
      if (posix_memalign(&buf, 4096, kMiB) != 0) Die("out of memory");
      uint64_t start_off = (i / 3) * per_reader;
      for (uint64_t off = 0; off < per_reader; off += kMiB) {
        if (::pread(fd, buf, kMiB, start_off + off) <= 0) Die("read ceiling pread");
      }
      std::free(buf);
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  return MiB(readers * per_reader) / Seconds(start);
}

// ---- transport ceiling: Ternion's data messages over gRPC, with nothing behind them ----

// A chunkserver service that only moves bytes: ReadChunk streams `length` bytes from memory in
// 1 MiB messages; WriteChunk takes every message and acknowledges once at the end, or at once
// for a small one (an append). No disk, no checksums, no tokens: what gRPC alone costs for a
// read or a replicated write of Ternion's. With journals set, an append is first made durable
// in journal `offset % 3` (one per replica, as three chunkservers each have their own).
class StreamOnlyService final : public ternion::v1::ChunkServerService::Service {
 public:
  void SetJournals(std::array<ternion::bench::GroupCommitRing*, 3> journals) {
    absl::MutexLock lock(&mu_);
    journals_ = journals;
  }

 private:
  grpc::Status ReadChunk(grpc::ServerContext*, const ternion::v1::ReadChunkRequest* req,
                         grpc::ServerWriter<ternion::v1::ReadChunkResponse>* out) override {
    ternion::v1::ReadChunkResponse resp;
    for (uint64_t off = 0; off < req->length(); off += kMiB) {
      resp.set_offset(off);
      resp.set_data(PayloadAt(off), std::min<uint64_t>(kMiB, req->length() - off));
      if (!out->Write(resp)) break;
    }
    return grpc::Status::OK;
  }
  grpc::Status WriteChunk(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<ternion::v1::WriteChunkAck, ternion::v1::WriteChunkRequest>* stream)
      override {
    ternion::v1::WriteChunkRequest req;
    uint64_t received = 0;
    ternion::v1::WriteChunkAck ack;
    while (stream->Read(&req)) {
      received += req.data().size();
      if (req.data().size() < kMiB) {  // a small append: acknowledged at once
        ternion::bench::GroupCommitRing* journal;
        {
          absl::MutexLock lock(&mu_);
          journal = journals_[req.offset() % 3];
        }
        if (journal != nullptr) journal->Append(req.data());
        ack.set_durable_length(received);
        stream->Write(ack);
      }
    }
    ack.set_durable_length(received);
    stream->Write(ack);
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  std::array<ternion::bench::GroupCommitRing*, 3> journals_ ABSL_GUARDED_BY(mu_) = {};
};

struct StreamFigures {
  double write = 0, read = 0;  // user MiB/s
  // 4 KiB appends to three streams, each acknowledged at once: one writer, then many.
  double append_p50_us = 0, append_p99_us = 0, appends_many_per_s = 0;
  // The same appends each made durable first in a journal per replica (when measured).
  double durable_append_p50_us = 0, durable_append_p99_us = 0, durable_appends_many_per_s = 0;
};

// `cfg.writers` concurrent ReadChunk streams of `per_stream` bytes each, as many concurrent
// writers each sending `per_stream` bytes to three WriteChunk streams (one per replica), and
// 4 KiB appends (as the append benchmark's) to a StreamOnlyService over the transport of `tls`
// (a chunkserver's certificate, as Ternion's); with `journal_dir` set, the appends again, made
// durable in journals there.
StreamFigures MeasureStreams(const ternion::security::TlsConfig& server_tls,
                             const ternion::security::TlsConfig& client_tls, const Config& cfg,
                             uint64_t per_stream, const std::string& journal_dir = "") {
  const int streams = cfg.writers;
  StreamOnlyService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", server_tls.ServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(2 * kMiB);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) Die("stream ceiling: cannot listen");
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto channel = [&](int i) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    args.SetInt("ternion.stream", i);  // a connection of its own per stream, as to chunkservers
    return client_tls.NewChannel(address, ternion::security::kChunkserverTlsName, args);
  };
  auto run = [&](auto body) {
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int i = 0; i < streams; ++i) threads.emplace_back(body, i);
    for (auto& t : threads) t.join();
    return MiB(streams * per_stream) / Seconds(start);
  };
  StreamFigures f;
  f.write = run([&](int i) {
    std::vector<std::unique_ptr<ternion::v1::ChunkServerService::Stub>> stubs;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
    std::vector<std::unique_ptr<
        grpc::ClientReaderWriter<ternion::v1::WriteChunkRequest, ternion::v1::WriteChunkAck>>>
        replicas;
    for (int r = 0; r < 3; ++r) {
      stubs.push_back(ternion::v1::ChunkServerService::NewStub(channel(i * 3 + r)));
      ctxs.push_back(std::make_unique<grpc::ClientContext>());
      replicas.push_back(stubs.back()->WriteChunk(ctxs.back().get()));
    }
    ternion::v1::WriteChunkRequest req;
    for (uint64_t off = 0; off < per_stream; off += kMiB) {
      req.set_offset(off);
      req.set_data(PayloadAt(off), std::min<uint64_t>(kMiB, per_stream - off));
      for (auto& s : replicas) {
        if (!s->Write(req)) Die("stream ceiling: write");
      }
    }
    for (auto& s : replicas) {
      s->WritesDone();
      ternion::v1::WriteChunkAck ack;
      if (!s->Read(&ack) || ack.durable_length() != per_stream) Die("stream ceiling: ack");
      if (!s->Finish().ok()) Die("stream ceiling: finish");
    }
  });
  // 4 KiB appends, each writer to three streams of its own: sent to all three, then each
  // acknowledgement read.
  auto appends = [&](int writers, int each) {
    using Stream =
        grpc::ClientReaderWriter<ternion::v1::WriteChunkRequest, ternion::v1::WriteChunkAck>;
    struct Replica {
      std::unique_ptr<ternion::v1::ChunkServerService::Stub> stub;
      grpc::ClientContext ctx;
      std::unique_ptr<Stream> stream;
    };
    std::vector<std::array<Replica, 3>> replicas(writers);
    for (int w = 0; w < writers; ++w) {
      for (int r = 0; r < 3; ++r) {
        Replica& replica = replicas[w][r];
        replica.stub = ternion::v1::ChunkServerService::NewStub(channel(1000 + 3 * w + r));
        replica.stream = replica.stub->WriteChunk(&replica.ctx);
      }
    }
    std::array<ternion::v1::WriteChunkRequest, 3> reqs;
    for (int r = 0; r < 3; ++r) {
      reqs[r].set_offset(r);  // the replica: which journal
      reqs[r].set_data(PayloadAt(0), 4096);
    }
    ternion::bench::TimedAppends timed = ternion::bench::TimeWriters(writers, each, 50, [&](int w) {
      for (int r = 0; r < 3; ++r) {
        if (!replicas[w][r].stream->Write(reqs[r])) Die("stream ceiling: append");
      }
      ternion::v1::WriteChunkAck ack;
      for (Replica& r : replicas[w]) {
        if (!r.stream->Read(&ack)) Die("stream ceiling: append acknowledgement");
      }
    });
    for (auto& three : replicas) {
      for (Replica& r : three) {
        r.stream->WritesDone();
        ternion::v1::WriteChunkAck ack;
        while (r.stream->Read(&ack)) {
        }
        (void)r.stream->Finish();
      }
    }
    return timed;
  };
  const ternion::bench::TimedAppends one = appends(1, cfg.appends);
  f.append_p50_us = ternion::bench::Percentile(one.us, 0.5);
  f.append_p99_us = ternion::bench::Percentile(one.us, 0.99);
  const int each = ternion::bench::AppendsPerWriter(cfg.appends, cfg.append_writers);
  f.appends_many_per_s = appends(cfg.append_writers, each).per_s;
  if (!journal_dir.empty()) {
    std::array<std::unique_ptr<ternion::bench::GroupCommitRing>, 3> journals;
    for (int r = 0; r < 3; ++r) {
      journals[r] = std::make_unique<ternion::bench::GroupCommitRing>(
          absl::StrCat(journal_dir, "/journal", r));
    }
    service.SetJournals({journals[0].get(), journals[1].get(), journals[2].get()});
    const ternion::bench::TimedAppends durable = appends(1, cfg.appends);
    f.durable_append_p50_us = ternion::bench::Percentile(durable.us, 0.5);
    f.durable_append_p99_us = ternion::bench::Percentile(durable.us, 0.99);
    f.durable_appends_many_per_s = appends(cfg.append_writers, each).per_s;
    service.SetJournals({});
  }
  f.read = run([&](int i) {
    auto stub = ternion::v1::ChunkServerService::NewStub(channel(i));
    grpc::ClientContext ctx;
    ternion::v1::ReadChunkRequest req;
    req.set_length(per_stream);
    auto reader = stub->ReadChunk(&ctx, req);
    ternion::v1::ReadChunkResponse resp;
    uint64_t got = 0;
    while (reader->Read(&resp)) got += resp.data().size();
    if (!reader->Finish().ok() || got != per_stream) Die("stream ceiling: read");
  });
  server->Shutdown();
  return f;
}

// The transport ceilings over plaintext and over TLS with certificates made for the purpose
// in `dir`, as the local cluster makes its own.
std::pair<StreamFigures, StreamFigures> MeasureTransportCeilings(const std::string& dir,
                                                                 const Config& cfg,
                                                                 uint64_t per_stream) {
  ternion::security::CertificateDir certs{dir + "/tls"};
  std::filesystem::create_directories(certs.dir);
  const auto& hosts = ternion::security::kLoopbackHosts;
  if (!certs.Init(hosts).ok() || !certs.IssueChunkserver("cs-ceiling", hosts).ok()) {
    Die("stream ceiling: certificates");
  }
  auto server_tls = ternion::security::TlsConfig::Load(
      {.ca = certs.ca_cert(), .cert = certs.cert("cs-ceiling"), .key = certs.key("cs-ceiling")});
  auto client_tls =
      ternion::security::TlsConfig::Load({.ca = certs.ca_cert(), .cert = "", .key = ""});
  if (!server_tls.ok() || !client_tls.ok()) Die("stream ceiling: TLS configuration");
  const auto plain = ternion::security::TlsConfig::Insecure();
  StreamFigures insecure = MeasureStreams(plain, plain, cfg, per_stream);
  StreamFigures tls = MeasureStreams(*server_tls, *client_tls, cfg, per_stream, dir);
  std::filesystem::remove_all(certs.dir);
  return {insecure, tls};
}

// The transport's own 4 KiB appends beside Ternion's; the ratios against the durable ones over
// TLS (the same work with nothing of Ternion's: as its cluster runs, less the checksums,
// tokens, receipts and the master).
void AddStreamAppendFigures(const StreamFigures& plain, const StreamFigures& tls,
                            const ternion::bench::AppendFigures& ternion, nlohmann::json* j) {
  (*j)["stream_append_insecure_p50_us"] = plain.append_p50_us;
  (*j)["stream_append_insecure_p99_us"] = plain.append_p99_us;
  (*j)["stream_append_tls_p50_us"] = tls.append_p50_us;
  (*j)["stream_append_tls_p99_us"] = tls.append_p99_us;
  (*j)["stream_appends_many_insecure_per_s"] = plain.appends_many_per_s;
  (*j)["stream_appends_many_tls_per_s"] = tls.appends_many_per_s;
  (*j)["stream_durable_append_tls_p50_us"] = tls.durable_append_p50_us;
  (*j)["stream_durable_append_tls_p99_us"] = tls.durable_append_p99_us;
  (*j)["stream_durable_appends_many_tls_per_s"] = tls.durable_appends_many_per_s;
  (*j)["append_p50_vs_tls_stream"] = tls.durable_append_p50_us / ternion.p50_us;
  (*j)["appends_many_vs_tls_stream"] = ternion.many_per_s / tls.durable_appends_many_per_s;
}

std::string FormatStreamAppendFigures(const StreamFigures& plain, const StreamFigures& tls,
                                      const ternion::bench::AppendFigures& ternion) {
  return absl::StrFormat(
      "  4 KiB to 3 gRPC streams, no storage, acked   1 writer p50 %.0f / %.0f us, p99 %.0f / "
      "%.0f us; %d writers %.0f / %.0f/s (plaintext / TLS)\n"
      "  the same over TLS, a journal per replica     1 writer p50 %.0f us, p99 %.0f us; %d "
      "writers %.0f/s\n"
      "  Ternion's appends against those              p50 ratio %.2f; %d writers ratio %.2f\n",
      plain.append_p50_us, tls.append_p50_us, plain.append_p99_us, tls.append_p99_us,
      ternion.writers, plain.appends_many_per_s, tls.appends_many_per_s, tls.durable_append_p50_us,
      tls.durable_append_p99_us, ternion.writers, tls.durable_appends_many_per_s,
      tls.durable_append_p50_us / ternion.p50_us, ternion.writers,
      ternion.many_per_s / tls.durable_appends_many_per_s);
}

// ---- Ternion ----

// `writers` concurrent writers of `per_writer` bytes each, to files <dir>/0, <dir>/1, ...
double TernionWrite(ternion::Client* client, int writers, uint64_t per_writer,
                    const std::string& dir = "seq") {
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i) {
    threads.emplace_back([&, i] {
      auto w = client->Create("bench", absl::StrCat(dir, "/", i));
      if (!w.ok()) Die(std::string(w.status().message()));
      for (uint64_t off = 0; off < per_writer; off += 4 * kMiB) {
        size_t n = std::min<uint64_t>(4 * kMiB, per_writer - off);
        if (auto s = (*w)->Append(absl::string_view(PayloadAt(off), n)); !s.ok()) {
          Die(std::string(s.message()));
        }
      }
      if (auto s = (*w)->Close(); !s.ok()) Die(std::string(s.message()));
    });
  }
  for (auto& t : threads) t.join();
  return MiB(writers * per_writer) / Seconds(start);
}

double TernionRead(ternion::Client* client, int readers, uint64_t per_reader) {
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      auto r = client->Open("bench", absl::StrCat("seq/", i));
      if (!r.ok()) Die(std::string(r.status().message()));
      std::string buf;
      for (uint64_t off = 0; off < per_reader; off += 16 * kMiB) {
        if (auto s = (*r)->ReadAt(off, 16 * kMiB, &buf); !s.ok()) Die(std::string(s.message()));
        if (buf.size() != std::min<uint64_t>(16 * kMiB, per_reader - off)) Die("short read");
        // Check the first page of each piece so a silently wrong read would not count as fast.
        if (std::memcmp(buf.data(), PayloadAt(off), 4096) != 0) {
          Die("read returned wrong bytes");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return MiB(readers * per_reader) / Seconds(start);
}

}  // namespace

struct Recovery {
  double detect_s = 0;  // kill -9 until the master counts chunks under-replicated
  double copy_s = 0;    // from then until every chunk has three replicas again
  uint64_t bytes = 0;   // re-replicated
};

// Kills the chunkserver holding the most replicas and times re-replication, with the master's
// bandwidth cap lifted (the throttle would otherwise be what is measured).
Recovery MeasureRecovery(const ternion::local::LocalCluster& cluster) {
  auto stub = ternion::v1::MasterService::NewStub(ternion::local::AdminMasterChannel(cluster));
  auto status = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ternion::v1::ClusterStatusResponse st;
    if (!stub->ClusterStatus(&ctx, ternion::v1::ClusterStatusRequest(), &st).ok()) {
      Die("cluster status failed");
    }
    return st;
  };
  {
    grpc::ClientContext ctx;
    ternion::v1::ReplicationLimits limits, now;
    limits.set_bandwidth_bytes_per_s(1ull << 40);
    if (!stub->SetReplicationLimits(&ctx, limits, &now).ok()) Die("cannot lift the copy cap");
  }
  ternion::v1::ClusterStatusResponse st = status();
  std::string victim_id;
  uint64_t most = 0;
  for (const auto& s : st.servers()) {
    if (s.replicas() > most) {
      most = s.replicas();
      victim_id = s.server_id();
    }
  }
  std::string victim;
  for (const auto& p : cluster.processes) {
    if (p.role != "chunkserver") continue;
    std::ifstream in(p.data_dirs[0] + "/server_id");
    std::string id;
    in >> id;
    if (id == victim_id) victim = p.name;
  }
  if (victim.empty()) Die("cannot find the chunkserver to kill");
  const uint64_t repaired_before = st.bytes_repaired();
  const absl::Time killed = absl::Now();
  if (!ternion::local::KillProcess(cluster.dir, victim).ok()) Die("kill failed");
  Recovery r;
  while (status().chunks_under_replicated() == 0) {
    if (Seconds(killed) > 120) Die("the dead server was not noticed");
    absl::SleepFor(absl::Milliseconds(20));
  }
  const absl::Time detected = absl::Now();
  r.detect_s = Seconds(killed);
  while (true) {
    st = status();
    if (st.chunks_under_replicated() == 0 && st.moves_in_progress() == 0) break;
    if (Seconds(detected) > 600) Die("re-replication did not finish in 10 minutes");
    absl::SleepFor(absl::Milliseconds(20));
  }
  r.copy_s = Seconds(detected);
  r.bytes = st.bytes_repaired() - repaired_before;
  // Back with its (now extra) replicas, for the wipe measurement.
  if (!ternion::local::RestartProcess(cluster.dir, victim).ok()) Die("restart failed");
  return r;
}

struct Wipe {
  double seconds = 0;
  uint64_t bytes = 0;
};

// Deletes the benchmark's files and times garbage collection until every replica is wiped
// (overwritten with zeros and synced on its chunkserver).
Wipe MeasureWipe(ternion::Client* client, const ternion::local::LocalCluster& cluster,
                 int writers) {
  auto stub = ternion::v1::MasterService::NewStub(ternion::local::AdminMasterChannel(cluster));
  auto gc = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ternion::v1::GcStatusResponse st;
    if (!stub->GcStatus(&ctx, ternion::v1::GcStatusRequest(), &st).ok()) Die("gc status failed");
    return st;
  };
  absl::SleepFor(absl::Seconds(3));  // the restarted server re-registers; its extras go first
  while (gc().chunks_pending() != 0) absl::SleepFor(absl::Milliseconds(50));
  const uint64_t before = gc().bytes_wiped_total();
  const absl::Time start = absl::Now();
  for (int i = 0; i < writers; ++i) {
    if (!client->Delete("bench", absl::StrCat("seq/", i)).ok()) Die("delete failed");
  }
  (void)client->Delete("bench", "appends");
  while (gc().chunks_pending() != 0) {
    if (Seconds(start) > 600) Die("garbage collection did not finish in 10 minutes");
    absl::SleepFor(absl::Milliseconds(20));
  }
  Wipe w;
  w.seconds = Seconds(start);
  w.bytes = gc().bytes_wiped_total() - before;
  return w;
}

// The benchmark's clusters run the chunkservers' own default journal, as a production disk
// does (local clusters for tests use less).
constexpr uint64_t kBenchJournalMib = ternion::chunkserver::kDefaultJournalBytes >> 20;

struct Transport {
  double write = 0, read = 0, p50 = 0, p99 = 0;
};

// Ternion's write, read and append figures on a new plaintext local cluster of the same shape.
Transport MeasurePlaintext(const Config& cfg, uint64_t per_writer) {
  ternion::local::LocalClusterOptions lo;
  lo.dir = cfg.dir + "/cluster-insecure";
  lo.racks = cfg.racks;
  lo.per_rack = cfg.per_rack;
  lo.insecure = true;
  lo.journal_mib = kBenchJournalMib;
  auto c = ternion::local::StartLocalCluster(lo);
  if (!c.ok()) Die(std::string(c.status().message()));
  auto client = ternion::Client::Connect(ternion::local::AdminClientOptions(*c));
  if (!client.ok()) Die(std::string(client.status().message()));
  if (absl::Status s = (*client)->CreateProject("bench"); !s.ok()) Die(std::string(s.message()));
  Transport t;
  t.write = TernionWrite(client->get(), cfg.writers, per_writer);
  DropCaches();
  t.read = TernionRead(client->get(), cfg.writers, per_writer);
  std::tie(t.p50, t.p99) = ternion::bench::AppendLatency(client->get(), "bench", cfg.appends);
  client->reset();
  (void)ternion::local::StopLocalCluster(c->dir);
  return t;
}

int main(int argc, char** argv) {
  ternion::KeepLargeBuffersInHeap();
  Config cfg;
  CLI::App app{"Ternion benchmark: throughput and latency as ratios to this machine's ceilings."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-bench"));
  app.add_option("--master", cfg.master, "Join this cluster instead of starting a local one");
  app.add_option("--dir", cfg.dir, "Directory for the local cluster and ceiling files");
  app.add_option("--write-mib", cfg.write_mib, "User bytes written in total (MiB)");
  app.add_option("--writers", cfg.writers, "Concurrent writers (and readers)");
  app.add_option("--appends", cfg.appends, "4 KiB durable appends timed");
  app.add_option("--append-writers", cfg.append_writers,
                 "Concurrent writers of 4 KiB durable appends");
  app.add_option("--row-mib", cfg.row_mib,
                 "MiB of 100-byte and of 4 KiB rows written and scanned, encrypted and plain");
  app.add_option("--racks", cfg.racks, "Racks of the local cluster");
  app.add_option("--per-rack", cfg.per_rack, "Chunkservers per rack");
  app.add_flag("--json", cfg.json, "Print one JSON object");
  app.add_flag("--only-appends", cfg.only_appends,
               "Measure only the 4 KiB durable appends (and their ceilings)");
  int sink_fd = -1;  // internal: run as a ceiling sink (bench/sink_process.h)
  std::string sink_kind, sink_path;
  app.add_option("--sink-kind", sink_kind)->group("");
  app.add_option("--sink-fd", sink_fd)->group("");
  app.add_option("--sink-path", sink_path)->group("");
  CLI11_PARSE(app, argc, argv);
  if (sink_fd >= 0 && sink_kind == "append") ternion::bench::AppendSinkMain(sink_fd, sink_path);
  if (sink_fd >= 0) SinkMain(sink_fd, sink_path);
  if (cfg.writers < 1 || cfg.write_mib < static_cast<uint64_t>(cfg.writers)) {
    Die("need at least one writer and one MiB per writer");
  }
  bool own_dir = cfg.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/ternion-bench.XXXXXX";
    cfg.dir = mkdtemp(tmpl);
  }
  std::string ceil_dir = cfg.dir + "/ceiling";
  std::filesystem::create_directories(ceil_dir);
  const uint64_t total = cfg.write_mib * kMiB;
  const uint64_t per_writer = total / cfg.writers / kMiB * kMiB;
  Payload();

  // The write ceilings are measured before and after Ternion's write; the higher counts, so
  // the noise of this machine never flatters Ternion's ratio.
  double write_ceiling = 0;
  StreamFigures stream_plain, stream_tls;
  if (!cfg.only_appends) {
    write_ceiling =
        ReplicatedCeiling(StartSinkProcesses(ceil_dir, 3 * cfg.writers, "stream"), per_writer);
  }
  std::tie(stream_plain, stream_tls) =
      MeasureTransportCeilings(ceil_dir, cfg, cfg.only_appends ? 16 * kMiB : per_writer);

  ternion::local::LocalCluster cluster;
  if (cfg.master.empty()) {
    ternion::local::LocalClusterOptions lo;
    lo.dir = cfg.dir + "/cluster";
    lo.racks = cfg.racks;
    lo.per_rack = cfg.per_rack;
    lo.dead_after_s = 3;     // recovery starts soon after the kill below
    lo.move_scan_s = 0.5;
    lo.journal_mib = kBenchJournalMib;
    auto c = ternion::local::StartLocalCluster(lo);
    if (!c.ok()) Die(std::string(c.status().message()));
    cluster = *c;
    cfg.master = cluster.master_address;
  }
  ternion::ClientOptions co;
  if (cluster.master_address.empty()) {  // --master: the caller's credentials (environment)
    co.master_address = cfg.master;
    if (absl::Status s = ternion::LoadCredentials("", &co); !s.ok()) Die(std::string(s.message()));
  } else {
    co = ternion::local::AdminClientOptions(cluster);
  }
  auto client = ternion::Client::Connect(co);
  if (!client.ok()) Die(std::string(client.status().message()));
  absl::Status ps = (*client)->CreateProject("bench");
  if (!ps.ok() && ps.code() != absl::StatusCode::kAlreadyExists) Die(std::string(ps.message()));
  for (int i = 0; i < cfg.writers; ++i) (void)(*client)->Delete("bench", absl::StrCat("seq/", i));
  (void)(*client)->Delete("bench", "single/0");

  if (cfg.only_appends) {
    std::filesystem::create_directories(ceil_dir);
    const ternion::bench::AppendFigures appends = ternion::bench::MeasureAppends(
        client->get(), "bench", ceil_dir, cfg.appends, cfg.append_writers);
    if (!cluster.dir.empty()) (void)ternion::local::StopLocalCluster(cluster.dir);
    if (own_dir) std::filesystem::remove_all(cfg.dir);
    nlohmann::json j;
    ternion::bench::AddAppendFigures(appends, &j);
    AddStreamAppendFigures(stream_plain, stream_tls, appends, &j);
    std::cout << (cfg.json ? j.dump() + "\n"
                           : ternion::bench::FormatAppendFigures(appends) +
                                 FormatStreamAppendFigures(stream_plain, stream_tls, appends));
    return 0;
  }
  double write = TernionWrite(client->get(), cfg.writers, per_writer);
  // One writer alone: what a single stream (`ternion put` of a big file) gets.
  const double single_write = TernionWrite(client->get(), 1, per_writer, "single");
  (void)(*client)->Delete("bench", "single/0");
  write_ceiling = std::max(
      write_ceiling,
      ReplicatedCeiling(StartSinkProcesses(ceil_dir, 3 * cfg.writers, "stream"), per_writer));
  PrepareReadFiles(ceil_dir, cfg.writers, per_writer);
  bool cold = DropCaches();
  double read = TernionRead(client->get(), cfg.writers, per_writer);
  // The read ceiling reads as the chunkservers do: O_DIRECT, 1 MiB at a time, one read in
  // flight per stream, as many streams as readers. A buffered read (kernel read-ahead, a
  // deeper queue) is shown beside it.
  DropCaches();
  const double buffered_read = ReadCeiling(ceil_dir, cfg.writers, per_writer, /*direct=*/false);
  DropCaches();
  const double read_ceiling = ReadCeiling(ceil_dir, cfg.writers, per_writer, /*direct=*/true);
  PhysicalCeilings physical;
  physical.Measure(ceil_dir, cfg.racks * cfg.per_rack);
  std::filesystem::create_directories(ceil_dir);
  const ternion::bench::AppendFigures appends = ternion::bench::MeasureAppends(
      client->get(), "bench", ceil_dir, cfg.appends, cfg.append_writers);
  const double p50 = appends.p50_us;
  const ternion::bench::RowFigures rows =
      ternion::bench::MeasureRows(client->get(), "bench", cfg.row_mib * kMiB);
  Recovery recovery;
  Wipe wipe;
  if (!cluster.dir.empty()) {
    recovery = MeasureRecovery(cluster);
    wipe = MeasureWipe(client->get(), cluster, cfg.writers);
  }
  const double recovery_mib_s = recovery.copy_s > 0 ? MiB(recovery.bytes) / recovery.copy_s : 0;
  const double wipe_mib_s = wipe.seconds > 0 ? MiB(wipe.bytes) / wipe.seconds : 0;
  physical.Measure(ceil_dir, cfg.racks * cfg.per_rack);  // again: the better counts
  std::filesystem::remove_all(ceil_dir);

  if (!cluster.dir.empty()) (void)ternion::local::StopLocalCluster(cluster.dir);

  // The same writes, reads and appends on a plaintext cluster (--insecure), so the run says
  // what TLS costs. Requests are signed and chunk tokens checked there too: those have no off
  // switch.
  Transport plain;
  if (!cluster.dir.empty()) plain = MeasurePlaintext(cfg, per_writer);
  // The transport ceilings again; the better of each counts.
  std::filesystem::create_directories(ceil_dir);
  auto [stream_plain2, stream_tls2] = MeasureTransportCeilings(ceil_dir, cfg, per_writer);
  std::filesystem::remove_all(ceil_dir);
  for (auto [best, again] : {std::pair{&stream_plain, stream_plain2}, {&stream_tls, stream_tls2}}) {
    best->write = std::max(best->write, again.write);
    best->read = std::max(best->read, again.read);
    if (again.append_p50_us < best->append_p50_us) {
      best->append_p50_us = again.append_p50_us;
      best->append_p99_us = again.append_p99_us;
    }
    best->appends_many_per_s = std::max(best->appends_many_per_s, again.appends_many_per_s);
    if (again.durable_append_p50_us < best->durable_append_p50_us) {
      best->durable_append_p50_us = again.durable_append_p50_us;
      best->durable_append_p99_us = again.durable_append_p99_us;
    }
    best->durable_appends_many_per_s =
        std::max(best->durable_appends_many_per_s, again.durable_appends_many_per_s);
  }
  if (own_dir) std::filesystem::remove_all(cfg.dir);

  nlohmann::json j = {{"write_mib_s", write},
                      {"write_ceiling_mib_s", write_ceiling},
                      {"write_ratio", write / write_ceiling},
                      {"read_mib_s", read},
                      {"read_ceiling_mib_s", read_ceiling},
                      {"read_ratio", read / read_ceiling},
                      {"buffered_read_mib_s", buffered_read},
                      {"copy_ceiling_mib_s", physical.copy},
                      {"overwrite_ceiling_mib_s", physical.overwrite},
                      {"read_cache", cold ? "dropped" : "warm"},
                      {"single_write_mib_s", single_write},
                      {"single_vs_concurrent_write", single_write / write},
                      {"recovery_detect_s", recovery.detect_s},
                      {"recovery_copy_s", recovery.copy_s},
                      {"recovery_mib", recovery.bytes / kMiB},
                      {"recovery_mib_s", recovery_mib_s},
                      {"recovery_ratio", recovery_mib_s / physical.copy},
                      {"wipe_mib", wipe.bytes / kMiB},
                      {"wipe_s", wipe.seconds},
                      {"wipe_mib_s", wipe_mib_s},
                      {"wipe_ratio", wipe_mib_s / physical.overwrite},
                      {"bytes_mib", per_writer * cfg.writers / kMiB},
                      {"writers", cfg.writers},
                      {"insecure_write_mib_s", plain.write},
                      {"insecure_read_mib_s", plain.read},
                      {"insecure_append_p50_us", plain.p50},
                      {"insecure_append_p99_us", plain.p99},
                      {"tls_write_vs_insecure", plain.write > 0 ? write / plain.write : 0},
                      {"tls_read_vs_insecure", plain.read > 0 ? read / plain.read : 0},
                      {"tls_append_p50_extra_us", plain.p50 > 0 ? p50 - plain.p50 : 0},
                      {"stream_write_insecure_mib_s", stream_plain.write},
                      {"stream_write_tls_mib_s", stream_tls.write},
                      {"stream_read_insecure_mib_s", stream_plain.read},
                      {"stream_read_tls_mib_s", stream_tls.read},
                      {"stream_tls_write_vs_insecure", stream_tls.write / stream_plain.write},
                      {"stream_tls_read_vs_insecure", stream_tls.read / stream_plain.read},
                      {"write_vs_tls_stream", write / stream_tls.write},
                      {"read_vs_tls_stream", read / stream_tls.read},
                      {"insecure_write_vs_stream", plain.write / stream_plain.write},
                      {"insecure_read_vs_stream", plain.read / stream_plain.read}};
  ternion::bench::AddRowFigures(rows, &j);
  ternion::bench::AddAppendFigures(appends, &j);
  AddStreamAppendFigures(stream_plain, stream_tls, appends, &j);
  if (cfg.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "ternion-bench: %d MiB by %d writers, 3 replicas, page cache %s before reads\n"
      "  replicated-write ceiling (3 TCP sinks)        %8.1f MiB/s\n"
      "  Ternion sequential write                      %8.1f MiB/s  = %.2f of replicated "
      "ceiling\n"
      "  read ceiling (O_DIRECT 1 MiB, 1 per stream)   %8.1f MiB/s  (buffered: %.1f MiB/s)\n"
      "  Ternion sequential read                       %8.1f MiB/s  = %.2f of read ceiling\n"
      "  one writer alone                              %8.1f MiB/s  = %.2f of %d writers\n"
      "  copy ceiling (new files, sync every 8 MiB)    %8.1f MiB/s of bytes on disk\n"
      "  overwrite ceiling (in place, sync per 64 MiB) %8.1f MiB/s of bytes on disk\n"
      "  recovery after kill -9 of one chunkserver     %.0f MiB in %.1f s = %.1f MiB/s = %.2f of "
      "copy ceiling (noticed after %.1f s)\n"
      "  wipe of deleted replicas (delete to all wiped) %.0f MiB in %.1f s = %.1f MiB/s = %.2f of "
      "overwrite ceiling\n"
      "  the same cluster with --insecure (no TLS)     write %.1f MiB/s, read %.1f MiB/s, append "
      "p50 %.0f us, p99 %.0f us\n"
      "  TLS against --insecure                        write x%.2f, read x%.2f, append p50 %+.0f "
      "us\n"
      "  gRPC streams of 1 MiB messages, no storage    write %.1f / %.1f MiB/s, read %.1f / %.1f "
      "MiB/s (plaintext / TLS)\n"
      "  the machine's TLS cost on those streams       write x%.2f, read x%.2f\n"
      "  Ternion against the streams of its transport  TLS: write %.2f, read %.2f; plaintext: "
      "write %.2f, read %.2f\n",
      per_writer * cfg.writers / kMiB, cfg.writers, cold ? "dropped" : "warm", write_ceiling, write,
      write / write_ceiling, read_ceiling, buffered_read, read, read / read_ceiling, single_write,
      single_write / write, cfg.writers, physical.copy, physical.overwrite, MiB(recovery.bytes),
      recovery.copy_s, recovery_mib_s, recovery_mib_s / physical.copy, recovery.detect_s,
      MiB(wipe.bytes), wipe.seconds, wipe_mib_s, wipe_mib_s / physical.overwrite, plain.write,
      plain.read, plain.p50, plain.p99, plain.write > 0 ? write / plain.write : 0,
      plain.read > 0 ? read / plain.read : 0, plain.p50 > 0 ? p50 - plain.p50 : 0,
      stream_plain.write, stream_tls.write, stream_plain.read, stream_tls.read,
      stream_tls.write / stream_plain.write, stream_tls.read / stream_plain.read,
      write / stream_tls.write, read / stream_tls.read, plain.write / stream_plain.write,
      plain.read / stream_plain.read);
  std::cout << ternion::bench::FormatAppendFigures(appends)
            << FormatStreamAppendFigures(stream_plain, stream_tls, appends);
  std::cout << "Rows (encrypted in this process vs the same rows as plain records):\n"
            << ternion::bench::FormatRowFigures(rows);
  return 0;
}
