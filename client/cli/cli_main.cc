// ternion: the command-line client. User commands (put, get, cat, ls, stat, rm), projects,
// cluster status, and `local up|down` for a cluster on this machine.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/access_commands.h"
#include "client/cli/admin_commands.h"
#include "client/cli/cli_common.h"
#include "client/cli/local_cluster.h"
#include "client/cli/salvage.h"
#include "common/daemon.h"
#include "common/file_util.h"
#include "common/rpc_status.h"
#include "common/version.h"
#include "ternion/client.h"
#include "ternion/v1/master.grpc.pb.h"

namespace {

using nlohmann::json;

using ternion::HumanBytes;
using ternion::cli::Connect;
using ternion::cli::Fail;
using ternion::cli::Globals;
using ternion::cli::SplitTarget;

// A one-line progress bar with rate, drawn only when stdout is a terminal.
class Progress {
 public:
  Progress(std::string label, uint64_t total)
      : label_(std::move(label)), total_(total), enabled_(isatty(STDOUT_FILENO)),
        start_(absl::Now()) {}
  void Update(uint64_t done) {
    if (!enabled_ || absl::Now() - last_ < absl::Milliseconds(100)) return;
    last_ = absl::Now();
    Draw(done);
  }
  void Finish(uint64_t done) {
    if (!enabled_) return;
    Draw(done);
    std::printf("\n");
  }

 private:
  void Draw(uint64_t done) {
    double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - start_));
    double frac = total_ ? static_cast<double>(done) / total_ : 1.0;
    int width = 30, filled = static_cast<int>(frac * width);
    std::printf("\r%s [%s%s] %3.0f%% %s / %s  %s/s\033[K", label_.c_str(),
                std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                frac * 100, HumanBytes(done).c_str(), HumanBytes(total_).c_str(),
                HumanBytes(done / secs).c_str());
    std::fflush(stdout);
  }
  std::string label_;
  uint64_t total_;
  bool enabled_;
  absl::Time start_;
  absl::Time last_ = absl::InfinitePast();
};

json StatJson(const ternion::FileStat& st) {
  json j = {{"project", st.project},         {"path", st.path},
            {"length", st.length},           {"chunk_size", st.chunk_size},
            {"sealed", st.sealed},           {"under_lease", st.under_lease},
            {"created_unix_ms", st.created_unix_ms}, {"modified_unix_ms", st.modified_unix_ms}};
  if (!st.chunks.empty()) {
    json chunks = json::array();
    for (const auto& c : st.chunks) {
      json replicas = json::array();
      for (const auto& r : c.replicas) {
        replicas.push_back({{"server_id", r.server_id}, {"address", r.address}, {"rack", r.rack}});
      }
      chunks.push_back({{"chunk_id", c.chunk_id},
                        {"version", c.version},
                        {"index", c.index},
                        {"length", c.length},
                        {"replicas", replicas}});
    }
    j["chunks"] = chunks;
  }
  return j;
}

// Bytes to upload: fills `buf` from its start and returns how many (0: the end).
using Source = std::function<absl::StatusOr<size_t>(std::string* buf)>;

// Like `hdfs dfs -put`: the upload goes to PATH._COPYING_ and is renamed to PATH only once
// every byte is durable, so a reader never finds a partial file under the final name; a failed
// upload removes its temporary file.
int Upload(const Globals& g, ternion::Client* client, const std::string& target, uint64_t total,
           const Source& source, uint64_t chunk_size_mib, bool seal) {
  std::string project, path;
  if (auto s = SplitTarget(target, true, &project, &path); !s.ok()) return Fail(s);
  if (client->Stat(project, path).ok()) {
    return Fail(absl::AlreadyExistsError(absl::StrCat("file ", target, " already exists")));
  }
  const std::string tmp = path + "._COPYING_";
  auto writer = client->Create(project, tmp, {.chunk_size = chunk_size_mib << 20});
  if (absl::IsAlreadyExists(writer.status())) {
    // What an earlier put left when it died; refused if a put is uploading it right now.
    if (absl::Status s = client->Delete(project, tmp); !s.ok()) return Fail(s);
    writer = client->Create(project, tmp, {.chunk_size = chunk_size_mib << 20});
  }
  if (!writer.ok()) return Fail(writer.status());
  auto fail = [&](const absl::Status& s) {
    writer->reset();
    if (absl::Status removed = client->Delete(project, tmp, /*force=*/true); !removed.ok()) {
      std::cerr << "ternion: could not remove " << project << "/" << tmp << ": "
                << removed.message() << "\n";
    }
    return Fail(s);
  };
  Progress progress("put", total);
  std::string buf;
  uint64_t done = 0;
  while (true) {
    absl::StatusOr<size_t> n = source(&buf);
    if (!n.ok()) return fail(n.status());
    if (*n == 0) break;
    if (auto s = (*writer)->Append(absl::string_view(buf.data(), *n)); !s.ok()) return fail(s);
    done += *n;
    progress.Update(done);
  }
  absl::Status s = seal ? (*writer)->Seal() : (*writer)->Close();
  if (s.ok()) s = client->Rename(project, tmp, path);
  if (!s.ok()) return fail(s);
  progress.Finish(done);
  if (g.json) {
    std::cout << json({{"project", project}, {"path", path}, {"length", (*writer)->length()}})
              << "\n";
  }
  return 0;
}

int Put(const Globals& g, const std::string& local, const std::string& target,
        uint64_t chunk_size_mib, bool seal) {
  int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(ternion::ErrnoToStatus(errno, absl::StrCat("open ", local)));
  const off_t total = ::lseek(fd, 0, SEEK_END);
  ::lseek(fd, 0, SEEK_SET);
  auto client = Connect(g);
  int rc = client.ok() ? 0 : Fail(client.status());
  if (rc == 0) {
    rc = Upload(
        g, client->get(), target, total > 0 ? total : 0,
        [&](std::string* buf) -> absl::StatusOr<size_t> {
          buf->resize(8 << 20);
          while (true) {
            const ssize_t n = ::read(fd, buf->data(), buf->size());
            if (n >= 0) return static_cast<size_t>(n);
            if (errno != EINTR) return ternion::ErrnoToStatus(errno, absl::StrCat("read ", local));
          }
        },
        chunk_size_mib, seal);
  }
  ::close(fd);
  return rc;
}

// Copies a file into another (or the same) project. The source is read for the destination's
// project, so a protected project's data is copied out only where its policy allows.
int Copy(const Globals& g, const std::string& from, const std::string& to,
         uint64_t chunk_size_mib) {
  std::string from_project, from_path, to_project, to_path;
  if (auto s = SplitTarget(from, true, &from_project, &from_path); !s.ok()) return Fail(s);
  if (auto s = SplitTarget(to, true, &to_project, &to_path); !s.ok()) return Fail(s);
  auto client = Connect(g, to_project);
  if (!client.ok()) return Fail(client.status());
  auto reader = (*client)->Open(from_project, from_path);
  if (!reader.ok()) return Fail(reader.status());
  uint64_t offset = 0;
  return Upload(
      g, client->get(), to, (*reader)->length(),
      [&](std::string* buf) -> absl::StatusOr<size_t> {
        if (offset >= (*reader)->length()) return 0;
        if (absl::Status s = (*reader)->ReadAt(offset, 16 << 20, buf); !s.ok()) return s;
        offset += buf->size();
        return buf->size();
      },
      chunk_size_mib, /*seal=*/false);
}

// Streams a file to `fd` in large pieces.
int Download(const Globals& g, const std::string& target, int fd, bool progress_bar) {
  std::string project, path;
  if (auto s = SplitTarget(target, true, &project, &path); !s.ok()) return Fail(s);
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  auto reader = (*client)->Open(project, path);
  if (!reader.ok()) return Fail(reader.status());
  const uint64_t length = (*reader)->length();
  Progress progress("get", length);
  std::string buf;
  uint64_t offset = 0;
  while (offset < length) {
    if (auto s = (*reader)->ReadAt(offset, 16 << 20, &buf); !s.ok()) return Fail(s);
    if (buf.empty()) break;
    size_t written = 0;
    while (written < buf.size()) {
      ssize_t n = ::write(fd, buf.data() + written, buf.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Fail(ternion::ErrnoToStatus(errno, "write"));
      }
      written += n;
    }
    offset += buf.size();
    if (progress_bar) progress.Update(offset);
  }
  if (progress_bar) progress.Finish(offset);
  return 0;
}

int Get(const Globals& g, const std::string& target, const std::string& local) {
  int fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ternion::ErrnoToStatus(errno, absl::StrCat("create ", local)));
  int rc = Download(g, target, fd, true);
  ::close(fd);
  return rc;
}

int Ls(const Globals& g, const std::string& target) {
  std::string project, prefix;
  if (auto s = SplitTarget(target, false, &project, &prefix); !s.ok()) return Fail(s);
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  auto files = (*client)->List(project, prefix);
  if (!files.ok()) return Fail(files.status());
  if (g.json) {
    json arr = json::array();
    for (const auto& f : *files) arr.push_back(StatJson(f));
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  for (const auto& f : *files) {
    std::cout << absl::StrFormat("%12d %s %s/%s\n", f.length,
                                 f.sealed ? "sealed" : (f.under_lease ? "open  " : "      "),
                                 f.project, f.path);
  }
  return 0;
}

int Stat(const Globals& g, const std::string& target, bool chunks) {
  std::string project, path;
  if (auto s = SplitTarget(target, true, &project, &path); !s.ok()) return Fail(s);
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  auto st = (*client)->Stat(project, path, chunks);
  if (!st.ok()) return Fail(st.status());
  if (g.json) {
    std::cout << StatJson(*st).dump(2) << "\n";
    return 0;
  }
  std::cout << "file:       " << st->project << "/" << st->path << "\n"
            << "length:     " << st->length << " (" << HumanBytes(st->length) << ")\n"
            << "chunk size: " << HumanBytes(st->chunk_size) << "\n"
            << "state:      "
            << (st->sealed ? "sealed" : (st->under_lease ? "being written" : "appendable"))
            << "\n";
  for (const auto& c : st->chunks) {
    std::cout << absl::StrFormat("chunk %d id=%d v%d %s:", c.index, c.chunk_id, c.version,
                                 HumanBytes(c.length));
    for (const auto& r : c.replicas) std::cout << " " << r.rack << "/" << r.server_id;
    std::cout << "\n";
  }
  return 0;
}

int Rm(const Globals& g, const std::string& target, bool force) {
  std::string project, path;
  if (auto s = SplitTarget(target, true, &project, &path); !s.ok()) return Fail(s);
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  if (auto s = (*client)->Delete(project, path, force); !s.ok()) return Fail(s);
  return 0;
}

int ProjectCreate(const Globals& g, const std::string& name, const std::string& owner) {
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  if (auto s = (*client)->CreateProject(name, owner); !s.ok()) return Fail(s);
  return 0;
}

int ProjectLs(const Globals& g) {
  auto client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  auto projects = (*client)->ListProjects();
  if (!projects.ok()) return Fail(projects.status());
  if (g.json) {
    json arr = json::array();
    for (const auto& p : *projects) {
      arr.push_back({{"name", p.name}, {"owner", p.owner}, {"created_unix_ms", p.created_unix_ms}});
    }
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  for (const auto& p : *projects) std::cout << p.name << "\n";
  return 0;
}

json HealthJson(const ternion::v1::HealthReport& h) {
  json checks = json::array();
  for (const auto& c : h.checks()) {
    checks.push_back({{"code", c.code()},
                      {"severity", c.severity()},
                      {"summary", c.summary()},
                      {"detail", std::vector<std::string>(c.detail().begin(), c.detail().end())}});
  }
  return {{"status", h.status()}, {"checks", checks}};
}

// HEALTH_OK, or the verdict with one line per check (and its details with `detail`).
void PrintHealth(const ternion::v1::HealthReport& h, bool detail) {
  std::cout << h.status() << "\n";
  for (const auto& c : h.checks()) {
    std::cout << "  [" << c.severity() << "] " << c.code() << ": " << c.summary() << "\n";
    if (!detail) continue;
    for (const auto& d : c.detail()) std::cout << "      " << d << "\n";
  }
}

// Exit 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR (3 when the master cannot be asked).
int Health(const Globals& g, bool detail) {
  ternion::v1::ClusterStatusResponse st;
  if (absl::Status s = ternion::cli::Call(g, &ternion::v1::MasterService::Stub::ClusterStatus,
                                          ternion::v1::ClusterStatusRequest(), &st);
      !s.ok()) {
    Fail(s);
    return 3;
  }
  if (g.json) {
    std::cout << HealthJson(st.health()).dump(2) << "\n";
  } else {
    PrintHealth(st.health(), detail);
  }
  return static_cast<int>(st.health().level());
}

int ClusterStatus(const Globals& g) {
  ternion::v1::ClusterStatusResponse st;
  if (absl::Status s = ternion::cli::Call(g, &ternion::v1::MasterService::Stub::ClusterStatus,
                                          ternion::v1::ClusterStatusRequest(), &st);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    json servers = json::array();
    for (const auto& cs : st.servers()) {
      servers.push_back({{"server_id", cs.server_id()},
                         {"address", cs.address()},
                         {"rack", cs.rack()},
                         {"state", cs.state()},
                         {"last_heartbeat_ms_ago", cs.last_heartbeat_ms_ago()},
                         {"capacity_bytes", cs.capacity_bytes()},
                         {"used_bytes", cs.used_bytes()},
                         {"replicas", cs.replicas()},
                         {"active_streams", cs.active_streams()},
                         {"admin_state", cs.admin_state()},
                         {"power_domain", cs.power_domain()},
                         {"maintenance_ends_in_ms", cs.maintenance_ends_in_ms()},
                         {"clock_skew_ms", cs.clock_skew_ms()}});
    }
    std::cout << json({{"master", g.master},
                       {"health", HealthJson(st.health())},
                       {"replication_paused", st.replication_paused()},
                       {"live_servers", st.live_servers()},
                       {"projects", st.projects()},
                       {"files", st.files()},
                       {"chunks_total", st.chunks_total()},
                       {"replicas_total", st.replicas_total()},
                       {"chunks_under_replicated", st.chunks_under_replicated()},
                       {"chunks_lost", st.chunks_lost()},
                       {"chunks_rack_unsafe", st.chunks_rack_unsafe()},
                       {"moves_queued", st.moves_queued()},
                       {"moves_in_progress", st.moves_in_progress()},
                       {"replicas_repaired", st.replicas_repaired()},
                       {"bytes_repaired", st.bytes_repaired()},
                       {"replicas_corrupt", st.replicas_corrupt()},
                       {"chunks_corrupt", st.chunks_corrupt()},
                       {"orphans_quarantined", st.orphans_quarantined()},
                       {"deletion_valve_held_servers", st.deletion_valve_held_servers()},
                       {"servers", servers}})
                     .dump(2)
              << "\n";
    return 0;
  }
  PrintHealth(st.health(), /*detail=*/false);
  std::cout << "master " << g.master << ": " << st.live_servers() << "/" << st.servers_size()
            << " chunkservers live, " << st.projects() << " projects, " << st.files()
            << " files\n"
            << "chunks " << st.chunks_total() << " (replicas " << st.replicas_total()
            << "): under-replicated " << st.chunks_under_replicated() << ", lost "
            << st.chunks_lost() << ", rack-unsafe " << st.chunks_rack_unsafe() << "; moves queued "
            << st.moves_queued() << ", in progress " << st.moves_in_progress()
            << "; re-replicated " << st.replicas_repaired() << " (" << HumanBytes(st.bytes_repaired())
            << ")\n";
  if (st.chunks_corrupt() > 0) {
    std::cout << "CORRUPT: " << st.chunks_corrupt()
              << " chunk(s) have no intact replica; damaged copies are kept (ternion fsck, "
                 "ternion admin salvage)\n";
  }
  if (st.deletion_valve_held_servers() > 0) {
    std::cout << "DELETION VALVE: reports of " << st.deletion_valve_held_servers()
              << " chunkserver(s) would set aside many replicas this master does not know; "
                 "held for an operator (ternion admin orphans ls)\n";
  }
  if (st.orphans_quarantined() > 0) {
    std::cout << "orphans: " << st.orphans_quarantined()
              << " replica(s) of unknown chunks quarantined (ternion admin orphans ls)\n";
  }
  std::cout << absl::StrFormat("%-22s %-8s %-20s %-18s %-14s %10s %10s %8s\n", "SERVER", "RACK",
                               "ADDRESS", "STATE", "ADMIN", "USED", "CAPACITY", "REPLICAS");
  for (const auto& cs : st.servers()) {
    std::cout << absl::StrFormat("%-22s %-8s %-20s %-18s %-14s %10s %10s %8d\n", cs.server_id(),
                                 cs.rack(), cs.address(), ternion::cli::ServerState(cs),
                                 cs.admin_state(), HumanBytes(cs.used_bytes()),
                                 HumanBytes(cs.capacity_bytes()), cs.replicas());
  }
  return 0;
}

int LocalUp(const ternion::local::LocalClusterOptions& options) {
  auto c = ternion::local::StartLocalCluster(options);
  if (!c.ok()) return Fail(c.status());
  std::cout << "local cluster up: master " << c->master_address << ", "
            << c->processes.size() - 1 << " chunkservers in " << options.racks << " racks\n"
            << "  source " << c->dir << "/cluster.env  (TERNION_MASTER=" << c->master_address
            << ", TERNION_PROFILE=" << c->profile << ": the cluster admin's AccessKey)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ternion::KeepLargeBuffersInHeap();
  Globals g;
  if (const char* m = std::getenv("TERNION_MASTER")) g.master = m;
  CLI::App app{"Ternion: a replicated chunk store. Every chunk lives on three chunkservers."};
  app.set_version_flag("--version", ternion::VersionLine("ternion"));
  app.require_subcommand(1);
  app.add_option("--master", g.master, "Master address host:port (or TERNION_MASTER)");
  app.add_option("--profile", g.profile,
                 "Credentials profile file (else TERNION_ACCESS_KEY_ID/_SECRET, TERNION_PROFILE, "
                 "~/.ternion/profile)");
  app.add_option("--ca", g.ca,
                 "The cluster's CA certificate (else the profile's `ca`, TERNION_CA)");
  app.add_flag("--insecure", g.insecure,
               "Plaintext, for a cluster started with --insecure (else the profile's "
               "`insecure`, TERNION_INSECURE=1)");
  app.add_flag("--json", g.json, "Machine-readable output for read-only commands");
  if (const char* p = std::getenv("TERNION_JOB_PROJECT")) g.job_project = p;
  if (const char* t = std::getenv("TERNION_TASK_TYPE")) g.task_type = t;
  app.add_option("--job-project", g.job_project,
                 "Read for this project's job (or TERNION_JOB_PROJECT): a protected project's "
                 "data is read for another project only where its policy allows");
  app.add_option("--task-type", g.task_type,
                 "The job's task type, which exception policies may name (or TERNION_TASK_TYPE)");
  app.add_option("--columns", g.columns,
                 "The columns a read of a table scans, comma-separated (label security checks "
                 "each; default: every column)")
      ->delimiter(',');

  std::string local, target, owner;
  uint64_t chunk_size_mib = 0;
  bool seal = false, chunks = false;
  int rc = 0;

  auto* put = app.add_subcommand("put", "Upload a local file to PROJECT/PATH");
  put->add_option("local", local, "Local file")->required();
  put->add_option("target", target, "PROJECT/PATH")->required();
  put->add_option("--chunk-size-mib", chunk_size_mib, "Chunk size in MiB (default: master's)");
  put->add_flag("--seal", seal, "Seal the file after writing");
  put->callback([&] { rc = Put(g, local, target, chunk_size_mib, seal); });

  auto* get = app.add_subcommand("get", "Download PROJECT/PATH to a local file");
  get->add_option("target", target, "PROJECT/PATH")->required();
  get->add_option("local", local, "Local file")->required();
  get->callback([&] { rc = Get(g, target, local); });

  auto* cat = app.add_subcommand("cat", "Write PROJECT/PATH to stdout");
  cat->add_option("target", target, "PROJECT/PATH")->required();
  cat->callback([&] { rc = Download(g, target, STDOUT_FILENO, false); });

  std::string target2;
  auto* cp = app.add_subcommand(
      "cp", "Copy FROM_PROJECT/PATH to TO_PROJECT/PATH (read for the destination's project)");
  cp->add_option("from", target, "PROJECT/PATH")->required();
  cp->add_option("to", target2, "PROJECT/PATH")->required();
  cp->add_option("--chunk-size-mib", chunk_size_mib, "Chunk size in MiB (default: master's)");
  cp->callback([&] { rc = Copy(g, target, target2, chunk_size_mib); });

  auto* ls = app.add_subcommand("ls", "List files: PROJECT or PROJECT/PREFIX");
  ls->add_option("target", target, "PROJECT[/PREFIX]")->required();
  ls->callback([&] { rc = Ls(g, target); });

  auto* stat = app.add_subcommand("stat", "Show a file's metadata");
  stat->add_option("target", target, "PROJECT/PATH")->required();
  stat->add_flag("--chunks", chunks, "Also list chunks and their replicas");
  stat->callback([&] { rc = Stat(g, target, chunks); });

  std::string snapshot_target;
  auto* snap = app.add_subcommand("snapshot", "Read-only copy of a closed file, sharing its chunks");
  snap->add_option("target", target, "PROJECT/PATH of the file")->required();
  snap->add_option("snapshot", snapshot_target, "PATH of the snapshot in the same project")
      ->required();
  snap->callback([&] {
    std::string project, path;
    if (auto s = SplitTarget(target, true, &project, &path); !s.ok()) {
      rc = Fail(s);
      return;
    }
    auto client = Connect(g);
    absl::Status s = client.ok() ? (*client)->Snapshot(project, path, snapshot_target)
                                 : client.status();
    rc = s.ok() ? 0 : Fail(s);
  });

  std::string new_name;
  auto* mv = app.add_subcommand("mv", "Rename a closed file within its project");
  mv->add_option("file", target, "PROJECT/PATH")->required();
  mv->add_option("new_path", new_name, "New PATH in the same project (or PROJECT/PATH)")
      ->required();
  mv->callback([&] {
    std::string project, path;
    if (absl::Status s = SplitTarget(target, true, &project, &path); !s.ok()) {
      rc = Fail(s);
      return;
    }
    std::string to = new_name;
    if (to.rfind(project + "/", 0) == 0) to = to.substr(project.size() + 1);
    auto client = Connect(g);
    absl::Status s = client.ok() ? (*client)->Rename(project, path, to) : client.status();
    rc = s.ok() ? 0 : Fail(s);
  });
  auto* rm = app.add_subcommand("rm", "Delete a file");
  rm->add_option("target", target, "PROJECT/PATH")->required();
  bool force = false;
  rm->add_flag("--force", force, "Delete even while a writer holds the file (revokes its lease)");
  rm->callback([&] { rc = Rm(g, target, force); });

  auto* project = app.add_subcommand("project", "Projects (tenants)");
  project->require_subcommand(1);
  auto* pcreate = project->add_subcommand("create", "Create a project");
  pcreate->add_option("name", target, "Project name")->required();
  pcreate->add_option("--owner", owner, "Owner");
  pcreate->callback([&] { rc = ProjectCreate(g, target, owner); });
  project->add_subcommand("ls", "List projects")->callback([&] { rc = ProjectLs(g); });

  auto* cluster = app.add_subcommand("cluster", "Cluster administration");
  cluster->require_subcommand(1);
  cluster->add_subcommand("status", "Health, chunkservers and chunk counts")->callback([&] {
    rc = ClusterStatus(g);
  });
  static bool health_detail = false;
  auto* health = app.add_subcommand(
      "health", "HEALTH_OK, HEALTH_WARN or HEALTH_ERR with the reasons; exit code 0, 1 or 2");
  health->add_flag("--detail", health_detail, "Name the servers, disks and chunks of each check");
  health->callback([&] { rc = Health(g, health_detail); });

  ternion::cli::AddAdminCommands(app, g, &rc);
  ternion::cli::AddAccessCommands(app, g, &rc);
  ternion::cli::AddPolicyCommands(app, g, &rc);
  ternion::cli::AddTableCommands(app, g, &rc);
  auto* salvage = app.get_subcommand("admin")->add_subcommand(
      "salvage", "Save every intact byte of a damaged file, from any copy, into a local file");
  salvage->add_option("file", target, "PROJECT/PATH")->required();
  salvage->add_option("out", local, "Local file to write")->required();
  salvage->callback([&] {
    std::string project, path;
    if (absl::Status s = SplitTarget(target, true, &project, &path); !s.ok()) {
      rc = Fail(s);
      return;
    }
    rc = ternion::cli::Salvage(g, project, path, local);
  });

  ternion::local::LocalClusterOptions lopts;
  auto* localcmd = app.add_subcommand("local", "A cluster on this machine (loopback only)");
  localcmd->require_subcommand(1);
  auto* up = localcmd->add_subcommand("up", "Start a master and chunkservers in racks");
  up->add_option("--dir", lopts.dir, "Directory for data, logs and cluster.env")->required();
  up->add_option("--racks", lopts.racks, "Number of racks");
  up->add_option("--per-rack", lopts.per_rack, "Chunkservers per rack");
  up->add_option("--disks", lopts.disks_per_server, "Data directories per chunkserver");
  up->add_option("--dead-after", lopts.dead_after_s, "Seconds before a silent server is dead");
  up->add_option("--chunk-size-mib", lopts.default_chunk_size_mib, "Default chunk size in MiB");
  up->add_option("--move-scan-interval", lopts.move_scan_s,
                 "Seconds between the master's scans for replicas to move");
  up->add_option("--disk-capacity-mib", lopts.disk_capacity_mib,
                 "Capacity each chunkserver disk reports, counting only its replicas as used");
  up->add_option("--journal-mib", lopts.journal_mib, "Each chunkserver disk's write journal, MiB");
  up->add_flag("--insecure", lopts.insecure, "Plaintext instead of TLS");
  up->callback([&] { rc = LocalUp(lopts); });
  auto* down = localcmd->add_subcommand("down", "Stop the cluster started in --dir");
  down->add_option("--dir", lopts.dir, "Directory given to `local up`")->required();
  down->callback([&] {
    absl::Status s = ternion::local::StopLocalCluster(lopts.dir);
    rc = s.ok() ? 0 : Fail(s);
  });

  CLI11_PARSE(app, argc, argv);
  return rc;
}
