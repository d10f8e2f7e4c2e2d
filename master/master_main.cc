// ternion-master: flags -> MasterOptions -> serve until SIGTERM.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/daemon.h"
#include "common/failpoint.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/metrics_http_server.h"
#include "common/process_metrics.h"
#include "common/version.h"
#include "master/master.h"
#include "master/master_service.h"
#include "master/replication_scheduler.h"
#include "master/status_page.h"
#include "security/credentials.h"
#include "security/master_key.h"
#include "security/tls.h"

int main(int argc, char** argv) {
  ternion::BlockTerminationSignals();
  ternion::KeepLargeBuffersInHeap();
  ternion::DisableMutexDeadlockDetection();
  ternion::SetLogProcessName("master");
  ternion::master::MasterOptions options;
  std::string metadata_dir;
  std::string host = "127.0.0.1";
  int port = 0;
  int metrics_port = 0;
  std::string ready_file;
  double dead_after_s = 30;
  double lease_s = 60;
  uint64_t chunk_size_mib = 64;
  double move_scan_s = 2;
  double copy_mib_s = 128;
  std::string restore_from;
  bool format = false;
  double orphan_wipe_delay_s = 86400;
  CLI::App app{"Ternion master: namespace, chunk map, placement and cluster membership."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-master"));
  app.set_config("--config", "",
                 "A TOML file of these flags (`name = value`, names without the dashes, e.g. "
                 "/etc/ternion/master.toml); flags given on the command line win");
  app.add_option("--metadata-dir", metadata_dir, "RocksDB directory for metadata")
      ->take_last();
  app.add_option("--host", host, "Address to listen on");
  app.add_option("--port", port, "gRPC port (0 = pick a free one)");
  app.add_option("--metrics-port", metrics_port, "/metrics port (0 = free, -1 = off)");
  app.add_option("--dead-after", dead_after_s, "Seconds of silence before a chunkserver is dead");
  double suspect_after_s = 0;
  app.add_option("--suspect-after", suspect_after_s,
                 "Seconds of silence before a chunkserver is suspect: no new replicas, no repairs "
                 "yet (0 = a third of --dead-after)")
      ->check(CLI::NonNegativeNumber);
  double graceful_grace_s = 600;
  app.add_option("--graceful-grace", graceful_grace_s,
                 "Seconds a chunkserver that stopped gracefully (SIGTERM) is not declared dead: "
                 "its replicas are not re-replicated meanwhile unless too few live copies remain")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--lease", lease_s, "Writer lease duration in seconds");
  double lease_hard_limit_s = 3600;
  app.add_option("--lease-hard-limit", lease_hard_limit_s,
                 "Seconds after its expiry that an unrenewed lease is recovered (its writer is "
                 "refused, its file's last chunk is repaired like any other)")
      ->check(CLI::PositiveNumber);
  app.add_option("--default-chunk-size-mib", chunk_size_mib, "Default chunk size in MiB");
  app.add_option("--ready-file", ready_file, "Write a JSON file here once serving");
  app.add_option("--move-scan-interval", move_scan_s,
                 "Seconds between scans of the chunk map for replicas to move");
  app.add_option("--copy-bandwidth-mib", copy_mib_s,
                 "Per chunkserver: cap on the replica copies (repairs, moves) into it, MiB/s")
      ->check(CLI::PositiveNumber);
  app.add_option("--copies-per-server", options.copies_per_server,
                 "Per chunkserver: replica copies at once out of it (and, apart, into it)")
      ->check(CLI::PositiveNumber);
  app.add_option("--restore-from", restore_from,
                 "Start from this backup (`ternion admin backup`): copied into an empty "
                 "--metadata-dir first");
  app.add_option("--orphan-wipe-delay", orphan_wipe_delay_s,
                 "Seconds a replica of a chunk this master does not know stays quarantined "
                 "before it is wiped");
  app.add_option("--deletion-valve-fraction", options.deletion_valve_fraction,
                 "A report that would set aside more than this fraction of a server's replicas "
                 "waits for an operator (ternion admin orphans)");
  app.add_option("--deletion-valve-min", options.deletion_valve_min,
                 "... and at least this many replicas");
  double status_interval_s = 5;
  app.add_option("--status-interval", status_interval_s,
                 "Seconds between walks of the chunk map for the chunk counts of /metrics (at "
                 "least 20 times a walk's own time)")
      ->check(CLI::PositiveNumber);
  app.add_option("--backup-root", options.backup_root,
                 "`ternion admin backup` writes only under this directory (unset: no backups)");
  double token_lifetime_s = 600;
  app.add_option("--token-lifetime", token_lifetime_s,
                 "Seconds a chunk token is valid (clients renew them before)")
      ->check(CLI::Range(1.0, 86400.0));
  std::string master_key_file;
  app.add_option("--master-key-file", master_key_file,
                 "The master key (64 hex digits, mode 0600) that wraps every secret in the "
                 "metadata; or the environment variable TERNION_MASTER_KEY")
      ->take_last();
  std::string create_master_key;
  app.add_option("--create-master-key", create_master_key,
                 "Write a new random master key to this file (mode 0600), then exit");
  std::string rewrap_master_key;
  app.add_option("--rewrap-master-key", rewrap_master_key,
                 "Master-key rotation, with the master stopped: wrap every secret in "
                 "--metadata-dir by the key in this file instead of the current one, then exit "
                 "(start the master with the new key from then on)");
  std::string bootstrap_credentials;
  app.add_option("--bootstrap-credentials", bootstrap_credentials,
                 "On a cluster without users: create the cluster admin `admin` and write its "
                 "AccessKey to this new profile file (mode 0600; an existing file is refused)")
      ->take_last();
  ternion::security::TlsFiles tls_files;
  bool insecure = false;
  app.add_option("--tls-ca", tls_files.ca, "The cluster's CA certificate (PEM)");
  app.add_option("--tls-cert", tls_files.cert, "This master's certificate (`ternion certs init`)");
  app.add_option("--tls-key", tls_files.key, "This master's private key");
  app.add_flag("--insecure", insecure, "Plaintext gRPC instead of TLS (test clusters only)");
  std::string failpoints;
  app.add_option("--failpoints", failpoints,
                 "Fault injection for tests: NAME=crash|eio|enospc[*N|@N],... (docs/operations.md)");
  app.add_flag("--format", format,
               "Create a new cluster (a new cluster id) in an empty --metadata-dir, then exit");
  std::string log_level = "info";
  app.add_option(
      "--log-level", log_level,
      "debug, info, warning or error (changed at run time by `ternion admin log-level`)");
  CLI11_PARSE(app, argc, argv);
  if (absl::Status s = ternion::SetLogLevel(log_level); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  TLOG(INFO) << ternion::VersionLine("ternion-master") << " starting";
  if (absl::Status s = ternion::ArmFailpoints(failpoints); !s.ok()) {
    TLOG(ERROR) << s;
    return 1;
  }
  if (!create_master_key.empty()) {
    if (absl::Status s = ternion::security::MasterKey::CreateFile(create_master_key); !s.ok()) {
      TLOG(ERROR) << "cannot create the master key: " << s;
      return 1;
    }
    std::printf("wrote a new master key to %s (mode 0600); keep a copy apart from the metadata "
                "and its backups\n", create_master_key.c_str());
    return 0;
  }
  if (metadata_dir.empty()) {
    TLOG(ERROR) << "--metadata-dir is required";
    return 1;
  }
  if (format) {
    absl::StatusOr<std::string> id = ternion::master::Master::Format(metadata_dir);
    if (!id.ok()) {
      TLOG(ERROR) << "cannot format: " << id.status();
      return 1;
    }
    std::printf("formatted cluster %s in %s\n", id->c_str(), metadata_dir.c_str());
    return 0;
  }
  absl::StatusOr<ternion::security::TlsConfig> tls =
      ternion::security::DaemonTlsConfig(tls_files, insecure);
  if (!tls.ok()) {
    TLOG(ERROR) << tls.status();
    return 1;
  }
  options.dead_after = absl::Seconds(dead_after_s);
  options.suspect_after = absl::Seconds(suspect_after_s);
  options.graceful_grace = absl::Seconds(graceful_grace_s);
  options.token_lifetime = absl::Seconds(token_lifetime_s);
  options.orphan_wipe_delay = absl::Seconds(orphan_wipe_delay_s);
  options.lease_duration = absl::Seconds(lease_s);
  options.lease_hard_limit = absl::Seconds(lease_hard_limit_s);
  options.default_chunk_size = chunk_size_mib << 20;
  options.move_scan_interval = absl::Seconds(move_scan_s);
  options.copy_bandwidth_bytes_per_s = static_cast<uint64_t>(copy_mib_s * (1 << 20));
  // Memory is ahead of the disk after a failed metadata write: restart from what is durable
  // (the supervisor restarts the daemon), as the HDFS NameNode does when its edit log fails.
  options.on_log_failure = [](const absl::Status& s) {
    TLOG(ERROR) << "metadata write failed, exiting: " << s;
    std::_Exit(70);
  };

  absl::StatusOr<ternion::security::MasterKey> master_key =
      absl::FailedPreconditionError("no master key");
  if (!master_key_file.empty()) {
    master_key = ternion::security::MasterKey::FromFile(master_key_file);
  } else if (const char* hex = std::getenv("TERNION_MASTER_KEY"); hex != nullptr) {
    master_key = ternion::security::MasterKey::FromHex(hex);
  } else {
    TLOG(ERROR) << "a master needs its master key: --master-key-file FILE (make one with "
                   "--create-master-key FILE) or TERNION_MASTER_KEY";
    return 1;
  }
  if (!master_key.ok()) {
    TLOG(ERROR) << "cannot use the master key: " << master_key.status();
    return 1;
  }
  options.master_key = &*master_key;

  if (!restore_from.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(metadata_dir, ec) && !std::filesystem::is_empty(metadata_dir, ec)) {
      TLOG(ERROR) << "--restore-from needs an empty or absent --metadata-dir; " << metadata_dir
                  << " holds data";
      return 1;
    }
    std::filesystem::copy(restore_from, metadata_dir, std::filesystem::copy_options::recursive,
                          ec);
    if (ec) {
      TLOG(ERROR) << "cannot restore from " << restore_from << ": " << ec.message();
      return 1;
    }
    TLOG(INFO) << "audit: metadata restored from " << restore_from;
    options.restored_from_backup = true;
  }
  auto master = ternion::master::Master::Open(metadata_dir, options);
  if (!master.ok()) {
    TLOG(ERROR) << "cannot open metadata: " << master.status();
    return 1;
  }
  if (!rewrap_master_key.empty()) {
    absl::StatusOr<ternion::security::MasterKey> to =
        ternion::security::MasterKey::FromFile(rewrap_master_key);
    absl::Status s = to.status();
    if (s.ok()) s = (*master)->RewrapSecrets(*to, "operator");
    if (!s.ok()) {
      TLOG(ERROR) << "master-key rotation failed: " << s
                  << " (if the store now opens only with the new key, run again with the new "
                     "key as both --master-key-file and --rewrap-master-key to finish)";
      return 1;
    }
    std::printf("every secret is now wrapped by the key in %s; start the master with it\n",
                rewrap_master_key.c_str());
    return 0;
  }
  ternion::master::MasterService service(master->get(), /*tls=*/!tls->insecure());
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(host, ":", port), tls->ServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  ternion::master::ConfigureMasterServer(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    TLOG(ERROR) << "cannot listen on " << host << ":" << port;
    return 1;
  }
  const std::string bound_address = absl::StrCat(host, ":", bound_port);
  if (!bootstrap_credentials.empty()) {
    // Before the ready file: nobody can call yet, so no one races the first user.
    // An existing file holds someone's key (another cluster's, or a first start that died
    // before its admin was durable): never overwritten on a guess.
    absl::StatusOr<std::optional<ternion::master::NewAccessKey>> admin = std::nullopt;
    if ((*master)->ListUsers().empty() && std::filesystem::exists(bootstrap_credentials)) {
      admin = absl::AlreadyExistsError(absl::StrCat(
          bootstrap_credentials, " exists but this cluster has no users yet: it holds another "
          "key; move it away, or name a new file"));
    } else {
      admin = (*master)->BootstrapAdmin();
    }
    absl::Status s = admin.status();
    if (s.ok() && admin->has_value()) {
      std::error_code ec;
      s = ternion::security::WriteProfile(
          bootstrap_credentials,
          {.key_id = (*admin)->key.id,
           .secret = (*admin)->secret,
           .master = bound_address,
           .ca = insecure ? "" : std::filesystem::absolute(tls_files.ca, ec).string(),
           .insecure = insecure});
      if (s.ok()) s = (*master)->WaitDurable();
      if (s.ok()) {
        TLOG(INFO) << "bootstrap: cluster admin `admin` created; its AccessKey is in "
                   << bootstrap_credentials;
      }
    }
    if (!s.ok()) {
      TLOG(ERROR) << "cannot bootstrap the cluster admin: " << s;
      return 1;
    }
  }
  ternion::master::Master* m = master->get();
  ternion::AddMetricsCollector([m] { m->UpdateMetrics(); });
  ternion::ExportProcessMetrics();
  std::unique_ptr<ternion::MetricsHttpServer> metrics;
  if (metrics_port >= 0) {
    // The status page: at / and /status on the metrics port, read-only, like /metrics.
    auto started = ternion::MetricsHttpServer::Start(host, metrics_port, [m] {
      return ternion::master::RenderStatusPage(m->LatestStatus(), m->GcStatus());
    });
    if (!started.ok()) {
      TLOG(ERROR) << started.status();
      return 1;
    }
    metrics = std::move(*started);
  }
  ternion::master::ReplicationScheduler scheduler(m, {.tls = *tls});
  // /metrics reads the latest chunk counts; this thread walks the chunk map for them, every
  // --status-interval, and at least 20 times a walk's own time apart, so on a large map the
  // walks take at most a twentieth of a core.
  absl::Notification stopping;
  std::thread health([&] {
    absl::Duration wait;
    do {
      const absl::Time start = absl::Now();
      m->RefreshChunkHealth();
      wait = std::max(absl::Seconds(status_interval_s), 20 * (absl::Now() - start));
    } while (!stopping.WaitForNotificationWithTimeout(wait));
  });
  const std::string& address = bound_address;
  TLOG(INFO) << "master serving on " << address << ", metrics on "
             << (metrics ? metrics->port() : -1);
  if (!ready_file.empty()) {
    absl::Status s =
        ternion::WriteReadyFile(ready_file, address, metrics ? metrics->port() : -1, "master");
    if (!s.ok()) {
      TLOG(ERROR) << "cannot write ready file: " << s;
      return 1;
    }
  }
  ternion::NotifyServiceManager("READY=1");
  int sig = ternion::WaitForTerminationSignal();
  ternion::NotifyServiceManager("STOPPING=1");
  TLOG(INFO) << "signal " << sig << ", shutting down";
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  stopping.Notify();
  health.join();
  return 0;
}
