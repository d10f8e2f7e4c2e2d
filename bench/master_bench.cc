// ternion-master-bench: a real ternion-master process at scale. It writes the metadata of N
// chunks in N/10 files (three replicas each, on S simulated chunkservers in distinct racks)
// straight into a formatted metadata store, starts the master on it (time to serve), registers
// every simulated chunkserver with its full replica report over gRPC and keeps them
// heartbeating, then measures, with C client threads: lookups (GetFileInfo with chunks) and
// durable mutations (create + allocate + commit + close), and lookups while one server re-sends
// its full report. Prints per-operation rates and latencies, the master's RSS per chunk, and
// per master core figures (the master's CPU time over the phase), and the lookups' ratio to a
// ceiling measured in the same run: the same calls answered by a server that only returns a
// prepared answer (ServeCeiling).

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/master_channel.h"
#include "common/version.h"
#include "master/master.h"
#include "master/master_service.h"
#include "master/metadata_keys.h"
#include "master/metadata_store.h"
#include "security/credentials.h"
#include "security/length_receipt.h"
#include "security/master_key.h"
#include "security/request_fields.h"
#include "ternion/v1/master.grpc.pb.h"
#include "ternion/v1/metadata.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = ternion::v1;

struct Config {
  uint64_t chunks = 1'000'000;
  uint32_t servers = 1000;
  uint32_t racks = 50;
  int clients = 8;
  double seconds = 5;
  std::string dir;
  std::string master_binary;
  bool json = false;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Says on stderr which phase starts (so a profiler can be attached to the master for one).
void Phase(const char* name) { std::cerr << "ternion-master-bench: phase " << name << std::endl; }

// The processes this benchmark started (the master, the ceiling server), stopped on every exit.
pid_t g_master_pid = -1;
pid_t g_ceiling_pid = -1;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "ternion-master-bench: " << what << "\n";
  for (pid_t pid : {g_master_pid, g_ceiling_pid}) {
    if (pid <= 0) continue;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  std::exit(1);
}

std::string ServerId(uint32_t i) { return absl::StrFormat("sim-%04d", i); }
uint32_t ServerOrdinal(const std::string& id) {  // of ServerId
  return static_cast<uint32_t>(std::strtoul(id.c_str() + 4, nullptr, 10));
}
std::string RackOf(uint32_t i, const Config& c) { return absl::StrCat("rack", i % c.racks); }
constexpr uint64_t kChunkSize = 64ull << 20;
constexpr int kChunksPerFile = 10;

// Server i's replicas: chunk c lives on servers (c, c + S/3, c + 2S/3) mod S, which are in
// distinct racks whenever S/3 is not a multiple of the rack count.
std::array<uint32_t, 3> ReplicasOf(uint64_t chunk, const Config& c) {
  const uint32_t third = c.servers / 3;
  return {static_cast<uint32_t>(chunk % c.servers),
          static_cast<uint32_t>((chunk + third) % c.servers),
          static_cast<uint32_t>((chunk + 2 * third) % c.servers)};
}

// Writes the cluster's metadata as the master itself would have: projects, files, chunks,
// counters (unsynced batches; one synced write at the end).
void Populate(const Config& c, const std::string& meta) {
  auto store = ternion::master::MetadataStore::Open(meta);
  if (!store.ok()) Die(store.status().ToString());
  using namespace ternion::master;  // NOLINT: the key layout
  v1::ProjectRecord p;
  p.set_name("bench");
  p.set_owner("bench");
  MetadataBatch batch;
  batch.Put(absl::StrCat(kProjectPrefix, "bench"), p.SerializeAsString());
  const uint64_t files = c.chunks / kChunksPerFile;
  uint64_t chunk = 1;
  for (uint64_t f = 1; f <= files; ++f) {
    v1::FileRecord fr;
    fr.set_file_id(f);
    fr.set_project("bench");
    fr.set_path(absl::StrFormat("d%03d/f%08d", f % 1000, f));
    fr.set_chunk_size(kChunkSize);
    fr.set_length(kChunksPerFile * kChunkSize);
    fr.set_sealed(true);
    for (int i = 0; i < kChunksPerFile; ++i, ++chunk) {
      fr.add_chunk_ids(chunk);
      v1::ChunkRecord cr;
      cr.set_chunk_id(chunk);
      cr.set_file_id(f);
      cr.set_index(i);
      cr.set_version(1);
      cr.set_length(kChunkSize);
      cr.set_project("bench");
      for (uint32_t s : ReplicasOf(chunk, c)) cr.add_replica_servers(ServerId(s));
      batch.Put(ChunkKey(chunk), cr.SerializeAsString());
    }
    batch.Put(kFilePrefix + FileKey("bench", fr.path()), fr.SerializeAsString());
    if (batch.puts.size() >= 20000) {
      if (absl::Status s = (*store)->Write(batch); !s.ok()) Die(s.ToString());
      batch = MetadataBatch();
    }
  }
  batch.Put(kNextFileIdKey, absl::StrCat(files + 1));
  batch.Put(kNextChunkIdKey, absl::StrCat(chunk));
  if (absl::Status s = (*store)->Write(batch); !s.ok()) Die(s.ToString());
}

struct MasterProcess {
  pid_t pid = -1;
  std::string address;
};

// Starts `args` as a child process with its stderr appended to `log`; returns its pid.
pid_t Spawn(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen(log.c_str(), "a", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) Die("fork failed");
  return pid;
}

MasterProcess StartMaster(const Config& c, const std::string& meta) {
  const std::string ready = c.dir + "/master.ready";
  std::filesystem::remove(ready);
  std::vector<std::string> args = {
      c.master_binary, "--metadata-dir", meta, "--host", "127.0.0.1", "--port", "0",
      "--metrics-port", "-1", "--ready-file", ready, "--dead-after", "3600", "--master-key-file",
      c.dir + "/master.key", "--bootstrap-credentials", c.dir + "/admin.profile",
      // Thousands of simulated chunkservers hold no certificates;
      // the transport's cost is ternion-bench's to measure.
      "--insecure"};
  MasterProcess m;
  m.pid = g_master_pid = Spawn(args, c.dir + "/master.log");
  for (int i = 0; i < 6000; ++i) {  // at most 10 minutes
    std::ifstream f(ready);
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (!j.is_discarded() && j.contains("address")) {
      m.address = j["address"];
      return m;
    }
    int status;
    if (waitpid(m.pid, &status, WNOHANG) == m.pid) {
      g_master_pid = -1;
      Die("the master exited; see " + c.dir + "/master.log");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("the master did not start serving");
}

// The master's CPU seconds (user + system) and resident bytes, from /proc.
double CpuSeconds(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string s((std::istreambuf_iterator<char>(f)), {});
  std::vector<std::string> fields;
  std::istringstream in(s.substr(s.rfind(')') + 2));
  for (std::string x; in >> x;) fields.push_back(x);
  return (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
}
uint64_t RssBytes(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/statm"));
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

v1::RegisterChunkServerRequest Registration(uint32_t s, const Config& c,
                                            const std::string& cluster_id) {
  v1::RegisterChunkServerRequest req;
  req.set_server_id(ServerId(s));
  req.set_address("127.0.0.1:1");  // never called: no repairs or moves run in the benchmark
  req.set_rack(RackOf(s, c));
  req.set_cluster_id(cluster_id);
  auto* d = req.add_disks();
  d->set_path("/sim");
  d->set_capacity_bytes(100ull << 40);
  d->set_used_bytes(10ull << 40);
  // Every chunk c with s among ReplicasOf(c): c = s, s - S/3, s - 2S/3 (mod S), stepping by S.
  const uint32_t third = c.servers / 3;
  for (uint32_t offset : {0u, third, 2 * third}) {
    const uint64_t first = (s + c.servers - offset) % c.servers;
    for (uint64_t chunk = first == 0 ? c.servers : first; chunk <= c.chunks; chunk += c.servers) {
      auto* r = req.add_replicas();
      r->set_chunk_id(chunk);
      r->set_version(1);
      r->set_length(kChunkSize);
      r->set_project("bench");
      r->set_disk("/sim");
    }
  }
  return req;
}

struct Latencies {
  std::vector<double> us;
  void Add(Clock::duration d) { us.push_back(std::chrono::duration<double, std::micro>(d).count()); }
  double Pct(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  }
};

// The ceiling of a lookup on this machine: the same call (GetFileInfo, the same request and
// an answer of the same bytes) served with the master's gRPC settings by a process that does
// nothing but return a prepared answer. The benchmark runs it as a child (this binary with
// --ceiling-server) and measures it with the same clients, so a lookup's ratio to it says how
// much of the master's cost is its own work rather than the RPC's.
// The least a signed lookup costs: verify the signature (as the master does, replay window
// included), then copy a prepared answer.
class CannedLookupService final : public v1::MasterService::Service {
 public:
  CannedLookupService(v1::FileInfo answer, const ternion::security::Credentials& key)
      : answer_(std::move(answer)),
        verifier_(
            [key](const std::string& id) -> std::optional<ternion::security::RequestVerifier::Key> {
              if (id != key.key_id) return std::nullopt;
              return ternion::security::RequestVerifier::Key{.user = "admin", .secret = key.secret};
            },
            ternion::Clock::Real()) {}
  grpc::Status GetFileInfo(grpc::ServerContext* ctx, const v1::GetFileInfoRequest* req,
                           v1::FileInfo* resp) override {
    auto sig = ternion::master::RequestSignatureOf(*ctx);
    if (!sig.ok() || !verifier_
                          .Verify(*sig, "/ternion.v1.MasterService/GetFileInfo",
                                  ternion::security::RequestProject(*req),
                                  ternion::security::RequestPayload(*req))
                          .ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad signature");
    }
    *resp = answer_;
    return grpc::Status::OK;
  }

 private:
  const v1::FileInfo answer_;
  ternion::security::RequestVerifier verifier_;
};

int ServeCeiling(const std::string& answer_file, const std::string& ready_file,
                 const std::string& profile) {
  std::ifstream in(answer_file, std::ios::binary);
  v1::FileInfo answer;
  if (!answer.ParseFromIstream(&in)) return 2;
  auto key = ternion::security::ReadProfile(profile);
  if (!key.ok()) return 2;
  CannedLookupService service(std::move(answer), *key);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  ternion::master::ConfigureMasterServer(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 3;
  {
    std::ofstream(ready_file + ".tmp") << port;
  }
  std::filesystem::rename(ready_file + ".tmp", ready_file);
  server->Wait();  // until the benchmark kills it
  return 0;
}

struct CeilingProcess {
  pid_t pid = -1;
  std::string address;
};

CeilingProcess StartCeiling(const Config& c, const v1::FileInfo& answer) {
  const std::string answer_file = c.dir + "/ceiling.answer";
  const std::string ready = c.dir + "/ceiling.ready";
  {
    std::ofstream out(answer_file, std::ios::binary);
    if (!answer.SerializeToOstream(&out)) Die("cannot write " + answer_file);
  }
  std::filesystem::remove(ready);
  std::vector<std::string> args = {"/proc/self/exe", "--ceiling-server", answer_file, ready,
                                   c.dir + "/admin.profile"};
  CeilingProcess p;
  p.pid = g_ceiling_pid = Spawn(args, c.dir + "/ceiling.log");
  for (int i = 0; i < 600; ++i) {  // at most a minute
    std::ifstream f(ready);
    int port = 0;
    if (f >> port && port > 0) {
      p.address = absl::StrCat("127.0.0.1:", port);
      return p;
    }
    if (waitpid(p.pid, nullptr, WNOHANG) == p.pid) {
      g_ceiling_pid = -1;
      Die("the ceiling server exited");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("the ceiling server did not start");
}

// Runs `op` on `threads` threads for `seconds`; returns the latencies and the failures.
template <typename Op>
Latencies RunFor(int threads, double seconds, uint64_t* failures, Op op) {
  std::vector<Latencies> per(threads);
  std::atomic<uint64_t> failed{0};
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 gen(t + 1);
      for (uint64_t i = 0; Clock::now() < end && i < 10'000'000; ++i) {
        const auto start = Clock::now();
        if (!op(t, i, gen)) ++failed;
        per[t].Add(Clock::now() - start);
      }
    });
  }
  for (auto& t : ts) t.join();
  Latencies all;
  for (auto& p : per) all.us.insert(all.us.end(), p.us.begin(), p.us.end());
  *failures = failed;
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--ceiling-server") {
    return ServeCeiling(argv[2], argv[3], argv[4]);
  }
  Config c;
  CLI::App app{"A real master at scale: load, restart, reports, lookups and mutations."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-master-bench"));
  app.add_option("--chunks", c.chunks, "Live chunks (in chunks/10 files)");
  app.add_option("--servers", c.servers, "Simulated chunkservers");
  app.add_option("--racks", c.racks, "Racks");
  app.add_option("--clients", c.clients, "Concurrent client threads");
  app.add_option("--seconds", c.seconds, "Seconds per measured phase");
  app.add_option("--dir", c.dir, "Work directory (default: a new one under /tmp)");
  app.add_flag("--json", c.json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  if (c.chunks < 1000 || c.chunks > 100'000'000 || c.servers < 6 || c.servers > 10000 ||
      c.racks < 3 || c.clients < 1 || c.clients > 256 || c.seconds <= 0 || c.seconds > 600) {
    Die("need 1000 <= chunks <= 1e8, 6 <= servers <= 10000, racks >= 3, 1 <= clients <= 256, "
        "0 < seconds <= 600");
  }
  if ((c.servers / 3) % c.racks == 0) Die("servers/3 must not be a multiple of racks");
  c.master_binary = (std::filesystem::path(argv[0]).parent_path() / "ternion-master").string();
  const bool own_dir = c.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/ternion-master-bench.XXXXXX";
    if (!mkdtemp(tmpl)) Die("mkdtemp failed");
    c.dir = tmpl;
  }
  const std::string meta = c.dir + "/meta";
  auto cluster_id = ternion::master::Master::Format(meta);
  if (!cluster_id.ok()) Die(cluster_id.status().ToString());
  if (auto s = ternion::security::MasterKey::CreateFile(c.dir + "/master.key"); !s.ok()) {
    Die(s.ToString());
  }

  auto t0 = Clock::now();
  Populate(c, meta);
  const double populate_s = Seconds(Clock::now() - t0);

  t0 = Clock::now();
  MasterProcess m = StartMaster(c, meta);
  const double start_s = Seconds(Clock::now() - t0);
  const uint64_t rss_loaded = RssBytes(m.pid);

  auto admin = ternion::security::ReadProfile(c.dir + "/admin.profile");
  if (!admin.ok()) Die(admin.status().ToString());
  const auto plaintext = ternion::security::TlsConfig::Insecure();
  auto channel = ternion::NewMasterChannel(m.address, *admin, plaintext);
  auto stub = v1::MasterService::NewStub(channel);
  // The simulated chunkservers' calls are not signed (daemon calls; chunkservers do not sign).
  auto daemon_stub =
      v1::MasterService::NewStub(ternion::NewMasterChannel(m.address, {}, plaintext));

  // Every server registers with its full report (a few at a time, as after a master restart).
  t0 = Clock::now();
  std::atomic<uint32_t> next{0};
  std::atomic<uint64_t> register_failures{0};
  std::vector<std::thread> registrars;
  // Each server's receipt key, as the master hands it out: the mutations sign their receipts.
  std::vector<std::string> receipt_keys(c.servers);
  for (int t = 0; t < 4; ++t) {
    registrars.emplace_back([&] {
      for (uint32_t s; (s = next++) < c.servers;) {
        grpc::ClientContext ctx;
        v1::RegisterChunkServerResponse resp;
        if (!daemon_stub->RegisterChunkServer(&ctx, Registration(s, c, *cluster_id), &resp).ok() ||
            resp.wipes_size() > 0) {
          ++register_failures;
        }
        receipt_keys[s] = resp.receipt_key();
      }
    });
  }
  for (auto& t : registrars) t.join();
  const double register_s = Seconds(Clock::now() - t0);
  if (register_failures > 0) Die(absl::StrCat(register_failures.load(), " registrations failed"));
  const uint64_t rss_registered = RssBytes(m.pid);

  // Heartbeats: every server once a second, for the rest of the run.
  std::atomic<bool> stop{false};
  std::thread heartbeats([&] {
    while (!stop) {
      const auto round = Clock::now();
      for (uint32_t s = 0; s < c.servers && !stop; ++s) {
        v1::HeartbeatRequest hb;
        hb.set_server_id(ServerId(s));
        hb.set_cluster_id(*cluster_id);
        auto* d = hb.add_disks();
        d->set_path("/sim");
        d->set_capacity_bytes(100ull << 40);
        d->set_used_bytes(10ull << 40);
        grpc::ClientContext ctx;
        v1::HeartbeatResponse resp;
        (void)daemon_stub->Heartbeat(&ctx, hb, &resp);
      }
      std::this_thread::sleep_until(round + std::chrono::seconds(1));
    }
  });

  // The master's own background work (heartbeats, move scans, status walks) with no client:
  // the cores it keeps busy, which the per-core figures below include.
  const double idle_cpu0 = CpuSeconds(m.pid);
  t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(c.seconds));
  const double idle_cores = (CpuSeconds(m.pid) - idle_cpu0) / Seconds(Clock::now() - t0);

  const uint64_t files = c.chunks / kChunksPerFile;
  auto lookup_on = [&](v1::MasterService::Stub* server) {
    return [&, server](int, uint64_t, std::mt19937_64& gen) {
      const uint64_t f = 1 + gen() % files;
      v1::GetFileInfoRequest req;
      req.set_project("bench");
      req.set_path(absl::StrFormat("d%03d/f%08d", f % 1000, f));
      req.set_with_chunks(true);
      v1::FileInfo resp;
      grpc::ClientContext ctx;
      return server->GetFileInfo(&ctx, req, &resp).ok() && resp.chunks_size() == kChunksPerFile;
    };
  };
  auto lookup = lookup_on(stub.get());
  uint64_t lookup_failures = 0, mutation_failures = 0, report_failures = 0;
  double cpu0 = CpuSeconds(m.pid);
  t0 = Clock::now();
  Phase("lookups");
  Latencies lookups = RunFor(c.clients, c.seconds, &lookup_failures, lookup);
  const double lookup_wall = Seconds(Clock::now() - t0);
  const double lookup_cpu = CpuSeconds(m.pid) - cpu0;

  // The same lookups, answered by the ceiling server with file 1's answer.
  uint64_t ceiling_failures = 0;
  double ceiling_wall = 0, ceiling_cpu = 0;
  Latencies ceiling_lookups;
  {
    v1::GetFileInfoRequest req;
    req.set_project("bench");
    req.set_path(absl::StrFormat("d%03d/f%08d", 1, 1));
    req.set_with_chunks(true);
    v1::FileInfo answer;
    grpc::ClientContext ctx;
    if (!stub->GetFileInfo(&ctx, req, &answer).ok()) Die("the lookup of file 1 failed");
    CeilingProcess ceiling = StartCeiling(c, answer);
    auto ceiling_stub =
        v1::MasterService::NewStub(ternion::NewMasterChannel(ceiling.address, *admin, plaintext));
    const double ceiling_cpu0 = CpuSeconds(ceiling.pid);
    t0 = Clock::now();
    Phase("ceiling");
    ceiling_lookups = RunFor(c.clients, c.seconds, &ceiling_failures, lookup_on(ceiling_stub.get()));
    ceiling_wall = Seconds(Clock::now() - t0);
    ceiling_cpu = CpuSeconds(ceiling.pid) - ceiling_cpu0;
    kill(ceiling.pid, SIGKILL);
    waitpid(ceiling.pid, nullptr, 0);
    g_ceiling_pid = -1;
  }

  // A mutation: create, allocate one chunk, commit a length, close (four durable changes).
  auto mutate = [&](int t, uint64_t i, std::mt19937_64&) {
    v1::CreateFileRequest create;
    create.set_project("bench");
    create.set_path(absl::StrFormat("new/%d/%d", t, i));
    create.set_chunk_size(kChunkSize);
    create.set_client_id(absl::StrCat("bench-", t));
    v1::LeaseResponse lease;
    grpc::ClientContext c1;
    if (!stub->CreateFile(&c1, create, &lease).ok()) return false;
    v1::LeaseRef ref;
    ref.set_project("bench");
    ref.set_path(create.path());
    ref.set_lease_id(lease.lease_id());
    v1::AllocateChunkRequest alloc;
    *alloc.mutable_lease() = ref;
    alloc.set_index(0);
    v1::AllocateChunkResponse chunk;
    grpc::ClientContext c2;
    if (!stub->AllocateChunk(&c2, alloc, &chunk).ok()) return false;
    v1::CommitLengthRequest commit;
    *commit.mutable_lease() = ref;
    commit.set_length(4096);
    for (const auto& r : chunk.chunk().replicas()) {  // each replica's word, as a writer has it
      ternion::security::ReceiptKey key{};
      const std::string& k = receipt_keys[ServerOrdinal(r.server_id())];
      if (k.size() != key.size()) return false;
      std::copy(k.begin(), k.end(), key.begin());
      v1::LengthReceipt* receipt = commit.add_receipts();
      receipt->set_server_id(r.server_id());
      receipt->set_chunk_id(chunk.chunk().chunk_id());
      receipt->set_length(4096);
      receipt->set_mac(ternion::security::SignReceipt(key, chunk.chunk().chunk_id(),
                                                      chunk.chunk().version(), 4096));
    }
    v1::CommitLengthResponse committed;
    grpc::ClientContext c3;
    if (!stub->CommitLength(&c3, commit, &committed).ok()) return false;
    v1::SealFileRequest close;
    *close.mutable_lease() = ref;
    v1::SealFileResponse closed;
    grpc::ClientContext c4;
    return stub->SealFile(&c4, close, &closed).ok();
  };
  cpu0 = CpuSeconds(m.pid);
  t0 = Clock::now();
  Phase("mutations");
  Latencies mutations = RunFor(c.clients, c.seconds, &mutation_failures, mutate);
  const double mutation_wall = Seconds(Clock::now() - t0);
  const double mutation_cpu = CpuSeconds(m.pid) - cpu0;

  // Lookups while server 0 re-sends its full report, over and over.
  std::atomic<bool> reporting{true};
  std::atomic<uint64_t> reports{0};
  const v1::RegisterChunkServerRequest reg = Registration(0, c, *cluster_id);
  std::thread reporter([&] {
    while (reporting) {
      grpc::ClientContext ctx;
      v1::RegisterChunkServerResponse resp;
      if (daemon_stub->RegisterChunkServer(&ctx, reg, &resp).ok()) ++reports;
    }
  });
  Phase("lookups during reports");
  Latencies during_report = RunFor(c.clients, c.seconds, &report_failures, lookup);
  reporting = false;
  reporter.join();
  stop = true;
  heartbeats.join();

  // Restart: kill -9, then time until the new process serves.
  kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  g_master_pid = -1;
  t0 = Clock::now();
  MasterProcess again = StartMaster(c, meta);
  const double restart_s = Seconds(Clock::now() - t0);
  kill(again.pid, SIGTERM);
  waitpid(again.pid, nullptr, 0);
  g_master_pid = -1;
  if (own_dir) std::filesystem::remove_all(c.dir);

  const double n_mut = static_cast<double>(mutations.us.size());
  const size_t replicas_per_server = reg.replicas_size();
  nlohmann::json j = {
      {"chunks", c.chunks},
      {"files", files},
      {"servers", c.servers},
      {"replicas_per_server", replicas_per_server},
      {"clients", c.clients},
      {"populate_s", populate_s},
      {"start_to_serving_s", start_s},
      {"restart_to_serving_s", restart_s},
      {"register_all_s", register_s},
      {"rss_bytes_per_chunk_loaded", static_cast<double>(rss_loaded) / c.chunks},
      {"rss_bytes_per_chunk_registered", static_cast<double>(rss_registered) / c.chunks},
      {"master_cores_busy_without_clients", idle_cores},
      {"lookups_per_s", lookups.us.size() / lookup_wall},
      {"lookups_per_master_core_s", lookups.us.size() / std::max(lookup_cpu, 1e-9)},
      {"lookup_p50_us", lookups.Pct(0.5)},
      {"lookup_p99_us", lookups.Pct(0.99)},
      {"lookup_failures", lookup_failures},
      // The ceiling: the same calls answered from a prepared answer (see ServeCeiling).
      {"lookup_ceiling_per_s", ceiling_lookups.us.size() / ceiling_wall},
      {"lookup_ceiling_per_server_core_s", ceiling_lookups.us.size() / std::max(ceiling_cpu, 1e-9)},
      {"lookup_ceiling_p50_us", ceiling_lookups.Pct(0.5)},
      {"lookup_ceiling_p99_us", ceiling_lookups.Pct(0.99)},
      {"lookups_vs_ceiling", lookups.us.size() / lookup_wall /
                                 std::max(ceiling_lookups.us.size() / ceiling_wall, 1e-9)},
      {"lookups_per_core_vs_ceiling",
       lookups.us.size() / std::max(lookup_cpu, 1e-9) /
           std::max(ceiling_lookups.us.size() / std::max(ceiling_cpu, 1e-9), 1e-9)},
      {"mutations_per_s", 4 * n_mut / mutation_wall},
      {"mutations_per_master_core_s", 4 * n_mut / std::max(mutation_cpu, 1e-9)},
      {"mutation_files_per_s", n_mut / mutation_wall},
      {"mutation_file_p50_us", mutations.Pct(0.5)},
      {"mutation_file_p99_us", mutations.Pct(0.99)},
      {"mutation_failures", mutation_failures},
      {"reports_during_lookups", reports.load()},
      {"lookup_p99_during_report_us", during_report.Pct(0.99)},
      {"lookup_p50_during_report_us", during_report.Pct(0.5)},
  };
  if (c.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << j.dump(2) << "\n";
  }
  return lookup_failures + mutation_failures + report_failures + ceiling_failures == 0 ? 0 : 1;
}
