#include "client/cli/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/master_channel.h"
#include "common/file_util.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "security/certificates.h"
#include "security/master_key.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::local {
namespace {

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, n);
  return path.substr(0, path.find_last_of('/'));
}

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      cur = path.substr(0, i);
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoToStatus(errno, absl::StrCat("mkdir ", cur));
      }
    }
  }
  return absl::OkStatus();
}

bool Alive(int pid) {
  if (pid <= 0) return false;
  // Reap it if it is our own exited child, then check it still exists and is ours.
  waitpid(pid, nullptr, WNOHANG);
  auto cmdline = ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!cmdline.ok()) return false;
  auto stat = ReadFileToString(absl::StrCat("/proc/", pid, "/stat"));
  if (stat.ok()) {
    size_t paren = stat->rfind(')');
    if (paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z') {
      return false;  // a zombie: exited, waiting for its parent
    }
  }
  return cmdline->find("ternion-") != std::string::npos;
}

// Spawns argv detached (own session), output to log_path; returns its pid.
absl::StatusOr<int> Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", log_path));
  pid_t pid = fork();
  if (pid < 0) {
    ::close(log_fd);
    return ErrnoToStatus(errno, "fork");
  }
  if (pid == 0) {
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  ::close(log_fd);
  return pid;
}

// Waits for a daemon's ready file and returns its JSON.
absl::StatusOr<nlohmann::json> WaitReady(const std::string& path, int pid, double timeout_s) {
  absl::Time deadline = absl::Now() + absl::Seconds(timeout_s);
  while (absl::Now() < deadline) {
    auto text = ReadFileToString(path);
    if (text.ok()) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (!j.is_discarded() && j.value("pid", 0) == pid) return j;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {  // our child exited
      return absl::UnavailableError(absl::StrCat("process ", pid, " exited before serving; see the logs in ",
                                                 path.substr(0, path.rfind("/run/")), "/logs"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no ready file at ", path));
}

nlohmann::json ToJson(const LocalCluster& c) {
  nlohmann::json procs = nlohmann::json::array();
  for (const auto& p : c.processes) {
    procs.push_back({{"name", p.name},
                     {"role", p.role},
                     {"rack", p.rack},
                     {"address", p.address},
                     {"metrics_port", p.metrics_port},
                     {"pid", p.pid},
                     {"argv", p.argv},
                     {"data_dirs", p.data_dirs}});
  }
  return {{"master", c.master_address}, {"processes", procs}};
}

absl::Status Save(const LocalCluster& c) {
  RETURN_IF_ERROR(WriteFileAtomically(c.dir + "/cluster.json", ToJson(c).dump(2) + "\n"));
  return WriteFileAtomically(c.dir + "/cluster.env",
                             absl::StrCat("TERNION_MASTER=", c.master_address, "\n",
                                          "TERNION_PROFILE=", c.profile, "\n"));
}

// The last `n` lines of a file, or "" when it cannot be read.
std::string LastLines(const std::string& path, int n) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "";
  size_t start = text->size();
  if (start > 0 && (*text)[start - 1] == '\n') --start;
  for (int lines = 0; start > 0 && lines < n; --start) {
    if ((*text)[start - 1] == '\n' && ++lines == n) break;
  }
  return text->substr(start);
}

// A free loopback port below Linux's ephemeral range (32768 and up). The OS hands ephemeral ports
// to outgoing connections, so one of those could take a daemon's port while the daemon is down
// and make its restart, which serves at the same address, fail; ports below the range are only
// ever given out on request. Chosen at random and checked free now (another cluster may still
// take it before the daemon binds: Launch then tries other ports).
int PickPort() {
  static absl::BitGen* gen = new absl::BitGen();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = absl::Uniform(*gen, 20000, 32768);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;  // the OS's choice, then
}

// Replaces the value of `flag` in argv (e.g. "--port") by `value`.
void SetFlag(std::vector<std::string>* argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv->size(); ++i) {
    if ((*argv)[i] == flag) (*argv)[i + 1] = value;
  }
}

absl::Status LaunchOnce(const std::string& dir, LocalProcess* p);

// Starts one process from its recorded argv and fills pid/address/metrics_port. A first start
// (ports "0") gets ports picked by PickPort, and others if one is taken meanwhile.
absl::Status Launch(const std::string& dir, LocalProcess* p) {
  const std::vector<std::string> recorded = p->argv;
  const auto port_of = [&recorded](const std::string& flag) {
    auto it = std::find(recorded.begin(), recorded.end(), flag);
    return it != recorded.end() && it + 1 != recorded.end() ? *(it + 1) : std::string();
  };
  const bool pick = port_of("--port") == "0" && port_of("--metrics-port") == "0";
  absl::Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (pick) {
      SetFlag(&p->argv, "--port", absl::StrCat(PickPort()));
      SetFlag(&p->argv, "--metrics-port", absl::StrCat(PickPort()));
    }
    s = LaunchOnce(dir, p);
    const bool port_taken = absl::StrContains(s.message(), "cannot listen on") ||
                            absl::StrContains(s.message(), "cannot serve metrics on");
    if (s.ok() || !pick || !port_taken) return s;
    p->argv = recorded;
  }
  return s;
}

absl::Status LaunchOnce(const std::string& dir, LocalProcess* p) {
  std::string ready = absl::StrCat(dir, "/run/", p->name, ".ready");
  ::unlink(ready.c_str());
  const std::string log = absl::StrCat(dir, "/logs/", p->name, ".log");
  ASSIGN_OR_RETURN(int pid, Spawn(p->argv, log));
  p->pid = pid;
  absl::StatusOr<nlohmann::json> started = WaitReady(ready, pid, 30);
  if (!started.ok()) {  // the daemon's last words name the cause (a port taken, a bad disk)
    return absl::Status(started.status().code(),
                        absl::StrCat(started.status().message(), "; its log ends: ", LastLines(log, 3)));
  }
  const nlohmann::json& j = *started;
  p->address = j.value("address", "");
  p->metrics_port = j.value("metrics_port", -1);
  // Pin the ports so a restart serves at the same address.
  SetFlag(&p->argv, "--port", p->address.substr(p->address.rfind(':') + 1));
  SetFlag(&p->argv, "--metrics-port", absl::StrCat(p->metrics_port));
  return absl::OkStatus();
}

// Reads the admin's profile of `c` and the transport it names.
absl::Status LoadAdmin(LocalCluster* c) {
  ASSIGN_OR_RETURN(c->admin, security::ReadProfile(c->profile));
  ASSIGN_OR_RETURN(c->tls, security::ClientTlsConfig(c->admin));
  return absl::OkStatus();
}

// The cluster's certificates in DIR/tls: made with the cluster, one per chunkserver as it is
// first started; kept for later starts.
absl::Status EnsureCertificates(const security::CertificateDir& certs,
                                const std::vector<std::string>& chunkservers) {
  const std::vector<std::string>& hosts = security::kLoopbackHosts;
  if (::access(certs.key("ca").c_str(), F_OK) != 0) RETURN_IF_ERROR(certs.Init(hosts));
  for (const std::string& name : chunkservers) {
    if (::access(certs.cert(name).c_str(), F_OK) != 0) {
      RETURN_IF_ERROR(certs.IssueChunkserver(name, hosts));
    }
  }
  return absl::OkStatus();
}

std::string ChunkserverName(int rack, int i) { return absl::StrCat("cs-rack", rack + 1, "-", i); }

// The transport flags of daemon `name`.
std::vector<std::string> TlsFlags(const security::CertificateDir& certs, bool insecure,
                                  const std::string& name) {
  if (insecure) return {"--insecure"};
  return {"--tls-ca",       certs.ca_cert(), "--tls-cert",
          certs.cert(name), "--tls-key",     certs.key(name)};
}

}  // namespace

std::shared_ptr<grpc::Channel> AdminMasterChannel(const LocalCluster& c) {
  return NewMasterChannel(c.master_address, c.admin, c.tls);
}

std::shared_ptr<grpc::Channel> ChunkserverChannel(const LocalCluster& c,
                                                  const std::string& address) {
  return c.tls.NewChannel(address, security::kChunkserverTlsName);
}

absl::Status WaitForLiveServers(const LocalCluster& c, int live, double timeout_s) {
  auto stub = ternion::v1::MasterService::NewStub(AdminMasterChannel(c));
  absl::Time deadline = absl::Now() + absl::Seconds(timeout_s);
  uint64_t seen = 0;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    ternion::v1::ClusterStatusResponse resp;
    if (stub->ClusterStatus(&ctx, ternion::v1::ClusterStatusRequest(), &resp).ok()) {
      seen = resp.live_servers();
      if (seen >= static_cast<uint64_t>(live)) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("only ", seen, " of ", live, " chunkservers registered in time"));
}

absl::StatusOr<LocalCluster> StartLocalCluster(const LocalClusterOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("--dir is required");
  if (options.racks < 1 || options.per_rack < 1 || options.disks_per_server < 1) {
    return absl::InvalidArgumentError("racks, per-rack and disks must be at least 1");
  }
  if (auto existing = LoadLocalCluster(options.dir); existing.ok()) {
    for (const auto& p : existing->processes) {
      if (Alive(p.pid)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "a local cluster is already running in ", options.dir, " (ternion local down first)"));
      }
    }
  }
  std::string bin = options.bin_dir.empty() ? SelfDir() : options.bin_dir;
  for (const char* sub : {"", "/logs", "/run", "/master", "/backups"}) {
    RETURN_IF_ERROR(MakeDirs(options.dir + sub));
  }
  char abs[4096];
  if (realpath(options.dir.c_str(), abs) == nullptr) return ErrnoToStatus(errno, "realpath");
  LocalCluster c;
  c.dir = abs;
  c.profile = c.dir + "/admin.profile";
  // The master key is made once, with the cluster; it must survive as long as the metadata.
  const std::string master_key = c.dir + "/master.key";
  if (::access(master_key.c_str(), F_OK) != 0) {
    RETURN_IF_ERROR(security::MasterKey::CreateFile(master_key));
  }
  const security::CertificateDir certs{c.dir + "/tls"};
  if (!options.insecure) {
    std::vector<std::string> names;
    for (int r = 0; r < options.racks; ++r) {
      for (int i = 0; i < options.per_rack; ++i) names.push_back(ChunkserverName(r, i));
    }
    RETURN_IF_ERROR(EnsureCertificates(certs, names));
  }

  // A new cluster is formatted once; an existing one (local up again on the same DIR) keeps its
  // metadata and identity.
  if (::access((c.dir + "/master/CURRENT").c_str(), F_OK) != 0) {
    ASSIGN_OR_RETURN(int pid, Spawn({bin + "/ternion-master", "--format", "--metadata-dir",
                                     c.dir + "/master"},
                                    c.dir + "/logs/master.log"));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat("ternion-master --format failed; see ", c.dir,
                                              "/logs/master.log"));
    }
  }
  LocalProcess master;
  master.name = "master";
  master.role = "master";
  // Flag-value pairs, one pair per line.
  // clang-format off
  master.argv = {bin + "/ternion-master",
                 "--metadata-dir", c.dir + "/master",
                 "--port", "0",
                 "--metrics-port", "0",
                 "--dead-after", absl::StrCat(options.dead_after_s),
                 // Suspect after three missed heartbeats (tests beat fast), never after dead.
                 "--suspect-after", absl::StrCat(std::min(options.dead_after_s,
                     std::max(3 * options.heartbeat_s, options.dead_after_s / 3))),
                 "--graceful-grace", absl::StrCat(options.graceful_grace_s),
                 "--default-chunk-size-mib", absl::StrCat(options.default_chunk_size_mib),
                 "--move-scan-interval", absl::StrCat(options.move_scan_s),
                 "--lease", absl::StrCat(options.lease_s),
                 "--lease-hard-limit", absl::StrCat(options.lease_hard_limit_s),
                 "--token-lifetime", absl::StrCat(options.token_lifetime_s),
                 "--backup-root", c.dir + "/backups",
                 "--master-key-file", master_key,
                 "--bootstrap-credentials", c.profile,
                 "--ready-file", c.dir + "/run/master.ready"};
  // clang-format on
  for (std::string& flag : TlsFlags(certs, options.insecure, "master")) {
    master.argv.push_back(std::move(flag));
  }
  absl::Status s = Launch(c.dir, &master);
  if (!s.ok()) return s;
  RETURN_IF_ERROR(LoadAdmin(&c));
  c.master_address = master.address;
  c.processes.push_back(master);
  RETURN_IF_ERROR(Save(c));

  auto fail = [&](absl::Status st) -> absl::Status {
    (void)StopLocalCluster(c.dir);
    return st;
  };
  auto stub = ternion::v1::MasterService::NewStub(AdminMasterChannel(c));
  for (int r = 0; r < options.racks; ++r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ternion::v1::AddRackRequest rack;
    rack.set_rack(absl::StrCat("rack", r + 1));
    rack.set_power_domain(absl::StrCat("pd", r + 1));
    ternion::v1::TopologyChangeResponse resp;
    grpc::Status added = stub->AddRack(&ctx, rack, &resp);
    if (!added.ok()) return fail(FromGrpcStatus(added));
  }
  for (int r = 0; r < options.racks; ++r) {
    for (int i = 0; i < options.per_rack; ++i) {
      LocalProcess cs;
      cs.role = "chunkserver";
      cs.rack = absl::StrCat("rack", r + 1);
      cs.name = ChunkserverName(r, i);
      for (int d = 0; d < options.disks_per_server; ++d) {
        cs.data_dirs.push_back(absl::StrCat(c.dir, "/", cs.name, "/disk", d));
        RETURN_IF_ERROR(MakeDirs(cs.data_dirs.back()));
      }
      // Flag-value pairs, one pair per line.
      // clang-format off
      cs.argv = {bin + "/ternion-chunkserver",
                 "--master", c.master_address,
                 "--rack", cs.rack,
                 "--data-dirs", absl::StrJoin(cs.data_dirs, ","),
                 "--port", "0",
                 "--metrics-port", "0",
                 "--heartbeat-interval", absl::StrCat(options.heartbeat_s),
                 "--disk-capacity-mib", absl::StrCat(options.disk_capacity_mib),
                 "--journal-mib", absl::StrCat(options.journal_mib),
                 "--report-interval", absl::StrCat(options.report_s),
                 "--scrub-interval", absl::StrCat(options.scrub_interval_s),
                 "--ready-file", absl::StrCat(c.dir, "/run/", cs.name, ".ready")};
      // clang-format on
      for (std::string& flag : TlsFlags(certs, options.insecure, cs.name)) {
        cs.argv.push_back(std::move(flag));
      }
      if (absl::Status st = Launch(c.dir, &cs); !st.ok()) return fail(st);
      c.processes.push_back(cs);
      RETURN_IF_ERROR(Save(c));
    }
  }
  if (absl::Status st = WaitForLiveServers(c, options.racks * options.per_rack, 30);
      !st.ok()) {
    return fail(st);
  }
  return c;
}

ClientOptions AdminClientOptions(const LocalCluster& c) {
  ClientOptions o;
  o.master_address = c.master_address;
  o.access_key_id = c.admin.key_id;
  o.access_key_secret = c.admin.secret;
  o.ca_file = c.admin.ca;
  o.insecure = c.admin.insecure;
  return o;
}

absl::StatusOr<LocalCluster> LoadLocalCluster(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(dir + "/cluster.json"));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(dir, "/cluster.json is not valid JSON"));
  }
  LocalCluster c;
  c.dir = dir;
  c.master_address = j.value("master", "");
  c.profile = dir + "/admin.profile";
  (void)LoadAdmin(&c);  // a cluster that never finished starting has no admin yet
  for (const auto& p : j.value("processes", nlohmann::json::array())) {
    LocalProcess lp;
    lp.name = p.value("name", "");
    lp.role = p.value("role", "");
    lp.rack = p.value("rack", "");
    lp.address = p.value("address", "");
    lp.metrics_port = p.value("metrics_port", -1);
    lp.pid = p.value("pid", 0);
    lp.argv = p.value("argv", std::vector<std::string>{});
    lp.data_dirs = p.value("data_dirs", std::vector<std::string>{});
    c.processes.push_back(lp);
  }
  return c;
}

absl::Status StopLocalCluster(const std::string& dir) {
  ASSIGN_OR_RETURN(LocalCluster c, LoadLocalCluster(dir));
  // Chunkservers first, then the master.
  for (auto it = c.processes.rbegin(); it != c.processes.rend(); ++it) {
    if (Alive(it->pid)) kill(it->pid, SIGTERM);
  }
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (const auto& p : c.processes) {
    while (Alive(p.pid) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
    if (Alive(p.pid)) kill(p.pid, SIGKILL);
  }
  return absl::OkStatus();
}

bool ProcessAlive(const std::string& dir, const std::string& name) {
  absl::StatusOr<LocalCluster> c = LoadLocalCluster(dir);
  if (!c.ok()) return false;
  for (const LocalProcess& p : c->processes) {
    if (p.name == name) return Alive(p.pid);
  }
  return false;
}

namespace {

// Sends `signal` to recorded process `name`; waits up to 5 s for it to exit (10 s for SIGTERM,
// then SIGKILL).
absl::Status Signal(const std::string& dir, const std::string& name, int signal) {
  ASSIGN_OR_RETURN(LocalCluster c, LoadLocalCluster(dir));
  for (const auto& p : c.processes) {
    if (p.name != name) continue;
    if (!Alive(p.pid)) return absl::FailedPreconditionError(absl::StrCat(name, " is not running"));
    kill(p.pid, signal);
    const int polls = signal == SIGTERM ? 500 : 250;
    for (int i = 0; i < polls && Alive(p.pid); ++i) absl::SleepFor(absl::Milliseconds(20));
    if (Alive(p.pid)) kill(p.pid, SIGKILL);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no process named ", name));
}

}  // namespace

absl::Status KillProcess(const std::string& dir, const std::string& name) {
  return Signal(dir, name, SIGKILL);
}

absl::Status StopProcess(const std::string& dir, const std::string& name) {
  return Signal(dir, name, SIGTERM);
}

absl::Status RestartProcess(const std::string& dir, const std::string& name,
                            const std::vector<std::string>& extra_args) {
  ASSIGN_OR_RETURN(LocalCluster c, LoadLocalCluster(dir));
  for (auto& p : c.processes) {
    if (p.name != name) continue;
    if (Alive(p.pid)) return absl::FailedPreconditionError(absl::StrCat(name, " is running"));
    const std::vector<std::string> recorded = p.argv;
    p.argv.insert(p.argv.end(), extra_args.begin(), extra_args.end());
    absl::Status launched = Launch(c.dir, &p);
    p.argv = recorded;
    RETURN_IF_ERROR(launched);
    return Save(c);
  }
  return absl::NotFoundError(absl::StrCat("no process named ", name));
}

}  // namespace ternion::local
